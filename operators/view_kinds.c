/*
 * Recognising a module's layers from its tensors: recurrent layers from
 * PyTorch's parameter names (weight_ih_l0, ...) and shapes, every other
 * layer from its "<prefix>.weight" and the class name of the submodule
 * that owns it (the shim reads it; this file stays torch-free), falling
 * back to shapes when the class is not a known one.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/view.h"
#include "internal.h"

static const char *const kind_names[MT_VIEW__COUNT] = {
	[MT_VIEW_LINEAR] = "linear",
	[MT_VIEW_CONV2D] = "conv2d",
	[MT_VIEW_OTHER] = "other",
	[MT_VIEW_CONV1D] = "conv1d",
	[MT_VIEW_CONV3D] = "conv3d",
	[MT_VIEW_CONVT1D] = "conv_transpose1d",
	[MT_VIEW_CONVT2D] = "conv_transpose2d",
	[MT_VIEW_CONVT3D] = "conv_transpose3d",
	[MT_VIEW_EMBEDDING] = "embedding",
	[MT_VIEW_BATCHNORM] = "batchnorm",
	[MT_VIEW_LAYERNORM] = "layernorm",
	[MT_VIEW_LSTM] = "lstm",
	[MT_VIEW_GRU] = "gru",
	[MT_VIEW_RNN] = "rnn",
};

const char *mt_view_kind_name(mt_view_kind kind)
{
	return (int)kind >= 0 && kind < MT_VIEW__COUNT ? kind_names[kind] : "other";
}

int mt_view_kind_is_recurrent(mt_view_kind kind)
{
	return kind == MT_VIEW_LSTM || kind == MT_VIEW_GRU || kind == MT_VIEW_RNN;
}

int mt_view_kind_is_convt(mt_view_kind kind)
{
	return kind == MT_VIEW_CONVT1D || kind == MT_VIEW_CONVT2D || kind == MT_VIEW_CONVT3D;
}

int mt_view_kind_is_conv(mt_view_kind kind)
{
	return kind == MT_VIEW_CONV1D || kind == MT_VIEW_CONV2D || kind == MT_VIEW_CONV3D;
}

int mt_view_kind_has_neurons(mt_view_kind kind)
{
	return kind == MT_VIEW_LINEAR || mt_view_kind_is_conv(kind) ||
	       mt_view_kind_is_convt(kind) || mt_view_kind_is_recurrent(kind);
}

/* ---- class names -------------------------------------------------------- */

static const struct {
	const char *cls;
	mt_view_kind kind;
} classes[] = {
	{"Linear", MT_VIEW_LINEAR},           {"LazyLinear", MT_VIEW_LINEAR},
	{"Conv1d", MT_VIEW_CONV1D},           {"Conv2d", MT_VIEW_CONV2D},
	{"Conv3d", MT_VIEW_CONV3D},           {"ConvTranspose1d", MT_VIEW_CONVT1D},
	{"ConvTranspose2d", MT_VIEW_CONVT2D}, {"ConvTranspose3d", MT_VIEW_CONVT3D},
	{"Embedding", MT_VIEW_EMBEDDING},     {"BatchNorm1d", MT_VIEW_BATCHNORM},
	{"BatchNorm2d", MT_VIEW_BATCHNORM},   {"BatchNorm3d", MT_VIEW_BATCHNORM},
	{"SyncBatchNorm", MT_VIEW_BATCHNORM}, {"LayerNorm", MT_VIEW_LAYERNORM},
	{"LSTM", MT_VIEW_LSTM},               {"GRU", MT_VIEW_GRU},
	{"RNN", MT_VIEW_RNN},
	/* models built from an architecture: "__torch__.mutorch.conv2d_0" */
	{"linear", MT_VIEW_LINEAR},           {"conv2d", MT_VIEW_CONV2D},
	{"batchnorm1d", MT_VIEW_BATCHNORM},   {"batchnorm2d", MT_VIEW_BATCHNORM},
};

/* The kind a class name stands for: its last dotted component, with a
 * built model's "_<index>" dropped; -1 when not a known class. */
static int kind_from_class(const char *type)
{
	if (!type || !*type)
		return -1;
	const char *last = strrchr(type, '.');
	last = last ? last + 1 : type;
	char base[128];
	snprintf(base, sizeof(base), "%s", last);
	size_t n = strlen(base);
	size_t end = n;
	while (end > 0 && isdigit((unsigned char)base[end - 1]))
		end--;
	if (end > 0 && end < n && base[end - 1] == '_')
		base[end - 1] = '\0';
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(classes[i].cls, base) == 0)
			return (int)classes[i].kind;
	return -1;
}

static const mt_view_hint *find_hint(const mt_view_hint *hints, size_t n, const char *prefix)
{
	for (size_t i = 0; i < n; i++)
		if (hints[i].prefix && strcmp(hints[i].prefix, prefix) == 0)
			return &hints[i];
	return NULL;
}

/* ---- tensor names -------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix, size_t *prefix_len)
{
	size_t n = strlen(s), m = strlen(suffix);
	if (n <= m || strcmp(s + n - m, suffix) != 0)
		return 0;
	*prefix_len = n - m;
	return 1;
}

/* Elements from the shape (callers may leave numel unset). */
static int64_t info_numel(const mt_tensor_info *t)
{
	int64_t n = 1;
	for (int d = 0; d < t->ndim; d++)
		n *= t->shape[d];
	return n;
}

static const mt_tensor_info *find_info(const mt_tensor_info *infos, size_t count,
				       const char *name, int is_buffer)
{
	for (size_t i = 0; i < count; i++)
		if (infos[i].is_buffer == is_buffer && strcmp(infos[i].name, name) == 0)
			return &infos[i];
	return NULL;
}

/* "<prefix>.<role>_l<depth>[_reverse]": the role, depth and direction of a
 * recurrent parameter; 0 when name is not one under prefix. */
static int recurrent_part(const char *name, const char *prefix, mt_view_part *p)
{
	static const struct {
		const char *stem;
		mt_view_role role;
		int is_bias;
	} stems[] = {
		{"weight_ih_l", MT_VIEW_PART_IH, 0},      {"weight_hh_l", MT_VIEW_PART_HH, 0},
		{"bias_ih_l", MT_VIEW_PART_BIAS_IH, 1}, {"bias_hh_l", MT_VIEW_PART_BIAS_HH, 1},
		{"weight_hr_l", MT_VIEW_PART_HR, 0},
	};
	size_t plen = strlen(prefix);
	if (strncmp(name, prefix, plen) != 0 || name[plen] != '.')
		return 0;
	const char *rest = name + plen + 1;
	for (size_t i = 0; i < sizeof(stems) / sizeof(stems[0]); i++) {
		size_t slen = strlen(stems[i].stem);
		if (strncmp(rest, stems[i].stem, slen) != 0 || !isdigit((unsigned char)rest[slen]))
			continue;
		char *end;
		long depth = strtol(rest + slen, &end, 10);
		int direction = 0;
		if (strcmp(end, "_reverse") == 0)
			direction = 1;
		else if (*end)
			return 0;
		if (depth < 0 || depth > 1000)
			return 0;
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->role = stems[i].role;
		p->is_bias = stems[i].is_bias;
		p->depth = (int)depth;
		p->direction = direction;
		return 1;
	}
	return 0;
}

static int role_rank(mt_view_role r)
{
	/* PyTorch's _flat_weights order within a depth and direction */
	switch (r) {
	case MT_VIEW_PART_IH: return 0;
	case MT_VIEW_PART_HH: return 1;
	case MT_VIEW_PART_BIAS_IH: return 2;
	case MT_VIEW_PART_BIAS_HH: return 3;
	default: return 4;
	}
}

static int cmp_parts(const void *a, const void *b)
{
	const mt_view_part *x = a, *y = b;
	if (x->depth != y->depth)
		return x->depth - y->depth;
	if (x->direction != y->direction)
		return x->direction - y->direction;
	return role_rank(x->role) - role_rank(y->role);
}

/* The recurrent layer under prefix (its weight_ih_l0 at infos[first]):
 * collect and check its parameters. Returns 1 when added, 0 when the
 * tensors do not form a recurrent layer (then they are left alone), <0 on
 * error. */
static int add_recurrent(mt_model_view *view, const mt_tensor_info *infos, size_t count,
			 const char *prefix, int hinted)
{
	mt_view_part *parts = calloc(count, sizeof(*parts));
	size_t n = 0;
	int depths = 0, directions = 1, rc = 0;
	int64_t hidden = 0, proj = 0, gates = 0;
	const mt_tensor_info *hh0 = NULL, *hr0 = NULL;
	char name[MT_MAX_NAME + 16];

	if (!parts)
		return mt_error_set(MT_ENOMEM, "model view: out of memory");
	for (size_t i = 0; i < count; i++) {
		mt_view_part p;
		if (infos[i].is_buffer || !recurrent_part(infos[i].name, prefix, &p))
			continue;
		p.numel = info_numel(&infos[i]);
		p.rows = infos[i].ndim >= 1 ? infos[i].shape[0] : 1;
		if ((p.is_bias && infos[i].ndim != 1) || (!p.is_bias && infos[i].ndim != 2))
			goto not_recurrent;
		parts[n++] = p;
		if (p.depth + 1 > depths)
			depths = p.depth + 1;
		if (p.direction)
			directions = 2;
	}
	snprintf(name, sizeof(name), "%s.weight_hh_l0", prefix);
	hh0 = find_info(infos, count, name, 0);
	snprintf(name, sizeof(name), "%s.weight_hr_l0", prefix);
	hr0 = find_info(infos, count, name, 0);
	if (!hh0 || hh0->ndim != 2)
		goto not_recurrent;
	if (hr0) {
		proj = hr0->shape[0];
		hidden = hr0->shape[1];
	} else {
		hidden = hh0->shape[1];
	}
	if (hidden < 1 || hh0->shape[0] % hidden != 0)
		goto not_recurrent;
	gates = hh0->shape[0] / hidden;
	if (gates != 4 && gates != 3 && gates != 1)
		goto not_recurrent;
	if (proj && gates != 4)
		goto not_recurrent;
	/* every (depth, direction) must have ih and hh of the same shape
	 * family: G*H rows; biases G*H */
	int64_t out_width = proj ? proj : hidden;
	for (size_t i = 0; i < n; i++) {
		const mt_view_part *p = &parts[i];
		int64_t want_rows = p->role == MT_VIEW_PART_HR ? proj : gates * hidden;
		if (p->rows != want_rows)
			goto not_recurrent;
		if (p->role == MT_VIEW_PART_HH && p->numel != gates * hidden * out_width)
			goto not_recurrent;
		if (p->role == MT_VIEW_PART_IH && p->depth > 0 &&
		    p->numel != gates * hidden * out_width * directions)
			goto not_recurrent;
	}
	qsort(parts, n, sizeof(*parts), cmp_parts);
	mt_view_kind kind = gates == 4 ? MT_VIEW_LSTM : gates == 3 ? MT_VIEW_GRU : MT_VIEW_RNN;
	rc = mt_model_view_add_recurrent(view, prefix, kind, (int)gates, hidden, proj, depths,
					 directions, parts, n);
	free(parts);
	return rc < 0 ? rc : 1;
not_recurrent:
	free(parts);
	if (hinted)
		return mt_error_set(MT_EINVALID,
				    "model view: '%s' is a recurrent module whose parameters do not have the shapes of nn.LSTM, nn.GRU or nn.RNN",
				    prefix);
	return 0;
}

/* The bias size a plain layer of kind k takes, given its weight. */
static int64_t bias_size(mt_view_kind k, const mt_tensor_info *w, int64_t groups)
{
	if (mt_view_kind_is_convt(k))
		return w->ndim >= 2 ? w->shape[1] * (groups > 0 ? groups : 1) : -1;
	if (k == MT_VIEW_LAYERNORM)
		return info_numel(w);
	if (k == MT_VIEW_EMBEDDING)
		return -1;
	return w->shape[0];
}

static int add_plain(mt_model_view *view, const mt_tensor_info *infos, size_t count,
		     size_t i, const char *prefix, const mt_view_hint *hint)
{
	const mt_tensor_info *w = &infos[i];
	char name[MT_MAX_NAME + 16];
	int cls = hint ? kind_from_class(hint->type) : -1;
	int64_t groups = hint && hint->groups > 0 ? hint->groups : 0;
	mt_view_kind kind;

	snprintf(name, sizeof(name), "%s.bias", prefix);
	const mt_tensor_info *b = find_info(infos, count, name, 0);
	if (cls >= 0 && !mt_view_kind_is_recurrent((mt_view_kind)cls)) {
		kind = (mt_view_kind)cls;
	} else {
		kind = w->ndim == 2 ? MT_VIEW_LINEAR : w->ndim == 3 ? MT_VIEW_CONV1D :
		       w->ndim == 4 ? MT_VIEW_CONV2D : w->ndim == 5 ? MT_VIEW_CONV3D : MT_VIEW_OTHER;
		snprintf(name, sizeof(name), "%s.running_mean", prefix);
		if (w->ndim == 1 && find_info(infos, count, name, 1))
			kind = MT_VIEW_BATCHNORM;
	}
	/* A class whose weight does not have its rank (a subclass with its
	 * own layout) is treated as unknown. */
	static const int rank[MT_VIEW__COUNT] = {
		[MT_VIEW_LINEAR] = 2, [MT_VIEW_CONV1D] = 3, [MT_VIEW_CONV2D] = 4,
		[MT_VIEW_CONV3D] = 5, [MT_VIEW_CONVT1D] = 3, [MT_VIEW_CONVT2D] = 4,
		[MT_VIEW_CONVT3D] = 5, [MT_VIEW_EMBEDDING] = 2, [MT_VIEW_BATCHNORM] = 1,
	};
	if (rank[kind] && rank[kind] != w->ndim)
		kind = MT_VIEW_OTHER;
	if (mt_view_kind_is_convt(kind) && !groups && b && w->ndim >= 2 && b->ndim == 1 &&
	    b->shape[0] % w->shape[1] == 0)
		groups = b->shape[0] / w->shape[1];
	int64_t nbias = 0, want = bias_size(kind, w, groups);
	if (b && want > 0 && info_numel(b) == want && (b->ndim == 1 || kind == MT_VIEW_LAYERNORM))
		nbias = want;
	return mt_model_view_add_kind(view, prefix, kind, w->ndim, w->shape, nbias,
				      groups ? groups : 1);
}

int mt_model_view_from_module(mt_model_view **out, const mt_tensor_info *infos,
			      size_t count, const mt_view_hint *hints, size_t nhints)
{
	mt_model_view *view = NULL;
	int rc = mt_model_view_new(&view);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < count; i++) {
		size_t plen;
		char prefix[MT_VIEW_MAX_NAME];
		int recurrent = 0;
		if (infos[i].is_buffer)
			continue;
		if (ends_with(infos[i].name, ".weight_ih_l0", &plen))
			recurrent = 1;
		else if (!ends_with(infos[i].name, ".weight", &plen))
			continue;
		if (plen >= sizeof(prefix)) {
			rc = mt_error_set(MT_EINVALID, "model view: parameter name '%.40s...' is too long",
					  infos[i].name);
			goto cleanup;
		}
		memcpy(prefix, infos[i].name, plen);
		prefix[plen] = '\0';
		const mt_view_hint *hint = find_hint(hints, nhints, prefix);
		if (recurrent) {
			int cls = hint ? kind_from_class(hint->type) : -1;
			int hinted = cls >= 0 && mt_view_kind_is_recurrent((mt_view_kind)cls);
			if ((rc = add_recurrent(view, infos, count, prefix, hinted)) < 0)
				goto cleanup;
			if (rc == 1 && hinted && (int)view->layers[view->nlayers - 1].kind != cls) {
				rc = mt_error_set(MT_EINVALID,
						  "model view: '%s' is an nn.%s but its weights have %d gates per unit",
						  prefix, cls == MT_VIEW_LSTM ? "LSTM" : cls == MT_VIEW_GRU ? "GRU" : "RNN",
						  view->layers[view->nlayers - 1].gates);
				goto cleanup;
			}
			rc = 0;
			continue;
		}
		if ((rc = add_plain(view, infos, count, i, prefix, hint)) < 0)
			goto cleanup;
	}
	*out = view;
	view = NULL;
cleanup:
	mt_model_view_free(view);
	return rc;
}

int mt_model_view_from_tensors(mt_model_view **out, const mt_tensor_info *infos,
			       size_t count)
{
	return mt_model_view_from_module(out, infos, count, NULL, 0);
}
