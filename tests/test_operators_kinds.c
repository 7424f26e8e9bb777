/* Layer kinds in the model view (operators/view_kinds.c) and the neuron
 * operators on every kind with neurons (operators/neurons.c, weights.c,
 * neb.c): which tensors a layer groups, what a neuron is, and which
 * weights each operator touches. Pure C: views are made from hand-written
 * tensor infos and class names, weights are w[i] = i + 1 so that every
 * position is recognisable. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/shim.h"
#include "mutorch/view.h"

typedef struct {
	mt_tensor_info t[64];
	size_t n;
} infos;

static void add(infos *in, const char *name, int is_buffer, int ndim, ...)
{
	va_list ap;
	cr_assert_lt(in->n, sizeof(in->t) / sizeof(in->t[0]));
	mt_tensor_info *t = &in->t[in->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->is_buffer = is_buffer;
	t->ndim = ndim;
	t->numel = 1;
	va_start(ap, ndim);
	for (int d = 0; d < ndim; d++) {
		t->shape[d] = va_arg(ap, int);
		t->numel *= t->shape[d];
	}
	va_end(ap);
}

/* An nn.LSTM (gates 4) / GRU (3) / RNN (1) "name" with input F, hidden H,
 * depths, directions, biases. */
static void add_rnn(infos *in, const char *name, int gates, int F, int H, int depths, int dirs)
{
	char n[128];
	for (int k = 0; k < depths; k++)
		for (int d = 0; d < dirs; d++) {
			const char *sfx = d ? "_reverse" : "";
			snprintf(n, sizeof(n), "%s.weight_ih_l%d%s", name, k, sfx);
			add(in, n, 0, 2, gates * H, k ? dirs * H : F);
			snprintf(n, sizeof(n), "%s.weight_hh_l%d%s", name, k, sfx);
			add(in, n, 0, 2, gates * H, H);
			snprintf(n, sizeof(n), "%s.bias_ih_l%d%s", name, k, sfx);
			add(in, n, 0, 1, gates * H);
			snprintf(n, sizeof(n), "%s.bias_hh_l%d%s", name, k, sfx);
			add(in, n, 0, 1, gates * H);
		}
}

static mt_model_view *view_of(const infos *in, const mt_view_hint *hints, size_t nhints)
{
	mt_model_view *v = NULL;
	cr_assert_eq(mt_model_view_from_module(&v, in->t, in->n, hints, nhints), 0, "%s",
		     mt_error_last());
	for (size_t i = 0; i < v->nlayers; i++) {
		for (int64_t e = 0; e < v->layers[i].numel; e++)
			v->layers[i].weight[e] = (float)(e + 1);
		for (int64_t e = 0; e < v->layers[i].nbias; e++)
			v->layers[i].bias[e] = (float)(-e - 1);
	}
	return v;
}

static mt_op_args args_for(const char *op, const char *const *kv)
{
	mt_op_args a;
	cr_assert_eq(mt_op_args_init(&a, mt_operator_find(op)), 0, "%s", mt_error_last());
	for (size_t i = 0; kv && kv[i]; i += 2)
		cr_assert_eq(mt_op_args_set(&a, kv[i], kv[i + 1]), 0, "%s", mt_error_last());
	return a;
}

static int changed_weight(const mt_view_layer *l, int64_t e) { return l->weight[e] != (float)(e + 1); }
static int changed_bias(const mt_view_layer *l, int64_t e) { return l->bias[e] != (float)(-e - 1); }

Test(kinds, every_kind_is_recognised)
{
	infos in = {0};
	add(&in, "emb.weight", 0, 2, 50, 8);
	add(&in, "c1.weight", 0, 3, 4, 8, 3);
	add(&in, "c1.bias", 0, 1, 4);
	add(&in, "ct.weight", 0, 4, 4, 3, 2, 2);
	add(&in, "ct.bias", 0, 1, 6);
	add(&in, "c3.weight", 0, 5, 2, 6, 1, 1, 1);
	add(&in, "bn.weight", 0, 1, 2);
	add(&in, "bn.bias", 0, 1, 2);
	add(&in, "bn.running_mean", 1, 1, 2);
	add(&in, "ln.weight", 0, 2, 3, 4);
	add(&in, "ln.bias", 0, 2, 3, 4);
	add_rnn(&in, "enc.lstm", 4, 8, 5, 2, 2);
	add_rnn(&in, "gru", 3, 10, 3, 1, 1);
	add_rnn(&in, "rnn", 1, 3, 2, 1, 2);
	add(&in, "fc.weight", 0, 2, 10, 4);
	mt_view_hint hints[] = {
		{"emb", "__torch__.torch.nn.modules.sparse.Embedding", 0},
		{"ct", "__torch__.torch.nn.modules.conv.___torch_mangle_3.ConvTranspose2d", 0},
		{"ln", "__torch__.torch.nn.modules.normalization.LayerNorm", 0},
		{"enc.lstm", "__torch__.torch.nn.modules.rnn.LSTM", 0},
	};
	mt_model_view *v = view_of(&in, hints, 4);
	const struct {
		const char *name;
		mt_view_kind kind;
		int64_t units, nbias;
	} want[] = {
		{"emb", MT_VIEW_EMBEDDING, 0, 0},   {"c1", MT_VIEW_CONV1D, 4, 4},
		{"ct", MT_VIEW_CONVT2D, 6, 6},      {"c3", MT_VIEW_CONV3D, 2, 0},
		{"bn", MT_VIEW_BATCHNORM, 0, 2},    {"ln", MT_VIEW_LAYERNORM, 0, 12},
		{"enc.lstm", MT_VIEW_LSTM, 20, 160}, {"gru", MT_VIEW_GRU, 3, 18},
		{"rnn", MT_VIEW_RNN, 4, 8},         {"fc", MT_VIEW_LINEAR, 10, 0},
	};
	cr_assert_eq(v->nlayers, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < v->nlayers; i++) {
		const mt_view_layer *l = &v->layers[i];
		cr_assert_str_eq(l->name, want[i].name);
		cr_assert_eq(l->kind, want[i].kind, "%s: kind %s", l->name, mt_view_kind_name(l->kind));
		cr_assert_eq(l->nbias, want[i].nbias, "%s: %lld bias elements", l->name, (long long)l->nbias);
		cr_assert_eq(mt_view_kind_has_neurons(l->kind), want[i].units > 0, "%s", l->name);
	}
	const mt_view_layer *lstm = &v->layers[6];
	cr_assert_eq(lstm->gates, 4);
	cr_assert_eq(lstm->hidden, 5);
	cr_assert_eq(lstm->depths, 2);
	cr_assert_eq(lstm->directions, 2);
	cr_assert_eq(lstm->nparts, 16);
	/* weights then biases each in PyTorch's order */
	cr_assert_str_eq(lstm->parts[0].name, "enc.lstm.weight_ih_l0");
	cr_assert_str_eq(lstm->parts[4].name, "enc.lstm.weight_ih_l0_reverse");
	cr_assert_eq(lstm->parts[4].offset, 20 * 8 + 20 * 5);
	cr_assert_eq(lstm->parts[2].is_bias, 1);
	cr_assert_eq(lstm->parts[3].offset, 20);
	cr_assert_eq(lstm->numel, 2 * (20 * 8 + 20 * 5) + 2 * (20 * 10 + 20 * 5));
	cr_assert_eq(v->layers[2].groups, 2); /* ct: 6 outputs / 3 per group */
	mt_model_view_free(v);
}

Test(kinds, neuron_operators_on_a_recurrent_unit)
{
	infos in = {0};
	add_rnn(&in, "lstm", 4, 3, 2, 1, 1); /* ih 8x3, hh 8x2, biases 8 */
	add(&in, "fc.weight", 0, 2, 4, 2);
	mt_model_view *v = view_of(&in, NULL, 0);
	mt_view_layer *l = &v->layers[0];
	mt_op_result r;
	/* NAI on unit 1: rows 1, 3, 5, 7 of ih (offset 0) and hh (offset 24),
	 * bias elements 1, 3, 5, 7 of both */
	mt_op_args a = args_for("NAI", (const char *const[]){"layer", "lstm", "ratio", "0.5",
							     "seed", "1", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	cr_assert_eq(r.units, 1);
	int unit = changed_weight(l, 0) ? 0 : 1;
	for (int row = 0; row < 8; row++) {
		int mine = row % 2 == unit;
		for (int c = 0; c < 3; c++)
			cr_assert_eq(changed_weight(l, row * 3 + c), mine, "ih row %d", row);
		for (int c = 0; c < 2; c++)
			cr_assert_eq(changed_weight(l, 24 + row * 2 + c), mine, "hh row %d", row);
		cr_assert_eq(changed_bias(l, row), mine);
		cr_assert_eq(changed_bias(l, 8 + row), mine);
		if (mine)
			cr_assert_eq(l->weight[row * 3], -(float)(row * 3 + 1));
	}
	mt_op_args_dispose(&a);
	mt_model_view_free(v);

	/* NEB (outgoing) on a unit: its weight_hh column and fc's column */
	v = view_of(&in, NULL, 0);
	l = &v->layers[0];
	a = args_for("NEB", (const char *const[]){"layer", "lstm", "ratio", "0.5", "seed", "4", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	cr_assert(v->layers[1].weight_changed && l->weight_changed && !l->bias_changed);
	int zeroed = v->layers[1].weight[0] == 0.0f ? 0 : 1;
	for (int row = 0; row < 8; row++)
		for (int c = 0; c < 2; c++)
			cr_assert_eq(l->weight[24 + row * 2 + c] == 0.0f, c == zeroed);
	for (int row = 0; row < 4; row++)
		for (int c = 0; c < 2; c++)
			cr_assert_eq(v->layers[1].weight[row * 2 + c] == 0.0f, c == zeroed);
	for (int e = 0; e < 24; e++)
		cr_assert(!changed_weight(l, e), "weight_ih stays");
	mt_op_args_dispose(&a);
	mt_model_view_free(v);

	/* WS shuffles each gate's [ih row | hh row] within itself */
	v = view_of(&in, NULL, 0);
	l = &v->layers[0];
	a = args_for("WS", (const char *const[]){"layer", "lstm", "ratio", "0.5", "seed", "9", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	for (int row = 0; row < 8; row++) {
		double sum = 0, want = 0;
		for (int c = 0; c < 3; c++) {
			sum += l->weight[row * 3 + c];
			want += row * 3 + c + 1;
		}
		for (int c = 0; c < 2; c++) {
			sum += l->weight[24 + row * 2 + c];
			want += 24 + row * 2 + c + 1;
		}
		cr_assert_eq(sum, want, "gate row %d keeps its weights", row);
	}
	cr_assert(r.weights_changed > 0);
	mt_op_args_dispose(&a);
	mt_model_view_free(v);

	/* NS swaps the two units' rows in every gate */
	v = view_of(&in, NULL, 0);
	l = &v->layers[0];
	a = args_for("NS", (const char *const[]){"layer", "lstm", "ratio", "1", "seed", "2", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	for (int g = 0; g < 4; g++) {
		cr_assert_eq(l->weight[(2 * g) * 3], (float)((2 * g + 1) * 3 + 1));
		cr_assert_eq(l->bias[2 * g], (float)(-(2 * g + 1) - 1));
	}
	mt_op_args_dispose(&a);
	mt_model_view_free(v);
}

Test(kinds, neurons_of_transposed_and_1d_convolutions)
{
	infos in = {0};
	add(&in, "ct.weight", 0, 3, 2, 3, 2); /* in 2, out 3, k 2 */
	add(&in, "ct.bias", 0, 1, 3);
	add(&in, "c1.weight", 0, 3, 4, 3, 2); /* out 4, in 3 */
	add(&in, "fc.weight", 0, 2, 2, 8);   /* 4 channels x 2 positions */
	mt_view_hint hints[] = {{"ct", "__torch__.torch.nn.modules.conv.ConvTranspose1d", 1}};
	mt_model_view *v = view_of(&in, hints, 1);
	mt_op_result r;
	/* NAI on output channel j of ct: weight[:, j, :] */
	mt_op_args a = args_for("NAI", (const char *const[]){"layer", "ct", "ratio", "0.3", "seed", "5", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	const mt_view_layer *ct = &v->layers[0];
	int j = -1;
	for (int o = 0; o < 3; o++)
		if (changed_bias(ct, o))
			j = o;
	cr_assert_geq(j, 0);
	for (int i = 0; i < 2; i++)
		for (int o = 0; o < 3; o++)
			for (int k = 0; k < 2; k++)
				cr_assert_eq(changed_weight(ct, (i * 3 + o) * 2 + k), o == j);
	mt_op_args_dispose(&a);
	/* NEB from ct (3 channels) into c1 (3 input channels): input channel j */
	a = args_for("NEB", (const char *const[]){"layer", "ct", "ratio", "0.3", "seed", "5", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	cr_assert_eq(r.layers_changed, 2);
	mt_op_args_dispose(&a);
	mt_model_view_free(v);
	/* NEB from conv1d (4 channels) into fc (8 inputs): a block of 2 */
	v = view_of(&in, hints, 1);
	a = args_for("NEB", (const char *const[]){"layer", "c1", "ratio", "0.25", "seed", "3", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	const mt_view_layer *fc = &v->layers[2];
	int zeros = 0;
	for (int e = 0; e < 16; e++)
		zeros += fc->weight[e] == 0.0f;
	cr_assert_eq(zeros, 4);
	mt_op_args_dispose(&a);
	mt_model_view_free(v);
}

Test(kinds, element_wise_only_layers_refuse_neuron_operators)
{
	infos in = {0};
	add(&in, "emb.weight", 0, 2, 20, 4);
	add_rnn(&in, "lstm", 4, 4, 3, 1, 1);
	add(&in, "bn.weight", 0, 1, 3);
	add(&in, "bn.running_mean", 1, 1, 3);
	add(&in, "fc.weight", 0, 2, 2, 3);
	mt_view_hint hints[] = {{"emb", "__torch__.torch.nn.modules.sparse.Embedding", 0}};
	mt_model_view *v = view_of(&in, hints, 1);
	mt_op_result r;
	mt_op_args a = args_for("NS", (const char *const[]){"layer", "emb", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "layer 'emb' is an embedding layer, which has no neurons") &&
		  strstr(mt_error_last(), "lstm, fc"), "%s", mt_error_last());
	cr_assert_eq(mt_op_check_layer(v, &a, "bn"), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "batchnorm"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	/* element-wise operators take them when named */
	a = args_for("GF", (const char *const[]){"layers", "emb,bn", "ratio", "0.5", "seed", "1", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	cr_assert_eq(r.layers_changed, 2);
	cr_assert(!v->layers[1].weight_changed && !v->layers[3].weight_changed);
	mt_op_args_dispose(&a);
	/* ... but not by default: every layer with neurons */
	for (size_t i = 0; i < v->nlayers; i++)
		cr_assert_eq(mt_op_default_layer(mt_operator_find("GF"), &v->layers[i]),
			     v->layers[i].kind == MT_VIEW_LSTM || v->layers[i].kind == MT_VIEW_LINEAR);
	/* QNT per channel on an LSTM: each row of each weight tensor */
	a = args_for("QNT", (const char *const[]){"layer", "lstm", "bits", "2", "granularity", "channel", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	const mt_view_layer *l = &v->layers[1];
	for (int row = 0; row < 12; row++) {
		/* bits 2: q in {-1, 0, 1}, scale = row max: values 0 or max */
		float mx = (float)(row * 4 + 4);
		for (int c = 0; c < 4; c++) {
			float w = l->weight[row * 4 + c];
			cr_assert(w == 0.0f || w == mx, "ih row %d col %d: %g", row, c, w);
		}
	}
	mt_op_args_dispose(&a);
	mt_model_view_free(v);
}

Test(kinds, built_model_class_names)
{
	infos in = {0};
	add(&in, "conv2d_0.weight", 0, 4, 6, 1, 5, 5);
	add(&in, "conv2d_0.bias", 0, 1, 6);
	add(&in, "batchnorm2d_1.weight", 0, 1, 6);
	add(&in, "linear_3.weight", 0, 2, 10, 24);
	mt_view_hint hints[] = {{"conv2d_0", "__torch__.mutorch.conv2d_0", 1},
				{"batchnorm2d_1", "__torch__.mutorch.batchnorm2d_1", 0},
				{"linear_3", "__torch__.mutorch.linear_3", 0}};
	mt_model_view *v = view_of(&in, hints, 3);
	cr_assert_eq(v->layers[0].kind, MT_VIEW_CONV2D);
	cr_assert_eq(v->layers[1].kind, MT_VIEW_BATCHNORM);
	cr_assert_eq(v->layers[2].kind, MT_VIEW_LINEAR);
	mt_model_view_free(v);
}
