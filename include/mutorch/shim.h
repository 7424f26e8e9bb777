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
 *
 * This header: errors, threads, tensors and TorchScript modules. The rest
 * of the shim: mutorch/shim_train.h (training), mutorch/shim_graph.h
 * (structural operators on the forward graph), mutorch/shim_partial.h
 * (partial evaluation of weight mutants).
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
 * receives n * num_outputs floats (num_outputs written to *nout), so the
 * caller must know the width: mt_module_predict_classes checks it.
 *
 * Errors of the model itself give MT_EINVALID (the model or its input is
 * at fault, exit 3): its forward raised, returned something other than one
 * tensor, or a tensor that is not batch x width with the same width for
 * every batch. MT_ETORCH is kept for libtorch failures of mutorch's own
 * calls. */
int mt_module_predict(int64_t *labels, float *logits, int64_t *nout,
		      mt_module *m, const mt_tensor *inputs,
		      int64_t batch_size);
/* The same for a model that must have `classes` outputs per input (the
 * config's data.classes): any other width is MT_EINVALID before anything is
 * copied; logits, when not NULL, holds n * classes floats. */
int mt_module_predict_classes(int64_t *labels, float *logits, mt_module *m,
			      const mt_tensor *inputs, int64_t batch_size,
			      int64_t classes);

#ifdef __cplusplus
}
#endif
#endif
