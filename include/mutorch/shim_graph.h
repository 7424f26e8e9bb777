/*
 * mutorch/shim_graph.h - the structural model-level operators (LD, LAm,
 * AFRm), applied by the shim to a TorchScript module's forward graph.
 *
 * Part of the C API over libtorch (mutorch/shim.h: errors, threads,
 * tensors, modules); the same rules hold: negative codes and
 * mt_shim_last_error() on failure. The operators' registry rows are in
 * mutorch/operators.h (kind MT_OP_KIND_GRAPH).
 */
#ifndef MUTORCH_SHIM_GRAPH_H
#define MUTORCH_SHIM_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== graph: structural mutation operators (LD, LAm, AFRm) ============ *
 * (owned by the operators engineer; shim/graph.cpp)
 *
 * A site is one call in the top level of the module's forward, in forward
 * order: a submodule call (named by its attribute, "conv2"; a second call
 * of the same submodule is "conv2@2"), a TorchScript function call such as
 * F.relu ("relu@3": the 3rd call of that name, leading underscores dropped,
 * so F.max_pool2d is "max_pool2d@1") or an aten op with a tensor result
 * ("flatten@1"; functions and ops of one name share the count). Shapes are
 * learnt by running a clone of the module (eval mode, no grad) on zeros of
 * the given input shape. A site that cannot take an operator says why in
 * reason[op]; mutating it anyway is refused with that reason. */

typedef enum {
	MT_GRAPH_LD = 0, /* remove a call whose input and output shapes match */
	MT_GRAPH_LAM,    /* repeat a shape-preserving call right after itself */
	MT_GRAPH_AFRM,   /* an activation call becomes the identity */
	MT_GRAPH__COUNT
} mt_graph_op;

typedef enum {
	MT_SITE_MODULE = 0, /* prim::CallMethod forward on a submodule */
	MT_SITE_FUNCTION,   /* prim::CallFunction (F.relu, ...) */
	MT_SITE_OP          /* an aten op (torch.relu, torch.flatten, ...) */
} mt_site_kind;

typedef struct {
	char name[MT_MAX_NAME];   /* "conv2", "relu@3" */
	mt_site_kind kind;
	/* the submodule's type, the function's qualified name or the op */
	char target[MT_MAX_NAME];
	int is_activation;
	int in_ndim, out_ndim;
	int64_t in_shape[MT_MAX_DIMS], out_shape[MT_MAX_DIMS];
	int applicable[MT_GRAPH__COUNT];  /* indexed by mt_graph_op */
	char reason[MT_GRAPH__COUNT][160]; /* why not, when !applicable */
} mt_graph_site;

/* "LD", "LAm", "AFRm"; and back (error names the text). */
const char *mt_graph_op_name(mt_graph_op op);
int mt_graph_op_from_name(mt_graph_op *op, const char *name);

/* The sites of m's forward for an input of shape input_shape[0..ndim)
 * (with the batch dimension, e.g. {1, 1, 28, 28}). *out is malloc'd
 * (free()). m itself is not run or changed. */
int mt_graph_sites(mt_graph_site **out, size_t *count, const mt_module *m,
		   const int64_t *input_shape, int ndim);

/* A new module: m with op applied at `site`. The edited graph is
 * serialized and loaded again, so the result is exactly what
 * mt_module_save writes and PyTorch loads; m is not changed. A site that
 * cannot take op gives MT_EINVALID with the reason; an unknown site gives
 * MT_ENOTFOUND naming the sites. */
int mt_graph_mutate(mt_module **out, const mt_module *m, mt_graph_op op,
		    const char *site, const int64_t *input_shape, int ndim);

#ifdef __cplusplus
}
#endif
#endif
