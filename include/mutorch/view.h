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
	MT_VIEW_OTHER,      /* a weight of no known kind (element-wise operators) */
	MT_VIEW_CONV1D,     /* weight out x in/groups x k */
	MT_VIEW_CONV3D,     /* weight out x in/groups x kd x kh x kw */
	MT_VIEW_CONVT1D,    /* ConvTranspose: weight in x out/groups x k... */
	MT_VIEW_CONVT2D,
	MT_VIEW_CONVT3D,
	MT_VIEW_EMBEDDING,  /* weight num_embeddings x dim, no bias */
	MT_VIEW_BATCHNORM,  /* weight and bias: one per channel */
	MT_VIEW_LAYERNORM,  /* weight and bias: normalized_shape */
	MT_VIEW_LSTM,       /* recurrent: several tensors, see mt_view_part */
	MT_VIEW_GRU,
	MT_VIEW_RNN,
	MT_VIEW__COUNT
} mt_view_kind;

#define MT_VIEW_MAX_NAME 256

/* What a tensor of a layer is. Recurrent layers hold, per stacked layer
 * `depth` and direction, PyTorch's weight_ih_l{depth}[_reverse] (IH),
 * weight_hh (HH), bias_ih, bias_hh and, for an LSTM with proj_size,
 * weight_hr (HR). */
typedef enum {
	MT_VIEW_PART_WEIGHT = 0,
	MT_VIEW_PART_BIAS,
	MT_VIEW_PART_IH,
	MT_VIEW_PART_HH,
	MT_VIEW_PART_BIAS_IH,
	MT_VIEW_PART_BIAS_HH,
	MT_VIEW_PART_HR
} mt_view_role;

/* One tensor of a layer: a slice of the layer's weight array (or, for
 * biases, of its bias array). */
typedef struct {
	char name[MT_VIEW_MAX_NAME]; /* "lstm.weight_hh_l0_reverse" */
	mt_view_role role;
	int is_bias;      /* lives in layer->bias, else in layer->weight */
	int64_t offset;   /* first element in that array */
	int64_t numel;
	int64_t rows;     /* shape[0] (a bias: numel) */
	int depth;        /* recurrent: l of "_l{l}"; else 0 */
	int direction;    /* recurrent: 1 for "_reverse"; else 0 */
} mt_view_part;

/* One parametric layer: copies of its tensors as float32. A plain layer
 * has one weight tensor (and maybe a bias); a recurrent layer concatenates
 * all its weight tensors into `weight` and all its biases into `bias`, in
 * PyTorch's order (per depth, per direction: ih, hh, hr), and `parts` says
 * where each one lies. */
typedef struct {
	char name[MT_VIEW_MAX_NAME];        /* parameter prefix: "conv1" */
	char weight_name[MT_VIEW_MAX_NAME]; /* "conv1.weight" (recurrent: the first weight part) */
	char bias_name[MT_VIEW_MAX_NAME];   /* "conv1.bias" or "" */
	mt_view_kind kind;
	int ndim;        /* of the weight tensor (recurrent: 1, the flat array) */
	int64_t shape[8];
	int64_t numel;   /* weight elements */
	float *weight;   /* numel floats, owned */
	float *bias;     /* nbias floats, owned; NULL when no bias */
	int64_t nbias;
	int64_t groups;  /* convolutions: groups (1 unless known) */
	/* recurrent layers (0 otherwise): gates per unit (LSTM 4, GRU 3, RNN
	 * 1), hidden units per direction, proj_size, stacked layers,
	 * directions (1 or 2) */
	int gates;
	int64_t hidden, proj;
	int depths, directions;
	mt_view_part *parts; /* every tensor of the layer, owned */
	size_t nparts;
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

/* What the shim knows about the submodule that owns a layer's tensors:
 * its TorchScript class name ("__torch__.torch.nn.modules.conv.Conv1d",
 * "__torch__.mutorch.conv2d_0" in built models) and, for convolutions, its
 * groups (0: unknown). */
typedef struct {
	const char *prefix;  /* "encoder.conv1" */
	const char *type;
	int64_t groups;
} mt_view_hint;

int mt_model_view_new(mt_model_view **out);
void mt_model_view_free(mt_model_view *view);
/* Append a layer; weight/bias are copied (NULL weight: zero-filled; bias
 * NULL with has_bias: zero-filled, has_bias 0: no bias). kind is derived
 * from ndim (2: linear, 3: conv1d, 4: conv2d, 5: conv3d, else other); the
 * bias has shape[0] elements. */
int mt_model_view_add(mt_model_view *view, const char *name, int ndim,
		      const int64_t *shape, const float *weight, int has_bias,
		      const float *bias);
/* Append a layer of a given kind whose bias has nbias elements (0: none);
 * arrays zero-filled. */
int mt_model_view_add_kind(mt_model_view *view, const char *name, mt_view_kind kind,
			   int ndim, const int64_t *shape, int64_t nbias, int64_t groups);
/* Group a module's tensors (from mt_module_tensors; shim.h only declares
 * mt_tensor_info, so this module stays torch-free) into layers, in
 * registration order; buffers are only used to recognise batch norm.
 * - recurrent: parameters "<prefix>.weight_ih_l0" ... (nn.LSTM, nn.GRU,
 *   nn.RNN, every depth and direction) become one layer; the kind comes
 *   from the gates (weight_hh rows / hidden size: 4, 3, 1);
 * - every other parameter "<prefix>.weight" becomes a layer, with
 *   "<prefix>.bias" as its bias when its size fits the kind.
 * The kind of a plain layer comes from its hint's class name when there is
 * one (Linear, Conv1d..3d, ConvTranspose1d..3d, Embedding, BatchNorm*,
 * LayerNorm; built models' linear_N, conv2d_N, batchnorm*_N), else from
 * the shapes (2-D: linear, 3-D: conv1d, 4-D: conv2d, 5-D: conv3d, 1-D with
 * a running_mean buffer: batchnorm, else other). Data is zero-filled: the
 * caller reads every part with mt_module_read_tensor(m, part->name,
 * (part->is_bias ? l->bias : l->weight) + part->offset, part->numel). */
int mt_model_view_from_tensors(mt_model_view **out, const mt_tensor_info *infos,
			       size_t count);
int mt_model_view_from_module(mt_model_view **out, const mt_tensor_info *infos,
			      size_t count, const mt_view_hint *hints, size_t nhints);
/* "linear", "conv_transpose2d", "lstm", ... */
const char *mt_view_kind_name(mt_view_kind kind);
/* Layers whose kind has neurons (output units): linear, convolutions,
 * transposed convolutions and recurrent layers. */
int mt_view_kind_has_neurons(mt_view_kind kind);
int mt_view_kind_is_recurrent(mt_view_kind kind);
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
