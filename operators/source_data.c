/*
 * Source-level data operators (DR LE DM DF NP TCL TRD TUD TAN TCO): they
 * depend only on (seed, parameters, labels) and, for TAN, the pixels. All
 * draws come from one mt_rng seeded with the mutant's seed, in the order
 * docs/operators.md ("Source level") gives.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/rng.h"
#include "mutorch/source.h"
#include "source_internal.h"
#include "internal.h"

typedef struct {
	const int64_t *labels;
	int64_t n;
	int num_classes;
	int64_t *count;     /* per class */
	mt_rng rng;
} data_ctx;

/* The sample indices of class cls (every sample for cls < 0), ascending. */
static int make_pool(int64_t **pool, int64_t *m, const data_ctx *d, int64_t cls,
		     const mt_source_mutant *mu)
{
	int64_t k = 0;
	*pool = malloc((size_t)(d->n ? d->n : 1) * sizeof(**pool));
	if (!*pool)
		return mt_error_oom();
	for (int64_t i = 0; i < d->n; i++)
		if (cls < 0 || d->labels[i] == cls)
			(*pool)[k++] = i;
	*m = k;
	return 0;
}

/* k = max(1, llround(ratio * m)) of the pool, drawn by mt_rng_sample, as
 * sample indices in draw order. */
static int draw_from_pool(int64_t **chosen, int64_t *k, data_ctx *d, const int64_t *pool,
			  int64_t m, double ratio, const mt_source_mutant *mu)
{
	int error;
	*k = mt_op_count(ratio, m);
	if (!(*chosen = malloc((size_t)(*k ? *k : 1) * sizeof(**chosen))))
		return mt_error_oom();
	if ((error = mt_rng_sample(*chosen, &d->rng, m, *k)) < 0)
		return error;
	for (int64_t j = 0; j < *k; j++)
		(*chosen)[j] = pool[(*chosen)[j]];
	return 0;
}

static int identity_map(mt_source_mutant *mu, int64_t n, int64_t extra)
{
	if (!(mu->order_map = malloc((size_t)(n + extra ? n + extra : 1) * sizeof(int64_t))))
		return mt_error_oom();
	for (int64_t i = 0; i < n; i++)
		mu->order_map[i] = i;
	mu->n_map = n;
	return 0;
}

static int copy_labels(mt_source_mutant *mu, const data_ctx *d, int64_t extra)
{
	if (!(mu->labels = malloc((size_t)(d->n + extra ? d->n + extra : 1) * sizeof(int64_t))))
		return mt_error_oom();
	memcpy(mu->labels, d->labels, (size_t)d->n * sizeof(int64_t));
	return 0;
}

/* The map without the samples marked in `deleted`. */
static int map_without(mt_source_mutant *mu, const data_ctx *d, const unsigned char *deleted)
{
	if (identity_map(mu, d->n, 0) < 0)
		return mt_error_oom();
	int64_t k = 0;
	for (int64_t i = 0; i < d->n; i++)
		if (!deleted[i])
			mu->order_map[k++] = i;
	mu->n_map = k;
	return 0;
}

/* A label drawn uniformly from the classes other than `label`. */
static int64_t other_label(data_ctx *d, int64_t label)
{
	int64_t r = (int64_t)mt_rng_below(&d->rng, (uint64_t)(d->num_classes - 1));
	return r < label ? r : r + 1;
}

static const char *pool_name(char *buf, size_t len, int64_t cls)
{
	if (cls < 0)
		snprintf(buf, len, "all samples");
	else
		snprintf(buf, len, "class %lld", (long long)cls);
	return buf;
}

/* The class with the most samples (ties: the smallest index), skipping
 * `skip`; -1 when no class other than skip has a sample. */
static int64_t largest_class(const data_ctx *d, int64_t skip)
{
	int64_t best = -1;
	for (int64_t c = 0; c < d->num_classes; c++)
		if (c != skip && d->count[c] > 0 && (best < 0 || d->count[c] > d->count[best]))
			best = c;
	return best;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

static int pool_op(mt_source_mutant *mu, src_args *a, data_ctx *d)
{
	const char *name = mu->op->name;
	src_value *cls_arg = src_arg(a, "class");
	int64_t cls = cls_arg ? (int64_t)cls_arg->num : -1;
	double ratio = src_arg(a, "ratio")->num;
	int64_t *pool = NULL, *chosen = NULL, m, k;
	unsigned char *deleted = NULL;
	char what[64];
	int error;

	pool_name(what, sizeof(what), cls);
	if ((error = make_pool(&pool, &m, d, cls, mu)) < 0)
		goto cleanup;
	if (m == 0) {
		error = src_not_applicable(mu, "%s has no training samples", what);
		goto cleanup;
	}
	if (strcmp(name, "LE") == 0 && d->num_classes < 2) {
		error = src_not_applicable(mu, "a wrong label needs at least 2 classes");
		goto cleanup;
	}
	if ((error = draw_from_pool(&chosen, &k, d, pool, m, ratio, mu)) < 0)
		goto cleanup;

	if (strcmp(name, "DR") == 0) {
		if ((error = identity_map(mu, d->n, k)) < 0)
			goto cleanup;
		memcpy(mu->order_map + d->n, chosen, (size_t)k * sizeof(int64_t));
		mu->n_map = d->n + k;
		error = src_describe(mu, "repeat %lld of %lld samples (%s)", (long long)k,
				     (long long)m, what);
	} else if (strcmp(name, "DM") == 0) {
		if (k == d->n) {
			error = src_not_applicable(mu, "it would delete every training sample");
			goto cleanup;
		}
		if (!(deleted = calloc((size_t)d->n, 1))) {
			error = mt_error_oom();
			goto cleanup;
		}
		for (int64_t j = 0; j < k; j++)
			deleted[chosen[j]] = 1;
		if ((error = map_without(mu, d, deleted)) < 0)
			goto cleanup;
		error = src_describe(mu, "delete %lld of %lld samples (%s)", (long long)k,
				     (long long)m, what);
	} else if (strcmp(name, "LE") == 0) {
		if ((error = identity_map(mu, d->n, 0)) < 0 || (error = copy_labels(mu, d, 0)) < 0)
			goto cleanup;
		for (int64_t j = 0; j < k; j++)
			mu->labels[chosen[j]] = other_label(d, d->labels[chosen[j]]);
		error = src_describe(mu, "wrong labels on %lld of %lld samples (%s)", (long long)k,
				     (long long)m, what);
	} else if (strcmp(name, "DF") == 0) {
		if (k < 2) {
			error = src_not_applicable(mu, "%lld sample(s) chosen, the order changes only with 2 or more",
						   (long long)k);
			goto cleanup;
		}
		/* The chosen samples' positions, ascending, take the same samples
		 * in a permuted order. */
		int64_t *perm = malloc((size_t)k * sizeof(*perm));
		if (!perm) {
			error = mt_error_oom();
			goto cleanup;
		}
		qsort(chosen, (size_t)k, sizeof(int64_t), cmp_i64);
		mt_rng_permutation(&d->rng, perm, k);
		int identity = 1;
		for (int64_t j = 0; j < k; j++)
			identity &= perm[j] == j;
		if (identity) /* never the original order: rotate by one */
			for (int64_t j = 0; j < k; j++)
				perm[j] = (j + 1) % k;
		if ((error = identity_map(mu, d->n, 0)) < 0) {
			free(perm);
			goto cleanup;
		}
		for (int64_t j = 0; j < k; j++)
			mu->order_map[chosen[j]] = chosen[perm[j]];
		free(perm);
		error = src_describe(mu, "permute the base order of %lld of %lld samples (%s)",
				     (long long)k, (long long)m, what);
	} else { /* NP, TAN */
		double sigma;
		if (strcmp(name, "NP") == 0) {
			sigma = src_arg(a, "sigma")->num;
		} else {
			/* population std of every pixel value / scale */
			const int64_t total = d->n * mt_dataset_sample_size(a->train);
			const void *px = mt_dataset_pixels(a->train);
			int f32 = mt_dataset_pixel_type(a->train) == MT_PIXELS_F32;
			double scale = a->cfg->norm_scale, sum = 0, sq = 0;
			for (int64_t e = 0; e < total; e++)
				sum += (f32 ? (double)((const float *)px)[e]
					    : (double)((const uint8_t *)px)[e]) / scale;
			double mean = sum / (double)total;
			for (int64_t e = 0; e < total; e++) {
				double v = (f32 ? (double)((const float *)px)[e]
						: (double)((const uint8_t *)px)[e]) / scale - mean;
				sq += v * v;
			}
			double std = sqrt(sq / (double)total);
			if (!(std > 0) || !isfinite(std)) {
				error = src_not_applicable(mu, "the training pixels have std %g, so the noise would be 0",
							   std);
				goto cleanup;
			}
			sigma = src_arg(a, "factor")->num * std;
		}
		if ((error = identity_map(mu, d->n, 0)) < 0)
			goto cleanup;
		if (!(mu->noise = malloc((size_t)k * sizeof(*mu->noise)))) {
			error = mt_error_oom();
			goto cleanup;
		}
		for (int64_t j = 0; j < k; j++) {
			mu->noise[j].index = chosen[j];
			mu->noise[j].sigma = sigma;
			mu->noise[j].seed = mt_rng_next(&d->rng);
		}
		mu->nnoise = (size_t)k;
		error = src_describe(mu, "Gaussian noise (sigma %g in scaled units) on %lld of %lld samples (%s)",
				     sigma, (long long)k, (long long)m, what);
	}
cleanup:
	free(pool);
	free(chosen);
	free(deleted);
	return error;
}

/* TRD (every class) and TUD (classes smaller than average): per class in
 * ascending order, delete llround(ratio * count) of its samples. */
static int class_delete_op(mt_source_mutant *mu, src_args *a, data_ctx *d)
{
	double ratio = src_arg(a, "ratio")->num;
	int tud = strcmp(mu->op->name, "TUD") == 0;
	double average = (double)d->n / (double)d->num_classes;
	unsigned char *deleted = calloc((size_t)(d->n ? d->n : 1), 1);
	int64_t *pool = NULL, *chosen = NULL, total = 0, classes = 0;
	int error = 0;

	if (!deleted)
		return mt_error_oom();
	for (int64_t c = 0; c < d->num_classes; c++) {
		int64_t m, k;
		if (d->count[c] == 0 || (tud && !((double)d->count[c] < average)))
			continue;
		k = (int64_t)llround(ratio * (double)d->count[c]);
		if (k == 0)
			continue;
		free(pool);
		pool = NULL;
		if ((error = make_pool(&pool, &m, d, c, mu)) < 0)
			goto cleanup;
		free(chosen);
		if (!(chosen = malloc((size_t)k * sizeof(*chosen)))) {
			error = mt_error_oom();
			goto cleanup;
		}
		if ((error = mt_rng_sample(chosen, &d->rng, m, k)) < 0)
			goto cleanup;
		for (int64_t j = 0; j < k; j++)
			deleted[pool[chosen[j]]] = 1;
		total += k;
		classes++;
	}
	if (total == 0) {
		error = tud ? src_not_applicable(mu, "no class smaller than the average (%g samples) loses a sample at ratio %g",
						 average, ratio)
			    : src_not_applicable(mu, "no class loses a sample at ratio %g", ratio);
		goto cleanup;
	}
	if (total == d->n) {
		error = src_not_applicable(mu, "it would delete every training sample");
		goto cleanup;
	}
	if ((error = map_without(mu, d, deleted)) < 0)
		goto cleanup;
	error = src_describe(mu, "delete %lld samples from %lld %sclasses (ratio %g)",
			     (long long)total, (long long)classes,
			     tud ? "smaller-than-average " : "", ratio);
cleanup:
	free(deleted);
	free(pool);
	free(chosen);
	return error;
}

/* TCL: relabel a fraction of the most frequent class. */
static int tcl_op(mt_source_mutant *mu, src_args *a, data_ctx *d)
{
	int64_t top = largest_class(d, -1), to = (int64_t)src_arg(a, "to")->num;
	int64_t *pool = NULL, *chosen = NULL, m, k;
	int error;

	if (d->num_classes < 2)
		return src_not_applicable(mu, "relabelling needs at least 2 classes");
	if (top < 0)
		return src_not_applicable(mu, "the training set is empty");
	if (to == top)
		return src_not_applicable(mu, "'to' is %lld, the most frequent class itself",
					  (long long)to);
	if ((error = make_pool(&pool, &m, d, top, mu)) < 0 ||
	    (error = draw_from_pool(&chosen, &k, d, pool, m, src_arg(a, "ratio")->num, mu)) < 0 ||
	    (error = identity_map(mu, d->n, 0)) < 0 || (error = copy_labels(mu, d, 0)) < 0)
		goto cleanup;
	for (int64_t j = 0; j < k; j++)
		mu->labels[chosen[j]] = to >= 0 ? to : other_label(d, top);
	if (to >= 0)
		error = src_describe(mu, "relabel %lld of %lld samples of class %lld (the most frequent) as %lld",
				     (long long)k, (long long)m, (long long)top, (long long)to);
	else
		error = src_describe(mu, "relabel %lld of %lld samples of class %lld (the most frequent) at random",
				     (long long)k, (long long)m, (long long)top);
cleanup:
	free(pool);
	free(chosen);
	return error;
}

/* TCO: duplicates of the largest class labelled as the second largest. */
static int tco_op(mt_source_mutant *mu, src_args *a, data_ctx *d)
{
	int64_t first = largest_class(d, -1), second = first < 0 ? -1 : largest_class(d, first);
	int64_t *pool = NULL, *chosen = NULL, m, k;
	int error;

	if (second < 0)
		return src_not_applicable(mu, "the training set has fewer than 2 classes with samples");
	if ((error = make_pool(&pool, &m, d, first, mu)) < 0 ||
	    (error = draw_from_pool(&chosen, &k, d, pool, m, src_arg(a, "ratio")->num, mu)) < 0 ||
	    (error = identity_map(mu, d->n, k)) < 0 || (error = copy_labels(mu, d, k)) < 0)
		goto cleanup;
	for (int64_t j = 0; j < k; j++) {
		mu->order_map[d->n + j] = chosen[j];
		mu->labels[d->n + j] = second;
	}
	mu->n_map = d->n + k;
	error = src_describe(mu, "add %lld copies of class %lld (the largest) labelled %lld (the second largest)",
			     (long long)k, (long long)first, (long long)second);
cleanup:
	free(pool);
	free(chosen);
	return error;
}

int mt_src_data_apply(mt_source_mutant *mu, src_args *a)
{
	data_ctx d;
	const char *name = mu->op->name;
	int error;

	memset(&d, 0, sizeof(d));
	d.labels = mt_dataset_labels(a->train);
	d.n = mt_dataset_count(a->train);
	d.num_classes = mt_dataset_num_classes(a->train);
	if (d.n == 0)
		return src_not_applicable(mu, "the training set is empty");
	if (!(d.count = calloc((size_t)(d.num_classes > 0 ? d.num_classes : 1), sizeof(int64_t))))
		return mt_error_oom();
	for (int64_t i = 0; i < d.n; i++)
		d.count[d.labels[i]]++;
	mt_rng_seed(&d.rng, a->seed);

	if (strcmp(name, "TRD") == 0 || strcmp(name, "TUD") == 0)
		error = class_delete_op(mu, a, &d);
	else if (strcmp(name, "TCL") == 0)
		error = tcl_op(mu, a, &d);
	else if (strcmp(name, "TCO") == 0)
		error = tco_op(mu, a, &d);
	else
		error = pool_op(mu, a, &d);
	free(d.count);
	return error;
}
