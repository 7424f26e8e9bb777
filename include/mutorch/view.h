/*
 * mutorch/view.h - the model view: a model's weight layers as float32
 * copies, in forward order (pure C, no torch).
 *
 * The weight operators (mutorch/operators.h) mutate a view in place and
 * mark what they changed; the runner reads the layers from a module and
 * writes the marked ones back (mt_module_read_tensor /
 * mt_module_write_tensor, mutorch/shim.h). A view owns its arrays.
 */
#ifndef MUTORCH_VIEW_H
#define MUTORCH_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	MT_VIEW_LINEAR = 0, /* weight out x in */
	MT_VIEW_CONV2D,     /* weight out x in/groups x kh x kw */
	MT_VIEW_OTHER       /* anything else with a weight (batchnorm, ...) */
} mt_view_kind;

#define MT_VIEW_MAX_NAME 256

/* One parametric layer: copies of its weight (and bias) as float32. */
typedef struct {
	char name[MT_VIEW_MAX_NAME];        /* parameter prefix: "conv1" */
	char weight_name[MT_VIEW_MAX_NAME]; /* "conv1.weight" */
	char bias_name[MT_VIEW_MAX_NAME];   /* "conv1.bias" or "" */
	mt_view_kind kind;
	int ndim;
	int64_t shape[8];
	int64_t numel;   /* weight elements */
	float *weight;   /* numel floats, owned */
	float *bias;     /* shape[0] floats, owned; NULL when no bias */
	int64_t nbias;
	/* set by mt_operator_apply: which tensors it changed */
	int weight_changed;
	int bias_changed;
} mt_view_layer;

/* The layers in forward order (for models whose parameters are registered
 * in forward order, as in nn.Sequential and the usual __init__). */
typedef struct {
	mt_view_layer *layers;
	size_t nlayers;
} mt_model_view;

int mt_model_view_new(mt_model_view **out);
void mt_model_view_free(mt_model_view *view);
/* Append a layer; weight/bias are copied (NULL weight: zero-filled; bias
 * NULL with has_bias: zero-filled, has_bias 0: no bias). kind is derived
 * from ndim (2: linear, 4: conv2d, else other). */
int mt_model_view_add(mt_model_view *view, const char *name, int ndim,
		      const int64_t *shape, const float *weight, int has_bias,
		      const float *bias);
/* Group a module's tensors (from mt_module_tensors; shim.h only declares
 * mt_tensor_info, so this module stays torch-free) into layers: every
 * parameter named "<prefix>.weight" becomes a layer, with the parameter
 * "<prefix>.bias" as its bias when present, in registration order; buffers
 * are ignored. Data is zero-filled: the caller then reads it with
 * mt_module_read_tensor(m, l->weight_name, l->weight, l->numel) and
 * (when l->bias) mt_module_read_tensor(m, l->bias_name, l->bias, l->nbias). */
int mt_model_view_from_tensors(mt_model_view **out, const mt_tensor_info *infos,
			       size_t count);
int mt_model_view_copy(mt_model_view **out, const mt_model_view *src);
/* Copy back from `original` the tensors that `view` marks as changed,
 * keeping the marks (so the caller writes exactly those tensors back to the
 * module, then calls mt_model_view_clear_changed). Both views must have the
 * same layout. */
int mt_model_view_restore(mt_model_view *view, const mt_model_view *original);
/* The layer of that name, or NULL. */
mt_view_layer *mt_model_view_find(const mt_model_view *view, const char *name);
void mt_model_view_clear_changed(mt_model_view *view);

#ifdef __cplusplus
}
#endif
#endif
