/* Two-sample tests on per-run accuracies (DeepCrime's OLS Wald z, Welch,
 * Mann-Whitney), the verdict, p-value adjustment, the per-input Fisher
 * test and the power of the t-test. Every distribution function is R's
 * (libRmath), called as R's own tests call it, so the p-values are R's. */
#include "mutorch/stats.h"
#include "mutorch/stats_inputs.h"

#include "mutorch/error.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MATHLIB_STANDALONE
#include <Rmath.h>

static const char *const rule_names[] = {"deepcrime", "welch", "mannwhitney"};

const char *mt_stats_rule_name(mt_stats_rule rule)
{
	if ((unsigned)rule < sizeof(rule_names) / sizeof(rule_names[0]))
		return rule_names[rule];
	return "unknown";
}

int mt_stats_rule_parse(mt_stats_rule *out, const char *name)
{
	for (size_t i = 0; i < sizeof(rule_names) / sizeof(rule_names[0]); i++)
		if (name && strcmp(name, rule_names[i]) == 0) {
			*out = (mt_stats_rule)i;
			return 0;
		}
	return mt_error_set(MT_EINVALID,
			    "stats: unknown rule '%s', expected deepcrime, welch or mannwhitney",
			    name ? name : "(null)");
}

static int check_sample(const char *what, const double *v, size_t n, size_t min_n)
{
	if (n < min_n || !v)
		return mt_error_set(MT_EINVALID, "stats: %s has %zu values, expected at least %zu",
				    what, n, min_n);
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return mt_error_set(MT_EINVALID,
					    "stats: %s[%zu] is %g, expected a finite number",
					    what, i, v[i]);
	return 0;
}

/* Two-pass mean and sum of squared deviations. */
static void moments(double *mean, double *ss, const double *v, size_t n)
{
	double m = 0.0, s = 0.0;

	for (size_t i = 0; i < n; i++)
		m += v[i];
	m /= (double)n;
	for (size_t i = 0; i < n; i++)
		s += (v[i] - m) * (v[i] - m);
	*mean = m;
	*ss = s;
}

double mt_stats_mean_sd(double *sd, const double *x, size_t n)
{
	double m = 0, v = 0;
	for (size_t i = 0; i < n; i++)
		m += x[i];
	m = n ? m / (double)n : NAN;
	for (size_t i = 0; i < n; i++)
		v += (x[i] - m) * (x[i] - m);
	*sd = n > 1 ? sqrt(v / (double)(n - 1)) : 0;
	return m;
}

/* Fill means, SDs and Cohen's d; returns the pooled residual variance. */
static double describe(mt_stats_test *out, mt_stats_rule rule, const double *x,
		       size_t n_x, const double *y, size_t n_y)
{
	double mx, my, ssx, ssy, pooled_var, diff;

	memset(out, 0, sizeof(*out));
	out->rule = rule;
	moments(&mx, &ssx, x, n_x);
	moments(&my, &ssy, y, n_y);
	out->mean_original = mx;
	out->mean_mutant = my;
	out->sd_original = n_x > 1 ? sqrt(ssx / (double)(n_x - 1)) : NAN;
	out->sd_mutant = n_y > 1 ? sqrt(ssy / (double)(n_y - 1)) : NAN;
	out->n_original = n_x;
	out->n_mutant = n_y;
	pooled_var = n_x + n_y > 2 ? (ssx + ssy) / (double)(n_x + n_y - 2) : NAN;
	diff = mx - my;
	if (pooled_var > 0)
		out->effect_size = diff / sqrt(pooled_var);
	else if (pooled_var == 0)
		out->effect_size = diff > 0 ? INFINITY : diff < 0 ? -INFINITY : 0.0;
	else
		out->effect_size = NAN;
	out->df = NAN;
	return pooled_var;
}

/* p-values of a statistic whose SE is 0: a certain difference or none. */
static void degenerate(mt_stats_test *out, double diff)
{
	out->statistic = diff > 0 ? INFINITY : diff < 0 ? -INFINITY : 0.0;
	out->p_value = diff != 0 ? 0.0 : 1.0;
	out->p_worse = diff > 0 ? 0.0 : 1.0;
}

int mt_stats_deepcrime_test(mt_stats_test *out, const double *x, size_t n_x,
			    const double *y, size_t n_y)
{
	double var, se, diff;
	int err;

	if ((err = check_sample("original accuracies", x, n_x, 2)) < 0 ||
	    (err = check_sample("mutant accuracies", y, n_y, 2)) < 0)
		return err;
	/* OLS of acc on [1, is_mutant]: beta = mean_y - mean_x, residual
	 * variance SSR / (N - 2), Var(beta) = s^2 (1/n_x + 1/n_y); the Wald
	 * z is referred to the normal, as statsmodels' GLM does. The sign is
	 * flipped so that positive = mutant worse. */
	var = describe(out, MT_STATS_DEEPCRIME, x, n_x, y, n_y);
	out->df = (double)(n_x + n_y - 2);
	diff = out->mean_original - out->mean_mutant;
	se = sqrt(var * (1.0 / (double)n_x + 1.0 / (double)n_y));
	if (!(se > 0)) {
		degenerate(out, diff);
		return 0;
	}
	out->statistic = diff / se;
	out->p_value = 2.0 * pnorm(-fabs(out->statistic), 0.0, 1.0, 1, 0);
	out->p_worse = pnorm(out->statistic, 0.0, 1.0, 0, 0);
	return 0;
}

int mt_stats_welch_test(mt_stats_test *out, const double *x, size_t n_x,
			const double *y, size_t n_y)
{
	double vx, vy, se2, diff;
	int err;

	if ((err = check_sample("original accuracies", x, n_x, 2)) < 0 ||
	    (err = check_sample("mutant accuracies", y, n_y, 2)) < 0)
		return err;
	describe(out, MT_STATS_WELCH, x, n_x, y, n_y);
	vx = out->sd_original * out->sd_original / (double)n_x;
	vy = out->sd_mutant * out->sd_mutant / (double)n_y;
	se2 = vx + vy;
	diff = out->mean_original - out->mean_mutant;
	if (!(se2 > 0)) {
		out->df = (double)(n_x + n_y - 2);
		degenerate(out, diff);
		return 0;
	}
	out->df = se2 * se2 / (vx * vx / (double)(n_x - 1) + vy * vy / (double)(n_y - 1));
	out->statistic = diff / sqrt(se2);
	/* as R's t.test: two-sided 2 pt(-|t|), "greater" pt(t, lower = FALSE) */
	out->p_value = 2.0 * pt(-fabs(out->statistic), out->df, 1, 0);
	out->p_worse = pt(out->statistic, out->df, 0, 0);
	return 0;
}

/* R's pwilcox keeps its counts in a static cache: serialise the calls,
 * and free the cache after each so that no memory stays held between
 * tests. */
static pthread_mutex_t wilcox_lock = PTHREAD_MUTEX_INITIALIZER;

static double wilcox_p(double u, size_t n_x, size_t n_y, int lower_tail)
{
	double p;

	pthread_mutex_lock(&wilcox_lock);
	p = pwilcox(u, (double)n_x, (double)n_y, lower_tail, 0);
	wilcox_free();
	pthread_mutex_unlock(&wilcox_lock);
	return p;
}

typedef struct {
	double v;
	int is_x;
} mw_item;

static int mw_cmp(const void *a, const void *b)
{
	double u = ((const mw_item *)a)->v, w = ((const mw_item *)b)->v;
	return (u > w) - (u < w);
}

int mt_stats_mannwhitney_test(mt_stats_test *out, const double *x, size_t n_x,
			      const double *y, size_t n_y)
{
	size_t N = n_x + n_y, i, j;
	double rank_sum_x = 0.0, tie_term = 0.0, u, mu;
	mw_item *items;
	int err, ties = 0;

	if ((err = check_sample("original accuracies", x, n_x, 1)) < 0 ||
	    (err = check_sample("mutant accuracies", y, n_y, 1)) < 0)
		return err;
	if (!(items = malloc(N * sizeof(*items))))
		return mt_error_set(MT_ENOMEM, "stats: out of memory ranking %zu values", N);
	for (i = 0; i < n_x; i++)
		items[i] = (mw_item){x[i], 1};
	for (i = 0; i < n_y; i++)
		items[n_x + i] = (mw_item){y[i], 0};
	qsort(items, N, sizeof(*items), mw_cmp);
	/* mid-ranks for ties; tie_term = sum (t^3 - t) over tie groups */
	for (i = 0; i < N; i = j) {
		for (j = i + 1; j < N && items[j].v == items[i].v; j++)
			;
		double t = (double)(j - i), rank = 0.5 * ((double)(i + 1) + (double)j);
		if (j - i > 1) {
			ties = 1;
			tie_term += t * t * t - t;
		}
		for (size_t k = i; k < j; k++)
			if (items[k].is_x)
				rank_sum_x += rank;
	}
	free(items);

	describe(out, MT_STATS_MANNWHITNEY, x, n_x, y, n_y);
	u = rank_sum_x - 0.5 * (double)n_x * (double)(n_x + 1);
	out->statistic = u;
	mu = 0.5 * (double)n_x * (double)n_y;
	/* R's wilcox.test(exact = NULL): exact only below 50 runs a side */
	if (!ties && n_x < 50 && n_y < 50) {
		/* exact, as R's wilcox.test: two-sided doubles the smaller tail.
		 * P(U >= u) comes straight from the upper tail: as 1 - P(U <= u - 1)
		 * it underflows to 0 for well-separated samples */
		out->exact = 1;
		out->p_worse = wilcox_p(u - 1.0, n_x, n_y, 0);
		out->p_value = fmin(1.0, 2.0 * (u > mu ? out->p_worse : wilcox_p(u, n_x, n_y, 1)));
		return 0;
	}
	{
		double n = (double)N;
		double sigma = sqrt((double)n_x * (double)n_y / 12.0 *
				    ((n + 1.0) - tie_term / (n * (n - 1.0))));
		double z = u - mu;
		if (!(sigma > 0)) {
			out->p_value = 1.0;
			out->p_worse = 1.0;
			return 0;
		}
		double zc = (z - (z > 0 ? 0.5 : z < 0 ? -0.5 : 0.0)) / sigma;
		out->p_value = fmin(1.0, 2.0 * pnorm(-fabs(zc), 0.0, 1.0, 1, 0));
		out->p_worse = pnorm((z - 0.5) / sigma, 0.0, 1.0, 0, 0);
	}
	return 0;
}

int mt_stats_decide(mt_stats_test *out, mt_stats_rule rule,
		    const double *original_acc, const double *mutant_acc,
		    size_t n, double alpha, double effect)
{
	int err;

	if (!(alpha > 0 && alpha < 1))
		return mt_error_set(MT_EINVALID, "stats: alpha is %g, expected 0 < alpha < 1", alpha);
	if (!(effect > 0) || isinf(effect))
		return mt_error_set(MT_EINVALID, "stats: effect is %g, expected a Cohen's d > 0",
				    effect);
	switch (rule) {
	case MT_STATS_DEEPCRIME:
		err = mt_stats_deepcrime_test(out, original_acc, n, mutant_acc, n);
		break;
	case MT_STATS_WELCH:
		err = mt_stats_welch_test(out, original_acc, n, mutant_acc, n);
		break;
	case MT_STATS_MANNWHITNEY:
		err = mt_stats_mannwhitney_test(out, original_acc, n, mutant_acc, n);
		break;
	default:
		return mt_error_set(MT_EINVALID, "stats: rule %d, expected deepcrime, welch or mannwhitney",
				    (int)rule);
	}
	if (err < 0)
		return err;
	out->killed = out->p_value < alpha && out->effect_size >= effect;
	return 0;
}

/* ---------------------------------------------------------------- */

typedef struct {
	double p;
	size_t index;
} ranked_p;

static int ranked_cmp(const void *a, const void *b)
{
	const ranked_p *u = a, *w = b;
	if (u->p != w->p)
		return (u->p > w->p) - (u->p < w->p);
	return (u->index > w->index) - (u->index < w->index); /* stable */
}

int mt_stats_adjust(double *adjusted, const double *p, size_t m,
		    mt_stats_correction correction)
{
	ranked_p *order;

	for (size_t i = 0; i < m; i++)
		if (!(p[i] >= 0 && p[i] <= 1))
			return mt_error_set(MT_EINVALID, "stats: p[%zu] is %g, expected a p-value in [0, 1]",
					    i, p[i]);
	if (correction != MT_STATS_HOLM && correction != MT_STATS_BH &&
	    correction != MT_STATS_NONE)
		return mt_error_set(MT_EINVALID, "stats: correction %d, expected holm, bh or none",
				    (int)correction);
	if (m == 0)
		return 0;
	if (correction == MT_STATS_NONE) {
		memmove(adjusted, p, m * sizeof(*p));
		return 0;
	}
	if (!(order = malloc(m * sizeof(*order))))
		return mt_error_set(MT_ENOMEM, "stats: out of memory adjusting %zu p-values", m);
	for (size_t i = 0; i < m; i++)
		order[i] = (ranked_p){p[i], i};
	qsort(order, m, sizeof(*order), ranked_cmp);
	if (correction == MT_STATS_HOLM) {
		double run = 0.0;
		for (size_t r = 0; r < m; r++) {
			run = fmax(run, fmin(1.0, (double)(m - r) * order[r].p));
			adjusted[order[r].index] = run;
		}
	} else {
		double run = 1.0;
		for (size_t r = m; r-- > 0;) {
			run = fmin(run, fmin(1.0, (double)m / (double)(r + 1) * order[r].p));
			adjusted[order[r].index] = run;
		}
	}
	free(order);
	return 0;
}

/* ---------------------------------------------------------------- */

double mt_stats_fisher_worse(size_t correct_x, size_t n_x, size_t correct_y,
			     size_t n_y)
{
	double K, N;

	if (correct_x > n_x || correct_y > n_y || n_x + n_y == 0)
		return NAN;
	K = (double)(correct_x + correct_y); /* right answers in both rows */
	N = (double)(n_x + n_y);
	/* P(X >= correct_x), X = right answers of the original's row: R's
	 * fisher.test(alternative = "greater") on a 2 x 2 table */
	return phyper((double)correct_x - 1.0, K, N - K, (double)n_x, 0, 0);
}

int mt_stats_fisher_inputs(mt_stats_fisher_verdict *out, double *p_inputs,
			   const int64_t *original_pred,
			   const int64_t *mutant_pred, const int64_t *labels,
			   size_t n_runs, size_t n_inputs, double alpha,
			   mt_stats_correction correction)
{
	double *p = NULL, *adj = NULL;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!original_pred || !mutant_pred || !labels || n_runs == 0 || n_inputs == 0)
		return mt_error_set(MT_EINVALID,
				    "stats: per-input Fisher test has %zu runs x %zu inputs, expected predictions for at least 1 x 1",
				    n_runs, n_inputs);
	if (!(alpha > 0 && alpha < 1))
		return mt_error_set(MT_EINVALID, "stats: alpha is %g, expected 0 < alpha < 1", alpha);
	p = malloc(n_inputs * sizeof(*p));
	adj = malloc(n_inputs * sizeof(*adj));
	if (!p || !adj) {
		err = mt_error_set(MT_ENOMEM, "stats: out of memory for %zu inputs", n_inputs);
		goto cleanup;
	}
	for (size_t t = 0; t < n_inputs; t++) {
		size_t cx = 0, cy = 0;
		for (size_t i = 0; i < n_runs; i++) {
			cx += original_pred[i * n_inputs + t] == labels[t];
			cy += mutant_pred[i * n_inputs + t] == labels[t];
		}
		p[t] = mt_stats_fisher_worse(cx, n_runs, cy, n_runs);
	}
	if ((err = mt_stats_adjust(adj, p, n_inputs, correction)) < 0)
		goto cleanup;
	out->n_inputs = n_inputs;
	out->n_runs = n_runs;
	out->min_p = 1.0;
	out->min_adjusted_p = 1.0;
	for (size_t t = 0; t < n_inputs; t++) {
		if (p[t] < out->min_p)
			out->min_p = p[t];
		if (adj[t] < out->min_adjusted_p) {
			out->min_adjusted_p = adj[t];
			out->best_input = t;
		}
		out->n_significant += adj[t] < alpha;
	}
	out->killed = out->n_significant > 0;
	if (p_inputs)
		memcpy(p_inputs, p, n_inputs * sizeof(*p));
cleanup:
	free(p);
	free(adj);
	return err;
}

/* ---------------------------------------------------------------- */

static double t_power(double n, double d, double alpha, int both_tails)
{
	double df, ncp, c, power;

	if (!(n >= 2) || !(d > 0) || !(alpha > 0 && alpha < 1))
		return NAN;
	/* as R's power.t.test (two-sample, two-sided, sd = 1) */
	df = 2.0 * n - 2.0;
	ncp = d * sqrt(n / 2.0);
	c = qt(alpha / 2.0, df, 0, 0);
	power = pnt(c, df, ncp, 0, 0);
	if (both_tails)
		power += pnt(-c, df, ncp, 1, 0);
	return power;
}

double mt_stats_t_power(double n, double d, double alpha)
{
	return t_power(n, d, alpha, 1);
}

double mt_stats_t_power_upper(double n, double d, double alpha)
{
	return t_power(n, d, alpha, 0);
}

double mt_stats_t_n_for_power(double power, double d, double alpha)
{
	double lo = 2.0, hi = 4.0;

	if (!(d > 0) || !(alpha > 0 && alpha < 1) || !(power > alpha && power < 1))
		return NAN;
	/* R's power.t.test solves its default, one-tailed power for n */
	if (mt_stats_t_power_upper(lo, d, alpha) >= power)
		return lo;
	while (mt_stats_t_power_upper(hi, d, alpha) < power) {
		lo = hi;
		hi *= 2.0;
		if (hi > 1e9)
			return NAN;
	}
	/* power grows with n: bisect to machine precision */
	for (int it = 0; it < 200 && hi - lo > 1e-10 * hi; it++) {
		double mid = 0.5 * (lo + hi);
		if (mt_stats_t_power_upper(mid, d, alpha) < power)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}
