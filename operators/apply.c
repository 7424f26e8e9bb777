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
#include "mutorch/operators.h"
#include "internal.h"
#include "mutorch/view.h"

/* ---- apply -------------------------------------------------------------- */

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

static const char *kind_name(mt_view_kind k)
{
	return k == MT_VIEW_LINEAR ? "linear" : k == MT_VIEW_CONV2D ? "conv2d" : "other";
}

int mt_op_targets(size_t **out, size_t *count, const mt_model_view *view,
		  const mt_op_args *args, int neurons)
{
	const char *opn = args->op->name;
	size_t *idx = calloc(view->nlayers ? view->nlayers : 1, sizeof(*idx));
	size_t n = 0;
	if (!idx)
		return mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
	if (args->nlayers == 0) {
		for (size_t i = 0; i < view->nlayers; i++)
			if (view->layers[i].kind != MT_VIEW_OTHER)
				idx[n++] = i;
	} else {
		for (size_t i = 0; i < view->nlayers; i++) {
			int wanted = 0;
			for (size_t j = 0; j < args->nlayers; j++)
				if (strcmp(view->layers[i].name, args->layers[j]) == 0)
					wanted = 1;
			if (!wanted)
				continue;
			if (neurons && view->layers[i].kind == MT_VIEW_OTHER) {
				free(idx);
				return mt_error_set(MT_EINVALID,
						    "%s: layer '%s' is an %s layer (%d dimensions), expected a linear or conv2d layer",
						    opn, view->layers[i].name,
						    kind_name(view->layers[i].kind), view->layers[i].ndim);
			}
			idx[n++] = i;
		}
		for (size_t j = 0; j < args->nlayers; j++) {
			if (mt_model_view_find(view, args->layers[j]))
				continue;
			char names[200] = "";
			size_t used = 0;
			for (size_t i = 0; i < view->nlayers; i++) {
				int w = snprintf(names + used, sizeof(names) - used, "%s%s",
						 i ? ", " : "", view->layers[i].name);
				if (w < 0 || (size_t)w >= sizeof(names) - used)
					break;
				used += (size_t)w;
			}
			free(idx);
			return mt_error_set(MT_ENOTFOUND, "%s: layer '%s' not found, expected one of %s",
					    opn, args->layers[j], names);
		}
	}
	if (n == 0) {
		free(idx);
		return mt_error_set(MT_EINVALID, "%s: the model has no linear or conv2d layer to mutate",
				    opn);
	}
	*out = idx;
	*count = n;
	return 0;
}

int mt_operator_apply(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	memset(res, 0, sizeof(*res));
	if (!args->op)
		return mt_error_set(MT_EINVALID, "operator: arguments not initialised");
	if (args->op->kind != MT_OP_KIND_WEIGHTS || !args->op->apply)
		return mt_error_set(MT_EINVALID,
				    "%s: not a weight operator, expected GF, WS, NEB, NAI, NS, WPR, QNT, BF or PRN (graph operators go through mt_graph_mutate)",
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
