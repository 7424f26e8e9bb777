/*
 * NEB (neuron effect blocking) on every layer kind with neurons: the
 * neuron's outgoing weights become 0 in the next layer that consumes it
 * (found from the shapes, passing over per-channel layers), or, with
 * variant=incoming, its own incoming weights and bias. A recurrent hidden
 * unit's outgoing weights also include its own layer's weight_hh column
 * and the next depth's weight_ih columns. Exact semantics:
 * docs/operators.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/rng.h"
#include "mutorch/view.h"
#include "internal.h"

/* ---- NEB ---------------------------------------------------------------- */

static int is_per_channel(const mt_view_layer *n, int64_t features)
{
	return (n->kind == MT_VIEW_OTHER || n->kind == MT_VIEW_BATCHNORM ||
		n->kind == MT_VIEW_LAYERNORM) && n->ndim == 1 && n->shape[0] == features;
}

/* The input features of recurrent layer r: weight_ih_l0's columns. */
static int64_t recurrent_inputs(const mt_view_layer *r)
{
	const mt_view_part *ih = mt_view_part_find(r, MT_VIEW_PART_IH, 0, 0);
	return ih ? ih->numel / ih->rows : -1;
}

/* Does layer `next` consume the outputs of `l` so that neuron j's outgoing
 * weights can be found from the shapes? */
static int fits_next(const mt_view_layer *l, const mt_view_layer *next, char *why, size_t len)
{
	int64_t units = mt_layer_features(l);
	int channels = mt_view_kind_is_conv(l->kind) || mt_view_kind_is_convt(l->kind);
	const char *lk = mt_view_kind_name(l->kind);
	if (next->kind == MT_VIEW_LINEAR) {
		int64_t in = next->shape[1];
		if (!channels && in == units)
			return 1;
		if (channels && in % units == 0)
			return 1;
		snprintf(why, len, "next layer '%.60s' (linear, %lld inputs) does not take the %lld outputs of '%.60s'",
			 next->name, (long long)in, (long long)units, l->name);
		return 0;
	}
	if (mt_view_kind_is_conv(next->kind)) {
		int64_t cin = next->shape[1];
		if (channels && units % cin == 0 && next->shape[0] % (units / cin) == 0)
			return 1;
		snprintf(why, len, "next layer '%.60s' (%s, %lld input channels per group) does not take the %lld outputs of %s layer '%.60s'",
			 next->name, mt_view_kind_name(next->kind), (long long)cin,
			 (long long)units, lk, l->name);
		return 0;
	}
	if (mt_view_kind_is_convt(next->kind)) {
		if (channels && next->shape[0] == units)
			return 1;
		snprintf(why, len, "next layer '%.60s' (%s, %lld input channels) does not take the %lld outputs of %s layer '%.60s'",
			 next->name, mt_view_kind_name(next->kind), (long long)next->shape[0],
			 (long long)units, lk, l->name);
		return 0;
	}
	if (mt_view_kind_is_recurrent(next->kind)) {
		if (recurrent_inputs(next) == units)
			return 1;
		snprintf(why, len, "next layer '%.60s' (%s, %lld input features) does not take the %lld outputs of %s layer '%.60s'",
			 next->name, mt_view_kind_name(next->kind), (long long)recurrent_inputs(next),
			 (long long)units, lk, l->name);
		return 0;
	}
	snprintf(why, len, "next layer '%.60s' is neither linear nor conv2d", next->name);
	return 0;
}

/* The index of the next layer with neurons after i, passing over
 * per-channel layers (1-D, one value per feature: batch norm); -1 if none.
 * A recurrent layer with proj_size needs none: weight_hr holds every
 * outgoing weight of its hidden units. */
static long find_next(const mt_model_view *view, size_t i, char *why, size_t len)
{
	const mt_view_layer *l = &view->layers[i];
	if (mt_view_kind_is_recurrent(l->kind) && l->proj)
		return (long)i;
	for (size_t j = i + 1; j < view->nlayers; j++) {
		const mt_view_layer *n = &view->layers[j];
		if (!mt_view_kind_has_neurons(n->kind)) {
			if (is_per_channel(n, mt_layer_features(l)))
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

/* Zero column `col` of every row of a 2-D part (cols columns). */
static void zero_column(mt_op_result *res, mt_view_layer *l, const mt_view_part *p, int64_t col)
{
	int64_t cols = p->numel / p->rows;
	for (int64_t r = 0; r < p->rows; r++)
		mt_op_store(res, l, l->weight, p->offset + r * cols + col, 0.0f, 0);
}

/* Zero the weights of `next` fed by feature f of l (l has `units`
 * features feeding it). */
static void zero_input(mt_op_result *res, const mt_view_layer *l, mt_view_layer *next,
		       int64_t f)
{
	int64_t units = mt_layer_features(l);
	if (next->kind == MT_VIEW_LINEAR) {
		int64_t in = next->shape[1];
		/* flatten of C x ... is channel-major: channel f feeds a block */
		int64_t block = (mt_view_kind_is_conv(l->kind) || mt_view_kind_is_convt(l->kind))
					? in / units : 1;
		for (int64_t r = 0; r < next->shape[0]; r++)
			for (int64_t c = f * block; c < (f + 1) * block; c++)
				mt_op_store(res, next, next->weight, r * in + c, 0.0f, 0);
		return;
	}
	if (mt_view_kind_is_recurrent(next->kind)) {
		for (int d = 0; d < next->directions; d++) {
			const mt_view_part *ih = mt_view_part_find(next, MT_VIEW_PART_IH, 0, d);
			if (ih)
				zero_column(res, next, ih, f);
		}
		return;
	}
	int64_t kernel = next->numel / (next->shape[0] * next->shape[1]);
	if (mt_view_kind_is_convt(next->kind)) {
		/* input channel f is row f: weight[f, :, ...] */
		int64_t row = next->numel / next->shape[0];
		for (int64_t e = f * row; e < (f + 1) * row; e++)
			mt_op_store(res, next, next->weight, e, 0.0f, 0);
		return;
	}
	int64_t cin = next->shape[1];
	int64_t groups = units / cin;
	int64_t per_group_out = next->shape[0] / groups;
	int64_t g = f / cin, c = f % cin;
	for (int64_t o = g * per_group_out; o < (g + 1) * per_group_out; o++)
		for (int64_t e = 0; e < kernel; e++)
			mt_op_store(res, next, next->weight, (o * cin + c) * kernel + e, 0.0f, 0);
}

/* Neuron j of l stops affecting anything: its outgoing weights become 0.
 * A recurrent unit's go to its own layer (weight_hh columns; with
 * proj_size the weight_hr column instead, which carries all of them), the
 * next depth (weight_ih columns) or, from the last depth, `next`. */
static void zero_outgoing(mt_op_result *res, mt_view_layer *l, mt_view_layer *next, int64_t j)
{
	if (!mt_view_kind_is_recurrent(l->kind)) {
		zero_input(res, l, next, j);
		return;
	}
	int64_t H = l->hidden;
	int kd = (int)(j / H), k = kd / l->directions, d = kd % l->directions;
	int64_t u = j % H;
	if (l->proj) {
		zero_column(res, l, mt_view_part_find(l, MT_VIEW_PART_HR, k, d), u);
		return;
	}
	zero_column(res, l, mt_view_part_find(l, MT_VIEW_PART_HH, k, d), u);
	if (k + 1 < l->depths) {
		for (int dd = 0; dd < l->directions; dd++)
			zero_column(res, l, mt_view_part_find(l, MT_VIEW_PART_IH, k + 1, dd), d * H + u);
		return;
	}
	zero_input(res, l, next, d * H + u);
}

int mt_op_apply_neb(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	mt_targets t;
	int rc = mt_op_get_targets(&t, view, args, 1);
	if (rc < 0)
		return rc;
	long *next = calloc(t.n, sizeof(long));
	int64_t *chosen = NULL;
	mt_neuron n = {0};
	if (!next) {
		rc = mt_error_set(MT_ENOMEM, "NEB: out of memory");
		goto cleanup;
	}
	if (args->neb_variant == MT_NEB_OUTGOING) {
		/* only neurons whose outgoing weights can be found take part */
		size_t kept = 0;
		for (size_t i = 0; i < t.n; i++) {
			char why[320];
			long nx = find_next(view, t.idx[i], why, sizeof(why));
			if (nx < 0) {
				mt_op_note(res, "%s skipped: %s", view->layers[t.idx[i]].name, why);
				continue;
			}
			t.idx[kept] = t.idx[i];
			next[kept++] = nx;
		}
		t.n = kept;
		t.total = 0;
		for (size_t i = 0; i < t.n; i++)
			t.total += mt_layer_units(&view->layers[t.idx[i]]);
		if (t.n == 0) {
			res->not_applicable = 1;
			goto cleanup;
		}
	}
	int64_t k;
	mt_rng rng;
	if ((rc = mt_op_draw_units(&chosen, &k, &rng, &t, args, "NEB")) < 0)
		goto cleanup;
	for (int64_t c = 0; c < k; c++) {
		int64_t g = chosen[c];
		size_t which = 0;
		for (;; which++) {
			int64_t size = mt_layer_units(&view->layers[t.idx[which]]);
			if (g < size)
				break;
			g -= size;
		}
		mt_view_layer *l = &view->layers[t.idx[which]];
		if (args->neb_variant == MT_NEB_OUTGOING) {
			zero_outgoing(res, l, &view->layers[next[which]], g);
		} else {
			if ((rc = mt_neuron_of(&n, l, g)) < 0)
				goto cleanup;
			for (size_t r = 0; r < n.nruns; r++)
				for (int64_t i = n.runs[r].offset; i < n.runs[r].offset + n.runs[r].len; i++)
					mt_op_store(res, l, l->weight, i, 0.0f, 0);
			for (size_t b = 0; b < n.nbias; b++)
				mt_op_store(res, l, l->bias, n.bias[b], 0.0f, 1);
		}
	}
	res->units = k;
cleanup:
	mt_neuron_dispose(&n);
	free(chosen);
	free(next);
	free(t.idx);
	return rc;
}

