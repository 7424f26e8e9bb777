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
 * (shim/graph.cpp edits, shim/graph_tree.cpp finds the sites)
 *
 * A site is one call in the forward, anywhere in the module tree, in
 * forward order (docs/operators.md, "Graph operators"):
 *  - a submodule call, named by its attribute path from the module whose
 *    forward makes it ("conv2", "layer1.0", "features.3.block.1"); a second
 *    call of the same submodule there is "conv2@2";
 *  - inside a submodule that has submodules of its own (a block, a
 *    Sequential), its forward's calls are sites too, named after the call
 *    that runs it: "layer1.0.relu@2" (the second call of layer1.0's relu),
 *    "block@2.conv1" (conv1 in the second call of block);
 *  - a TorchScript function call such as F.relu or an aten op with a
 *    tensor result, "relu@3" at the top level (the 3rd call of that name
 *    there, leading underscores dropped, F.max_pool2d is "max_pool2d@1";
 *    functions and ops of one name share the count), "layer1.0:add@1"
 *    inside a submodule's forward.
 * A module without submodules (Conv2d, ReLU, a built layer) is one site:
 * its own ops are not. Calls inside if/loop bodies are not sites. Shapes
 * are learnt by running an inlined copy of the forward on zeros of the
 * given input shape (eval mode, no grad), each call with its own shapes.
 * A site that cannot take an operator says why in reason[op]; mutating it
 * anyway is refused with that reason. */

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
	char name[MT_MAX_NAME];   /* "conv2", "relu@3", "layer1.0:relu@2" */
	/* the module the call runs ("layer1.0.relu"), or for a function or
	 * op the module whose forward holds it ("layer1.0"; "" the model) */
	char module[MT_MAX_NAME];
	/* the call whose forward makes this call: "layer1.0", "block@2"; ""
	 * for the model's own forward */
	char caller[MT_MAX_NAME];
	int depth;                /* 0: a call in the model's own forward */
	mt_site_kind kind;
	/* the submodule's type, the function's qualified name or the op */
	char target[MT_MAX_NAME];
	int is_activation;
	int in_ndim, out_ndim;
	int64_t in_shape[MT_MAX_DIMS], out_shape[MT_MAX_DIMS];
	int applicable[MT_GRAPH__COUNT];  /* indexed by mt_graph_op */
	char reason[MT_GRAPH__COUNT][256]; /* why not, when !applicable */
} mt_graph_site;

/* "LD", "LAm", "AFRm"; and back (error names the text). */
const char *mt_graph_op_name(mt_graph_op op);
int mt_graph_op_from_name(mt_graph_op *op, const char *name);

/* The sites of m's forward for an input of shape input_shape[0..ndim)
 * (with the batch dimension, e.g. {1, 1, 28, 28}). *out is malloc'd
 * (free()). m itself is not run or changed. */
int mt_graph_sites(mt_graph_site **out, size_t *count, const mt_module *m,
		   const int64_t *input_shape, int ndim);

/* A new module: m with op applied at `site`. Only that call changes: a
 * method graph that other calls run too (a module object called twice, a
 * type shared by several modules, which TorchScript gives one graph) is
 * first copied into a new method of its type, called only on the site's
 * path. The edited module is serialized and loaded again, so the result
 * is exactly what mt_module_save writes and PyTorch loads; m is not
 * changed. A site that cannot take op gives MT_EINVALID with the reason
 * and the sites of that module where op applies; an unknown site gives
 * MT_ENOTFOUND naming the sites nearest to it. */
int mt_graph_mutate(mt_module **out, const mt_module *m, mt_graph_op op,
		    const char *site, const int64_t *input_shape, int ndim);

/* Why op cannot be applied at `site` of sites[0..count), as a message
 * naming the site, its module and the sites where op applies (or, for a
 * name that is not a site, the sites nearest to it) into buf; returns
 * MT_EINVALID (not applicable), MT_ENOTFOUND (no such site) or 0 (op
 * applies: buf is ""). */
int mt_graph_site_explain(char *buf, size_t len, const mt_graph_site *sites, size_t count,
			  mt_graph_op op, const char *site);

#ifdef __cplusplus
}
#endif
#endif
