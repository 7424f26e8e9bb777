/*
 * mutorch/stats.h - statistical killing for source-level mutation.
 *
 * Training is random, so a source-level mutant is compared with the
 * original over n training runs each (run i of both with the same seed).
 * This module holds everything that turns those runs into a verdict:
 *
 *   - two-sample tests on per-run accuracies: DeepCrime's OLS Wald z-test,
 *     Welch's t-test, Mann-Whitney U; one verdict function over all three;
 *   - a per-input Fisher exact test on per-run predictions, combined across
 *     inputs with Holm or Benjamini-Hochberg;
 *   - Holm and Benjamini-Hochberg adjusted p-values (across mutants);
 *   - power of the two-sample t-test and the n a target power needs;
 *   - a group-sequential design (Lan-DeMets alpha spending for "killed",
 *     conditional power futility for "not killed") the runner asks after
 *     every stage of runs;
 *   - per-input kill probabilities, triviality and redundancy by
 *     subsumption;
 *   - DeepCrime's bisection search for the weakest killing parameter value.
 *
 * Conventions: x / "original" is the original model's runs, y / "mutant"
 * the mutant's. Every statistic is oriented so that a positive value means
 * the mutant is worse (lower accuracy): statistic = f(mean_x - mean_y),
 * Cohen's d = (mean_x - mean_y) / pooled SD. The distribution functions
 * are R's own (libRmath), so every p-value is R's; docs/statistics.md gives
 * each rule exactly, with its reference values and where it departs from R.
 */
#ifndef MUTORCH_STATS_H
#define MUTORCH_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- */
/* Two-sample tests on per-run accuracies.                           */

typedef enum {
	/* DeepCrime: OLS of accuracy on a group indicator, Wald z = beta/SE
	 * with the residual variance SSR/(n_x+n_y-2), p from the normal;
	 * killed when p < alpha and d >= effect. */
	MT_STATS_DEEPCRIME = 0,
	/* Welch's t (Welch-Satterthwaite df, p from Student t); killed when
	 * p < alpha and d >= effect. */
	MT_STATS_WELCH,
	/* Mann-Whitney U as R's wilcox.test: exact when there are no ties and
	 * n_x, n_y < 50, else normal with tie and continuity correction;
	 * killed when p < alpha and d >= effect. */
	MT_STATS_MANNWHITNEY
} mt_stats_rule;

/* "deepcrime", "welch", "mannwhitney". */
const char *mt_stats_rule_name(mt_stats_rule rule);
/* Parse a rule name (the names above); MT_EINVALID for any other. */
int mt_stats_rule_parse(mt_stats_rule *out, const char *name);

typedef struct {
	mt_stats_rule rule;
	double statistic;   /* z (DeepCrime), t (Welch), U of x (Mann-Whitney) */
	double df;          /* Welch-Satterthwaite df; N-2 for DeepCrime (the
	                     * residual df of its variance); NaN for U */
	double p_value;     /* two-sided */
	double p_worse;     /* one-sided, alternative: the mutant is worse */
	double effect_size; /* Cohen's d = (mean_x - mean_y) / pooled SD,
	                     * pooled SD = sqrt(((n_x-1)s_x^2 + (n_y-1)s_y^2)
	                     * / (n_x+n_y-2)); +-inf when the SD is 0 and the
	                     * means differ, 0 when both are equal */
	double mean_original, mean_mutant;
	double sd_original, sd_mutant; /* sample SDs (n - 1) */
	size_t n_original, n_mutant;
	int exact;          /* Mann-Whitney: 1 when the exact distribution gave p */
	int killed;         /* the rule's verdict (set by mt_stats_decide) */
} mt_stats_test;

/* Each fills *out (killed = 0) from x[0..n_x) and y[0..n_y), n_x, n_y >= 2
 * (Mann-Whitney: >= 1). MT_EINVALID for too few values or a NaN/inf. */
int mt_stats_deepcrime_test(mt_stats_test *out, const double *x, size_t n_x,
			    const double *y, size_t n_y);
int mt_stats_welch_test(mt_stats_test *out, const double *x, size_t n_x,
			const double *y, size_t n_y);
int mt_stats_mannwhitney_test(mt_stats_test *out, const double *x, size_t n_x,
			      const double *y, size_t n_y);

/* The verdict: run `rule` on the n original and n mutant accuracies and
 * set out->killed = p_value < alpha && effect_size >= effect (so a kill
 * always means the mutant's mean accuracy is lower; effect > 0). */
int mt_stats_decide(mt_stats_test *out, mt_stats_rule rule,
		    const double *original_acc, const double *mutant_acc,
		    size_t n, double alpha, double effect);

/* ---------------------------------------------------------------- */
/* Multiple comparisons.                                            */

typedef enum {
	MT_STATS_HOLM = 0,  /* family-wise error rate (step-down Bonferroni) */
	MT_STATS_BH,        /* false discovery rate (Benjamini-Hochberg) */
	MT_STATS_NONE       /* no correction */
} mt_stats_correction;

/* Adjusted p-values as R's p.adjust: Holm: adjusted(i) = max over j <= i
 * of min(1, (m-j+1) p(j)) in ascending order; BH: adjusted(i) = min over
 * j >= i of min(1, m/j p(j)). Monotone in p, capped at 1. adjusted may
 * alias p. MT_EINVALID for a p outside [0, 1]. */
int mt_stats_adjust(double *adjusted, const double *p, size_t m,
		    mt_stats_correction correction);

/* ---------------------------------------------------------------- */
/* Per-input Fisher exact test on per-run predictions.               */

/* One-sided Fisher exact test that the mutant is right less often on one
 * input: the 2x2 table (original right, original wrong / mutant right,
 * mutant wrong) over n_x and n_y runs; p = P(X >= correct_x) for X
 * hypergeometric with the table's margins. Returns the p-value (NaN for
 * counts above their n). */
double mt_stats_fisher_worse(size_t correct_x, size_t n_x, size_t correct_y,
			     size_t n_y);

typedef struct {
	size_t n_inputs, n_runs;
	double min_p;          /* smallest raw per-input p */
	double min_adjusted_p; /* smallest adjusted p: the mutant's p-value */
	size_t best_input;     /* the input with the smallest adjusted p */
	size_t n_significant;  /* inputs whose adjusted p < alpha */
	int killed;            /* n_significant > 0 */
} mt_stats_fisher_verdict;

/* predictions are n_runs x n_inputs row-major (run i's predicted label of
 * input t at [i * n_inputs + t]), labels the n_inputs true labels. For
 * every input, the one-sided Fisher test of the original's correct count
 * against the mutant's; the p-values are adjusted across the inputs with
 * `correction`, and the mutant is killed when some adjusted p < alpha.
 * p_inputs (n_inputs, may be NULL) receives the raw per-input p-values. */
int mt_stats_fisher_inputs(mt_stats_fisher_verdict *out, double *p_inputs,
			   const int64_t *original_pred,
			   const int64_t *mutant_pred, const int64_t *labels,
			   size_t n_runs, size_t n_inputs, double alpha,
			   mt_stats_correction correction);

/* ---------------------------------------------------------------- */
/* Power of the two-sided two-sample t-test (equal n, pooled SD).    */

/* Power at n per group, effect size d (> 0) and two-sided alpha, exactly
 * from the noncentral t: df = 2n - 2, ncp = d sqrt(n/2), c = t_{1-alpha/2,
 * df}: power = 1 - F(c; df, ncp) + F(-c; df, ncp), both rejection tails, as
 * R's power.t.test(strict = TRUE). n (real) >= 2. */
double mt_stats_t_power(double n, double d, double alpha);
/* The upper tail only, 1 - F(c; df, ncp): R's power.t.test with its
 * default strict = FALSE. */
double mt_stats_t_power_upper(double n, double d, double alpha);
/* The real n per group at which mt_stats_t_power_upper reaches `power`, as
 * R's power.t.test(power =, delta =) (round up for runs); 2 when n = 2
 * already reaches it. NaN for power outside (alpha, 1) or d <= 0. */
double mt_stats_t_n_for_power(double power, double d, double alpha);

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

/* Compute the boundaries (numerical integration, ~1 ms). NULL opts gives
 * the defaults. MT_EINVALID for a bad option (n_first < 2, n_step < 1,
 * n_max < n_first, more than 1000 looks, alpha or futility_power outside
 * [0, 1), effect < 0). */
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

/* ---------------------------------------------------------------- */
/* Per-input kill probabilities, triviality, redundancy.             */

/* kills[i * n_inputs + t] = 1 when original run i predicts labels[t] and
 * mutant run i does not (predictions as for mt_stats_fisher_inputs). */
int mt_stats_kills(uint8_t *kills, const int64_t *original_pred,
		   const int64_t *mutant_pred, const int64_t *labels,
		   size_t n_runs, size_t n_inputs);
/* p[t] = fraction of runs i with kills[i * n_inputs + t]; returns the mean
 * of p over the inputs (NaN for n_runs or n_inputs 0). */
double mt_stats_kill_probabilities(double *p, const uint8_t *kills,
				   size_t n_runs, size_t n_inputs);
/* Trivial: mean kill probability >= 0.9. */
#define MT_STATS_TRIVIAL_THRESHOLD 0.9
int mt_stats_is_trivial(double mean_kill_probability);

/* Exact two-sided McNemar test on paired binary outcomes: b pairs where
 * only the first is 1, c where only the second is: p = min(1, 2 P(X <=
 * min(b, c))), X ~ Binomial(b + c, 1/2); 1 when b + c = 0. */
double mt_stats_mcnemar(size_t b, size_t c);

/* Does mutant 1 subsume mutant 2? kills1/kills2 as from mt_stats_kills
 * over the same original runs. Input t "differs significantly" when the
 * exact McNemar test on the paired kill bits of runs i (run i of both
 * mutants shares original run i) gives p < alpha. m1 subsumes m2 when m1
 * is killed in some run on some input and p1(t) <= p2(t) on every input
 * that differs significantly. */
int mt_stats_subsumes(const uint8_t *kills1, const uint8_t *kills2,
		      size_t n_runs, size_t n_inputs, double alpha);

/* redundant[m] = 1 for each mutant subsumed by a kept one: mutants are
 * visited by ascending mean kill probability (then index), and each is kept
 * unless a mutant kept before it subsumes it. kills[m] is mutant m's kill
 * bits. *n_redundant (may be NULL) receives the count. */
int mt_stats_redundant(uint8_t *redundant, size_t *n_redundant,
		       const uint8_t *const *kills, size_t n_mutants,
		       size_t n_runs, size_t n_inputs, double alpha);

/* ---------------------------------------------------------------- */
/* DeepCrime's bisection search for the weakest killing value.       */

typedef enum {
	/* larger values are stronger mutations (kill more): the weakest
	 * killing value is the smallest one that kills */
	MT_STATS_STRONGER_UP = 0,
	/* smaller values are stronger: the weakest is the largest */
	MT_STATS_STRONGER_DOWN
} mt_stats_direction;

typedef struct {
	/* public, read after each step */
	double weak, strong;    /* the weak end never killed (or is the
	                         * search start), the strong end killed */
	int done;               /* 1 when the search is over */
	int found;              /* done: 1 when some value killed */
	double weakest;         /* done && found: the weakest killing value */
	size_t evaluations;     /* values tried */
	/* private */
	double precision;
	int integer, strong_checked;
	double pending;
} mt_stats_bisection;

/* Search [lo, hi] (lo < hi) for the weakest killing value, to within
 * precision (> 0; for integer parameters pass integer = 1 and values are
 * whole numbers, precision >= 1). As DeepCrime: first the strongest end is
 * tried; if it does not kill, the operator is not killable in the range;
 * else binary search between the weak end (taken as not killing: it is the
 * value closest to the original) and the last killing value until they are
 * closer than precision. */
int mt_stats_bisection_init(mt_stats_bisection *b, double lo, double hi,
			    double precision, mt_stats_direction direction,
			    int integer);
/* The next value to train and test; 0 when there is one, 1 when done
 * (then b->found / b->weakest hold the answer). */
int mt_stats_bisection_next(mt_stats_bisection *b, double *value);
/* Report the outcome of the value mt_stats_bisection_next returned. */
int mt_stats_bisection_report(mt_stats_bisection *b, double value, int killed);

/* The whole search with a callback: is_killed sets *killed for a value and
 * returns 0, or a negative code that stops the search and is returned. */
typedef int (*mt_stats_kill_predicate)(int *killed, double value,
				       void *payload);
int mt_stats_bisection_run(mt_stats_bisection *b, double lo, double hi,
			   double precision, mt_stats_direction direction,
			   int integer, mt_stats_kill_predicate is_killed,
			   void *payload);

#ifdef __cplusplus
}
#endif
#endif
