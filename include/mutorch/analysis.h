/*
 * mutorch/analysis.h - what a model-level kill matrix tells a developer to
 * do with the test set: the smallest subset that kills as much as the whole
 * set (minimisation), the order that kills fastest (prioritisation), and
 * each input's label change rate (Wang et al., ICSE 2019), which flags
 * inputs that look adversarial or mislabelled.
 *
 * Every analysis works on M', the mutants the scores use (evaluated and not
 * filtered as too easy; mutorch/scores.h), so its numbers agree with KS1
 * and the mutation score. Definitions, bounds and formulas are in
 * docs/reports.md. Results are deterministic: the same matrix (and seed)
 * gives the same subset, order and numbers.
 */
#ifndef MUTORCH_ANALYSIS_H
#define MUTORCH_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/killmatrix.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- minimisation ------------------------------------------------------ */

typedef struct {
	size_t n_inputs;      /* inputs of the whole test set */
	size_t n_mutants;     /* |M'| */
	size_t killable;      /* mutants of M' that some input kills */
	size_t *subset;       /* chosen inputs, in the order greedy chose them */
	size_t subset_size;
	/* A lower bound on any subset that kills every killable mutant: the
	 * larger of the two below. */
	size_t lower_bound;
	/* Mutants no two of which share a killing input (a packing): each
	 * needs an input of its own, so no cover is smaller. Found greedily,
	 * mutants with the fewest killing inputs first. */
	size_t *packing;      /* mutant indices in the matrix */
	size_t packing_size;
	/* ceil(killable / the most mutants one input kills). */
	size_t coverage_bound;
} mt_minimise_result;

/*
 * Greedy set cover: repeatedly take the input that kills the most mutants
 * not killed yet (ties: the lowest index), then drop every chosen input
 * whose mutants the others kill too (latest chosen first). The subset kills
 * exactly the mutants the whole set kills.
 */
int mt_analysis_minimise(mt_minimise_result **out, const mt_killmatrix *km);
void mt_minimise_result_free(mt_minimise_result *res);

/* ---- prioritisation ---------------------------------------------------- */

#define MT_ANALYSIS_RANDOM_ORDERS 100

typedef struct {
	size_t n_inputs;
	size_t killable;
	size_t *order;        /* all n_inputs inputs, additional-greedy order */
	/* kills_curve[k]: killable mutants killed by the first k + 1 inputs
	 * of the order (n_inputs entries) */
	size_t *kills_curve;
	size_t inputs_to_kill_all; /* prefix length that kills every killable
	                            * mutant (0 when none is killable) */
	double apfd;          /* of the greedy order; NaN when nothing is
	                       * killable or there are no inputs */
	double apfd_ks1;      /* of the order by KS1 alone (ties: lowest
	                       * index), DeepMutation++'s ranking */
	double apfd_random_mean;   /* mean over the random orders */
	double apfd_random_sd;     /* their standard deviation */
	double apfd_random_expected; /* the exact expectation over all orders */
	size_t random_orders;
	uint64_t seed;
	/* random_curve[k]: mean kills after k + 1 inputs over the random
	 * orders (n_inputs entries) */
	double *random_curve;
} mt_prioritise_result;

/*
 * Additional greedy: take the input that kills the most mutants no input
 * taken so far kills (ties: more kills in total, then the lowest index);
 * when every killable mutant is killed, start counting afresh with the
 * inputs left; inputs that kill nothing come last, by index. APFD, the
 * area under the curve of the fraction of killable mutants killed against
 * the fraction of inputs run, is
 *     1 - (TF_1 + ... + TF_m) / (n m) + 1 / (2 n)
 * with TF_i the 1-based position of the first input that kills mutant i.
 * Random orders: n_random permutations (mt_rng_permutation) from seed.
 */
int mt_analysis_prioritise(mt_prioritise_result **out, const mt_killmatrix *km,
			   size_t n_random, uint64_t seed);
void mt_prioritise_result_free(mt_prioritise_result *res);

/* APFD of an order (a permutation of all inputs) over M''s killable
 * mutants; NaN when nothing is killable. */
int mt_analysis_apfd(double *apfd, const mt_killmatrix *km, const size_t *order,
		     size_t n);

/* ---- label change rate ------------------------------------------------- */

typedef struct {
	double n, mean, sd, min, q1, median, q3, max;
} mt_lcr_summary;

#define MT_LCR_BINS 20

typedef struct {
	size_t n_inputs;
	size_t n_mutants;      /* |M'|: the denominator */
	double *lcr;           /* per input; NaN when M' is empty */
	mt_lcr_summary correct, wrong; /* over inputs the original gets right
	                                * (T') and wrong */
	/* The probability that a wrongly classified input has a higher LCR
	 * than a correctly classified one (ties count one half): the ROC AUC
	 * of LCR as a detector of the original's errors. NaN when a group is
	 * empty. */
	double auc;
	/* histograms over [0, 1] in MT_LCR_BINS bins of width 0.05 (the last
	 * one closed) */
	size_t hist_correct[MT_LCR_BINS], hist_wrong[MT_LCR_BINS];
} mt_lcr_result;

/*
 * LCR(t) = |{ m in M' : m(t) != M(t) }| / |M'|: the fraction of mutants
 * whose predicted label of t differs from the original model's. Every
 * input counts (not only T').
 */
int mt_analysis_lcr(mt_lcr_result **out, const mt_killmatrix *km);
void mt_lcr_result_free(mt_lcr_result *res);

/* ---- surviving mutants ------------------------------------------------- */

/*
 * A near-miss of a surviving mutant m is an input on which m's prediction
 * differs from the original model's. m survived, so the original gets every
 * near-miss wrong (it is outside T' and cannot kill): the fault shows
 * there, but the test set has no right answer to hold it against. A
 * near-miss reaches its true class. The classes no near-miss reaches are
 * the ones where m never changed a prediction: killing m there needs test
 * inputs of those classes unlike any the set has. In the classes reached, a
 * correctly classified input like the near-misses (a fixed label, a
 * cleaner image) is the likely killer.
 */
typedef struct {
	size_t mutant;          /* index in the matrix */
	size_t *near_misses;    /* input indices, increasing */
	size_t n_near_misses;
	unsigned char *reached; /* num_classes flags: some near-miss is of class c */
	size_t n_reached;
} mt_survivor;

typedef struct {
	int num_classes;
	mt_survivor *survivors; /* the Survived mutants of M', in matrix order */
	size_t n;
} mt_survivors_result;

int mt_analysis_survivors(mt_survivors_result **out, const mt_killmatrix *km);
void mt_survivors_result_free(mt_survivors_result *res);

/* ---- output ------------------------------------------------------------ */

/* The analyses as one JSON object {"minimise", "prioritise", "lcr",
 * "survivors"}
 * (docs/reports.md lists every key); any result may be NULL and is then
 * left out. km (for the survivors' ids) must be the matrix they came from. The per-input arrays (order, lcr) are included only when
 * per_input is set. Compact, malloc'd. */
int mt_analysis_json_string(char **out, const mt_minimise_result *min,
			    const mt_prioritise_result *prio,
			    const mt_lcr_result *lcr, const mt_survivors_result *surv,
			    const mt_killmatrix *km, int per_input);

/* A NumPy .npy file (format 1.0) of a boolean vector of n entries:
 * mask[i] != 0 is True. Written atomically. */
int mt_analysis_write_mask_npy(const char *path, const uint8_t *mask, size_t n);

#ifdef __cplusplus
}
#endif
#endif
