/*
 * DeepMutation++'s static RNN operators on the weights of LSTM, GRU and
 * RNN layers (every depth and direction): weight Gaussian fuzzing (RWGF),
 * weight quantization (RWQ), weight precision reduction (RWPR) on a
 * fraction of one gate's (or all) weights, and gate-level Gaussian fuzzing
 * (RGGF) and precision reduction (RGPR) of every weight of a gate. They
 * change weights only, so every mutant is a module PyTorch loads.
 *
 * The weights of a gate set, in this order (the index space of the ratio
 * operators): per depth, per direction (PyTorch's parameter order): the
 * gates' rows of weight_ih (row-major, gates ascending), of weight_hh, the
 * gates' elements of bias_ih, of bias_hh, then with gate=all weight_hr
 * (LSTM with proj_size). Exact semantics and draws: docs/operators.md.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/rng.h"
#include "mutorch/view.h"
#include "internal.h"

typedef struct {
	mt_view_layer *layer;
	int64_t offset, len;
	int is_bias;
	int depth, direction, gate; /* gate -1: weight_hr */
} block;

typedef struct {
	block *b;
	size_t n, cap;
	int64_t total;
} blocks;

static int push(blocks *bs, block b)
{
	if (bs->n == bs->cap) {
		size_t cap = bs->cap ? 2 * bs->cap : 16;
		block *g = realloc(bs->b, cap * sizeof(*g));
		if (!g)
			return mt_error_set(MT_ENOMEM, "RNN operator: out of memory");
		bs->b = g;
		bs->cap = cap;
	}
	bs->b[bs->n++] = b;
	bs->total += b.len;
	return 0;
}

/* The blocks of gate set `mask` of recurrent layer l, in the documented
 * order (its parts are sorted by depth, direction, PyTorch's role order). */
static int gate_blocks(blocks *bs, mt_view_layer *l, unsigned mask, int with_hr)
{
	int rc;
	unsigned all = (1u << l->gates) - 1;
	for (size_t i = 0; i < l->nparts; i++) {
		const mt_view_part *p = &l->parts[i];
		if (p->role == MT_VIEW_PART_HR) {
			if (with_hr && mask == all &&
			    (rc = push(bs, (block){l, p->offset, p->numel, 0, p->depth, p->direction, -1})) < 0)
				return rc;
			continue;
		}
		int64_t cols = p->numel / p->rows, len = l->hidden * cols;
		for (int g = 0; g < l->gates; g++)
			if ((mask & (1u << g)) &&
			    (rc = push(bs, (block){l, p->offset + g * len, len, p->is_bias, p->depth,
						   p->direction, g})) < 0)
				return rc;
	}
	return 0;
}

/* Every target layer's blocks of args->gate, in view order. */
static int collect(blocks *bs, mt_targets *t, mt_model_view *view, const mt_op_args *args,
		   int with_hr)
{
	int rc;
	memset(bs, 0, sizeof(*bs));
	if ((rc = mt_op_get_targets(t, view, args, 0)) < 0)
		return rc;
	for (size_t i = 0; i < t->n; i++) {
		mt_view_layer *l = &view->layers[t->idx[i]];
		unsigned mask = mt_rnn_gate_mask(args, l);
		if (!mask)
			return MT_EINVALID;
		if ((rc = gate_blocks(bs, l, mask, with_hr)) < 0)
			return rc;
	}
	return 0;
}

typedef enum { FUZZ, SIGN, ROUND } weight_action;

/* RWGF, RWQ, RWPR: k = mt_op_count(ratio, n) of the n weights of the gate
 * set, sampled and sorted; RWGF then draws one normal per chosen weight in
 * that order. */
static int apply_ratio(mt_op_result *res, mt_model_view *view, const mt_op_args *args,
		       weight_action action)
{
	mt_targets t = {0};
	blocks bs;
	int64_t *chosen = NULL, k = 0;
	mt_rng rng;
	float ten_pow = (float)pow(10.0, args->digits > 0 ? args->digits : 0);
	int rc = collect(&bs, &t, view, args, 1);
	if (rc < 0)
		goto cleanup;
	if (bs.total == 0) {
		res->not_applicable = 1;
		mt_op_note(res, "the chosen gates have no weights");
		goto cleanup;
	}
	k = mt_op_count(args->ratio, bs.total);
	mt_rng_seed(&rng, args->seed);
	if ((rc = mt_op_sample_sorted(&chosen, &rng, args->op->name, bs.total, k)) < 0)
		goto cleanup;
	size_t b = 0;
	int64_t start = 0; /* global index of block b's first element */
	for (int64_t c = 0; c < k; c++) {
		while (chosen[c] >= start + bs.b[b].len)
			start += bs.b[b++].len;
		const block *bl = &bs.b[b];
		float *arr = bl->is_bias ? bl->layer->bias : bl->layer->weight;
		int64_t e = bl->offset + (chosen[c] - start);
		float w = arr[e], v;
		if (action == FUZZ)
			v = (float)((double)w * (1.0 + args->sigma * mt_rng_normal(&rng)));
		else if (action == SIGN)
			v = w > 0.0f ? 1.0f : w < 0.0f ? -1.0f : w;
		else
			v = nearbyintf(w * ten_pow) / ten_pow;
		mt_op_store(res, bl->layer, arr, e, v, bl->is_bias);
	}
	res->units = k;
cleanup:
	free(chosen);
	free(bs.b);
	free(t.idx);
	return rc;
}

int mt_op_apply_rwgf(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	return apply_ratio(res, view, args, FUZZ);
}

int mt_op_apply_rwq(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	return apply_ratio(res, view, args, SIGN);
}

int mt_op_apply_rwpr(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	return apply_ratio(res, view, args, ROUND);
}

/* RGGF: one normal z per (layer, depth, direction, gate), drawn in that
 * order (target layers in view order, gates ascending) before any change;
 * every weight and bias of that gate becomes w * (1 + sigma*z). */
int mt_op_apply_rggf(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	mt_targets t = {0};
	blocks bs;
	double *factor = NULL;
	mt_rng rng;
	int rc = collect(&bs, &t, view, args, 0);
	if (rc < 0)
		goto cleanup;
	size_t nf = 0;
	for (size_t i = 0; i < t.n; i++) {
		const mt_view_layer *l = &view->layers[t.idx[i]];
		nf += (size_t)l->depths * l->directions * l->gates;
	}
	if (!(factor = calloc(nf ? nf : 1, sizeof(*factor)))) {
		rc = mt_error_set(MT_ENOMEM, "RGGF: out of memory");
		goto cleanup;
	}
	mt_rng_seed(&rng, args->seed);
	size_t base = 0, drawn = 0;
	for (size_t i = 0; i < t.n; i++) {
		mt_view_layer *l = &view->layers[t.idx[i]];
		unsigned mask = mt_rnn_gate_mask(args, l);
		for (int kd = 0; kd < l->depths * l->directions; kd++)
			for (int g = 0; g < l->gates; g++)
				if (mask & (1u << g)) {
					factor[base + (size_t)kd * l->gates + g] =
						1.0 + args->sigma * mt_rng_normal(&rng);
					drawn++;
				}
		for (size_t b = 0; b < bs.n; b++) {
			const block *bl = &bs.b[b];
			if (bl->layer != l)
				continue;
			double f = factor[base + (size_t)(bl->depth * l->directions + bl->direction) *
							    l->gates + bl->gate];
			float *arr = bl->is_bias ? l->bias : l->weight;
			for (int64_t e = bl->offset; e < bl->offset + bl->len; e++)
				mt_op_store(res, l, arr, e, (float)((double)arr[e] * f), bl->is_bias);
		}
		base += (size_t)l->depths * l->directions * l->gates;
	}
	res->units = (int64_t)drawn;
cleanup:
	free(factor);
	free(bs.b);
	free(t.idx);
	return rc;
}

/* RGPR: every weight and bias of the gate set becomes
 * nearbyintf(w * 2^bits) / 2^bits (float32; no draws). */
int mt_op_apply_rgpr(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	mt_targets t = {0};
	blocks bs;
	float scale = ldexpf(1.0f, args->bits);
	int rc = collect(&bs, &t, view, args, 0);
	if (rc >= 0) {
		for (size_t b = 0; b < bs.n; b++) {
			const block *bl = &bs.b[b];
			float *arr = bl->is_bias ? bl->layer->bias : bl->layer->weight;
			for (int64_t e = bl->offset; e < bl->offset + bl->len; e++)
				mt_op_store(res, bl->layer, arr, e, nearbyintf(arr[e] * scale) / scale,
					    bl->is_bias);
		}
		res->units = bs.total;
	}
	free(bs.b);
	free(t.idx);
	return rc;
}
