/*
 * mutorch/stats_sequential.h - the group-sequential design for
 * source-level killing: runs are added in stages, and after every stage
 * the runner asks for a verdict (killed, not killed, or continue with
 * more runs).
 *
 * Lan-DeMets alpha spending (O'Brien-Fleming or Pocock type) gives the
 * "killed" boundary of each look, from the recursive numerical integration
 * of Armitage, McPherson and Rowe; a conditional power futility rule stops
 * "not killed" early. At each look the runs so far are tested with Welch's
 * t referred to Student t with Hsu's df = n - 1. The design and its
 * measured error rates are in docs/statistics.md.
 */
#ifndef MUTORCH_STATS_SEQUENTIAL_H
#define MUTORCH_STATS_SEQUENTIAL_H

#include <stddef.h>

#include "mutorch/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- */
/* Group-sequential design.                                          */

typedef enum {
	/* Lan-DeMets O'Brien-Fleming-type: alpha(tau) = 2 - 2 Phi(z_{1-alpha/2}
	 * / sqrt(tau)); spends almost nothing early, keeps final power. */
	MT_STATS_SPEND_OBRIEN_FLEMING = 0,
	/* Lan-DeMets Pocock-type: alpha(tau) = alpha ln(1 + (e - 1) tau);
	 * stops clear kills earlier, costs some final power. */
	MT_STATS_SPEND_POCOCK
} mt_stats_spending;

typedef struct {
	size_t n_first, n_step, n_max; /* looks at n_first, +n_step, ..., n_max
	                                * runs per group (default 4, 2, 20) */
	double alpha;          /* one-sided false-kill rate (default 0.05) */
	double effect;         /* Cohen's d a kill needs, and the alternative
	                        * of the futility rule (default 0.5) */
	double futility_power; /* stop NOT_KILLED when the conditional power
	                        * under d = effect is below (default 0.1;
	                        * 0 disables futility) */
	mt_stats_spending spending;
} mt_stats_sequential_options;

/* The defaults above. */
void mt_stats_sequential_options_init(mt_stats_sequential_options *opts);

typedef enum {
	MT_STATS_CONTINUE = 0,
	MT_STATS_KILLED,
	MT_STATS_NOT_KILLED
} mt_stats_verdict;

const char *mt_stats_verdict_name(mt_stats_verdict verdict);

typedef struct mt_stats_sequential mt_stats_sequential;

/* Compute the boundaries (numerical integration, ~50 ms). NULL opts gives
 * the defaults. MT_EINVALID for a bad option (n_first < 2, n_step < 1,
 * n_max < n_first, more than 1000 looks, alpha outside (0, 0.5),
 * futility_power outside [0, 1), effect < 0). */
int mt_stats_sequential_new(mt_stats_sequential **out,
			    const mt_stats_sequential_options *opts);
void mt_stats_sequential_free(mt_stats_sequential *design);

size_t mt_stats_sequential_looks(const mt_stats_sequential *design);
/* Runs per group at look k (0-based), or 0 past the last look. */
size_t mt_stats_sequential_look_n(const mt_stats_sequential *design, size_t k);
/* The efficacy boundary of look k on the z scale and the matching one-sided
 * nominal p-value threshold; NaN past the last look. */
double mt_stats_sequential_boundary(const mt_stats_sequential *design, size_t k);
double mt_stats_sequential_nominal_p(const mt_stats_sequential *design, size_t k);

typedef struct {
	mt_stats_verdict verdict;
	size_t look;             /* 0-based look that n matched */
	size_t n;                /* runs per group used */
	size_t next_n;           /* runs per group the next look needs (0 when
	                          * the verdict is final) */
	mt_stats_test test;      /* Welch's t on the runs so far, its p-values
	                          * from Hsu's conservative df = n - 1 */
	double nominal_p;        /* this look's threshold for p_worse */
	double conditional_power;/* under d = effect, for reaching a kill at
	                          * n_max; NaN at the last look */
} mt_stats_sequential_result;

/* Call after each stage with the n runs per group so far (n must be one of
 * the design's looks, MT_EINVALID otherwise). KILLED when Welch's one-sided
 * p_worse (t referred to Student t with df = n - 1) <= the look's nominal
 * p and d >= effect; NOT_KILLED at the last
 * look otherwise, or earlier when the conditional power is below
 * futility_power; else CONTINUE. */
int mt_stats_sequential_decide(mt_stats_sequential_result *out,
			       const mt_stats_sequential *design,
			       const double *original_acc,
			       const double *mutant_acc, size_t n);

#ifdef __cplusplus
}
#endif
#endif
