/*
 * mutorch/stats.h - statistical killing for source-level mutation: the
 * two-sample tests on per-run accuracies and the verdict, corrections for
 * multiple comparisons, and the power of the t-test.
 *
 * Training is random, so a source-level mutant is compared with the
 * original over n training runs each (run i of both with the same seed).
 * This header holds the fixed-n rules: DeepCrime's OLS Wald z-test,
 * Welch's t-test and Mann-Whitney U, one verdict function over all three,
 * Holm and Benjamini-Hochberg adjusted p-values, and the power of the
 * two-sample t-test with the n a target power needs. The rest of the
 * module: stats_sequential.h (the group-sequential design), stats_inputs.h
 * (per-input Fisher test, kill probabilities, McNemar, redundancy) and
 * stats_search.h (DeepCrime's bisection search).
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

/* Mean of x[0..n) (NaN for n = 0) and, in *sd, the sample SD (n - 1 in
 * the denominator; 0 for n <= 1): the summaries the reports print. */
double mt_stats_mean_sd(double *sd, const double *x, size_t n);

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

#ifdef __cplusplus
}
#endif
#endif
