/*
 * The weight operators (DeepMutation's GF, WS, NEB, NAI, NS and the
 * deployment/fault operators WPR, QNT, BF, PRN) on a model view.
 *
 * Index spaces. With several target layers (a global ratio), weights are
 * numbered by concatenating the target layers' weight tensors (row-major,
 * in view order), and neurons by concatenating their rows (output units).
 * Counts: k = max(1, llround(ratio * n)), capped at n.
 *
 * Random draw order, from one mt_rng seeded with args->seed:
 *   GF   sample k weights (partial Fisher-Yates), sort ascending, then one
 *        normal (Box-Muller, two draws) per chosen weight in that order.
 *   WS   sample k neurons, sort ascending, then shuffle each one's incoming
 *        row in that order (Fisher-Yates from the end).
 *   NEB, NAI  sample k neurons (of the eligible ones), no further draws.
 *   NS   per target layer in view order: sample 2p neurons; the pairs are
 *        (a0,a1), (a2,a3), ... in draw order.
 *   BF   sample k weights, sort ascending, then per chosen weight in that
 *        order draw its bit (exponent: 23 + below(8); mantissa: below(23);
 *        any: below(32); sign and a fixed index draw nothing).
 *   WPR, QNT, PRN  draw nothing (deterministic).
 * Arithmetic: GF in double, rounded once to float; WPR digits, QNT in
 * float32 exactly as the equivalent torch expressions (see docs).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "internal.h"
#include "mutorch/floats.h"
#include "mutorch/operators.h"
#include "mutorch/rng.h"
#include "mutorch/view.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Store v at w[i]; counts and marks a change when the bits differ. */
static void store(mt_op_result *res, mt_view_layer *l, float *w, int64_t i, float v,
		  int is_bias)
{
	if (mt_float_bits(w[i]) == mt_float_bits(v))
		return;
	w[i] = v;
	res->weights_changed++;
	if (is_bias)
		l->bias_changed = 1;
	else
		l->weight_changed = 1;
}

/* Targets and the total of their weights (by_rows 0) or neurons (1). */
typedef struct {
	size_t *idx;
	size_t n;
	int64_t total;
} targets;

static int get_targets(targets *t, const mt_model_view *view, const mt_op_args *args,
		       int neurons)
{
	int rc = mt_op_targets(&t->idx, &t->n, view, args, neurons);
	if (rc < 0)
		return rc;
	t->total = 0;
	for (size_t i = 0; i < t->n; i++) {
		const mt_view_layer *l = &view->layers[t->idx[i]];
		t->total += neurons ? mt_layer_rows(l) : l->numel;
	}
	return 0;
}

/* Map global index g (weights or rows) to a layer and a local index. */
static mt_view_layer *locate(const mt_model_view *view, const targets *t, int64_t g,
			     int neurons, int64_t *local)
{
	for (size_t i = 0; i < t->n; i++) {
		mt_view_layer *l = &view->layers[t->idx[i]];
		int64_t size = neurons ? mt_layer_rows(l) : l->numel;
		if (g < size) {
			*local = g;
			return l;
		}
		g -= size;
	}
	return NULL;
}

/* Sample k of t->total, sorted ascending. */
static int sample_sorted(int64_t **out, mt_rng *rng, const char *opn, int64_t total, int64_t k)
{
	int64_t *chosen = malloc((size_t)(k ? k : 1) * sizeof(*chosen));
	if (!chosen)
		return mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
	int rc = mt_rng_sample(chosen, rng, total, k);
	if (rc < 0) {
		free(chosen);
		return rc;
	}
	qsort(chosen, (size_t)k, sizeof(*chosen), cmp_i64);
	*out = chosen;
	return 0;
}

/* The units a ratio operator changes: k = mt_op_count(args->ratio, total)
 * of t's weights or neurons, drawn with an rng seeded from args->seed and
 * sorted; the operator's own draws continue from the same rng. */
static int draw_ratio_units(int64_t **chosen, int64_t *k, mt_rng *rng, const targets *t,
			    const mt_op_args *args, const char *opn)
{
	*k = mt_op_count(args->ratio, t->total);
	mt_rng_seed(rng, args->seed);
	return sample_sorted(chosen, rng, opn, t->total, *k);
}

static double layer_std(const mt_view_layer *l)
{
	if (l->numel < 2)
		return 0.0;
	double mean = 0;
	for (int64_t i = 0; i < l->numel; i++)
		mean += l->weight[i];
	mean /= (double)l->numel;
	double ss = 0;
	for (int64_t i = 0; i < l->numel; i++) {
		double d = l->weight[i] - mean;
		ss += d * d;
	}
	return sqrt(ss / (double)(l->numel - 1));
}

/* ---- GF ----------------------------------------------------------------- */

int mt_op_apply_gf(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	targets t;
	int rc = get_targets(&t, view, args, 0);
	if (rc < 0)
		return rc;
	double *scale = calloc(t.n, sizeof(double));
	int64_t *chosen = NULL;
	if (!scale) {
		rc = mt_error_set(MT_ENOMEM, "GF: out of memory");
		goto cleanup;
	}
	/* the standard deviations come from the unmutated weights */
	for (size_t i = 0; i < t.n; i++) {
		const mt_view_layer *l = &view->layers[t.idx[i]];
		if (args->gf_variant == MT_GF_ADDITIVE && args->sigma_mode == MT_GF_SIGMA_RELATIVE) {
			scale[i] = args->sigma * layer_std(l);
			if (scale[i] == 0.0)
				mt_op_note(res, "layer '%s' has weight std 0: relative noise is 0", l->name);
		} else {
			scale[i] = args->sigma;
		}
	}
	int64_t k;
	mt_rng rng;
	if ((rc = draw_ratio_units(&chosen, &k, &rng, &t, args, "GF")) < 0)
		goto cleanup;
	for (int64_t c = 0; c < k; c++) {
		int64_t g = chosen[c], local = 0;
		size_t which = 0;
		for (int64_t rest = g;; which++) {
			int64_t size = view->layers[t.idx[which]].numel;
			if (rest < size) {
				local = rest;
				break;
			}
			rest -= size;
		}
		mt_view_layer *l = &view->layers[t.idx[which]];
		double z = mt_rng_normal(&rng);
		double w = l->weight[local];
		double v = args->gf_variant == MT_GF_ADDITIVE ? w + scale[which] * z
							      : w * (1.0 + scale[which] * z);
		store(res, l, l->weight, local, (float)v, 0);
	}
	res->units = k;
cleanup:
	free(chosen);
	free(scale);
	free(t.idx);
	return rc;
}

/* ---- WS, NAI ------------------------------------------------------------ */

int mt_op_apply_ws(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	targets t;
	int rc = get_targets(&t, view, args, 1);
	if (rc < 0)
		return rc;
	int64_t *chosen = NULL;
	int64_t k;
	mt_rng rng;
	if ((rc = draw_ratio_units(&chosen, &k, &rng, &t, args, "WS")) < 0)
		goto cleanup;
	for (int64_t c = 0; c < k; c++) {
		int64_t row = 0;
		mt_view_layer *l = locate(view, &t, chosen[c], 1, &row);
		int64_t len = mt_layer_row_len(l);
		float *orig = malloc((size_t)len * sizeof(float));
		if (!orig) {
			rc = mt_error_set(MT_ENOMEM, "WS: out of memory");
			goto cleanup;
		}
		float *w = l->weight + row * len;
		memcpy(orig, w, (size_t)len * sizeof(float));
		mt_rng_shuffle_floats(&rng, w, len);
		for (int64_t i = 0; i < len; i++)
			if (mt_float_bits(orig[i]) != mt_float_bits(w[i])) {
				res->weights_changed++;
				l->weight_changed = 1;
			}
		free(orig);
	}
	res->units = k;
cleanup:
	free(chosen);
	free(t.idx);
	return rc;
}

int mt_op_apply_nai(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	targets t;
	int rc = get_targets(&t, view, args, 1);
	if (rc < 0)
		return rc;
	int64_t *chosen = NULL;
	int64_t k;
	mt_rng rng;
	if ((rc = draw_ratio_units(&chosen, &k, &rng, &t, args, "NAI")) < 0)
		goto cleanup;
	for (int64_t c = 0; c < k; c++) {
		int64_t row = 0;
		mt_view_layer *l = locate(view, &t, chosen[c], 1, &row);
		int64_t len = mt_layer_row_len(l);
		for (int64_t i = row * len; i < (row + 1) * len; i++)
			store(res, l, l->weight, i, -l->weight[i], 0);
		if (l->bias)
			store(res, l, l->bias, row, -l->bias[row], 1);
	}
	res->units = k;
cleanup:
	free(chosen);
	free(t.idx);
	return rc;
}

/* ---- NEB ---------------------------------------------------------------- */

/* Does layer `next` consume the outputs of `l` so that neuron j's outgoing
 * weights can be found from the shapes? */
static int fits_next(const mt_view_layer *l, const mt_view_layer *next, char *why, size_t len)
{
	int64_t units = mt_layer_rows(l);
	if (next->kind == MT_VIEW_LINEAR) {
		int64_t in = next->shape[1];
		if (l->kind == MT_VIEW_LINEAR && in == units)
			return 1;
		if (l->kind == MT_VIEW_CONV2D && in % units == 0)
			return 1;
		snprintf(why, len, "next layer '%.60s' (linear, %lld inputs) does not take the %lld outputs of '%.60s'",
			 next->name, (long long)in, (long long)units, l->name);
		return 0;
	}
	if (next->kind == MT_VIEW_CONV2D) {
		int64_t cin = next->shape[1];
		if (l->kind == MT_VIEW_CONV2D && units % cin == 0 &&
		    next->shape[0] % (units / cin) == 0)
			return 1;
		snprintf(why, len, "next layer '%.60s' (conv2d, %lld input channels per group) does not take the %lld outputs of %s layer '%.60s'",
			 next->name, (long long)cin, (long long)units,
			 l->kind == MT_VIEW_LINEAR ? "linear" : "conv2d", l->name);
		return 0;
	}
	snprintf(why, len, "next layer '%.60s' is neither linear nor conv2d", next->name);
	return 0;
}

/* The index of the next linear/conv2d layer after i, passing over
 * per-channel layers (1-D, one value per unit: batch norm); -1 if none. */
static long find_next(const mt_model_view *view, size_t i, char *why, size_t len)
{
	const mt_view_layer *l = &view->layers[i];
	for (size_t j = i + 1; j < view->nlayers; j++) {
		const mt_view_layer *n = &view->layers[j];
		if (n->kind == MT_VIEW_OTHER) {
			if (n->ndim == 1 && n->shape[0] == mt_layer_rows(l))
				continue;
			snprintf(why, len, "next layer '%.60s' is not linear, conv2d or per-channel",
				 n->name);
			return -1;
		}
		return fits_next(l, n, why, len) ? (long)j : -1;
	}
	snprintf(why, len, "'%.60s' is the last parametric layer (no outgoing weights)", l->name);
	return -1;
}

static void zero_outgoing(mt_op_result *res, const mt_view_layer *l, mt_view_layer *next,
			  int64_t j)
{
	int64_t units = mt_layer_rows(l);
	if (next->kind == MT_VIEW_LINEAR) {
		int64_t in = next->shape[1];
		/* flatten of C x H x W is channel-major: channel j feeds a block */
		int64_t block = l->kind == MT_VIEW_LINEAR ? 1 : in / units;
		for (int64_t r = 0; r < next->shape[0]; r++)
			for (int64_t c = j * block; c < (j + 1) * block; c++)
				store(res, next, next->weight, r * in + c, 0.0f, 0);
		return;
	}
	int64_t cin = next->shape[1];
	int64_t groups = units / cin;
	int64_t per_group_out = next->shape[0] / groups;
	int64_t g = j / cin, c = j % cin;
	int64_t kernel = next->shape[2] * next->shape[3];
	for (int64_t o = g * per_group_out; o < (g + 1) * per_group_out; o++)
		for (int64_t e = 0; e < kernel; e++)
			store(res, next, next->weight, (o * cin + c) * kernel + e, 0.0f, 0);
}

int mt_op_apply_neb(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	targets t;
	int rc = get_targets(&t, view, args, 1);
	if (rc < 0)
		return rc;
	long *next = calloc(t.n, sizeof(long));
	int64_t *chosen = NULL;
	if (!next) {
		rc = mt_error_set(MT_ENOMEM, "NEB: out of memory");
		goto cleanup;
	}
	if (args->neb_variant == MT_NEB_OUTGOING) {
		/* only neurons whose outgoing weights can be found take part */
		size_t kept = 0;
		for (size_t i = 0; i < t.n; i++) {
			char why[320];
			long n = find_next(view, t.idx[i], why, sizeof(why));
			if (n < 0) {
				mt_op_note(res, "%s skipped: %s", view->layers[t.idx[i]].name, why);
				continue;
			}
			t.idx[kept] = t.idx[i];
			next[kept++] = n;
		}
		t.n = kept;
		t.total = 0;
		for (size_t i = 0; i < t.n; i++)
			t.total += mt_layer_rows(&view->layers[t.idx[i]]);
		if (t.n == 0) {
			res->not_applicable = 1;
			goto cleanup;
		}
	}
	int64_t k;
	mt_rng rng;
	if ((rc = draw_ratio_units(&chosen, &k, &rng, &t, args, "NEB")) < 0)
		goto cleanup;
	for (int64_t c = 0; c < k; c++) {
		int64_t g = chosen[c];
		size_t which = 0;
		for (;; which++) {
			int64_t size = mt_layer_rows(&view->layers[t.idx[which]]);
			if (g < size)
				break;
			g -= size;
		}
		mt_view_layer *l = &view->layers[t.idx[which]];
		if (args->neb_variant == MT_NEB_OUTGOING) {
			zero_outgoing(res, l, &view->layers[next[which]], g);
		} else {
			int64_t len = mt_layer_row_len(l);
			for (int64_t i = g * len; i < (g + 1) * len; i++)
				store(res, l, l->weight, i, 0.0f, 0);
			if (l->bias)
				store(res, l, l->bias, g, 0.0f, 1);
		}
	}
	res->units = k;
cleanup:
	free(chosen);
	free(next);
	free(t.idx);
	return rc;
}

/* ---- NS ----------------------------------------------------------------- */

int mt_op_apply_ns(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	targets t;
	int rc = get_targets(&t, view, args, 1);
	if (rc < 0)
		return rc;
	int64_t *pairs = calloc(t.n, sizeof(int64_t));
	int64_t *chosen = NULL;
	float *tmp = NULL;
	if (!pairs) {
		rc = mt_error_set(MT_ENOMEM, "NS: out of memory");
		goto cleanup;
	}
	int64_t total_pairs = 0;
	size_t largest = 0;
	for (size_t i = 0; i < t.n; i++) {
		int64_t rows = mt_layer_rows(&view->layers[t.idx[i]]);
		pairs[i] = llround(args->ratio * (double)rows) / 2;
		if (pairs[i] > rows / 2)
			pairs[i] = rows / 2;
		total_pairs += pairs[i];
		if (rows > mt_layer_rows(&view->layers[t.idx[largest]]))
			largest = i;
	}
	if (total_pairs == 0) {
		/* at least one pair: in the widest target layer */
		if (mt_layer_rows(&view->layers[t.idx[largest]]) < 2) {
			res->not_applicable = 1;
			mt_op_note(res, "no target layer has two neurons to switch");
			goto cleanup;
		}
		pairs[largest] = 1;
	}
	mt_rng rng;
	mt_rng_seed(&rng, args->seed);
	for (size_t i = 0; i < t.n; i++) {
		if (pairs[i] == 0)
			continue;
		mt_view_layer *l = &view->layers[t.idx[i]];
		int64_t len = mt_layer_row_len(l);
		free(chosen);
		chosen = malloc((size_t)(2 * pairs[i]) * sizeof(*chosen));
		free(tmp);
		tmp = malloc((size_t)len * sizeof(float));
		if (!chosen || !tmp) {
			rc = mt_error_set(MT_ENOMEM, "NS: out of memory");
			goto cleanup;
		}
		if ((rc = mt_rng_sample(chosen, &rng, mt_layer_rows(l), 2 * pairs[i])) < 0)
			goto cleanup;
		for (int64_t p = 0; p < pairs[i]; p++) {
			int64_t a = chosen[2 * p], b = chosen[2 * p + 1];
			float *ra = l->weight + a * len, *rb = l->weight + b * len;
			memcpy(tmp, ra, (size_t)len * sizeof(float));
			for (int64_t e = 0; e < len; e++)
				store(res, l, ra, e, rb[e], 0);
			for (int64_t e = 0; e < len; e++)
				store(res, l, rb, e, tmp[e], 0);
			if (l->bias) {
				float ba = l->bias[a], bb = l->bias[b];
				store(res, l, l->bias, a, bb, 1);
				store(res, l, l->bias, b, ba, 1);
			}
		}
		res->units += pairs[i];
	}
cleanup:
	free(tmp);
	free(chosen);
	free(pairs);
	free(t.idx);
	return rc;
}

/* ---- WPR, QNT ----------------------------------------------------------- */

static float reduce_precision(const mt_op_args *args, float w, float ten_pow)
{
	switch (args->wpr_mode) {
	case MT_WPR_FP16:
		return mt_fp16_to_float(mt_float_to_fp16(w));
	case MT_WPR_BF16:
		return mt_bf16_to_float(mt_float_to_bf16(w));
	case MT_WPR_DIGITS:
	default:
		/* torch.round(w, decimals=d) on float32: nearbyint(w*10^d)/10^d
		 * in float arithmetic */
		return nearbyintf(w * ten_pow) / ten_pow;
	}
}

int mt_op_apply_wpr(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	targets t;
	int rc = get_targets(&t, view, args, 0);
	if (rc < 0)
		return rc;
	float ten_pow = (float)pow(10.0, args->wpr_mode == MT_WPR_DIGITS ? args->digits : 0);
	for (size_t i = 0; i < t.n; i++) {
		mt_view_layer *l = &view->layers[t.idx[i]];
		for (int64_t e = 0; e < l->numel; e++)
			store(res, l, l->weight, e, reduce_precision(args, l->weight[e], ten_pow), 0);
		for (int64_t e = 0; l->bias && e < l->nbias; e++)
			store(res, l, l->bias, e, reduce_precision(args, l->bias[e], ten_pow), 1);
		res->units += l->numel + (l->bias ? l->nbias : 0);
	}
	free(t.idx);
	return 0;
}

static void quantize(mt_op_result *res, mt_view_layer *l, int64_t from, int64_t n, float qmax)
{
	float amax = 0.0f;
	for (int64_t e = from; e < from + n; e++) {
		float a = fabsf(l->weight[e]);
		if (a > amax)
			amax = a;
	}
	if (amax == 0.0f || !isfinite(amax))
		return;
	float scale = amax / qmax;
	for (int64_t e = from; e < from + n; e++) {
		float q = nearbyintf(l->weight[e] / scale);
		if (q > qmax)
			q = qmax;
		if (q < -qmax)
			q = -qmax;
		store(res, l, l->weight, e, q * scale, 0);
	}
}

int mt_op_apply_qnt(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	targets t;
	int rc = get_targets(&t, view, args, 0);
	if (rc < 0)
		return rc;
	float qmax = (float)((1 << (args->bits - 1)) - 1);
	for (size_t i = 0; i < t.n; i++) {
		mt_view_layer *l = &view->layers[t.idx[i]];
		if (args->granularity == MT_QNT_TENSOR) {
			quantize(res, l, 0, l->numel, qmax);
		} else {
			int64_t len = mt_layer_row_len(l);
			for (int64_t r = 0; r < mt_layer_rows(l); r++)
				quantize(res, l, r * len, len, qmax);
		}
		res->units += l->numel;
	}
	free(t.idx);
	return 0;
}

/* ---- BF ----------------------------------------------------------------- */

int mt_op_apply_bf(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	targets t;
	int rc = get_targets(&t, view, args, 0);
	if (rc < 0)
		return rc;
	int64_t *chosen = NULL;
	int64_t k = args->k;
	if (k > t.total) {
		mt_op_note(res, "k=%lld is more than the %lld target weights; all are flipped",
			   (long long)k, (long long)t.total);
		k = t.total;
	}
	mt_rng rng;
	mt_rng_seed(&rng, args->seed);
	if ((rc = sample_sorted(&chosen, &rng, "BF", t.total, k)) < 0)
		goto cleanup;
	for (int64_t c = 0; c < k; c++) {
		int64_t local = 0;
		mt_view_layer *l = locate(view, &t, chosen[c], 0, &local);
		int bit;
		switch (args->bf_class) {
		case MT_BF_SIGN: bit = 31; break;
		case MT_BF_EXPONENT: bit = 23 + (int)mt_rng_below(&rng, 8); break;
		case MT_BF_MANTISSA: bit = (int)mt_rng_below(&rng, 23); break;
		case MT_BF_ANY: bit = (int)mt_rng_below(&rng, 32); break;
		case MT_BF_INDEX:
		default: bit = args->bf_index; break;
		}
		store(res, l, l->weight, local, mt_float_from_bits(mt_float_bits(l->weight[local]) ^ (1u << bit)), 0);
	}
	res->units = k;
cleanup:
	free(chosen);
	free(t.idx);
	return rc;
}

/* ---- PRN ---------------------------------------------------------------- */

typedef struct {
	float mag;
	int64_t idx;
} magnitude;

static int cmp_magnitude(const void *a, const void *b)
{
	const magnitude *x = a, *y = b;
	/* NaN sorts after every number: it is never "small" */
	int xn = isnan(x->mag), yn = isnan(y->mag);
	if (xn != yn)
		return xn - yn;
	if (!xn && x->mag != y->mag)
		return x->mag < y->mag ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

int mt_op_apply_prn(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	targets t;
	int rc = get_targets(&t, view, args, 0);
	if (rc < 0)
		return rc;
	magnitude *all = malloc((size_t)t.total * sizeof(*all));
	if (!all) {
		free(t.idx);
		return mt_error_set(MT_ENOMEM, "PRN: out of memory for %lld weights",
				    (long long)t.total);
	}
	int64_t g = 0;
	for (size_t i = 0; i < t.n; i++) {
		const mt_view_layer *l = &view->layers[t.idx[i]];
		for (int64_t e = 0; e < l->numel; e++, g++) {
			all[g].mag = fabsf(l->weight[e]);
			all[g].idx = g;
		}
	}
	qsort(all, (size_t)t.total, sizeof(*all), cmp_magnitude);
	int64_t k = mt_op_count(args->ratio, t.total);
	for (int64_t c = 0; c < k; c++) {
		int64_t local = 0;
		mt_view_layer *l = locate(view, &t, all[c].idx, 0, &local);
		store(res, l, l->weight, local, 0.0f, 0);
	}
	res->units = k;
	free(all);
	free(t.idx);
	return 0;
}
