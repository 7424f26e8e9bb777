/* Shared between the operator sources; not a public header. */
#ifndef MUTORCH_OPERATORS_INTERNAL_H
#define MUTORCH_OPERATORS_INTERNAL_H

#include "mutorch/operators.h"
#include "mutorch/view.h"

#include <stdint.h>

int mt_op_apply_gf(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_ws(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_neb(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_nai(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_ns(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_wpr(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_qnt(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_bf(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_prn(mt_op_result *res, mt_model_view *view, const mt_op_args *args);

/* The target layers of args in view order: indices into view->layers.
 * neurons: only linear / conv2d layers are allowed (a named other layer is
 * an error); otherwise a named layer of any kind is allowed. "all" means
 * every linear and conv2d layer. *out is malloc'd. */
int mt_op_targets(size_t **out, size_t *count, const mt_model_view *view,
		  const mt_op_args *args, int neurons);

/* max(1, round(ratio * n)) capped at n (0 when n == 0). */
int64_t mt_op_count(double ratio, int64_t n);

/* Number of neurons (output units) and the length of each one's incoming
 * weight row. */
static inline int64_t mt_layer_rows(const mt_view_layer *l) { return l->shape[0]; }
static inline int64_t mt_layer_row_len(const mt_view_layer *l) { return l->numel / l->shape[0]; }

void mt_op_note(mt_op_result *res, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* The "seed" parameter of any operator: an unsigned 64-bit integer
 * (decimal, 0x hex or 0 octal); the error names the operator. */
int mt_op_parse_seed(uint64_t *out, const char *opname, const char *value);

#endif
