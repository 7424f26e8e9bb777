/* The shape check of the architecture language (mt_arch_check, see
 * include/mutorch/arch.h): follows an input's shape {c, h, w} through the
 * layers as PyTorch computes it and names the first layer that does not
 * fit. Kept apart from the parser (arch.c): it reads parsed layers only,
 * through the table's checks and short format (arch_layers.h). */
#include "mutorch/arch.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arch_layers.h"
#include "mutorch/error.h"
#include "mutorch/recipe.h"
#include "mutorch/strbuf.h"

/* ---- shape check --------------------------------------------------------- */

/* The layer as a person would write it, for messages. */
static void short_text(char *buf, size_t size, const mt_layer *l)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	arch_format_layer(&sb, l, 0);
	snprintf(buf, size, "%s", sb.buf && !sb.failed ? sb.buf : "?");
	mt_strbuf_dispose(&sb);
}

static int shape_error(size_t index, const mt_layer *l, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

static int shape_error(size_t index, const mt_layer *l, const char *fmt, ...)
{
	char what[1024], text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	short_text(text, sizeof(text), l);
	return mt_error_set(MT_EINVALID, "layer %zu '%s': %s", index, text, what);
}

/* PyTorch's floor-mode output size; 0 or less means the input is too small. */
static int64_t window_out(int64_t size, const mt_layer *l)
{
	int64_t num = size + 2 * l->padding - l->dilation * (l->kernel - 1) - 1;
	if (num < 0)
		return 0;
	return num / l->stride + 1;
}

int mt_arch_check(const mt_arch *arch, const int64_t input_shape[3],
		  int64_t (*out_shapes)[3])
{
	int64_t c = input_shape[0], h = input_shape[1], w = input_shape[2];
	int flat = 0; /* after flatten the tensor is {N, d}, shown as {1,1,d} */
	size_t i;
	char msg[512];

	if (!arch || arch->nlayers == 0)
		return mt_error_set(MT_EINVALID, "architecture: no layers");
	if (c < 1 || h < 1 || w < 1 || c > ARG_INT_MAX || h > ARG_INT_MAX ||
	    w > ARG_INT_MAX)
		return mt_error_set(MT_EINVALID,
				    "input shape {%lld,%lld,%lld}: expected three positive sizes {c,h,w}",
				    (long long)c, (long long)h, (long long)w);

	for (i = 0; i < arch->nlayers; i++) {
		const mt_layer *l = &arch->layers[i];
		size_t pos = i; /* 0-based, like the module names */

		if (arch_validate_layer(l, msg, sizeof(msg)) < 0)
			return shape_error(pos, l, "%s", msg);

		switch (l->kind) {
		case MT_LAYER_CONV2D:
		case MT_LAYER_MAXPOOL2D:
		case MT_LAYER_AVGPOOL2D:
		case MT_LAYER_BATCHNORM2D: {
			int64_t oh, ow;
			if (flat)
				return shape_error(pos, l,
						   "input is flattened ({1,1,%lld}), expected an image {c,h,w}",
						   (long long)w);
			if (l->kind == MT_LAYER_BATCHNORM2D) {
				if (c != l->in)
					return shape_error(pos, l,
							   "input has %lld channels, expected %lld (input shape {%lld,%lld,%lld})",
							   (long long)c, (long long)l->in,
							   (long long)c, (long long)h, (long long)w);
				break;
			}
			if (l->kind == MT_LAYER_CONV2D && c != l->in)
				return shape_error(pos, l,
						   "input has %lld channels, expected %lld (input shape {%lld,%lld,%lld})",
						   (long long)c, (long long)l->in,
						   (long long)c, (long long)h, (long long)w);
			oh = window_out(h, l);
			ow = window_out(w, l);
			if (oh < 1 || ow < 1)
				return shape_error(pos, l,
						   "input {%lld,%lld,%lld} is too small for kernel %lld (padding %lld, dilation %lld): the output would be empty",
						   (long long)c, (long long)h, (long long)w,
						   (long long)l->kernel, (long long)l->padding,
						   (long long)l->dilation);
			if (l->kind == MT_LAYER_CONV2D)
				c = l->out;
			h = oh;
			w = ow;
			break;
		}
		case MT_LAYER_FLATTEN:
			if (!flat) {
				/* Each factor is at most 2^32, the product must fit. */
				if (h > INT64_MAX / w || c > INT64_MAX / (h * w))
					return shape_error(pos, l, "flattened size overflows");
				w = c * h * w;
				c = h = 1;
				flat = 1;
			}
			break;
		case MT_LAYER_LINEAR:
			if (!flat)
				return shape_error(pos, l,
						   "input {%lld,%lld,%lld} is not flattened; expected {1,1,%lld} (put 'flatten' before it)",
						   (long long)c, (long long)h, (long long)w,
						   (long long)l->in);
			if (w != l->in)
				return shape_error(pos, l, "input has %lld features, expected %lld",
						   (long long)w, (long long)l->in);
			w = l->out;
			break;
		case MT_LAYER_BATCHNORM1D:
			if (!flat)
				return shape_error(pos, l,
						   "input {%lld,%lld,%lld} is not flattened; expected {1,1,%lld} (use batchnorm2d on images)",
						   (long long)c, (long long)h, (long long)w,
						   (long long)l->in);
			if (w != l->in)
				return shape_error(pos, l, "input has %lld features, expected %lld",
						   (long long)w, (long long)l->in);
			break;
		case MT_LAYER_SOFTMAX: {
			int rank = flat ? 2 : 4;
			if (l->dim < -rank || l->dim >= rank)
				return shape_error(pos, l,
						   "dim %lld is out of range for a %s input of rank %d (batch included)",
						   (long long)l->dim, flat ? "flattened" : "image", rank);
			break;
		}
		default: /* element-wise: shape unchanged */
			break;
		}
		if (out_shapes) {
			out_shapes[i][0] = c;
			out_shapes[i][1] = h;
			out_shapes[i][2] = w;
		}
	}
	return 0;
}
