/* Test-set analyses of a kill matrix: minimisation (greedy set cover with
 * lower bounds) and prioritisation (additional greedy, APFD against random
 * orders). The label change rate is in analysis_lcr.c. Definitions:
 * docs/reports.md. */
#include "internal.h"
#include "mutorch/analysis.h"
#include "mutorch/error.h"
#include "mutorch/killmatrix.h"
#include "mutorch/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The kill matrix transposed onto M': per input, a bitset over the killable
 * mutants of M' (those some input kills). */
typedef struct {
	size_t n_inputs;
	size_t n_mprime;      /* |M'| */
	size_t killable;      /* columns of the bitsets */
	size_t *mutant_of;    /* killable column -> mutant index in the matrix */
	size_t words;         /* 64-bit words per input */
	uint64_t *bits;       /* n_inputs x words */
} cover;

static void cover_free(cover *c)
{
	free(c->mutant_of);
	free(c->bits);
}

static int in_mprime(const mt_killmatrix *km, const mt_km_mutant *mu)
{
	return mu->predictions && !km_mutant_filtered(km, mu);
}

static int cover_build(cover *c, const mt_killmatrix *km)
{
	memset(c, 0, sizeof(*c));
	c->n_inputs = km->n_inputs;
	if (!(c->mutant_of = malloc((km->n_mutants ? km->n_mutants : 1) * sizeof(size_t))))
		return mt_error_oom();
	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		if (!in_mprime(km, mu))
			continue;
		c->n_mprime++;
		if (mu->kill_count > 0)
			c->mutant_of[c->killable++] = m;
	}
	c->words = (c->killable + 63) / 64;
	if (!(c->bits = calloc(c->n_inputs * c->words + 1, sizeof(uint64_t)))) {
		cover_free(c);
		return mt_error_oom();
	}
	for (size_t j = 0; j < c->killable; j++) {
		const uint64_t *k = km->mutants[c->mutant_of[j]]->kills;
		for (size_t w = 0; w < km->n_words; w++) {
			uint64_t b = k[w];
			while (b) {
				size_t t = w * 64 + (size_t)__builtin_ctzll(b);
				c->bits[t * c->words + j / 64] |= 1ull << (j % 64);
				b &= b - 1;
			}
		}
	}
	return 0;
}

static const uint64_t *row(const cover *c, size_t t)
{
	return c->bits + t * c->words;
}

/* Bits of input t's row not in `done`. */
static size_t gain(const cover *c, size_t t, const uint64_t *done)
{
	const uint64_t *r = row(c, t);
	size_t g = 0;
	for (size_t w = 0; w < c->words; w++)
		g += (size_t)__builtin_popcountll(r[w] & ~done[w]);
	return g;
}

static size_t total(const cover *c, size_t t)
{
	const uint64_t *r = row(c, t);
	size_t g = 0;
	for (size_t w = 0; w < c->words; w++)
		g += (size_t)__builtin_popcountll(r[w]);
	return g;
}

static void mark(const cover *c, size_t t, uint64_t *done)
{
	const uint64_t *r = row(c, t);
	for (size_t w = 0; w < c->words; w++)
		done[w] |= r[w];
}

/* ---- minimisation ------------------------------------------------------ */

void mt_minimise_result_free(mt_minimise_result *res)
{
	if (!res)
		return;
	free(res->subset);
	free(res->packing);
	free(res);
}

/* A sort key and what it belongs to: qsort has no context argument. */
typedef struct {
	size_t key, index;
} keyed;

static int cmp_keyed_asc(const void *a, const void *b)
{
	const keyed *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_keyed_desc(const void *a, const void *b)
{
	const keyed *x = a, *y = b;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int packing(mt_minimise_result *res, const cover *c, const mt_killmatrix *km)
{
	keyed *cols = malloc((c->killable ? c->killable : 1) * sizeof(keyed));
	uint8_t *used = calloc(c->n_inputs ? c->n_inputs : 1, 1);
	int error = 0;

	res->packing = malloc((c->killable ? c->killable : 1) * sizeof(size_t));
	if (!cols || !used || !res->packing) {
		error = mt_error_oom();
		goto cleanup;
	}
	/* The mutants with the fewest killing inputs first (ties: matrix
	 * order): they share the fewest inputs, so more of them fit. */
	for (size_t j = 0; j < c->killable; j++) {
		cols[j].key = km->mutants[c->mutant_of[j]]->kill_count;
		cols[j].index = j;
	}
	qsort(cols, c->killable, sizeof(keyed), cmp_keyed_asc);
	for (size_t i = 0; i < c->killable; i++) {
		const mt_km_mutant *mu = km->mutants[c->mutant_of[cols[i].index]];
		int free_of_conflict = 1;
		for (size_t w = 0; w < km->n_words && free_of_conflict; w++) {
			uint64_t b = mu->kills[w];
			while (b) {
				if (used[w * 64 + (size_t)__builtin_ctzll(b)]) {
					free_of_conflict = 0;
					break;
				}
				b &= b - 1;
			}
		}
		if (!free_of_conflict)
			continue;
		for (size_t w = 0; w < km->n_words; w++) {
			uint64_t b = mu->kills[w];
			while (b) {
				used[w * 64 + (size_t)__builtin_ctzll(b)] = 1;
				b &= b - 1;
			}
		}
		res->packing[res->packing_size++] = c->mutant_of[cols[i].index];
	}
cleanup:
	free(cols);
	free(used);
	return error;
}

int mt_analysis_minimise(mt_minimise_result **out, const mt_killmatrix *km)
{
	mt_minimise_result *res = calloc(1, sizeof(*res));
	cover c;
	uint64_t *done = NULL;
	size_t *count = NULL, covered = 0, best_total = 0;
	int error;

	*out = NULL;
	if (!res)
		return mt_error_oom();
	if ((error = cover_build(&c, km)) < 0) {
		free(res);
		return error;
	}
	res->n_inputs = c.n_inputs;
	res->n_mutants = c.n_mprime;
	res->killable = c.killable;
	done = calloc(c.words + 1, sizeof(uint64_t));
	count = calloc(c.killable + 1, sizeof(size_t));
	res->subset = malloc((c.killable ? c.killable : 1) * sizeof(size_t));
	if (!done || !count || !res->subset) {
		error = mt_error_oom();
		goto cleanup;
	}
	while (covered < c.killable) {
		size_t best = 0, best_gain = 0;
		for (size_t t = 0; t < c.n_inputs; t++) {
			size_t g = gain(&c, t, done);
			if (g > best_gain) {
				best_gain = g;
				best = t;
			}
		}
		/* every killable column has a killing input */
		mark(&c, best, done);
		covered += best_gain;
		res->subset[res->subset_size++] = best;
	}
	/* Reverse delete: an input whose every mutant another chosen input
	 * also kills is redundant. count[j] = chosen inputs killing column j. */
	for (size_t i = 0; i < res->subset_size; i++) {
		const uint64_t *r = row(&c, res->subset[i]);
		for (size_t j = 0; j < c.killable; j++)
			count[j] += (r[j / 64] >> (j % 64)) & 1u;
	}
	for (size_t i = res->subset_size; i-- > 0;) {
		const uint64_t *r = row(&c, res->subset[i]);
		int needed = 0;
		for (size_t j = 0; j < c.killable && !needed; j++)
			needed = ((r[j / 64] >> (j % 64)) & 1u) && count[j] == 1;
		if (needed)
			continue;
		for (size_t j = 0; j < c.killable; j++)
			count[j] -= (r[j / 64] >> (j % 64)) & 1u;
		memmove(&res->subset[i], &res->subset[i + 1],
			(res->subset_size - i - 1) * sizeof(size_t));
		res->subset_size--;
	}
	if ((error = packing(res, &c, km)) < 0)
		goto cleanup;
	for (size_t t = 0; t < c.n_inputs; t++) {
		size_t g = total(&c, t);
		if (g > best_total)
			best_total = g;
	}
	res->coverage_bound = best_total ? (c.killable + best_total - 1) / best_total : 0;
	res->lower_bound = res->packing_size > res->coverage_bound ? res->packing_size :
		res->coverage_bound;
cleanup:
	free(done);
	free(count);
	cover_free(&c);
	if (error < 0) {
		mt_minimise_result_free(res);
		return error;
	}
	*out = res;
	return 0;
}

/* ---- prioritisation ---------------------------------------------------- */

void mt_prioritise_result_free(mt_prioritise_result *res)
{
	if (!res)
		return;
	free(res->order);
	free(res->kills_curve);
	free(res->random_curve);
	free(res);
}

/* Sum of the 1-based positions of the first killing input of every
 * killable column, for the order; curve (may be NULL) gets the kills
 * after each prefix. */
static double first_kill_sum(const cover *c, const size_t *order, uint64_t *done,
			     size_t *curve, double *curve_sum)
{
	size_t covered = 0;
	double sum = 0;
	memset(done, 0, (c->words + 1) * sizeof(uint64_t));
	for (size_t k = 0; k < c->n_inputs; k++) {
		if (covered < c->killable) {
			size_t g = gain(c, order[k], done);
			if (g) {
				mark(c, order[k], done);
				covered += g;
				sum += (double)g * (double)(k + 1);
			}
		}
		if (curve)
			curve[k] = covered;
		if (curve_sum)
			curve_sum[k] += (double)covered;
	}
	return sum;
}

static double apfd_of(double tf_sum, size_t n, size_t m)
{
	if (!n || !m)
		return NAN;
	return 1.0 - tf_sum / ((double)n * (double)m) + 1.0 / (2.0 * (double)n);
}

int mt_analysis_apfd(double *apfd, const mt_killmatrix *km, const size_t *order, size_t n)
{
	cover c;
	uint64_t *done;
	uint8_t *seen;
	int error;

	*apfd = NAN;
	if (n != km->n_inputs)
		return mt_error_set(MT_EINVALID, "APFD: the order has %zu inputs, expected all %zu of "
				    "the kill matrix", n, km->n_inputs);
	if (!(seen = calloc(n + 1, 1)))
		return mt_error_oom();
	for (size_t k = 0; k < n; k++) {
		if (order[k] >= n || seen[order[k]]) {
			free(seen);
			return mt_error_set(MT_EINVALID, "APFD: order[%zu] = %zu, expected a "
					    "permutation of 0..%zu", k, order[k], n ? n - 1 : 0);
		}
		seen[order[k]] = 1;
	}
	free(seen);
	if ((error = cover_build(&c, km)) < 0)
		return error;
	if (!(done = calloc(c.words + 1, sizeof(uint64_t)))) {
		cover_free(&c);
		return mt_error_oom();
	}
	*apfd = apfd_of(first_kill_sum(&c, order, done, NULL, NULL), n, c.killable);
	free(done);
	cover_free(&c);
	return 0;
}

/* Additional greedy over the inputs not yet placed. */
static void greedy_order(const cover *c, size_t *order, uint64_t *done, uint8_t *placed,
			 const size_t *totals)
{
	size_t k = 0;
	memset(done, 0, (c->words + 1) * sizeof(uint64_t));
	while (k < c->n_inputs) {
		size_t best = SIZE_MAX, best_gain = 0;
		for (size_t t = 0; t < c->n_inputs; t++) {
			size_t g;
			if (placed[t] || !totals[t])
				continue;
			g = gain(c, t, done);
			if (g > best_gain || (g == best_gain && g > 0 && totals[t] > totals[best])) {
				best_gain = g;
				best = t;
			}
		}
		if (best == SIZE_MAX) {
			/* Nothing adds a kill: afresh if some killing input is
			 * left, else the rest in index order. */
			int left = 0;
			for (size_t t = 0; t < c->n_inputs && !left; t++)
				left = !placed[t] && totals[t];
			if (left) {
				memset(done, 0, (c->words + 1) * sizeof(uint64_t));
				continue;
			}
			for (size_t t = 0; t < c->n_inputs; t++)
				if (!placed[t]) {
					placed[t] = 1;
					order[k++] = t;
				}
			break;
		}
		placed[best] = 1;
		mark(c, best, done);
		order[k++] = best;
	}
}

int mt_analysis_prioritise(mt_prioritise_result **out, const mt_killmatrix *km,
			   size_t n_random, uint64_t seed)
{
	mt_prioritise_result *res = calloc(1, sizeof(*res));
	size_t n = km->n_inputs, *totals = NULL;
	keyed *ks1 = NULL;
	int64_t *perm = NULL;
	size_t *perm_order = NULL;
	uint64_t *done = NULL;
	uint8_t *placed = NULL;
	double *apfds = NULL, expected = 0;
	cover c;
	mt_rng rng;
	int error;

	*out = NULL;
	if (!res)
		return mt_error_oom();
	if ((error = cover_build(&c, km)) < 0) {
		free(res);
		return error;
	}
	res->n_inputs = n;
	res->killable = c.killable;
	res->random_orders = n_random;
	res->seed = seed;
	res->order = malloc((n ? n : 1) * sizeof(size_t));
	res->kills_curve = calloc(n ? n : 1, sizeof(size_t));
	res->random_curve = calloc(n ? n : 1, sizeof(double));
	totals = malloc((n ? n : 1) * sizeof(size_t));
	ks1 = malloc((n ? n : 1) * sizeof(keyed));
	perm = malloc((n ? n : 1) * sizeof(int64_t));
	perm_order = calloc(n ? n : 1, sizeof(size_t));
	done = calloc(c.words + 1, sizeof(uint64_t));
	placed = calloc(n ? n : 1, 1);
	apfds = calloc(n_random ? n_random : 1, sizeof(double));
	if (!res->order || !res->kills_curve || !res->random_curve || !totals || !ks1 || !perm ||
	    !perm_order || !done || !placed || !apfds) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (size_t t = 0; t < n; t++) {
		totals[t] = total(&c, t);
		ks1[t].key = totals[t];
		ks1[t].index = t;
	}
	greedy_order(&c, res->order, done, placed, totals);
	res->apfd = apfd_of(first_kill_sum(&c, res->order, done, res->kills_curve, NULL), n,
			    c.killable);
	for (size_t k = 0; k < n && c.killable; k++)
		if (res->kills_curve[k] == c.killable) {
			res->inputs_to_kill_all = k + 1;
			break;
		}
	qsort(ks1, n, sizeof(keyed), cmp_keyed_desc);
	for (size_t k = 0; k < n; k++)
		perm_order[k] = ks1[k].index;
	res->apfd_ks1 = apfd_of(first_kill_sum(&c, perm_order, done, NULL, NULL), n, c.killable);

	mt_rng_seed(&rng, seed);
	for (size_t r = 0; r < n_random; r++) {
		mt_rng_permutation(&rng, perm, (int64_t)n);
		for (size_t k = 0; k < n; k++)
			perm_order[k] = (size_t)perm[k];
		apfds[r] = apfd_of(first_kill_sum(&c, perm_order, done, NULL, res->random_curve), n,
				   c.killable);
	}
	if (n_random) {
		double mean = 0, ss = 0;
		for (size_t r = 0; r < n_random; r++)
			mean += apfds[r];
		mean /= (double)n_random;
		for (size_t r = 0; r < n_random; r++)
			ss += (apfds[r] - mean) * (apfds[r] - mean);
		res->apfd_random_mean = mean;
		res->apfd_random_sd = n_random > 1 ? sqrt(ss / (double)(n_random - 1)) : NAN;
		for (size_t k = 0; k < n; k++)
			res->random_curve[k] /= (double)n_random;
	} else {
		res->apfd_random_mean = res->apfd_random_sd = NAN;
		for (size_t k = 0; k < n; k++)
			res->random_curve[k] = NAN;
	}
	/* The first of k killing inputs among n in a random order sits at
	 * (n + 1) / (k + 1) on average. */
	for (size_t j = 0; j < c.killable; j++)
		expected += ((double)n + 1.0) /
			((double)km->mutants[c.mutant_of[j]]->kill_count + 1.0);
	res->apfd_random_expected = apfd_of(expected, n, c.killable);
cleanup:
	free(totals);
	free(ks1);
	free(perm);
	free(perm_order);
	free(done);
	free(placed);
	free(apfds);
	cover_free(&c);
	if (error < 0) {
		mt_prioritise_result_free(res);
		return error;
	}
	*out = res;
	return 0;
}
