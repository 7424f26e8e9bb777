/*
 * Neurons of every layer kind as runs of the layer's weight array: the
 * rows of a linear layer or (transposed) convolution's output channel, and
 * a recurrent layer's hidden unit (its row in every gate of weight_ih,
 * weight_hh, bias_ih, bias_hh). The neuron operators (WS, NEB, NAI, NS)
 * and QNT's per-channel groups go through these, so that every kind
 * shares one implementation. docs/operators.md has the table.
 */
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/view.h"
#include "internal.h"

const mt_view_part *mt_view_part_find(const mt_view_layer *l, mt_view_role role,
				      int depth, int direction)
{
	for (size_t i = 0; i < l->nparts; i++) {
		const mt_view_part *p = &l->parts[i];
		if (p->role == role && p->depth == depth && p->direction == direction)
			return p;
	}
	return NULL;
}

int64_t mt_layer_units(const mt_view_layer *l)
{
	if (mt_view_kind_is_recurrent(l->kind))
		return (int64_t)l->depths * l->directions * l->hidden;
	if (mt_view_kind_is_convt(l->kind))
		return l->ndim >= 2 ? l->shape[1] * l->groups : 0;
	if (mt_view_kind_has_neurons(l->kind))
		return l->shape[0];
	return 0;
}

int64_t mt_layer_features(const mt_view_layer *l)
{
	if (mt_view_kind_is_recurrent(l->kind))
		return (int64_t)l->directions * (l->proj ? l->proj : l->hidden);
	return mt_layer_units(l);
}

void mt_neuron_dispose(mt_neuron *n)
{
	free(n->runs);
	free(n->bias);
	memset(n, 0, sizeof(*n));
}

static int push_run(mt_neuron *n, int64_t offset, int64_t len, int group)
{
	if (n->nruns == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 8;
		mt_run *r = realloc(n->runs, cap * sizeof(*r));
		if (!r)
			return mt_error_set(MT_ENOMEM, "neuron: out of memory");
		n->runs = r;
		n->cap = cap;
	}
	n->runs[n->nruns++] = (mt_run){offset, len, group};
	return 0;
}

static int push_bias(mt_neuron *n, int64_t index)
{
	if (n->nbias == n->bcap) {
		size_t cap = n->bcap ? 2 * n->bcap : 8;
		int64_t *b = realloc(n->bias, cap * sizeof(*b));
		if (!b)
			return mt_error_set(MT_ENOMEM, "neuron: out of memory");
		n->bias = b;
		n->bcap = cap;
	}
	n->bias[n->nbias++] = index;
	return 0;
}

/* Unit u of depth k, direction d of a recurrent layer: gate by gate, its
 * weight_ih row then its weight_hh row; biases bias_ih then bias_hh. */
static int recurrent_neuron(mt_neuron *n, const mt_view_layer *l, int64_t j)
{
	int64_t H = l->hidden;
	int kd = (int)(j / H);
	int64_t u = j % H;
	int k = kd / l->directions, d = kd % l->directions;
	const mt_view_part *ih = mt_view_part_find(l, MT_VIEW_PART_IH, k, d);
	const mt_view_part *hh = mt_view_part_find(l, MT_VIEW_PART_HH, k, d);
	const mt_view_part *bih = mt_view_part_find(l, MT_VIEW_PART_BIAS_IH, k, d);
	const mt_view_part *bhh = mt_view_part_find(l, MT_VIEW_PART_BIAS_HH, k, d);
	int rc;
	if (!ih || !hh)
		return mt_error_set(MT_EINVALID,
				    "layer '%s': no weight_ih/weight_hh for depth %d direction %d",
				    l->name, k, d);
	int64_t ih_cols = ih->numel / ih->rows, hh_cols = hh->numel / hh->rows;
	for (int g = 0; g < l->gates; g++) {
		int64_t row = g * H + u;
		if ((rc = push_run(n, ih->offset + row * ih_cols, ih_cols, g)) < 0 ||
		    (rc = push_run(n, hh->offset + row * hh_cols, hh_cols, g)) < 0)
			return rc;
	}
	for (int g = 0; g < l->gates; g++) {
		int64_t row = g * H + u;
		if ((bih && (rc = push_bias(n, bih->offset + row)) < 0) ||
		    (bhh && (rc = push_bias(n, bhh->offset + row)) < 0))
			return rc;
	}
	return 0;
}

int mt_neuron_of(mt_neuron *n, const mt_view_layer *l, int64_t j)
{
	int rc;
	n->nruns = n->nbias = 0;
	if (j < 0 || j >= mt_layer_units(l))
		return mt_error_set(MT_EINVALID, "layer '%s' has no neuron %lld", l->name, (long long)j);
	if (mt_view_kind_is_recurrent(l->kind))
		return recurrent_neuron(n, l, j);
	if (mt_view_kind_is_convt(l->kind)) {
		/* weight in x out/groups x k...: output channel j reads input
		 * channels of its group, one kernel each */
		int64_t og = l->shape[1], ig = l->shape[0] / l->groups;
		int64_t kernel = l->numel / (l->shape[0] * l->shape[1]);
		int64_t g = j / og, oj = j % og;
		for (int64_t i = g * ig; i < (g + 1) * ig; i++)
			if ((rc = push_run(n, (i * og + oj) * kernel, kernel, 0)) < 0)
				return rc;
	} else {
		int64_t len = l->numel / l->shape[0];
		if ((rc = push_run(n, j * len, len, 0)) < 0)
			return rc;
	}
	if (l->bias && (rc = push_bias(n, j)) < 0)
		return rc;
	return 0;
}

int mt_layer_channels(mt_neuron *n, const mt_view_layer *l)
{
	int rc;
	n->nruns = n->nbias = 0;
	if (mt_view_kind_is_recurrent(l->kind)) {
		int group = 0;
		for (size_t i = 0; i < l->nparts; i++) {
			const mt_view_part *p = &l->parts[i];
			if (p->is_bias)
				continue;
			int64_t cols = p->numel / p->rows;
			for (int64_t r = 0; r < p->rows; r++)
				if ((rc = push_run(n, p->offset + r * cols, cols, group++)) < 0)
					return rc;
		}
		return 0;
	}
	if (mt_view_kind_is_convt(l->kind)) {
		mt_neuron one = {0};
		rc = 0;
		for (int64_t j = 0; j < mt_layer_units(l); j++) {
			if ((rc = mt_neuron_of(&one, l, j)) < 0)
				break;
			for (size_t r = 0; r < one.nruns && rc == 0; r++)
				rc = push_run(n, one.runs[r].offset, one.runs[r].len, (int)j);
			if (rc < 0)
				break;
		}
		mt_neuron_dispose(&one);
		return rc < 0 ? rc : 0;
	}
	int64_t len = l->numel / l->shape[0];
	for (int64_t r = 0; r < l->shape[0]; r++)
		if ((rc = push_run(n, r * len, len, (int)r)) < 0)
			return rc;
	return 0;
}
