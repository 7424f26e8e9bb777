/* Per-input kill probabilities, triviality, redundancy by subsumption, and
 * DeepCrime's bisection search for the weakest killing value. */
#include "mutorch/stats_inputs.h"
#include "mutorch/stats_search.h"

#include "mutorch/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MATHLIB_STANDALONE
#include <Rmath.h>

int mt_stats_kills(uint8_t *kills, const int64_t *original_pred,
		   const int64_t *mutant_pred, const int64_t *labels,
		   size_t n_runs, size_t n_inputs)
{
	if (!kills || !original_pred || !mutant_pred || !labels)
		return mt_error_set(MT_EINVALID, "stats: kills need original and mutant predictions and labels, got NULL");
	for (size_t i = 0; i < n_runs; i++)
		for (size_t t = 0; t < n_inputs; t++) {
			size_t at = i * n_inputs + t;
			kills[at] = original_pred[at] == labels[t] && mutant_pred[at] != labels[t];
		}
	return 0;
}

double mt_stats_kill_probabilities(double *p, const uint8_t *kills,
				   size_t n_runs, size_t n_inputs)
{
	double sum = 0.0;

	if (n_runs == 0 || n_inputs == 0)
		return NAN;
	for (size_t t = 0; t < n_inputs; t++) {
		size_t c = 0;
		for (size_t i = 0; i < n_runs; i++)
			c += kills[i * n_inputs + t] != 0;
		double pt = (double)c / (double)n_runs;
		if (p)
			p[t] = pt;
		sum += pt;
	}
	return sum / (double)n_inputs;
}

int mt_stats_is_trivial(double mean_kill_probability)
{
	return mean_kill_probability >= MT_STATS_TRIVIAL_THRESHOLD;
}

double mt_stats_mcnemar(size_t b, size_t c)
{
	size_t n = b + c, k = b < c ? b : c;

	if (n == 0)
		return 1.0;
	/* R's binom.test(b, b + c) for p = 1/2, where its two tails are
	 * mirror images */
	return fmin(1.0, 2.0 * pbinom((double)k, (double)n, 0.5, 1, 0));
}

int mt_stats_subsumes(const uint8_t *kills1, const uint8_t *kills2,
		      size_t n_runs, size_t n_inputs, double alpha)
{
	int killed = 0;

	for (size_t t = 0; t < n_inputs; t++) {
		size_t only1 = 0, only2 = 0;
		for (size_t i = 0; i < n_runs; i++) {
			int k1 = kills1[i * n_inputs + t] != 0, k2 = kills2[i * n_inputs + t] != 0;
			killed |= k1;
			only1 += k1 && !k2;
			only2 += k2 && !k1;
		}
		/* p1(t) - p2(t) = (only1 - only2) / n_runs */
		if (only1 > only2 && mt_stats_mcnemar(only1, only2) < alpha)
			return 0;
	}
	return killed;
}

typedef struct {
	double mean;
	size_t index;
} ranked_mutant;

static int ranked_cmp(const void *a, const void *b)
{
	const ranked_mutant *u = a, *w = b;
	if (u->mean != w->mean)
		return (u->mean > w->mean) - (u->mean < w->mean);
	return (u->index > w->index) - (u->index < w->index);
}

int mt_stats_redundant(uint8_t *redundant, size_t *n_redundant,
		       const uint8_t *const *kills, size_t n_mutants,
		       size_t n_runs, size_t n_inputs, double alpha)
{
	ranked_mutant *order = NULL;
	size_t *kept = NULL, n_kept = 0, count = 0;
	int err = 0;

	if (!(alpha > 0 && alpha < 1))
		return mt_error_set(MT_EINVALID, "stats: alpha is %g, expected 0 < alpha < 1", alpha);
	if (n_mutants == 0) {
		if (n_redundant)
			*n_redundant = 0;
		return 0;
	}
	if (n_runs == 0 || n_inputs == 0)
		return mt_error_set(MT_EINVALID, "stats: redundancy over %zu runs x %zu inputs, expected at least 1 x 1",
				    n_runs, n_inputs);
	order = malloc(n_mutants * sizeof(*order));
	kept = malloc(n_mutants * sizeof(*kept));
	if (!order || !kept) {
		err = mt_error_set(MT_ENOMEM, "stats: out of memory for %zu mutants", n_mutants);
		goto cleanup;
	}
	for (size_t m = 0; m < n_mutants; m++) {
		if (!kills[m]) {
			err = mt_error_set(MT_EINVALID, "stats: mutant %zu has no kill bits, expected n_runs x n_inputs",
					   m);
			goto cleanup;
		}
		order[m] = (ranked_mutant){mt_stats_kill_probabilities(NULL, kills[m], n_runs, n_inputs), m};
	}
	/* hardest first: a subsumer has kill probabilities no larger than the
	 * mutants it subsumes, so it comes first and is kept; mutants that
	 * subsume each other (no significant difference) keep the first */
	qsort(order, n_mutants, sizeof(*order), ranked_cmp);
	memset(redundant, 0, n_mutants);
	for (size_t r = 0; r < n_mutants; r++) {
		size_t m = order[r].index;
		int is_redundant = 0;
		for (size_t j = 0; j < n_kept && !is_redundant; j++)
			is_redundant = mt_stats_subsumes(kills[kept[j]], kills[m], n_runs, n_inputs, alpha);
		if (is_redundant) {
			redundant[m] = 1;
			count++;
		} else {
			kept[n_kept++] = m;
		}
	}
	if (n_redundant)
		*n_redundant = count;
cleanup:
	free(order);
	free(kept);
	return err;
}

/* ---------------------------------------------------------------- */

int mt_stats_bisection_init(mt_stats_bisection *b, double lo, double hi,
			    double precision, mt_stats_direction direction,
			    int integer)
{
	memset(b, 0, sizeof(*b));
	if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
		return mt_error_set(MT_EINVALID, "stats: bisection interval [%g, %g], expected finite lo < hi",
				    lo, hi);
	if (!(precision > 0) || (integer && precision < 1))
		return mt_error_set(MT_EINVALID, "stats: bisection precision %g, expected > 0 (>= 1 for integers)",
				    precision);
	if (direction != MT_STATS_STRONGER_UP && direction != MT_STATS_STRONGER_DOWN)
		return mt_error_set(MT_EINVALID, "stats: bisection direction %d, expected up or down",
				    (int)direction);
	if (integer && (lo != floor(lo) || hi != floor(hi)))
		return mt_error_set(MT_EINVALID, "stats: integer bisection interval [%g, %g], expected whole numbers",
				    lo, hi);
	b->weak = direction == MT_STATS_STRONGER_UP ? lo : hi;
	b->strong = direction == MT_STATS_STRONGER_UP ? hi : lo;
	b->precision = precision;
	b->integer = integer;
	b->weakest = NAN;
	b->pending = NAN;
	return 0;
}

int mt_stats_bisection_next(mt_stats_bisection *b, double *value)
{
	double gap;

	if (b->done)
		return 1;
	if (!b->strong_checked) {
		b->pending = b->strong;
		*value = b->pending;
		return 0;
	}
	gap = fabs(b->strong - b->weak);
	if (gap <= b->precision || (b->integer && gap <= 1.0)) {
		b->done = 1;
		b->found = 1;
		b->weakest = b->strong;
		return 1;
	}
	if (b->integer)
		b->pending = b->weak + trunc((b->strong - b->weak) / 2.0);
	else
		b->pending = 0.5 * (b->weak + b->strong);
	*value = b->pending;
	return 0;
}

int mt_stats_bisection_report(mt_stats_bisection *b, double value, int killed)
{
	if (b->done || isnan(b->pending) || value != b->pending)
		return mt_error_set(MT_EINVALID,
				    "stats: bisection result for %g, expected the value mt_stats_bisection_next returned (%g)",
				    value, b->pending);
	b->evaluations++;
	b->pending = NAN;
	if (!b->strong_checked) {
		b->strong_checked = 1;
		if (!killed) {
			/* the strongest value survives: not killable in range */
			b->done = 1;
			b->found = 0;
		}
		return 0;
	}
	if (killed)
		b->strong = value;
	else
		b->weak = value;
	return 0;
}

int mt_stats_bisection_run(mt_stats_bisection *b, double lo, double hi,
			   double precision, mt_stats_direction direction,
			   int integer, mt_stats_kill_predicate is_killed,
			   void *payload)
{
	double value;
	int err, killed;

	if (!is_killed)
		return mt_error_set(MT_EINVALID, "stats: bisection needs a kill predicate, got NULL");
	if ((err = mt_stats_bisection_init(b, lo, hi, precision, direction, integer)) < 0)
		return err;
	while (mt_stats_bisection_next(b, &value) == 0) {
		killed = 0;
		if ((err = is_killed(&killed, value, payload)) < 0)
			return err;
		if ((err = mt_stats_bisection_report(b, value, killed != 0)) < 0)
			return err;
	}
	return 0;
}
