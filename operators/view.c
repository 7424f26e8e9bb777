/*
 * The model view: float32 copies of a module's linear / conv2d (and other)
 * weights that the weight operators mutate. The runner fills it from the
 * module and writes back only the tensors an operator marks as changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/view.h"

int mt_model_view_new(mt_model_view **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return mt_error_set(MT_ENOMEM, "model view: out of memory");
	return 0;
}

void mt_model_view_free(mt_model_view *view)
{
	if (!view)
		return;
	for (size_t i = 0; i < view->nlayers; i++) {
		free(view->layers[i].weight);
		free(view->layers[i].bias);
	}
	free(view->layers);
	free(view);
}

static int copy_name(char *dst, const char *src, const char *what)
{
	size_t n = strlen(src);
	if (n >= MT_VIEW_MAX_NAME)
		return mt_error_set(MT_EINVALID,
				    "model view: %s '%.40s...' is too long, expected at most %d characters",
				    what, src, MT_VIEW_MAX_NAME - 1);
	memcpy(dst, src, n + 1);
	return 0;
}

int mt_model_view_add(mt_model_view *view, const char *name, int ndim,
		      const int64_t *shape, const float *weight, int has_bias,
		      const float *bias)
{
	if (ndim < 1 || ndim > 8)
		return mt_error_set(MT_EINVALID,
				    "model view: layer '%s' has %d dimensions, expected 1 to 8",
				    name, ndim);
	int64_t numel = 1;
	for (int d = 0; d < ndim; d++) {
		if (shape[d] < 1)
			return mt_error_set(MT_EINVALID,
					    "model view: layer '%s' has dimension %d of size %lld, expected >= 1",
					    name, d, (long long)shape[d]);
		numel *= shape[d];
	}
	mt_view_layer *grown = realloc(view->layers,
				       (view->nlayers + 1) * sizeof(*grown));
	if (!grown)
		return mt_error_set(MT_ENOMEM, "model view: out of memory");
	view->layers = grown;
	mt_view_layer *l = &view->layers[view->nlayers];
	memset(l, 0, sizeof(*l));
	int rc;
	if ((rc = copy_name(l->name, name, "layer name")) < 0)
		return rc;
	if (strlen(name) + 8 >= MT_VIEW_MAX_NAME)
		return mt_error_set(MT_EINVALID, "model view: layer name '%.40s...' is too long",
				    name);
	snprintf(l->weight_name, sizeof(l->weight_name), "%s.weight", name);
	l->kind = ndim == 2 ? MT_VIEW_LINEAR : ndim == 4 ? MT_VIEW_CONV2D : MT_VIEW_OTHER;
	l->ndim = ndim;
	memcpy(l->shape, shape, (size_t)ndim * sizeof(int64_t));
	l->numel = numel;
	l->weight = calloc((size_t)numel, sizeof(float));
	if (!l->weight)
		return mt_error_set(MT_ENOMEM, "model view: out of memory for '%s'", name);
	if (weight)
		memcpy(l->weight, weight, (size_t)numel * sizeof(float));
	if (has_bias) {
		snprintf(l->bias_name, sizeof(l->bias_name), "%s.bias", name);
		l->nbias = shape[0];
		l->bias = calloc((size_t)l->nbias, sizeof(float));
		if (!l->bias) {
			free(l->weight);
			return mt_error_set(MT_ENOMEM, "model view: out of memory for '%s'", name);
		}
		if (bias)
			memcpy(l->bias, bias, (size_t)l->nbias * sizeof(float));
	}
	view->nlayers++;
	return 0;
}

static int ends_with(const char *s, const char *suffix, size_t *prefix_len)
{
	size_t n = strlen(s), m = strlen(suffix);
	if (n <= m || strcmp(s + n - m, suffix) != 0)
		return 0;
	*prefix_len = n - m;
	return 1;
}

int mt_model_view_from_tensors(mt_model_view **out, const mt_tensor_info *infos,
			       size_t count)
{
	mt_model_view *view = NULL;
	int rc = mt_model_view_new(&view);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < count; i++) {
		size_t plen;
		if (infos[i].is_buffer || !ends_with(infos[i].name, ".weight", &plen))
			continue;
		char prefix[MT_VIEW_MAX_NAME];
		if (plen >= sizeof(prefix)) {
			rc = mt_error_set(MT_EINVALID, "model view: parameter name '%.40s...' is too long",
					  infos[i].name);
			goto cleanup;
		}
		memcpy(prefix, infos[i].name, plen);
		prefix[plen] = '\0';
		/* the bias: a parameter "<prefix>.bias" with shape[0] elements */
		int has_bias = 0;
		for (size_t j = 0; j < count; j++) {
			size_t blen;
			if (!infos[j].is_buffer && ends_with(infos[j].name, ".bias", &blen) &&
			    blen == plen && strncmp(infos[j].name, prefix, plen) == 0 &&
			    infos[j].ndim == 1 && infos[i].ndim >= 1 &&
			    infos[j].shape[0] == infos[i].shape[0]) {
				has_bias = 1;
				break;
			}
		}
		if ((rc = mt_model_view_add(view, prefix, infos[i].ndim, infos[i].shape,
					    NULL, has_bias, NULL)) < 0)
			goto cleanup;
	}
	*out = view;
	return 0;
cleanup:
	mt_model_view_free(view);
	return rc;
}

int mt_model_view_copy(mt_model_view **out, const mt_model_view *src)
{
	mt_model_view *view = NULL;
	int rc = mt_model_view_new(&view);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < src->nlayers; i++) {
		const mt_view_layer *l = &src->layers[i];
		if ((rc = mt_model_view_add(view, l->name, l->ndim, l->shape, l->weight,
					    l->bias != NULL, l->bias)) < 0) {
			mt_model_view_free(view);
			return rc;
		}
		view->layers[i].weight_changed = l->weight_changed;
		view->layers[i].bias_changed = l->bias_changed;
	}
	*out = view;
	return 0;
}

int mt_model_view_restore(mt_model_view *view, const mt_model_view *original)
{
	if (view->nlayers != original->nlayers)
		return mt_error_set(MT_EINVALID,
				    "model view: restore from a view of %zu layers into one of %zu, expected the same layout",
				    original->nlayers, view->nlayers);
	for (size_t i = 0; i < view->nlayers; i++) {
		mt_view_layer *l = &view->layers[i];
		const mt_view_layer *o = &original->layers[i];
		if (l->numel != o->numel || (l->bias == NULL) != (o->bias == NULL))
			return mt_error_set(MT_EINVALID,
					    "model view: layer '%s' differs in shape from the original, expected the same layout",
					    l->name);
	}
	for (size_t i = 0; i < view->nlayers; i++) {
		mt_view_layer *l = &view->layers[i];
		const mt_view_layer *o = &original->layers[i];
		if (l->weight_changed)
			memcpy(l->weight, o->weight, (size_t)l->numel * sizeof(float));
		if (l->bias_changed && l->bias)
			memcpy(l->bias, o->bias, (size_t)l->nbias * sizeof(float));
	}
	return 0;
}

mt_view_layer *mt_model_view_find(const mt_model_view *view, const char *name)
{
	for (size_t i = 0; i < view->nlayers; i++)
		if (strcmp(view->layers[i].name, name) == 0)
			return &view->layers[i];
	return NULL;
}

void mt_model_view_clear_changed(mt_model_view *view)
{
	for (size_t i = 0; i < view->nlayers; i++)
		view->layers[i].weight_changed = view->layers[i].bias_changed = 0;
}
