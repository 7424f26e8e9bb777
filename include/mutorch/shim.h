/*
 * mutorch/shim.h - the C API over libtorch.
 *
 * shim/ is the only C++ in mutorch and the only code that includes torch
 * headers. Every function catches every C++ exception at the boundary and
 * turns it into a negative return code and a short message (no C++
 * backtrace) that mt_shim_last_error() returns for the calling thread; the
 * same message is also set as mutorch's last error (mt_error_last()).
 *
 * Handles are opaque; *_free(NULL) is a no-op.
 *
 * Threading and determinism: call mt_shim_init() once per process before
 * anything else. Results are bit-identical for the same seed and the same
 * thread count.
 */
#ifndef MUTORCH_SHIM_H
#define MUTORCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/recipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_module mt_module;
typedef struct mt_tensor mt_tensor;
typedef struct mt_optimizer mt_optimizer;

typedef enum {
	MT_DTYPE_FLOAT32 = 0,
	MT_DTYPE_FLOAT64,
	MT_DTYPE_FLOAT16,
	MT_DTYPE_BFLOAT16,
	MT_DTYPE_INT64,
	MT_DTYPE_INT32,
	MT_DTYPE_UINT8,
	MT_DTYPE_BOOL,
	MT_DTYPE_OTHER
} mt_dtype;

#define MT_MAX_DIMS 8
#define MT_MAX_NAME 256

const char *mt_shim_last_error(void);

/* Intra-op (and inter-op) thread count, global seed, deterministic
 * algorithms on/off. threads <= 0 means 1. The thread count also goes to
 * OpenBLAS when that is the BLAS (ATen does not tell it, and it would use
 * every core and give machine-dependent results). The inter-op count can
 * be set once per process; later calls keep the first. */
int mt_shim_init(int threads, uint64_t seed, int deterministic);
int mt_shim_manual_seed(uint64_t seed);
int mt_shim_threads(void);
/* "1.13.1" */
const char *mt_shim_torch_version(void);

/* ---- tensors ---------------------------------------------------------- */

/* Copy data into a new CPU tensor. */
int mt_tensor_from_data(mt_tensor **out, const void *data, mt_dtype dtype,
			const int64_t *shape, int ndim);
void mt_tensor_free(mt_tensor *t);
int mt_tensor_ndim(const mt_tensor *t);
int64_t mt_tensor_dim(const mt_tensor *t, int i);
int64_t mt_tensor_numel(const mt_tensor *t);
mt_dtype mt_tensor_dtype(const mt_tensor *t);
/* Copy the tensor's contents (converted to dtype) into dst, which holds
 * numel elements. */
int mt_tensor_copy_out(const mt_tensor *t, void *dst, mt_dtype dtype,
		       int64_t numel);

/* The model input for a dataset's pixels: float32 tensor n x c x h x w made
 * as ((x / scale) - mean[c]) / std[c] with torch ops (the same ops, in the
 * same order, as `x.float().div(scale).sub(mean).div(std)` in PyTorch, so
 * inputs are bit-identical to a PyTorch pipeline). nnorm 0: x / scale only;
 * nnorm 1: one mean/std for all channels (Python float scalars);
 * nnorm == c: per channel, as float32 tensors of shape 1 x c x 1 x 1 (like
 * torchvision's Normalize). pixels_f32: 0 uint8, 1 float32. */
int mt_tensor_from_pixels(mt_tensor **out, const void *pixels, int pixels_f32,
			  int64_t n, const int64_t shape[3], double scale,
			  const double *mean, const double *std, int nnorm);

/* A dict {"x": tensor, "y": tensor} saved by torch.save (as a plain dict;
 * libtorch's unpickler cannot read an OrderedDict or a one-item dict).
 * x stays uint8 when it is uint8 and becomes float32 otherwise.
 * x becomes n x c x h x w (2-D: n x 1 x 1 x d; 3-D: n x 1 x h x w); y is
 * converted to int64. Errors name the path and the missing/ill-shaped key. */
int mt_shim_load_tensor_dict(mt_tensor **x, mt_tensor **y, const char *path);
int mt_shim_load_tensor_dict_buffer(mt_tensor **x, mt_tensor **y,
				    const void *buf, size_t len,
				    const char *name);

/* ---- modules ---------------------------------------------------------- */

/* A TorchScript module saved by torch.jit.save. */
int mt_module_load(mt_module **out, const char *path);
int mt_module_load_buffer(mt_module **out, const void *buf, size_t len,
			  const char *name);
/* Build a TorchScript module from an architecture (recipe.h): one
 * submodule per layer named "<kind>_<index>" ("conv2d_0", "relu_1"), with
 * PyTorch's parameter names ("conv2d_0.weight"), initialised by `init`
 * from `seed`. The result trains, evaluates and saves like a loaded one. */
int mt_module_build(mt_module **out, const mt_arch *arch, mt_init_kind init,
		    uint64_t seed);
int mt_module_save(const mt_module *m, const char *path);
/* Serialize to memory; *buf is malloc'd, free() it. */
int mt_module_save_buffer(const mt_module *m, void **buf, size_t *len);
/* A deep copy whose parameters are leaves that an optimizer accepts. */
int mt_module_clone(mt_module **out, const mt_module *src);
void mt_module_free(mt_module *m);
/* 1: training mode, 0: eval mode (BatchNorm, dropout). Loaded modules
 * start in training mode. */
int mt_module_set_training(mt_module *m, int training);

typedef struct {
	char name[MT_MAX_NAME]; /* "conv1.weight" */
	int is_buffer;          /* 0 parameter, 1 buffer */
	mt_dtype dtype;
	int ndim;
	int64_t shape[MT_MAX_DIMS];
	int64_t numel;
} mt_tensor_info;

/* Parameters then buffers, in the module's registration order. *out is
 * malloc'd (free()). */
int mt_module_tensors(mt_tensor_info **out, size_t *count, const mt_module *m);
/* Read/write a parameter or buffer by name as float32 (numel elements).
 * Writes run under NoGradGuard and keep the tensor's dtype. */
int mt_module_read_tensor(const mt_module *m, const char *name, float *dst,
			  int64_t numel);
int mt_module_write_tensor(mt_module *m, const char *name, const float *src,
			   int64_t numel);

/* Forward pass (no grad). */
int mt_module_forward(mt_tensor **out, mt_module *m, const mt_tensor *input);

/* Predictions (argmax over dim 1) for inputs[0..n) in batches, no grad,
 * module put in eval mode. labels holds n int64; logits, when not NULL,
 * receives n * num_outputs floats (num_outputs written to *nout). */
int mt_module_predict(int64_t *labels, float *logits, int64_t *nout,
		      mt_module *m, const mt_tensor *inputs,
		      int64_t batch_size);

/* ---- training ---------------------------------------------------------- */

int mt_optimizer_new(mt_optimizer **out, mt_module *m,
		     const mt_optim_config *cfg);
void mt_optimizer_free(mt_optimizer *opt);

typedef struct {
	mt_loss_kind loss;
	int64_t batch_size;
	double grad_clip; /* max total gradient norm; 0 = off */
	double l1, l2;    /* weight penalties added to the loss; 0 = off */
	int num_classes;  /* for MSE one-hot targets */
	/* Called after every batch when not NULL; return non-zero to stop:
	 * mt_train_epoch then returns that value when it is negative (an
	 * MT_E* code the callback set with mt_error_set), else 0, with
	 * stats->samples < n. */
	int (*progress)(void *ctx, int64_t done, int64_t total, double loss);
	void *progress_ctx;
} mt_train_options;

typedef struct {
	double mean_loss; /* sample-weighted mean of the batch losses */
	int64_t samples;
	int64_t batches;
	double seconds;
	int diverged; /* a loss was NaN or infinite; training stopped */
} mt_epoch_stats;

/* One optimisation step on one batch; *loss receives the batch loss. */
int mt_train_step(double *loss, mt_module *m, mt_optimizer *opt,
		  const mt_tensor *x, const mt_tensor *y,
		  const mt_train_options *o);

/* One epoch over samples order[0..n) of x/y (a permutation, or any index
 * list: data mutations use repeats and deletions), in batches of
 * o->batch_size, the module in training mode. A NaN/inf loss stops the
 * epoch with stats->diverged = 1 and returns MT_EDIVERGED. */
int mt_train_epoch(mt_epoch_stats *stats, mt_module *m, mt_optimizer *opt,
		   const mt_tensor *x, const mt_tensor *y,
		   const int64_t *order, int64_t n, const mt_train_options *o);

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

/* ---- partial evaluation ------------------------------------------------- */

/* A weight mutant changes a few parameters; everything its forward computes
 * before the first node that reads one of them equals the original model's.
 * mt_partial splits the inlined forward (submodule calls inlined, top-level
 * prim::If/Loop nodes atomic) at that node: the prefix runs once per test
 * set and its live values are cached; each mutant runs only the suffix,
 * which reads the module's current parameters (write mutated weights with
 * mt_module_write_tensor between calls). With the same batch size as
 * mt_module_predict the logits are bit-identical to a full forward.
 *
 * The forward must take one tensor (forward(self, x)). When a value live at
 * the cut is not a tensor (an int read from a size, a list), the cut moves
 * earlier until every live value is a tensor; constants, attribute reads and
 * lists of them are recomputed by the suffix instead of cached.
 *
 * An mt_partial holds m by pointer: m must outlive it. Not thread-safe. */
typedef struct mt_partial mt_partial;

/* A cut before the first node that reads any of the named parameters or
 * buffers ("conv2.weight"); nparams 0 cuts at the start (full forward). An
 * unknown name gives MT_ENOTFOUND; a forward that does not take exactly one
 * input gives MT_EINVALID. */
int mt_partial_new(mt_partial **out, mt_module *m,
		   const char *const *param_names, size_t nparams);
void mt_partial_free(mt_partial *p);

/* Run the prefix over inputs (n x ...) in batches of batch_size (<= 0: one
 * batch), no grad, module in eval mode, and keep the live values at the
 * cut; the suffix then runs once on the first batch to learn the output
 * width. A live value that is not a tensor with the batch as dim 0 gives
 * MT_EINVALID (callers fall back to mt_module_predict). When the cache
 * (bytes of the distinct storages it keeps alive) would exceed
 * memory_budget_bytes (0: no limit) it gives MT_ENOMEM and holds nothing.
 * Calling it again replaces the cache. */
int mt_partial_cache(mt_partial *p, const mt_tensor *inputs,
		     int64_t batch_size, size_t memory_budget_bytes);
size_t mt_partial_cache_bytes(const mt_partial *p);
/* Fill p's cache from an earlier cut's filled cache of the same module (its
 * cut at or before p's): only the nodes between the two cuts run, so a
 * series of cuts costs one forward pass in all. The values are the ones
 * mt_partial_cache computes (the same ops on the same batches). inputs (may
 * be NULL) serves one sample for the work estimate. */
int mt_partial_cache_from(mt_partial *p, const mt_partial *earlier,
			  const mt_tensor *inputs, size_t memory_budget_bytes);
/* The top-level node index of the cut (orders cuts of one module). */
size_t mt_partial_cut_index(const mt_partial *p);
/* Number of cached inputs, output width (classes), values live at the cut;
 * 0 before mt_partial_cache. */
int64_t mt_partial_count(const mt_partial *p);
int64_t mt_partial_num_outputs(const mt_partial *p);
size_t mt_partial_live_count(const mt_partial *p);

/* Predictions (argmax over dim 1) for all cached inputs, running only the
 * suffix on the module's current parameters. labels holds
 * mt_partial_count(p) int64; logits, when not NULL, count * num_outputs
 * floats. batch_size must be 0 or the cache's (the suffix runs on the
 * cached batches). */
int mt_partial_predict(int64_t *labels, float *logits, const mt_partial *p,
		       int64_t batch_size);

/* The share of the forward's work that the suffix runs, for reports. After
 * mt_partial_cache each top-level node is weighted by its multiply-adds
 * (conv, linear, matmul) or output elements (other tensor ops), measured
 * on one cached sample; before, compute nodes (not constants, attribute
 * reads or lists) count 1 each. 1.0 for a cut at the start. */
double mt_partial_suffix_fraction(const mt_partial *p);

/* The parameter and buffer names of m in the order the inlined forward
 * first reads them (names it never reads are left out), so that layers can
 * be ordered by forward order. Free with mt_module_param_use_order_free. */
int mt_module_param_use_order(char ***names, size_t *count, mt_module *m);
void mt_module_param_use_order_free(char **names, size_t count);

#ifdef __cplusplus
}
#endif
#endif
