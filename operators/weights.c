/*
 * The weight operators (DeepMutation's GF, WS, NAI, NS and the
 * deployment/fault operators WPR, QNT, BF, PRN) on a model view; NEB is in
 * neb.c, the RNN operators in rnn_static.c and rnn_dynamic.c.
 *
 * Index spaces. With several target layers (a global ratio), weights are
 * numbered by concatenating the target layers' weight arrays (row-major,
 * in view order; a recurrent layer's array is its weight tensors in
 * PyTorch's order), and neurons by concatenating the layers' neurons
 * (neurons.c says what a neuron of each kind is).
 * Counts: k = max(1, llround(ratio * n)), capped at n.
 *
 * Random draw order, from one mt_rng seeded with args->seed:
 *   GF   sample k weights (partial Fisher-Yates), sort ascending, then one
 *        normal (Box-Muller, two draws) per chosen weight in that order.
 *   WS   sample k neurons, sort ascending, then shuffle each one's incoming
 *        weights in that order (Fisher-Yates from the end; a recurrent
 *        unit: one shuffle per gate).
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
	mt_targets t;
	int rc = mt_op_get_targets(&t, view, args, 0);
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
	if ((rc = mt_op_draw_units(&chosen, &k, &rng, &t, args, "GF")) < 0)
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
		mt_op_store(res, l, l->weight, local, (float)v, 0);
	}
	res->units = k;
cleanup:
	free(chosen);
	free(scale);
	free(t.idx);
	return rc;
}

/* ---- WS, NAI ------------------------------------------------------------ */

/* Shuffle each group of runs of neuron n as one vector (gathered in run
 * order), counting the weights whose bits change. */
static int shuffle_groups(mt_op_result *res, mt_view_layer *l, const mt_neuron *n, mt_rng *rng)
{
	for (size_t r = 0; r < n->nruns;) {
		size_t end = r;
		int64_t len = 0;
		while (end < n->nruns && n->runs[end].group == n->runs[r].group)
			len += n->runs[end++].len;
		float *v = malloc((size_t)len * sizeof(float));
		if (!v)
			return mt_error_set(MT_ENOMEM, "WS: out of memory");
		int64_t at = 0;
		for (size_t q = r; q < end; q++) {
			memcpy(v + at, l->weight + n->runs[q].offset, (size_t)n->runs[q].len * sizeof(float));
			at += n->runs[q].len;
		}
		mt_rng_shuffle_floats(rng, v, len);
		at = 0;
		for (size_t q = r; q < end; q++)
			for (int64_t e = 0; e < n->runs[q].len; e++)
				mt_op_store(res, l, l->weight, n->runs[q].offset + e, v[at++], 0);
		free(v);
		r = end;
	}
	return 0;
}

int mt_op_apply_ws(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	mt_targets t;
	int rc = mt_op_get_targets(&t, view, args, 1);
	if (rc < 0)
		return rc;
	int64_t *chosen = NULL;
	int64_t k;
	mt_rng rng;
	mt_neuron n = {0};
	if ((rc = mt_op_draw_units(&chosen, &k, &rng, &t, args, "WS")) < 0)
		goto cleanup;
	for (int64_t c = 0; c < k; c++) {
		int64_t j = 0;
		mt_view_layer *l = mt_op_locate(view, &t, chosen[c], 1, &j);
		if ((rc = mt_neuron_of(&n, l, j)) < 0 || (rc = shuffle_groups(res, l, &n, &rng)) < 0)
			goto cleanup;
	}
	res->units = k;
cleanup:
	mt_neuron_dispose(&n);
	free(chosen);
	free(t.idx);
	return rc;
}

int mt_op_apply_nai(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	mt_targets t;
	int rc = mt_op_get_targets(&t, view, args, 1);
	if (rc < 0)
		return rc;
	int64_t *chosen = NULL;
	int64_t k;
	mt_rng rng;
	mt_neuron n = {0};
	if ((rc = mt_op_draw_units(&chosen, &k, &rng, &t, args, "NAI")) < 0)
		goto cleanup;
	for (int64_t c = 0; c < k; c++) {
		int64_t j = 0;
		mt_view_layer *l = mt_op_locate(view, &t, chosen[c], 1, &j);
		if ((rc = mt_neuron_of(&n, l, j)) < 0)
			goto cleanup;
		for (size_t r = 0; r < n.nruns; r++)
			for (int64_t i = n.runs[r].offset; i < n.runs[r].offset + n.runs[r].len; i++)
				mt_op_store(res, l, l->weight, i, -l->weight[i], 0);
		for (size_t b = 0; b < n.nbias; b++)
			mt_op_store(res, l, l->bias, n.bias[b], -l->bias[n.bias[b]], 1);
	}
	res->units = k;
cleanup:
	mt_neuron_dispose(&n);
	free(chosen);
	free(t.idx);
	return rc;
}

/* ---- NS ----------------------------------------------------------------- */

int mt_op_apply_ns(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	mt_targets t;
	int rc = mt_op_get_targets(&t, view, args, 1);
	if (rc < 0)
		return rc;
	int64_t *pairs = calloc(t.n, sizeof(int64_t));
	int64_t *chosen = NULL;
	float *tmp = NULL;
	mt_neuron na = {0}, nb = {0};
	if (!pairs) {
		rc = mt_error_set(MT_ENOMEM, "NS: out of memory");
		goto cleanup;
	}
	int64_t total_pairs = 0;
	size_t largest = 0;
	for (size_t i = 0; i < t.n; i++) {
		int64_t rows = mt_layer_units(&view->layers[t.idx[i]]);
		pairs[i] = llround(args->ratio * (double)rows) / 2;
		if (pairs[i] > rows / 2)
			pairs[i] = rows / 2;
		total_pairs += pairs[i];
		if (rows > mt_layer_units(&view->layers[t.idx[largest]]))
			largest = i;
	}
	if (total_pairs == 0) {
		/* at least one pair: in the widest target layer */
		if (mt_layer_units(&view->layers[t.idx[largest]]) < 2) {
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
		free(chosen);
		chosen = malloc((size_t)(2 * pairs[i]) * sizeof(*chosen));
		if (!chosen) {
			rc = mt_error_set(MT_ENOMEM, "NS: out of memory");
			goto cleanup;
		}
		if ((rc = mt_rng_sample(chosen, &rng, mt_layer_units(l), 2 * pairs[i])) < 0)
			goto cleanup;
		for (int64_t p = 0; p < pairs[i]; p++) {
			if ((rc = mt_neuron_of(&na, l, chosen[2 * p])) < 0 ||
			    (rc = mt_neuron_of(&nb, l, chosen[2 * p + 1])) < 0)
				goto cleanup;
			/* two neurons of one layer have runs of the same lengths */
			for (size_t r = 0; r < na.nruns; r++) {
				int64_t len = na.runs[r].len;
				float *ra = l->weight + na.runs[r].offset, *rb = l->weight + nb.runs[r].offset;
				float *grown = realloc(tmp, (size_t)len * sizeof(float));
				if (!grown) {
					rc = mt_error_set(MT_ENOMEM, "NS: out of memory");
					goto cleanup;
				}
				tmp = grown;
				memcpy(tmp, ra, (size_t)len * sizeof(float));
				for (int64_t e = 0; e < len; e++)
					mt_op_store(res, l, ra, e, rb[e], 0);
				for (int64_t e = 0; e < len; e++)
					mt_op_store(res, l, rb, e, tmp[e], 0);
			}
			for (size_t b = 0; b < na.nbias; b++) {
				float ba = l->bias[na.bias[b]], bb = l->bias[nb.bias[b]];
				mt_op_store(res, l, l->bias, na.bias[b], bb, 1);
				mt_op_store(res, l, l->bias, nb.bias[b], ba, 1);
			}
		}
		res->units += pairs[i];
	}
cleanup:
	mt_neuron_dispose(&na);
	mt_neuron_dispose(&nb);
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
	mt_targets t;
	int rc = mt_op_get_targets(&t, view, args, 0);
	if (rc < 0)
		return rc;
	float ten_pow = (float)pow(10.0, args->wpr_mode == MT_WPR_DIGITS ? args->digits : 0);
	for (size_t i = 0; i < t.n; i++) {
		mt_view_layer *l = &view->layers[t.idx[i]];
		for (int64_t e = 0; e < l->numel; e++)
			mt_op_store(res, l, l->weight, e, reduce_precision(args, l->weight[e], ten_pow), 0);
		for (int64_t e = 0; l->bias && e < l->nbias; e++)
			mt_op_store(res, l, l->bias, e, reduce_precision(args, l->bias[e], ten_pow), 1);
		res->units += l->numel + (l->bias ? l->nbias : 0);
	}
	free(t.idx);
	return 0;
}

/* Quantize the runs [from, to) of q together (one scale). */
static void quantize(mt_op_result *res, mt_view_layer *l, const mt_run *runs, size_t nruns,
		     float qmax)
{
	float amax = 0.0f;
	for (size_t r = 0; r < nruns; r++)
		for (int64_t e = runs[r].offset; e < runs[r].offset + runs[r].len; e++) {
			float a = fabsf(l->weight[e]);
			if (a > amax)
				amax = a;
		}
	if (amax == 0.0f || !isfinite(amax))
		return;
	float scale = amax / qmax;
	for (size_t r = 0; r < nruns; r++)
		for (int64_t e = runs[r].offset; e < runs[r].offset + runs[r].len; e++) {
			float q = nearbyintf(l->weight[e] / scale);
			if (q > qmax)
				q = qmax;
			if (q < -qmax)
				q = -qmax;
			mt_op_store(res, l, l->weight, e, q * scale, 0);
		}
}

int mt_op_apply_qnt(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	mt_targets t;
	int rc = mt_op_get_targets(&t, view, args, 0);
	if (rc < 0)
		return rc;
	float qmax = (float)((1 << (args->bits - 1)) - 1);
	mt_neuron ch = {0};
	for (size_t i = 0; i < t.n; i++) {
		mt_view_layer *l = &view->layers[t.idx[i]];
		if (args->granularity == MT_QNT_TENSOR) {
			/* per tensor: each weight part (one, but a recurrent
			 * layer's several) */
			for (size_t p = 0; p < l->nparts; p++) {
				if (l->parts[p].is_bias)
					continue;
				mt_run whole = {l->parts[p].offset, l->parts[p].numel, 0};
				quantize(res, l, &whole, 1, qmax);
			}
		} else {
			if ((rc = mt_layer_channels(&ch, l)) < 0)
				break;
			for (size_t r = 0; r < ch.nruns;) {
				size_t end = r;
				while (end < ch.nruns && ch.runs[end].group == ch.runs[r].group)
					end++;
				quantize(res, l, ch.runs + r, end - r, qmax);
				r = end;
			}
		}
		res->units += l->numel;
	}
	mt_neuron_dispose(&ch);
	free(t.idx);
	return rc;
}

/* ---- BF ----------------------------------------------------------------- */

int mt_op_apply_bf(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	mt_targets t;
	int rc = mt_op_get_targets(&t, view, args, 0);
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
	if ((rc = mt_op_sample_sorted(&chosen, &rng, "BF", t.total, k)) < 0)
		goto cleanup;
	for (int64_t c = 0; c < k; c++) {
		int64_t local = 0;
		mt_view_layer *l = mt_op_locate(view, &t, chosen[c], 0, &local);
		int bit;
		switch (args->bf_class) {
		case MT_BF_SIGN: bit = 31; break;
		case MT_BF_EXPONENT: bit = 23 + (int)mt_rng_below(&rng, 8); break;
		case MT_BF_MANTISSA: bit = (int)mt_rng_below(&rng, 23); break;
		case MT_BF_ANY: bit = (int)mt_rng_below(&rng, 32); break;
		case MT_BF_INDEX:
		default: bit = args->bf_index; break;
		}
		mt_op_store(res, l, l->weight, local, mt_float_from_bits(mt_float_bits(l->weight[local]) ^ (1u << bit)), 0);
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

static void swap_magnitude(magnitude *a, int64_t i, int64_t j)
{
	magnitude t = a[i];
	a[i] = a[j];
	a[j] = t;
}

#define MAG_LESS(x, y) (cmp_magnitude((x), (y)) < 0)

/* Rearrange a[0, n) so that a[0, k) holds its k smallest entries, in no
 * particular order (Hoare's selection, median of three). The order is total
 * (the index breaks ties), so the set is the one a full sort's first k
 * would give, in O(n) expected time instead of O(n log n): on a layer of
 * millions of weights the sort cost more than the mutant's forward pass. */
static void select_smallest(magnitude *a, int64_t n, int64_t k)
{
	int64_t lo = 0, hi = n - 1;
	if (k <= 0 || k >= n)
		return;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (MAG_LESS(&a[mid], &a[lo]))
			swap_magnitude(a, lo, mid);
		if (MAG_LESS(&a[hi], &a[lo]))
			swap_magnitude(a, lo, hi);
		if (MAG_LESS(&a[hi], &a[mid]))
			swap_magnitude(a, mid, hi);
		magnitude pivot = a[mid];
		int64_t i = lo, j = hi;
		while (i <= j) {
			while (MAG_LESS(&a[i], &pivot))
				i++;
			while (MAG_LESS(&pivot, &a[j]))
				j--;
			if (i <= j)
				swap_magnitude(a, i++, j--);
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

int mt_op_apply_prn(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	mt_targets t;
	int rc = mt_op_get_targets(&t, view, args, 0);
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
	int64_t k = mt_op_count(args->ratio, t.total);
	select_smallest(all, t.total, k);
	for (int64_t c = 0; c < k; c++) {
		int64_t local = 0;
		mt_view_layer *l = mt_op_locate(view, &t, all[c].idx, 0, &local);
		mt_op_store(res, l, l->weight, local, 0.0f, 0);
	}
	res->units = k;
	free(all);
	free(t.idx);
	return 0;
}
