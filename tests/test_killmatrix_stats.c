/* Statistics for source-level killing: R's distribution functions
 * (libRmath, which the statistics call) against published reference
 * values, the tests against R's output on documented samples, corrections,
 * power, the sequential design (Monte-Carlo checks of its false-kill rate
 * and early stopping), per-input kill probabilities, redundancy and the
 * bisection search. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/rng.h"
#include "mutorch/stats.h"
#include "mutorch/stats_inputs.h"
#include "mutorch/stats_search.h"
#include "mutorch/stats_sequential.h"

#define MATHLIB_STANDALONE
#include <Rmath.h>

#define close_to(got, want, tol)                                              \
	cr_assert(fabs((got) - (want)) <= (tol), "%s = %.12g, expected %.12g +- %g", \
		  #got, (double)(got), (double)(want), (double)(tol))

/* ---------------------------------------------------------------- */
/* Distribution functions                                           */

Test(stats_dist, normal_cdf_reference_values)
{
	close_to(pnorm(1.96, 0.0, 1.0, 1, 0), 0.9750021048517795, 1e-13);
	close_to(pnorm(0.0, 0.0, 1.0, 1, 0), 0.5, 1e-15);
	close_to(pnorm(-1.0, 0.0, 1.0, 1, 0), 0.15865525393145707, 1e-14);
	/* far tail keeps relative accuracy: Phi(-10) = 7.6198530241605e-24 */
	close_to(pnorm(-10.0, 0.0, 1.0, 1, 0) / 7.6198530241604696e-24, 1.0, 1e-10);
	cr_assert(isnan(pnorm(NAN, 0.0, 1.0, 1, 0)));
}

Test(stats_dist, normal_quantile_reference_values)
{
	close_to(qnorm(0.975, 0.0, 1.0, 1, 0), 1.959963984540054, 1e-13);
	close_to(qnorm(0.5, 0.0, 1.0, 1, 0), 0.0, 1e-15);
	close_to(qnorm(0.05, 0.0, 1.0, 1, 0), -1.6448536269514722, 1e-13);
	close_to(qnorm(0.995, 0.0, 1.0, 1, 0), 2.5758293035489004, 1e-13);
	/* the far tail branch of AS 241: Phi^-1(1e-10) = -6.361340902404056 */
	close_to(qnorm(1e-10, 0.0, 1.0, 1, 0), -6.361340902404056, 1e-11);
	close_to(pnorm(qnorm(1e-300, 0.0, 1.0, 1, 0), 0.0, 1.0, 1, 0) / 1e-300, 1.0, 1e-10);
	cr_assert(isinf(qnorm(0.0, 0.0, 1.0, 1, 0)) && qnorm(0.0, 0.0, 1.0, 1, 0) < 0);
	cr_assert(isnan(qnorm(1.5, 0.0, 1.0, 1, 0)));
	/* round trip across the branches */
	for (double p = 1e-12; p < 1.0; p *= 3.7)
		close_to(pnorm(qnorm(p, 0.0, 1.0, 1, 0), 0.0, 1.0, 1, 0) / p, 1.0, 1e-12);
}

Test(stats_dist, incomplete_beta_closed_forms)
{
	/* I_x(a, 1) = x^a; I_x(1, b) = 1 - (1 - x)^b; I_.5(a, a) = .5;
	 * I_x(.5, .5) = (2 / pi) asin(sqrt(x)) */
	close_to(pbeta(0.3, 2.0, 1.0, 1, 0), 0.09, 1e-14);
	close_to(pbeta(0.7, 3.5, 1.0, 1, 0), pow(0.7, 3.5), 1e-14);
	close_to(pbeta(0.3, 1.0, 3.0, 1, 0), 1.0 - pow(0.7, 3.0), 1e-14);
	close_to(pbeta(0.5, 7.0, 7.0, 1, 0), 0.5, 1e-14);
	close_to(pbeta(0.5, 120.5, 120.5, 1, 0), 0.5, 1e-12);
	close_to(pbeta(0.2, 0.5, 0.5, 1, 0), 2.0 / M_PI * asin(sqrt(0.2)), 1e-14);
	close_to(pbeta(0.9, 0.5, 0.5, 1, 0), 2.0 / M_PI * asin(sqrt(0.9)), 1e-14);
	/* I_x(2, 3) = 6x^2 - 8x^3 + 3x^4 (binomial sum) at x = .4: 0.5248 */
	close_to(pbeta(0.4, 2.0, 3.0, 1, 0), 0.5248, 1e-14);
	/* symmetry I_x(a, b) = 1 - I_{1-x}(b, a) */
	close_to(pbeta(0.35, 4.2, 9.7, 1, 0) + pbeta(0.65, 9.7, 4.2, 1, 0), 1.0, 1e-14);
	cr_assert(pbeta(0.0, 2.0, 3.0, 1, 0) == 0.0 && pbeta(1.0, 2.0, 3.0, 1, 0) == 1.0);
	/* R's domain: a = 0 is a point mass at 0, x outside [0, 1] lies below
	 * or above all the mass; only a negative shape is invalid */
	cr_assert(pbeta(0.5, 0.0, 1.0, 1, 0) == 1.0);
	cr_assert(pbeta(1.5, 1.0, 1.0, 1, 0) == 1.0 && pbeta(-0.5, 1.0, 1.0, 1, 0) == 0.0);
	cr_assert(isnan(pbeta(0.5, -1.0, 1.0, 1, 0)));
}

Test(stats_dist, student_t_cdf_tables)
{
	/* two-sided 5% critical values from the printed tables (3 decimals) */
	close_to(pt(2.228, 10, 1, 0), 0.975, 1e-5);
	close_to(pt(2.086, 20, 1, 0), 0.975, 1e-5);
	close_to(pt(12.706, 1, 1, 0), 0.975, 1e-5);
	close_to(pt(-2.776, 4, 1, 0), 0.025, 1.5e-5); /* table rounds 2.7764 */
	/* df = 1 is Cauchy: 1/2 + atan(t) / pi */
	close_to(pt(1.0, 1, 1, 0), 0.75, 1e-14);
	close_to(pt(-3.5, 1, 1, 0), 0.5 + atan(-3.5) / M_PI, 1e-14);
	/* df = 2 in closed form: 1/2 + t / (2 sqrt(2 + t^2)) */
	close_to(pt(-3.0, 2, 1, 0), 0.5 - 3.0 / (2.0 * sqrt(11.0)), 1e-14);
	close_to(pt(0.0, 7.3, 1, 0), 0.5, 1e-15);
	/* huge df tends to the normal; at df = 1e6 the first-order expansion
	 * Phi(t) - phi(t) (t^3 + t) / (4 df) gives 0.97500196621 */
	close_to(pt(1.96, 1e12, 1, 0), pnorm(1.96, 0.0, 1.0, 1, 0), 1e-12);
	close_to(pt(1.96, 1e6, 1, 0), 0.97500196621, 2e-11);
}

Test(stats_dist, student_t_quantile)
{
	close_to(qt(0.975, 10, 1, 0), 2.228138851986274, 1e-10);
	close_to(qt(0.975, 20, 1, 0), 2.085963447265837, 1e-10);
	close_to(qt(0.975, 1, 1, 0), 12.706204736174696, 1e-8);
	close_to(qt(0.025, 17.776, 1, 0), -qt(0.975, 17.776, 1, 0), 1e-12);
	for (double df = 0.7; df < 200; df *= 2.3)
		for (double p = 0.001; p < 1.0; p += 0.0997)
			close_to(pt(qt(p, df, 1, 0), df, 1, 0), p, 1e-12);
}

Test(stats_dist, noncentral_t_cdf)
{
	/* ncp 0 is the central t */
	close_to(pnt(1.3, 9, 0.0, 1, 0), pt(1.3, 9, 1, 0), 1e-15);
	/* values checked by numerical integration of Phi(t sqrt(V / df) - ncp)
	 * over V ~ chi2(df) (R: pt(2, 10, 1) = 0.8076115625) */
	close_to(pnt(2.0, 10, 1.0, 1, 0), 0.8076115625303754, 1e-10);
	close_to(pnt(-1.0, 5, 2.0, 1, 0), 0.0023163756540538726, 1e-11);
	close_to(pnt(3.0, 20, 2.5, 1, 0), 0.6616028734935061, 1e-10);
	/* df -> inf: T -> N(ncp, 1) */
	close_to(pnt(2.5, 1e7, 1.0, 1, 0), pnorm(1.5, 0.0, 1.0, 1, 0), 1e-5);
	/* monotone in ncp */
	cr_assert(pnt(2.0, 10, 1.5, 1, 0) < pnt(2.0, 10, 1.0, 1, 0));
}

Test(stats_dist, mann_whitney_exact_critical_values)
{
	/* published tables (two-sided alpha = .05, so each tail .025): the
	 * critical U is the largest u with P(U <= u) <= .025:
	 * n1 = n2 = 10 -> 23; n1 = n2 = 5 -> 2; n1 = 8, n2 = 6 -> 8;
	 * n1 = n2 = 20 -> 127 */
	static const struct { size_t n1, n2; int u; } table[] = {
		{10, 10, 23}, {5, 5, 2}, {8, 6, 8}, {20, 20, 127}, {4, 7, 3},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		double at = pwilcox(table[i].u, table[i].n1, table[i].n2, 1, 0);
		double next = pwilcox(table[i].u + 1, table[i].n1, table[i].n2, 1, 0);
		cr_assert(at <= 0.025 && next > 0.025,
			  "n1=%zu n2=%zu: P(U <= %d) = %g, P(U <= %d) = %g, expected the critical value %d",
			  table[i].n1, table[i].n2, table[i].u, at, table[i].u + 1, next, table[i].u);
	}
	/* n1 = n2 = 2: U takes 0..4 with counts 1 1 2 1 1 of C(4,2) = 6 */
	close_to(pwilcox(0, 2, 2, 1, 0), 1.0 / 6, 1e-15);
	close_to(pwilcox(2, 2, 2, 1, 0), 4.0 / 6, 1e-15);
	close_to(pwilcox(4, 2, 2, 1, 0), 1.0, 1e-15);
	/* symmetric: P(U <= u) = P(U >= n1 n2 - u) */
	close_to(pwilcox(30, 9, 7, 1, 0),
		 1.0 - pwilcox(63 - 30 - 1, 9, 7, 1, 0), 1e-13);
	cr_assert(isnan(pwilcox(3, 0, 4, 1, 0)));
}

Test(stats_dist, fisher_exact_tea_tasting)
{
	/* Fisher's lady tasting tea: 3 of 4 right vs 1 of 4: one-sided p =
	 * (16 + 1) / 70 = 0.2429 (R: fisher.test(..., alternative = "g")) */
	close_to(mt_stats_fisher_worse(3, 4, 1, 4), 17.0 / 70.0, 1e-14);
	close_to(mt_stats_fisher_worse(4, 4, 0, 4), 1.0 / 70.0, 1e-14);
	close_to(mt_stats_fisher_worse(0, 4, 4, 4), 1.0, 1e-14);
	/* equal counts: P(X >= 5) for hypergeometric(K = 10, 10 of 20) */
	close_to(mt_stats_fisher_worse(5, 10, 5, 10), 0.6718591006516703, 1e-12);
	/* 20/20 right against 0/20: 1 / C(40, 20) */
	close_to(mt_stats_fisher_worse(20, 20, 0, 20) * 137846528820.0, 1.0, 1e-9);
	cr_assert(isnan(mt_stats_fisher_worse(5, 4, 0, 4)));
}

/* ---------------------------------------------------------------- */
/* Two-sample tests                                                 */

/* R's sleep data (Cushny and Peebles): extra sleep under drug 1 and 2.
 * t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776,
 * p-value = 0.07939; mean of x 0.75, mean of y 2.33.
 * wilcox.test(extra ~ group, data = sleep): W = 25.5, p-value = 0.06933
 * (ties: normal approximation with continuity correction). */
static const double sleep1[] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
static const double sleep2[] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

Test(stats_tests, welch_matches_r_t_test)
{
	mt_stats_test r;

	cr_assert_eq(mt_stats_welch_test(&r, sleep1, 10, sleep2, 10), 0);
	close_to(r.statistic, -1.860813, 5e-7);
	close_to(r.df, 17.77647, 5e-6);
	close_to(r.p_value, 0.07939414, 5e-8);
	close_to(r.mean_original, 0.75, 1e-14);
	close_to(r.mean_mutant, 2.33, 1e-14);
	close_to(r.sd_original, 1.789010, 5e-7);
	close_to(r.sd_mutant, 2.002249, 5e-7);
	/* one-sided "mutant worse" = t.test(..., alternative = "greater") */
	close_to(r.p_worse, 1.0 - 0.07939414 / 2.0, 5e-8);
	/* Cohen's d with the pooled SD: -1.58 / sqrt((1.789^2 + 2.002^2) / 2) */
	close_to(r.effect_size, -0.8321811, 5e-7);
}

Test(stats_tests, deepcrime_wald_z)
{
	mt_stats_test r;

	/* with equal n the OLS Wald statistic equals the pooled t (and Welch's
	 * t); DeepCrime refers it to the normal: p = 2 Phi(-1.860813) */
	cr_assert_eq(mt_stats_deepcrime_test(&r, sleep1, 10, sleep2, 10), 0);
	close_to(r.statistic, -1.860813, 5e-7);
	close_to(r.p_value, 2.0 * pnorm(-1.8608134, 0.0, 1.0, 1, 0), 1e-8);
	close_to(r.p_value, 0.0627708, 5e-7);
	close_to(r.df, 18.0, 0);

	/* unequal n by hand: x = {1, 2, 3}, y = {2, 4, 6, 8}: beta = 5 - 2 = 3,
	 * SSR = 2 + 20 = 22, s^2 = 22 / 5, SE = sqrt(4.4 (1/3 + 1/4)),
	 * z = (2 - 5) / SE = -1.8725634 */
	double x[] = {1, 2, 3}, y[] = {2, 4, 6, 8};
	cr_assert_eq(mt_stats_deepcrime_test(&r, x, 3, y, 4), 0);
	close_to(r.statistic, -3.0 / sqrt(4.4 * (1.0 / 3 + 1.0 / 4)), 1e-12);
	close_to(r.statistic, -1.8725634, 5e-8);
	close_to(r.effect_size, -3.0 / sqrt(4.4), 1e-12);
}

Test(stats_tests, mann_whitney_matches_r)
{
	mt_stats_test r;

	cr_assert_eq(mt_stats_mannwhitney_test(&r, sleep1, 10, sleep2, 10), 0);
	close_to(r.statistic, 25.5, 1e-12);
	cr_assert_eq(r.exact, 0);
	close_to(r.p_value, 0.06932758, 5e-8);

	/* R's ?wilcox.test example (Hollander and Wolfe): no ties, exact:
	 * wilcox.test(x, y, alternative = "g"): W = 35, p-value = 0.1272 */
	double x[] = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
	double y[] = {1.15, 0.88, 0.90, 0.74, 1.21};
	cr_assert_eq(mt_stats_mannwhitney_test(&r, x, 10, y, 5), 0);
	close_to(r.statistic, 35.0, 0);
	cr_assert_eq(r.exact, 1);
	close_to(r.p_worse, 0.1272061, 5e-7);
	close_to(r.p_value, 2.0 * 0.1272061, 1e-6);
}

/* 30 runs against 30, every original run better than every mutant run:
 * U = 900, one-sided p = P(U >= 900) = 1 / C(60, 30) = 8.4556169460724e-18
 * (R: wilcox.test(x, y, alternative = "g")), two-sided twice that. The
 * upper tail taken as 1 - P(U <= 899) underflows to 0. */
Test(stats_tests, mann_whitney_exact_far_tail)
{
	double x[30], y[30];
	mt_stats_test r;

	for (int i = 0; i < 30; i++) {
		x[i] = 0.9 + 0.001 * i;
		y[i] = 0.8 + 0.001 * i;
	}
	cr_assert_eq(mt_stats_mannwhitney_test(&r, x, 30, y, 30), 0);
	cr_assert_eq(r.exact, 1);
	close_to(r.statistic, 900.0, 0);
	close_to(r.p_worse / 8.4556169460723678e-18, 1.0, 1e-12);
	close_to(r.p_value / 1.6911233892144736e-17, 1.0, 1e-12);
	/* the mirror image: the lower tail was always direct */
	cr_assert_eq(mt_stats_mannwhitney_test(&r, y, 30, x, 30), 0);
	close_to(r.statistic, 0.0, 0);
	close_to(r.p_value / 1.6911233892144736e-17, 1.0, 1e-12);
	close_to(r.p_worse, 1.0, 0);
}

/* R's wilcox.test takes the exact distribution only when n_x < 50 and
 * n_y < 50 (and no ties), else the normal approximation with continuity
 * correction. x = .810, .811, ..., .859 and y = .8005, .8015, ..., .8495:
 * U = 1680, sigma = sqrt(50 * 50 / 12 * 101), z = (1680 - 1250 - .5) /
 * sigma = 2.9608956365, p = 2 (1 - Phi(z)) = 0.0030674586237 (the exact
 * distribution would give 0.0028083166388). */
Test(stats_tests, mann_whitney_exact_below_50_as_r)
{
	double x[50], y[50];
	mt_stats_test r;

	for (int i = 0; i < 50; i++) {
		x[i] = 0.8 + 0.001 * (i + 10);
		y[i] = 0.8 + 0.001 * (i + 0.5);
	}
	cr_assert_eq(mt_stats_mannwhitney_test(&r, x, 50, y, 50), 0);
	close_to(r.statistic, 1680.0, 0);
	cr_assert_eq(r.exact, 0);
	close_to(r.p_value, 0.0030674586237370232, 1e-15);
	close_to(r.p_worse, 0.0015337293118685116, 1e-15);
	/* 49 against 50 is still R's normal path: z = 2.8309102884 */
	cr_assert_eq(mt_stats_mannwhitney_test(&r, x, 49, y, 50), 0);
	cr_assert_eq(r.exact, 0);
	close_to(r.p_value, 0.0046415737830915117, 1e-15);
	/* 49 against 49 is exact */
	cr_assert_eq(mt_stats_mannwhitney_test(&r, x, 49, y, 49), 0);
	cr_assert_eq(r.exact, 1);
}

Test(stats_tests, degenerate_samples)
{
	mt_stats_test r;
	double same[] = {0.9, 0.9, 0.9, 0.9}, lower[] = {0.8, 0.8, 0.8, 0.8};

	cr_assert_eq(mt_stats_welch_test(&r, same, 4, same, 4), 0);
	cr_assert(r.p_value == 1.0 && r.effect_size == 0.0);
	cr_assert_eq(mt_stats_deepcrime_test(&r, same, 4, lower, 4), 0);
	cr_assert(r.p_value == 0.0 && isinf(r.effect_size) && r.effect_size > 0);
	cr_assert_eq(mt_stats_decide(&r, MT_STATS_WELCH, same, lower, 4, 0.05, 0.5), 0);
	cr_assert(r.killed);
	/* better mutant: never killed */
	cr_assert_eq(mt_stats_decide(&r, MT_STATS_WELCH, lower, same, 4, 0.05, 0.5), 0);
	cr_assert(!r.killed && r.p_value == 0.0);

	double bad[] = {0.9, NAN};
	cr_assert_eq(mt_stats_welch_test(&r, bad, 2, same, 4), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "original accuracies[1]"), "%s", mt_error_last());
	cr_assert_eq(mt_stats_welch_test(&r, same, 1, same, 4), MT_EINVALID);
	cr_assert_eq(mt_stats_decide(&r, MT_STATS_WELCH, same, lower, 4, 1.5, 0.5), MT_EINVALID);
	cr_assert_eq(mt_stats_decide(&r, (mt_stats_rule)9, same, lower, 4, 0.05, 0.5), MT_EINVALID);
}

Test(stats_tests, decide_all_rules)
{
	/* mutant clearly worse (d ~ 5): every rule kills */
	double orig[] = {0.912, 0.905, 0.918, 0.909, 0.915, 0.902, 0.911, 0.908};
	double mut[] = {0.871, 0.880, 0.866, 0.875, 0.869, 0.883, 0.872, 0.878};
	/* mutant slightly worse (d ~ 0.3, p large): no rule kills */
	double near[] = {0.910, 0.903, 0.916, 0.907, 0.913, 0.900, 0.909, 0.906};
	mt_stats_rule rules[] = {MT_STATS_DEEPCRIME, MT_STATS_WELCH, MT_STATS_MANNWHITNEY};
	mt_stats_test r;

	for (int i = 0; i < 3; i++) {
		cr_assert_eq(mt_stats_decide(&r, rules[i], orig, mut, 8, 0.05, 0.5), 0);
		cr_assert(r.killed, "%s: p = %g, d = %g", mt_stats_rule_name(rules[i]), r.p_value,
			  r.effect_size);
		cr_assert(r.effect_size > 4.0);
		cr_assert_eq(r.rule, rules[i]);
		cr_assert_eq(mt_stats_decide(&r, rules[i], orig, near, 8, 0.05, 0.5), 0);
		cr_assert(!r.killed, "%s: p = %g, d = %g", mt_stats_rule_name(rules[i]), r.p_value,
			  r.effect_size);
		/* the other way round the mutant is better: never killed */
		cr_assert_eq(mt_stats_decide(&r, rules[i], mut, orig, 8, 0.05, 0.5), 0);
		cr_assert(!r.killed && r.p_value < 0.05);
	}
	/* exact U: all 8 x 8 pairs favour the original, p = 2 / C(16, 8) */
	cr_assert_eq(mt_stats_decide(&r, MT_STATS_MANNWHITNEY, orig, mut, 8, 0.05, 0.5), 0);
	close_to(r.statistic, 64.0, 0);
	close_to(r.p_value, 2.0 / 12870.0, 1e-15);

	mt_stats_rule parsed;
	cr_assert_eq(mt_stats_rule_parse(&parsed, "mannwhitney"), 0);
	cr_assert_eq(parsed, MT_STATS_MANNWHITNEY);
	cr_assert_eq(mt_stats_rule_parse(&parsed, "ttest"), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "expected deepcrime, welch or mannwhitney"));
}

/* The false-kill rate of each fixed-n rule, measured: the original against
 * fresh runs of itself, 2000 trials of n = 10. Every rule needs p < .05 and
 * d >= .5 in the mutant-worse direction, so the rate is below .025. */
Test(stats_tests, fixed_rules_false_kill_rate)
{
	mt_stats_rule rules[] = {MT_STATS_DEEPCRIME, MT_STATS_WELCH, MT_STATS_MANNWHITNEY};
	const int trials = 2000;
	double x[10], y[10];
	mt_rng rng;

	for (int i = 0; i < 3; i++) {
		int kills = 0;
		mt_rng_seed(&rng, 20210711 + (uint64_t)i);
		for (int trial = 0; trial < trials; trial++) {
			mt_stats_test r;
			for (int j = 0; j < 10; j++) {
				x[j] = 0.9 + 0.01 * mt_rng_normal(&rng);
				y[j] = 0.9 + 0.01 * mt_rng_normal(&rng);
			}
			cr_assert_eq(mt_stats_decide(&r, rules[i], x, y, 10, 0.05, 0.5), 0);
			kills += r.killed;
		}
		double rate = (double)kills / trials;
		/* .025 + 3 binomial SDs */
		cr_assert(rate <= 0.025 + 3.0 * sqrt(0.025 * 0.975 / trials),
			  "%s false-kill rate %g", mt_stats_rule_name(rules[i]), rate);
		/* and it is a real test, not a rule that never kills */
		cr_assert(rate >= 0.005, "%s false-kill rate %g", mt_stats_rule_name(rules[i]), rate);
	}
}

/* ---------------------------------------------------------------- */
/* Multiple comparisons                                             */

/* Benjamini and Hochberg (1995)'s 15 p-values, given shuffled; expected
 * values are R's p.adjust(p, "holm") and p.adjust(p, "BH"). */
Test(stats_adjust, holm_and_bh_textbook)
{
	double p[] = {0.0095, 1.0, 0.0001, 0.0344, 0.5719, 0.0004, 0.324, 0.0278,
		      0.759, 0.0019, 0.0459, 0.6528, 0.0201, 0.4262, 0.0298};
	double holm[] = {0.114, 1.0, 0.0015, 0.278, 1.0, 0.0056, 1.0, 0.278,
			 1.0, 0.0247, 0.3213, 1.0, 0.2211, 1.0, 0.278};
	double bh[] = {0.035625, 1.0, 0.0015, 0.0645, 0.714875, 0.003, 0.486,
		       0.06385714285714286, 0.8132142857142857, 0.0095, 0.0765,
		       0.7532307692307693, 0.0603, 0.5811818181818182, 0.06385714285714286};
	double out[15];
	int rejected_holm = 0, rejected_bh = 0;

	cr_assert_eq(mt_stats_adjust(out, p, 15, MT_STATS_HOLM), 0);
	for (int i = 0; i < 15; i++) {
		close_to(out[i], holm[i], 1e-12);
		rejected_holm += out[i] < 0.05;
	}
	cr_assert_eq(mt_stats_adjust(out, p, 15, MT_STATS_BH), 0);
	for (int i = 0; i < 15; i++) {
		close_to(out[i], bh[i], 1e-12);
		rejected_bh += out[i] < 0.05;
	}
	/* the paper: BH rejects 4 at q = .05, the FWER procedures 3 */
	cr_assert_eq(rejected_holm, 3);
	cr_assert_eq(rejected_bh, 4);
	/* in place, and NONE copies */
	memcpy(out, p, sizeof(p));
	cr_assert_eq(mt_stats_adjust(out, out, 15, MT_STATS_HOLM), 0);
	close_to(out[0], 0.114, 1e-12);
	cr_assert_eq(mt_stats_adjust(out, p, 15, MT_STATS_NONE), 0);
	cr_assert(memcmp(out, p, sizeof(p)) == 0);
	double badp[] = {0.5, 1.2};
	cr_assert_eq(mt_stats_adjust(out, badp, 2, MT_STATS_BH), MT_EINVALID);
}

Test(stats_adjust, monotone_and_capped)
{
	double p[200], holm[200], bh[200];
	mt_rng rng;

	mt_rng_seed(&rng, 7);
	for (int i = 0; i < 200; i++)
		p[i] = pow(mt_rng_uniform(&rng), 3.0);
	cr_assert_eq(mt_stats_adjust(holm, p, 200, MT_STATS_HOLM), 0);
	cr_assert_eq(mt_stats_adjust(bh, p, 200, MT_STATS_BH), 0);
	for (int i = 0; i < 200; i++) {
		cr_assert(holm[i] >= p[i] && holm[i] <= 1.0);
		cr_assert(bh[i] >= p[i] && bh[i] <= holm[i] + 1e-15);
		for (int j = 0; j < 200; j++)
			if (p[i] < p[j])
				cr_assert(holm[i] <= holm[j] && bh[i] <= bh[j]);
	}
}

/* ---------------------------------------------------------------- */
/* Power                                                            */

Test(stats_power, matches_r_power_t_test)
{
	/* R: power.t.test(n = 20, delta = 0.5): power = 0.3377084 (one tail,
	 * strict = FALSE); the opposite tail adds P(T < -c) */
	close_to(mt_stats_t_power_upper(20, 0.5, 0.05), 0.3377084, 5e-8);
	close_to(mt_stats_t_power(20, 0.5, 0.05),
		 0.3377084 + pnt(-qt(0.975, 38, 1, 0), 38, 0.5 * sqrt(10.0), 1, 0),
		 5e-8);
	cr_assert(mt_stats_t_power(20, 0.5, 0.05) > mt_stats_t_power_upper(20, 0.5, 0.05));
	/* R's ?power.t.test examples: power.t.test(n = 20, delta = 1):
	 * 0.8689528; power.t.test(power = .90, delta = 1): n = 22.02110 */
	close_to(mt_stats_t_power_upper(20, 1.0, 0.05), 0.8689528, 5e-8);
	close_to(mt_stats_t_n_for_power(0.90, 1.0, 0.05), 22.02110, 1e-4);
	/* power.t.test(power = .8, delta = .5): n = 63.76576 */
	close_to(mt_stats_t_n_for_power(0.80, 0.5, 0.05), 63.76576, 1e-5);
	/* under the null the two-sided power is alpha */
	close_to(mt_stats_t_power(12, 1e-9, 0.05), 0.05, 1e-8);
	cr_assert(isnan(mt_stats_t_n_for_power(0.01, 0.5, 0.05)));
	cr_assert(isnan(mt_stats_t_power(1, 0.5, 0.05)));
}

/* R's power.t.test solves its one-tailed power (strict = FALSE) for n;
 * solving the two-tailed power gave 63.76561 for power .8 at d = .5
 * (R: 63.76576), and at low power the opposite tail matters more: power
 * .1 at d = .2 needs n = 23.9966489 with one tail, 22.2655672 with both. */
Test(stats_power, n_for_power_solves_r_one_tailed_power)
{
	double n = mt_stats_t_n_for_power(0.80, 0.5, 0.05);

	close_to(n, 63.76576, 1e-5);
	close_to(mt_stats_t_power_upper(n, 0.5, 0.05), 0.8, 1e-9);
	cr_assert(mt_stats_t_power(n, 0.5, 0.05) > 0.8);
	n = mt_stats_t_n_for_power(0.10, 0.2, 0.05);
	close_to(n, 23.9966489, 1e-6);
	close_to(mt_stats_t_power_upper(n, 0.2, 0.05), 0.1, 1e-9);
}

/* ---------------------------------------------------------------- */
/* Sequential design                                                */

Test(stats_sequential, boundaries_spend_alpha)
{
	mt_stats_sequential *d;

	cr_assert_eq(mt_stats_sequential_new(&d, NULL), 0);
	cr_assert_eq(mt_stats_sequential_looks(d), 9);
	cr_assert_eq(mt_stats_sequential_look_n(d, 0), 4);
	cr_assert_eq(mt_stats_sequential_look_n(d, 8), 20);
	cr_assert_eq(mt_stats_sequential_look_n(d, 9), 0);
	/* look 1 spends alpha(.2) = 2 - 2 Phi(z_.975 / sqrt(.2)) alone */
	close_to(mt_stats_sequential_nominal_p(d, 0),
		 2.0 - 2.0 * pnorm(1.959963984540054 / sqrt(0.2), 0.0, 1.0, 1, 0), 1e-15);
	/* boundaries fall and the last lies between the fixed-design z_.95 and
	 * the Bonferroni-like bound, as correlation between looks allows; a
	 * 2e6-path simulation of the z process gave crossing 0.0500 in all */
	for (size_t k = 1; k < 9; k++)
		cr_assert(mt_stats_sequential_boundary(d, k) < mt_stats_sequential_boundary(d, k - 1));
	close_to(mt_stats_sequential_boundary(d, 8), 1.79494, 2e-4);
	close_to(mt_stats_sequential_boundary(d, 0), 4.22920, 2e-4);
	close_to(mt_stats_sequential_boundary(d, 4), 2.34174, 2e-4);
	mt_stats_sequential_free(d);

	/* one look is the fixed design */
	mt_stats_sequential_options o;
	mt_stats_sequential_options_init(&o);
	o.n_first = o.n_max = 10;
	cr_assert_eq(mt_stats_sequential_new(&d, &o), 0);
	cr_assert_eq(mt_stats_sequential_looks(d), 1);
	close_to(mt_stats_sequential_boundary(d, 0), 1.6448536269514722, 1e-12);
	mt_stats_sequential_free(d);

	/* a last partial step still ends at n_max */
	o.n_first = 3;
	o.n_step = 4;
	o.n_max = 12;
	o.spending = MT_STATS_SPEND_POCOCK;
	cr_assert_eq(mt_stats_sequential_new(&d, &o), 0);
	cr_assert_eq(mt_stats_sequential_looks(d), 4);
	cr_assert_eq(mt_stats_sequential_look_n(d, 3), 12);
	/* Pocock-type spending is flatter than O'Brien-Fleming-type */
	close_to(mt_stats_sequential_nominal_p(d, 0), 0.05 * log(1.0 + (M_E - 1.0) * 0.25), 1e-15);
	mt_stats_sequential_free(d);

	o.n_first = 1;
	cr_assert_eq(mt_stats_sequential_new(&d, &o), MT_EINVALID);
	cr_assert_null(d);
	cr_assert(strstr(mt_error_last(), "n_first >= 2"), "%s", mt_error_last());
	mt_stats_sequential_free(NULL);
}

typedef struct {
	double kill_rate, mean_n;
} seq_outcome;

/* Run `trials` sequential trials: per-run accuracies N(0.9, 0.01) for the
 * original and N(0.9 - shift_sd * 0.01, 0.01) for the mutant, drawn once
 * per trial for all n_max runs; the design sees the first n at each look. */
static seq_outcome simulate(const mt_stats_sequential *d, double shift_sd, int trials,
			    uint64_t seed)
{
	size_t n_max = mt_stats_sequential_look_n(d, mt_stats_sequential_looks(d) - 1);
	double *x = malloc(n_max * sizeof(double)), *y = malloc(n_max * sizeof(double));
	long kills = 0, runs = 0;
	mt_rng rng;

	cr_assert(x && y);
	mt_rng_seed(&rng, seed);
	for (int trial = 0; trial < trials; trial++) {
		mt_stats_sequential_result r;
		size_t n = mt_stats_sequential_look_n(d, 0);
		for (size_t i = 0; i < n_max; i++) {
			x[i] = 0.9 + 0.01 * mt_rng_normal(&rng);
			y[i] = 0.9 - shift_sd * 0.01 + 0.01 * mt_rng_normal(&rng);
		}
		for (;;) {
			cr_assert_eq(mt_stats_sequential_decide(&r, d, x, y, n), 0, "%s", mt_error_last());
			if (r.verdict != MT_STATS_CONTINUE)
				break;
			cr_assert(r.next_n > n);
			n = r.next_n;
		}
		cr_assert_eq(r.next_n, 0);
		kills += r.verdict == MT_STATS_KILLED;
		runs += (long)r.n;
	}
	free(x);
	free(y);
	return (seq_outcome){(double)kills / trials, (double)runs / trials};
}

/* The Monte-Carlo self-check of the sequential design (defaults: looks
 * 4, 6, ..., 20, one-sided alpha .05, d >= .5, futility below conditional
 * power .1). */
Test(stats_sequential, monte_carlo_error_rates)
{
	const int trials = 2000;
	const double se = sqrt(0.05 * 0.95 / trials);
	mt_stats_sequential *d;
	seq_outcome null, clear, big;

	cr_assert_eq(mt_stats_sequential_new(&d, NULL), 0);
	/* the original against itself: false kills at most alpha */
	null = simulate(d, 0.0, trials, 1);
	cr_assert(null.kill_rate <= 0.05 + 3.0 * se, "false-kill rate %g", null.kill_rate);
	cr_assert(null.kill_rate > 0.005, "false-kill rate %g: the test never kills", null.kill_rate);
	/* futility stops some null trials before n_max */
	cr_assert(null.mean_n < 20.0, "null mean n %g", null.mean_n);
	/* clearly worse mutants (d = 3): killed, and well before n_max */
	clear = simulate(d, 3.0, trials, 2);
	cr_assert(clear.kill_rate >= 0.99, "kill rate %g at d = 3", clear.kill_rate);
	cr_assert(clear.mean_n <= 10.0, "mean n %g at d = 3", clear.mean_n);
	big = simulate(d, 10.0, trials, 3);
	cr_assert(big.kill_rate == 1.0 && big.mean_n <= 7.0, "d = 10: rate %g mean n %g",
		  big.kill_rate, big.mean_n);
	cr_log_info("sequential (O'Brien-Fleming): null false-kill %.4f mean n %.2f; "
		    "d=3 kill %.4f mean n %.2f; d=10 mean n %.2f",
		    null.kill_rate, null.mean_n, clear.kill_rate, clear.mean_n, big.mean_n);
	mt_stats_sequential_free(d);

	/* Pocock-type spending: also at most alpha, and it stops earlier */
	mt_stats_sequential_options o;
	mt_stats_sequential_options_init(&o);
	o.spending = MT_STATS_SPEND_POCOCK;
	cr_assert_eq(mt_stats_sequential_new(&d, &o), 0);
	null = simulate(d, 0.0, trials, 4);
	cr_assert(null.kill_rate <= 0.05 + 3.0 * se, "Pocock false-kill rate %g", null.kill_rate);
	seq_outcome pclear = simulate(d, 3.0, trials, 2);
	cr_assert(pclear.kill_rate >= 0.99 && pclear.mean_n < clear.mean_n,
		  "Pocock d = 3: rate %g mean n %g", pclear.kill_rate, pclear.mean_n);
	mt_stats_sequential_free(d);
}

Test(stats_sequential, decide_api)
{
	mt_stats_sequential *d;
	mt_stats_sequential_result r;
	double orig[20], same[20], worse[20];
	mt_rng rng;

	mt_rng_seed(&rng, 11);
	for (int i = 0; i < 20; i++) {
		orig[i] = 0.9 + 0.01 * mt_rng_normal(&rng);
		same[i] = 0.9 + 0.01 * mt_rng_normal(&rng);
		worse[i] = 0.5 + 0.01 * mt_rng_normal(&rng);
	}
	cr_assert_eq(mt_stats_sequential_new(&d, NULL), 0);
	/* a broken mutant (accuracy 0.1 against 0.9) is killed at the first
	 * look: t = 0.8 / sqrt(2 x 7.292e-5 / 4) = 132.5 with df 3 */
	double o4[] = {0.90, 0.91, 0.89, 0.905}, w4[] = {0.10, 0.11, 0.09, 0.105};
	cr_assert_eq(mt_stats_sequential_decide(&r, d, o4, w4, 4), 0);
	cr_assert_eq(r.verdict, MT_STATS_KILLED);
	cr_assert(r.test.killed && r.test.p_worse <= r.nominal_p && r.test.effect_size > 10);
	close_to(r.test.statistic, 0.8 / sqrt(2.0 * 2.1875e-4 / 3.0 / 4.0), 1e-9);
	close_to(r.test.df, 3.0, 0);
	close_to(r.test.p_worse, pt(-r.test.statistic, 3.0, 1, 0), 1e-18);
	/* a mutant about 40 SDs worse is killed by look 2 at the latest */
	cr_assert_eq(mt_stats_sequential_decide(&r, d, orig, worse, 4), 0);
	if (r.verdict == MT_STATS_CONTINUE) {
		cr_assert_eq(r.next_n, 6);
		cr_assert(r.conditional_power > 0.5);
		cr_assert_eq(mt_stats_sequential_decide(&r, d, orig, worse, 6), 0);
	}
	cr_assert_eq(r.verdict, MT_STATS_KILLED);
	cr_assert_eq(r.next_n, 0);
	cr_assert_str_eq(mt_stats_verdict_name(r.verdict), "killed");
	/* at the last look there is always a final verdict */
	cr_assert_eq(mt_stats_sequential_decide(&r, d, orig, same, 20), 0);
	cr_assert(r.verdict != MT_STATS_CONTINUE);
	cr_assert(isnan(r.conditional_power));
	/* an unplanned n is refused */
	cr_assert_eq(mt_stats_sequential_decide(&r, d, orig, same, 5), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "expected a planned look"), "%s", mt_error_last());
	/* a better mutant stops for futility at once */
	cr_assert_eq(mt_stats_sequential_decide(&r, d, worse, orig, 4), 0);
	cr_assert_eq(r.verdict, MT_STATS_NOT_KILLED);
	cr_assert(r.conditional_power < 0.1);
	mt_stats_sequential_free(d);
}

/* ---------------------------------------------------------------- */
/* Per-input analyses                                               */

#define RUNS 20
#define INPUTS 50

/* labels[t] = t % 10; every run of the original is right except on inputs
 * 40..49 where it is right in half the runs. */
static void make_predictions(int64_t *labels, int64_t *orig, int64_t *mutant, int bad_input)
{
	for (int t = 0; t < INPUTS; t++)
		labels[t] = t % 10;
	for (int i = 0; i < RUNS; i++)
		for (int t = 0; t < INPUTS; t++) {
			int64_t right = labels[t], wrong = (labels[t] + 1) % 10;
			orig[i * INPUTS + t] = t >= 40 && i % 2 ? wrong : right;
			/* the mutant: the same, except that it fails bad_input in
			 * 18 of 20 runs */
			mutant[i * INPUTS + t] = orig[i * INPUTS + t];
			if (t == bad_input && i < 18)
				mutant[i * INPUTS + t] = wrong;
		}
}

Test(stats_inputs, fisher_per_input_verdict)
{
	int64_t labels[INPUTS], orig[RUNS * INPUTS], mutant[RUNS * INPUTS];
	double p[INPUTS];
	mt_stats_fisher_verdict v;

	make_predictions(labels, orig, mutant, 7);
	cr_assert_eq(mt_stats_fisher_inputs(&v, p, orig, mutant, labels, RUNS, INPUTS, 0.05,
					    MT_STATS_HOLM), 0);
	/* input 7: original 20/20 right, mutant 2/20: p = P(X >= 20), X the
	 * original's share of 22 right answers = C(22, 20) / C(40, 20) */
	double expect = 231.0 / 137846528820.0;
	close_to(p[7] / expect, 1.0, 1e-9);
	close_to(v.min_p / expect, 1.0, 1e-9);
	/* Holm across 50 inputs: the smallest is multiplied by 50 */
	close_to(v.min_adjusted_p / (50 * expect), 1.0, 1e-9);
	cr_assert(v.killed && v.n_significant == 1 && v.best_input == 7);
	close_to(p[0], 1.0, 1e-12);

	/* the same predictions for both: nothing is significant */
	cr_assert_eq(mt_stats_fisher_inputs(&v, NULL, orig, orig, labels, RUNS, INPUTS, 0.05,
					    MT_STATS_BH), 0);
	cr_assert(!v.killed && v.n_significant == 0);
	close_to(v.min_adjusted_p, 1.0, 1e-12);

	/* a mutant better than the original is not killed */
	make_predictions(labels, orig, mutant, 45);
	cr_assert_eq(mt_stats_fisher_inputs(&v, p, mutant, orig, labels, RUNS, INPUTS, 0.05,
					    MT_STATS_HOLM), 0);
	cr_assert(!v.killed);
	cr_assert_eq(mt_stats_fisher_inputs(&v, p, orig, mutant, labels, 0, INPUTS, 0.05,
					    MT_STATS_HOLM), MT_EINVALID);
}

Test(stats_inputs, kill_probabilities_and_triviality)
{
	int64_t labels[3] = {0, 1, 2};
	/* 4 runs x 3 inputs */
	int64_t orig[12] = {0, 1, 2, 0, 1, 0, 0, 1, 2, 0, 2, 2};
	int64_t mut[12] = {1, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1};
	uint8_t kills[12];
	double p[3];

	cr_assert_eq(mt_stats_kills(kills, orig, mut, labels, 4, 3), 0);
	/* input 0: runs 0, 2, 3 orig right, mutant wrong -> 3/4;
	 * input 1: run 1, 2 (orig right, mutant wrong) -> 2/4 (run 3 orig wrong);
	 * input 2: runs 0, 2, 3 -> 3/4 (run 1 orig wrong) */
	uint8_t expect[12] = {1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1};
	cr_assert(memcmp(kills, expect, 12) == 0);
	double mean = mt_stats_kill_probabilities(p, kills, 4, 3);
	close_to(p[0], 0.75, 0);
	close_to(p[1], 0.5, 0);
	close_to(p[2], 0.75, 0);
	close_to(mean, 2.0 / 3.0, 1e-15);
	cr_assert(!mt_stats_is_trivial(mean));
	cr_assert(mt_stats_is_trivial(0.9));
	cr_assert(!mt_stats_is_trivial(0.8999));
}

/* A 10-run, 6-input kill set: rows are runs, bits are inputs. */
static void fill_kills(uint8_t *k, const int *inputs, int n_in, int runs_killed)
{
	memset(k, 0, 10 * 6);
	for (int i = 0; i < runs_killed; i++)
		for (int j = 0; j < n_in; j++)
			k[i * 6 + inputs[j]] = 1;
}

Test(stats_inputs, redundancy_by_subsumption)
{
	uint8_t A[60], B[60], C[60], D[60], E[60], F[60], out[6];
	const uint8_t *all[6] = {A, B, C, D, E, F};
	size_t n_red;

	/* A kills inputs 0, 1 in every run; B kills 0, 1, 2 (easier: A
	 * subsumes it); C kills 3 (incomparable); D = A (equivalent); E is
	 * never killed; F kills 0, 1 in 7 of 10 runs (harder than A: on inputs
	 * 0, 1 A kills 3 runs more, McNemar p = .25, not significant, so F
	 * subsumes A, B and D; against C, F kills input 0 in 7 runs more,
	 * p = 2/128 < .05, so F does not subsume C) */
	fill_kills(A, (int[]){0, 1}, 2, 10);
	fill_kills(B, (int[]){0, 1, 2}, 3, 10);
	fill_kills(C, (int[]){3}, 1, 10);
	fill_kills(D, (int[]){0, 1}, 2, 10);
	fill_kills(E, (int[]){0}, 0, 0);
	fill_kills(F, (int[]){0, 1}, 2, 7);

	cr_assert(mt_stats_subsumes(A, B, 10, 6, 0.05));
	cr_assert(!mt_stats_subsumes(B, A, 10, 6, 0.05));
	cr_assert(!mt_stats_subsumes(A, C, 10, 6, 0.05));
	cr_assert(!mt_stats_subsumes(C, A, 10, 6, 0.05));
	cr_assert(mt_stats_subsumes(A, D, 10, 6, 0.05) && mt_stats_subsumes(D, A, 10, 6, 0.05));
	cr_assert(!mt_stats_subsumes(E, A, 10, 6, 0.05)); /* never killed */
	cr_assert(mt_stats_subsumes(F, A, 10, 6, 0.05));
	cr_assert(mt_stats_subsumes(A, F, 10, 6, 0.05)); /* differences not significant */
	cr_assert(!mt_stats_subsumes(F, C, 10, 6, 0.05));
	close_to(mt_stats_mcnemar(7, 0), 2.0 / 128.0, 1e-15);
	close_to(mt_stats_mcnemar(3, 0), 0.25, 1e-15);
	close_to(mt_stats_mcnemar(0, 0), 1.0, 0);
	/* McNemar exact, b = 2, c = 8: 2 P(X <= 2 | 10, .5) = 2 * 56 / 1024 */
	close_to(mt_stats_mcnemar(2, 8), 112.0 / 1024.0, 1e-15);

	cr_assert_eq(mt_stats_redundant(out, &n_red, all, 6, 10, 6, 0.05), 0);
	uint8_t expect[6] = {1, 1, 0, 1, 0, 0};
	cr_assert(memcmp(out, expect, 6) == 0, "redundant %d%d%d%d%d%d", out[0], out[1], out[2],
		  out[3], out[4], out[5]);
	cr_assert_eq(n_red, 3);

	/* with a strict alpha nothing differs significantly (10 runs give
	 * McNemar p >= 2/1024): every killed mutant subsumes every other, and
	 * only the never-killed E and the hardest killed mutant (C, mean kill
	 * probability 1/6) stay */
	cr_assert_eq(mt_stats_redundant(out, &n_red, all, 6, 10, 6, 1e-6), 0);
	uint8_t strict[6] = {1, 1, 0, 1, 0, 1};
	cr_assert(memcmp(out, strict, 6) == 0);
	cr_assert_eq(mt_stats_redundant(out, &n_red, all, 6, 10, 6, 0.0), MT_EINVALID);
}

/* ---------------------------------------------------------------- */
/* Bisection                                                        */

typedef struct {
	double threshold;
	int up, calls, fail_at;
} predicate_state;

static int threshold_predicate(int *killed, double value, void *payload)
{
	predicate_state *s = payload;
	if (++s->calls == s->fail_at)
		return mt_error_set(MT_ETIMEOUT, "training timed out");
	*killed = s->up ? value >= s->threshold : value <= s->threshold;
	return 0;
}

Test(stats_bisection, finds_weakest_killing_value)
{
	mt_stats_bisection b;
	predicate_state s = {0.37, 1, 0, 0};

	/* label error fraction in [0, 1], kills from 0.37: 1 check of the
	 * strong end + ceil(log2(1 / .01)) = 7 halvings */
	cr_assert_eq(mt_stats_bisection_run(&b, 0.0, 1.0, 0.01, MT_STATS_STRONGER_UP, 0,
					    threshold_predicate, &s), 0);
	cr_assert(b.done && b.found);
	cr_assert(b.weakest >= 0.37 && b.weakest < 0.38, "weakest %g", b.weakest);
	cr_assert_eq(b.evaluations, 8);
	cr_assert_eq(s.calls, 8);

	/* epochs in [1, 100], fewer epochs are stronger, kills at <= 12 */
	s = (predicate_state){12, 0, 0, 0};
	cr_assert_eq(mt_stats_bisection_run(&b, 1, 100, 1, MT_STATS_STRONGER_DOWN, 1,
					    threshold_predicate, &s), 0);
	cr_assert(b.found);
	close_to(b.weakest, 12.0, 0);
	cr_assert(b.evaluations <= 9);

	/* never killed in range: one evaluation, not found */
	s = (predicate_state){2.0, 1, 0, 0};
	cr_assert_eq(mt_stats_bisection_run(&b, 0.0, 1.0, 0.01, MT_STATS_STRONGER_UP, 0,
					    threshold_predicate, &s), 0);
	cr_assert(b.done && !b.found && b.evaluations == 1);

	/* the predicate's error stops the search */
	s = (predicate_state){0.37, 1, 0, 3};
	cr_assert_eq(mt_stats_bisection_run(&b, 0.0, 1.0, 0.01, MT_STATS_STRONGER_UP, 0,
					    threshold_predicate, &s), MT_ETIMEOUT);
}

Test(stats_bisection, state_machine)
{
	mt_stats_bisection b;
	double v;

	cr_assert_eq(mt_stats_bisection_init(&b, 0.0, 8.0, 1.0, MT_STATS_STRONGER_UP, 0), 0);
	cr_assert_eq(mt_stats_bisection_next(&b, &v), 0);
	close_to(v, 8.0, 0);
	/* a result for another value is refused */
	cr_assert_eq(mt_stats_bisection_report(&b, 4.0, 1), MT_EINVALID);
	cr_assert_eq(mt_stats_bisection_report(&b, 8.0, 1), 0);
	cr_assert_eq(mt_stats_bisection_next(&b, &v), 0);
	close_to(v, 4.0, 0);
	cr_assert_eq(mt_stats_bisection_report(&b, 4.0, 0), 0);
	cr_assert_eq(mt_stats_bisection_next(&b, &v), 0);
	close_to(v, 6.0, 0);
	cr_assert_eq(mt_stats_bisection_report(&b, 6.0, 1), 0);
	cr_assert_eq(mt_stats_bisection_next(&b, &v), 0);
	close_to(v, 5.0, 0);
	cr_assert_eq(mt_stats_bisection_report(&b, 5.0, 1), 0);
	cr_assert_eq(mt_stats_bisection_next(&b, &v), 1);
	cr_assert(b.found);
	close_to(b.weakest, 5.0, 0);
	cr_assert_eq(b.evaluations, 4);

	cr_assert_eq(mt_stats_bisection_init(&b, 1.0, 1.0, 0.1, MT_STATS_STRONGER_UP, 0),
		     MT_EINVALID);
	cr_assert_eq(mt_stats_bisection_init(&b, 0.0, 1.0, 0.5, MT_STATS_STRONGER_UP, 1),
		     MT_EINVALID);
}
