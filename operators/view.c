/*
 * The model view: float32 copies of a module's parametric layers (linear,
 * convolutions, embeddings, normalisation, recurrent layers) that the
 * weight operators mutate. The runner fills it from the module and writes
 * back only the tensors an operator marks as changed. Recognising the
 * layers from tensor names, shapes and class names is in view_kinds.c.
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

static void layer_dispose(mt_view_layer *l)
{
	free(l->weight);
	free(l->bias);
	free(l->parts);
}

void mt_model_view_free(mt_model_view *view)
{
	if (!view)
		return;
	for (size_t i = 0; i < view->nlayers; i++)
		layer_dispose(&view->layers[i]);
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

static mt_view_kind kind_from_ndim(int ndim)
{
	switch (ndim) {
	case 2: return MT_VIEW_LINEAR;
	case 3: return MT_VIEW_CONV1D;
	case 4: return MT_VIEW_CONV2D;
	case 5: return MT_VIEW_CONV3D;
	default: return MT_VIEW_OTHER;
	}
}

static int add_part(mt_view_layer *l, const char *name, mt_view_role role, int is_bias,
		    int64_t offset, int64_t numel, int64_t rows, int depth, int direction)
{
	mt_view_part *grown = realloc(l->parts, (l->nparts + 1) * sizeof(*grown));
	if (!grown)
		return mt_error_set(MT_ENOMEM, "model view: out of memory");
	l->parts = grown;
	mt_view_part *p = &l->parts[l->nparts];
	memset(p, 0, sizeof(*p));
	int rc = copy_name(p->name, name, "tensor name");
	if (rc < 0)
		return rc;
	p->role = role;
	p->is_bias = is_bias;
	p->offset = offset;
	p->numel = numel;
	p->rows = rows;
	p->depth = depth;
	p->direction = direction;
	l->nparts++;
	return 0;
}

/* A new zeroed layer at the end of view (not yet counted in nlayers). */
static int grow(mt_view_layer **out, mt_model_view *view, const char *name)
{
	mt_view_layer *grown = realloc(view->layers, (view->nlayers + 1) * sizeof(*grown));
	if (!grown)
		return mt_error_set(MT_ENOMEM, "model view: out of memory");
	view->layers = grown;
	mt_view_layer *l = &view->layers[view->nlayers];
	memset(l, 0, sizeof(*l));
	int rc = copy_name(l->name, name, "layer name");
	if (rc < 0)
		return rc;
	if (strlen(name) + 8 >= MT_VIEW_MAX_NAME)
		return mt_error_set(MT_EINVALID, "model view: layer name '%.40s...' is too long",
				    name);
	*out = l;
	return 0;
}

int mt_model_view_add_kind(mt_model_view *view, const char *name, mt_view_kind kind,
			   int ndim, const int64_t *shape, int64_t nbias, int64_t groups)
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
	mt_view_layer *l;
	int rc = grow(&l, view, name);
	if (rc < 0)
		return rc;
	snprintf(l->weight_name, sizeof(l->weight_name), "%s.weight", name);
	l->kind = kind;
	l->ndim = ndim;
	memcpy(l->shape, shape, (size_t)ndim * sizeof(int64_t));
	l->numel = numel;
	l->groups = groups > 0 ? groups : 1;
	l->weight = calloc((size_t)numel, sizeof(float));
	if (!l->weight) {
		rc = mt_error_set(MT_ENOMEM, "model view: out of memory for '%s'", name);
		goto fail;
	}
	if ((rc = add_part(l, l->weight_name, MT_VIEW_PART_WEIGHT, 0, 0, numel, shape[0], 0, 0)) < 0)
		goto fail;
	if (nbias > 0) {
		snprintf(l->bias_name, sizeof(l->bias_name), "%s.bias", name);
		l->nbias = nbias;
		l->bias = calloc((size_t)nbias, sizeof(float));
		if (!l->bias) {
			rc = mt_error_set(MT_ENOMEM, "model view: out of memory for '%s'", name);
			goto fail;
		}
		if ((rc = add_part(l, l->bias_name, MT_VIEW_PART_BIAS, 1, 0, nbias, nbias, 0, 0)) < 0)
			goto fail;
	}
	view->nlayers++;
	return 0;
fail:
	layer_dispose(l);
	return rc;
}

int mt_model_view_add(mt_model_view *view, const char *name, int ndim,
		      const int64_t *shape, const float *weight, int has_bias,
		      const float *bias)
{
	int rc = mt_model_view_add_kind(view, name, kind_from_ndim(ndim), ndim, shape,
					has_bias && ndim >= 1 ? shape[0] : 0, 1);
	if (rc < 0)
		return rc;
	mt_view_layer *l = &view->layers[view->nlayers - 1];
	if (weight)
		memcpy(l->weight, weight, (size_t)l->numel * sizeof(float));
	if (bias && l->bias)
		memcpy(l->bias, bias, (size_t)l->nbias * sizeof(float));
	return 0;
}

/* Used by view_kinds.c: a recurrent layer from its parts (names, roles,
 * sizes, depth, direction already in `parts`; offsets are assigned here in
 * the given order, weights and biases separately). */
int mt_model_view_add_recurrent(mt_model_view *view, const char *name, mt_view_kind kind,
				int gates, int64_t hidden, int64_t proj, int depths,
				int directions, const mt_view_part *parts, size_t nparts)
{
	mt_view_layer *l;
	int rc = grow(&l, view, name);
	if (rc < 0)
		return rc;
	l->kind = kind;
	l->gates = gates;
	l->hidden = hidden;
	l->proj = proj;
	l->depths = depths;
	l->directions = directions;
	l->groups = 1;
	for (size_t i = 0; i < nparts; i++) {
		const mt_view_part *p = &parts[i];
		int64_t *total = p->is_bias ? &l->nbias : &l->numel;
		if ((rc = add_part(l, p->name, p->role, p->is_bias, *total, p->numel, p->rows,
				   p->depth, p->direction)) < 0)
			goto fail;
		*total += p->numel;
		if (!p->is_bias && !l->weight_name[0])
			snprintf(l->weight_name, sizeof(l->weight_name), "%s", p->name);
	}
	l->ndim = 1;
	l->shape[0] = l->numel;
	if (l->numel < 1) {
		rc = mt_error_set(MT_EINVALID, "model view: recurrent layer '%s' has no weights", name);
		goto fail;
	}
	l->weight = calloc((size_t)l->numel, sizeof(float));
	l->bias = l->nbias ? calloc((size_t)l->nbias, sizeof(float)) : NULL;
	if (!l->weight || (l->nbias && !l->bias)) {
		rc = mt_error_set(MT_ENOMEM, "model view: out of memory for '%s'", name);
		goto fail;
	}
	view->nlayers++;
	return 0;
fail:
	layer_dispose(l);
	return rc;
}

int mt_model_view_copy(mt_model_view **out, const mt_model_view *src)
{
	mt_model_view *view = NULL;
	int rc = mt_model_view_new(&view);
	if (rc < 0)
		return rc;
	if (src->nlayers &&
	    !(view->layers = calloc(src->nlayers, sizeof(*view->layers)))) {
		rc = mt_error_set(MT_ENOMEM, "model view: out of memory");
		goto fail;
	}
	for (size_t i = 0; i < src->nlayers; i++) {
		const mt_view_layer *s = &src->layers[i];
		mt_view_layer *l = &view->layers[i];
		*l = *s;
		l->weight = NULL;
		l->bias = NULL;
		l->parts = NULL;
		view->nlayers = i + 1;
		l->weight = malloc((size_t)s->numel * sizeof(float));
		l->bias = s->bias ? malloc((size_t)s->nbias * sizeof(float)) : NULL;
		l->parts = s->nparts ? malloc(s->nparts * sizeof(*s->parts)) : NULL;
		if (!l->weight || (s->bias && !l->bias) || (s->nparts && !l->parts)) {
			rc = mt_error_set(MT_ENOMEM, "model view: out of memory copying '%s'", s->name);
			goto fail;
		}
		memcpy(l->weight, s->weight, (size_t)s->numel * sizeof(float));
		if (s->bias)
			memcpy(l->bias, s->bias, (size_t)s->nbias * sizeof(float));
		if (s->nparts)
			memcpy(l->parts, s->parts, s->nparts * sizeof(*s->parts));
	}
	*out = view;
	return 0;
fail:
	mt_model_view_free(view);
	return rc;
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
		if (l->numel != o->numel || (l->bias == NULL) != (o->bias == NULL) ||
		    l->nbias != o->nbias)
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
