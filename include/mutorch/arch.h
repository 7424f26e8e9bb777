/*
 * mutorch/arch.h - the architecture description language of the config.
 *
 * A model is a sequence of layers separated by whitespace (or newlines),
 * applied in order:
 *
 *   conv2d(1,6,5,padding=2) relu maxpool2d(2) conv2d(6,16,5) relu
 *   maxpool2d(2) flatten linear(400,120) relu linear(120,84) relu
 *   linear(84,10)
 *
 * Layers and their arguments (positional first, then name=value; defaults
 * are PyTorch's):
 *   linear(in, out, bias=true)
 *   conv2d(in, out, kernel, stride=1, padding=0, dilation=1, groups=1, bias=true)
 *   maxpool2d(kernel, stride=kernel, padding=0)
 *   avgpool2d(kernel, stride=kernel, padding=0)
 *   flatten
 *   dropout(p=0.5)
 *   batchnorm1d(features, eps=1e-5, momentum=0.1)
 *   batchnorm2d(features, eps=1e-5, momentum=0.1)
 *   relu  leaky_relu(negative_slope=0.01)  elu(alpha=1.0)  gelu  tanh
 *   sigmoid  softmax(dim=1)
 * kernel, stride, padding and dilation are one integer, used for both
 * spatial dimensions (square kernels, as in the models mutorch targets).
 */
#ifndef MUTORCH_ARCH_H
#define MUTORCH_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/recipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse a description. Errors name the layer (by position and text) and the
 * argument at fault, e.g. "layer 3 'conv2d(6,16)': missing argument kernel".
 * Positions count from 0, like the shim's module names ("linear_7"). */
int mt_arch_parse(mt_arch **out, const char *text);

/* Write the canonical description back (all arguments explicit, one space
 * between layers): equal architectures give equal strings, so the string can
 * be hashed for cache keys. Returns a malloc'd string. */
int mt_arch_format(char **out, const mt_arch *arch);

/* Check that the layers chain for an input of shape {c, h, w} and compute
 * the output shape of every layer (out_shapes[i] = {c, h, w} after layer i,
 * with flattened results as {1, 1, d}); out_shapes may be NULL. The error
 * names the first layer whose input does not fit. */
int mt_arch_check(const mt_arch *arch, const int64_t input_shape[3],
		  int64_t (*out_shapes)[3]);

int mt_arch_copy(mt_arch **out, const mt_arch *src);
void mt_arch_free(mt_arch *arch);

#ifdef __cplusplus
}
#endif
#endif
