/*
 * Applying a weight operator (mt_operator_apply): the dispatch to the
 * operator's apply function (weights.c) through its registry row, and the
 * helpers every weight operator shares: target layers, unit counts and
 * notes in the result. Exact semantics: docs/operators.md.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/floats.h"
#include "mutorch/operators.h"
#include "mutorch/rng.h"
#include "internal.h"
#include "mutorch/view.h"

/* ---- apply -------------------------------------------------------------- */

void mt_op_store(mt_op_result *res, mt_view_layer *l, float *w, int64_t i, float v,
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

void mt_op_note(mt_op_result *res, const char *fmt, ...)
{
	size_t used = strlen(res->reason);
	if (used + 3 >= sizeof(res->reason))
		return;
	if (used) {
		memcpy(res->reason + used, "; ", 3);
		used += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->reason + used, sizeof(res->reason) - used, fmt, ap);
	va_end(ap);
}

int64_t mt_op_count(double ratio, int64_t n)
{
	if (n <= 0)
		return 0;
	int64_t k = (int64_t)llround(ratio * (double)n);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return k;
}

int mt_op_layer_ok(const mt_operator *op, const mt_view_layer *l)
{
	switch (op->targets) {
	case MT_OP_TARGET_NEURONS: return mt_view_kind_has_neurons(l->kind);
	case MT_OP_TARGET_RECURRENT: return mt_view_kind_is_recurrent(l->kind);
	case MT_OP_TARGET_GATED: return l->kind == MT_VIEW_LSTM || l->kind == MT_VIEW_GRU;
	case MT_OP_TARGET_ANY:
	default: return 1;
	}
}

int mt_op_default_layer(const mt_operator *op, const mt_view_layer *l)
{
	return mt_view_kind_has_neurons(l->kind) && mt_op_layer_ok(op, l);
}

/* "n" when the kind's name starts with a vowel ("an lstm layer"). */
static const char *an(mt_view_kind k)
{
	return strchr("aeiou", mt_view_kind_name(k)[0]) ? "n" : "";
}

static const char *target_words(mt_op_target t)
{
	switch (t) {
	case MT_OP_TARGET_NEURONS: return "a layer with neurons";
	case MT_OP_TARGET_RECURRENT: return "a recurrent layer (LSTM, GRU or RNN)";
	case MT_OP_TARGET_GATED: return "an LSTM or GRU layer";
	default: return "a layer with weights";
	}
}

/* "conv1, fc1, lstm": the layers of view that op takes. */
static void valid_layers(char *buf, size_t len, const mt_model_view *view, const mt_operator *op)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < view->nlayers; i++) {
		if (!mt_op_layer_ok(op, &view->layers[i]))
			continue;
		int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
				 view->layers[i].name);
		if (w < 0 || (size_t)w >= len - used) {
			if (len > 4)
				memcpy(buf + len - 4, "...", 4);
			return;
		}
		used += (size_t)w;
	}
	if (!used)
		snprintf(buf, len, "none in this model");
}

int mt_op_check_layer(const mt_model_view *view, const mt_op_args *args, const char *layer)
{
	const mt_operator *op = args->op;
	const mt_view_layer *l = mt_model_view_find(view, layer);
	char names[200];
	if (!l) {
		size_t used = 0;
		names[0] = '\0';
		for (size_t i = 0; i < view->nlayers; i++) {
			int w = snprintf(names + used, sizeof(names) - used, "%s%s",
					 i ? ", " : "", view->layers[i].name);
			if (w < 0 || (size_t)w >= sizeof(names) - used)
				break;
			used += (size_t)w;
		}
		return mt_error_set(MT_ENOTFOUND, "%s: layer '%s' not found, expected one of %s",
				    op->name, layer, names);
	}
	if (!mt_op_layer_ok(op, l)) {
		valid_layers(names, sizeof(names), view, op);
		if (op->targets == MT_OP_TARGET_NEURONS)
			return mt_error_set(MT_EINVALID,
					    "%s: layer '%s' is a%s %s layer, which has no neurons; expected %s: %s (or an element-wise operator: GF, WPR, QNT, BF, PRN)",
					    op->name, l->name, an(l->kind), mt_view_kind_name(l->kind),
					    target_words(op->targets), names);
		if (l->kind == MT_VIEW_RNN && op->targets == MT_OP_TARGET_GATED)
			return mt_error_set(MT_EINVALID,
					    "%s: layer '%s' is an rnn layer, which has no gates; expected %s: %s",
					    op->name, l->name, target_words(op->targets), names);
		return mt_error_set(MT_EINVALID, "%s: layer '%s' is a%s %s layer; expected %s: %s",
				    op->name, l->name, an(l->kind), mt_view_kind_name(l->kind),
				    target_words(op->targets), names);
	}
	return mt_rnn_check_params(args, l);
}

int mt_op_targets(size_t **out, size_t *count, const mt_model_view *view,
		  const mt_op_args *args)
{
	const char *opn = args->op->name;
	size_t *idx = calloc(view->nlayers ? view->nlayers : 1, sizeof(*idx));
	size_t n = 0;
	int rc;
	if (!idx)
		return mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
	if (args->nlayers == 0) {
		for (size_t i = 0; i < view->nlayers; i++)
			if (mt_op_default_layer(args->op, &view->layers[i]) &&
			    mt_rnn_check_params(args, &view->layers[i]) == 0)
				idx[n++] = i;
		mt_error_clear();
	} else {
		for (size_t j = 0; j < args->nlayers; j++)
			if ((rc = mt_op_check_layer(view, args, args->layers[j])) < 0) {
				free(idx);
				return rc;
			}
		for (size_t i = 0; i < view->nlayers; i++)
			for (size_t j = 0; j < args->nlayers; j++)
				if (strcmp(view->layers[i].name, args->layers[j]) == 0) {
					idx[n++] = i;
					break;
				}
	}
	if (n == 0) {
		free(idx);
		return mt_error_set(MT_EINVALID, "%s: the model has no %s to mutate", opn,
				    args->op->targets == MT_OP_TARGET_RECURRENT ? "LSTM, GRU or RNN layer" :
				    args->op->targets == MT_OP_TARGET_GATED ? "LSTM or GRU layer" :
				    "layer with neurons (linear, convolution, recurrent)");
	}
	*out = idx;
	*count = n;
	return 0;
}

/* ---- targets and draws shared by the weight operators -------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int mt_op_get_targets(mt_targets *t, const mt_model_view *view, const mt_op_args *args,
		       int neurons)
{
	int rc = mt_op_targets(&t->idx, &t->n, view, args);
	if (rc < 0)
		return rc;
	t->total = 0;
	for (size_t i = 0; i < t->n; i++) {
		const mt_view_layer *l = &view->layers[t->idx[i]];
		t->total += neurons ? mt_layer_units(l) : l->numel;
	}
	return 0;
}

/* Map global index g (weights or rows) to a layer and a local index. */
mt_view_layer *mt_op_locate(const mt_model_view *view, const mt_targets *t, int64_t g,
			     int neurons, int64_t *local)
{
	for (size_t i = 0; i < t->n; i++) {
		mt_view_layer *l = &view->layers[t->idx[i]];
		int64_t size = neurons ? mt_layer_units(l) : l->numel;
		if (g < size) {
			*local = g;
			return l;
		}
		g -= size;
	}
	return NULL;
}

/* Sample k of t->total, sorted ascending. */
int mt_op_sample_sorted(int64_t **out, mt_rng *rng, const char *opn, int64_t total, int64_t k)
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
int mt_op_draw_units(int64_t **chosen, int64_t *k, mt_rng *rng, const mt_targets *t,
			    const mt_op_args *args, const char *opn)
{
	*k = mt_op_count(args->ratio, t->total);
	mt_rng_seed(rng, args->seed);
	return mt_op_sample_sorted(chosen, rng, opn, t->total, *k);
}

int mt_operator_apply(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	memset(res, 0, sizeof(*res));
	if (!args->op)
		return mt_error_set(MT_EINVALID, "operator: arguments not initialised");
	if (args->op->kind != MT_OP_KIND_WEIGHTS || !args->op->apply)
		return mt_error_set(MT_EINVALID,
				    "%s: not a weight operator, expected GF, WS, NEB, NAI, NS, WPR, QNT, BF, PRN, RWGF, RWQ, RWPR, RGGF or RGPR (graph operators go through mt_graph_mutate, dynamic RNN operators through mt_rnn_op_prepare)",
				    args->op->name);
	int rc = args->op->apply(res, view, args);
	if (rc < 0)
		return rc;
	res->layers_changed = 0;
	for (size_t i = 0; i < view->nlayers; i++)
		if (view->layers[i].weight_changed || view->layers[i].bias_changed)
			res->layers_changed++;
	return 0;
}
