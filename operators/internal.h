/* Shared between the operator sources; not a public header. */
#ifndef MUTORCH_OPERATORS_INTERNAL_H
#define MUTORCH_OPERATORS_INTERNAL_H

#include "mutorch/operators.h"
#include "mutorch/rng.h"
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

/* Store v at w[i] (w is l->weight or l->bias); counts and marks a change
 * when the bits differ (so -0.0 and NaN payloads count). */
void mt_op_store(mt_op_result *res, mt_view_layer *l, float *w, int64_t i, float v,
		 int is_bias);

/* The static RNN operators (rnn_static.c). */
int mt_op_apply_rwgf(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_rwq(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_rwpr(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_rggf(mt_op_result *res, mt_model_view *view, const mt_op_args *args);
int mt_op_apply_rgpr(mt_op_result *res, mt_model_view *view, const mt_op_args *args);

/* Check the parameters of an RNN operator that depend on recurrent layer
 * l (gate, state, depth, direction, step given, SR's from): 0 or
 * MT_EINVALID naming the layer and what would be valid. 0 for other
 * operators and layers (rnn_dynamic.c). */
int mt_rnn_check_params(const mt_op_args *args, const mt_view_layer *l);
/* The bit mask of args->gate on l (bit g: gate g in PyTorch's order);
 * 0 with an error when l lacks that gate. */
unsigned mt_rnn_gate_mask(const mt_op_args *args, const mt_view_layer *l);

/* What a weight operator can target (its registry row's `targets`). */
int mt_op_layer_ok(const mt_operator *op, const mt_view_layer *l);

/* The target layers of args in view order: indices into view->layers.
 * With no layer named, every layer the operator takes whose kind has
 * neurons (normalisation and embedding layers only when named); a named
 * layer the operator cannot take is an error naming the layer, its kind
 * and the valid layers. *out is malloc'd. */
int mt_op_targets(size_t **out, size_t *count, const mt_model_view *view,
		  const mt_op_args *args);

/* max(1, round(ratio * n)) capped at n (0 when n == 0). */
int64_t mt_op_count(double ratio, int64_t n);

/* The target layers of args and the total of their weights (neurons 0) or
 * neurons (1). */
typedef struct {
	size_t *idx;
	size_t n;
	int64_t total;
} mt_targets;

int mt_op_get_targets(mt_targets *t, const mt_model_view *view, const mt_op_args *args,
		      int neurons);
/* Map global index g (weights or neurons) to a layer and a local index. */
mt_view_layer *mt_op_locate(const mt_model_view *view, const mt_targets *t, int64_t g,
			    int neurons, int64_t *local);
/* Sample k of total (partial Fisher-Yates), sorted ascending. */
int mt_op_sample_sorted(int64_t **out, mt_rng *rng, const char *opn, int64_t total, int64_t k);
/* The units a ratio operator changes: k = mt_op_count(args->ratio, total)
 * of t's weights or neurons, drawn with an rng seeded from args->seed and
 * sorted; the operator's own draws continue from the same rng. */
int mt_op_draw_units(int64_t **chosen, int64_t *k, mt_rng *rng, const mt_targets *t,
		     const mt_op_args *args, const char *opn);

/* ---- layers (view.c, view_kinds.c) -------------------------------------- */

int mt_model_view_add_recurrent(mt_model_view *view, const char *name, mt_view_kind kind,
				int gates, int64_t hidden, int64_t proj, int depths,
				int directions, const mt_view_part *parts, size_t nparts);
int mt_view_kind_is_conv(mt_view_kind kind);
int mt_view_kind_is_convt(mt_view_kind kind);
/* The part of a recurrent layer with this role, depth and direction. */
const mt_view_part *mt_view_part_find(const mt_view_layer *l, mt_view_role role,
				      int depth, int direction);

/* ---- neurons (neurons.c) ------------------------------------------------ */

/* A neuron's incoming weights as runs of the layer's weight array (WS
 * shuffles the runs of one group as one vector: a row; for a recurrent
 * unit each gate is a group, its weight_ih row then its weight_hh row) and
 * its bias elements (indices into the layer's bias array). */
typedef struct {
	int64_t offset, len;
	int group;
} mt_run;

typedef struct {
	mt_run *runs;
	size_t nruns, cap;
	int64_t *bias;
	size_t nbias, bcap;
} mt_neuron;

/* Neurons of the layer: output units of linear layers and (transposed)
 * convolutions, hidden units of every depth and direction of a recurrent
 * layer ((depth * directions + direction) * hidden + unit); 0 for kinds
 * without neurons. */
int64_t mt_layer_units(const mt_view_layer *l);
/* Fill n with neuron j of l (buffers reused between calls). */
int mt_neuron_of(mt_neuron *n, const mt_view_layer *l, int64_t j);
void mt_neuron_dispose(mt_neuron *n);
/* The per-channel groups QNT granularity=channel quantizes separately:
 * runs grouped by `group` (contiguous rows along dim 0; a transposed
 * convolution's output channel; each row of each recurrent weight). */
int mt_layer_channels(mt_neuron *n, const mt_view_layer *l);
/* The features a layer feeds the next one: units, or for a recurrent layer
 * directions * (proj or hidden) of its last depth. */
int64_t mt_layer_features(const mt_view_layer *l);

void mt_op_note(mt_op_result *res, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* The "seed" parameter of any operator: an unsigned 64-bit integer
 * (decimal, 0x hex or 0 octal); the error names the operator. */
int mt_op_parse_seed(uint64_t *out, const char *opname, const char *value);

#endif
