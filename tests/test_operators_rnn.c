/* DeepMutation++'s RNN operators, pure C: the static ones on the weights of
 * a recurrent layer (operators/rnn_static.c), the checks of their
 * layer-dependent parameters, and the dynamic ones made into a mutation
 * for the shim (operators/rnn_dynamic.c): steps, gates, states, factors,
 * errors that name the layer and what would be valid. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/rng.h"
#include "mutorch/shim.h"
#include "mutorch/shim_rnn.h"
#include "mutorch/view.h"

#define F 3
#define H 2

/* One recurrent layer "rnn" (gates 4/3/1), input F, hidden H, one depth,
 * `dirs` directions, and a linear "fc"; w[i] = 0.01 * (i + 1), biases
 * -0.01 * (i + 1). */
static mt_model_view *recurrent(int gates, int dirs)
{
	mt_tensor_info t[16];
	size_t n = 0;
	memset(t, 0, sizeof(t));
	for (int d = 0; d < dirs; d++) {
		const char *sfx = d ? "_reverse" : "";
		const char *stem[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
		for (int s = 0; s < 4; s++) {
			snprintf(t[n].name, sizeof(t[n].name), "rnn.%s%s", stem[s], sfx);
			t[n].ndim = s < 2 ? 2 : 1;
			t[n].shape[0] = gates * H;
			t[n].shape[1] = s == 0 ? F : H;
			n++;
		}
	}
	snprintf(t[n].name, sizeof(t[n].name), "fc.weight");
	t[n].ndim = 2;
	t[n].shape[0] = 4;
	t[n].shape[1] = dirs * H;
	n++;
	mt_model_view *v = NULL;
	cr_assert_eq(mt_model_view_from_tensors(&v, t, n), 0, "%s", mt_error_last());
	for (size_t i = 0; i < v->nlayers; i++) {
		for (int64_t e = 0; e < v->layers[i].numel; e++)
			v->layers[i].weight[e] = 0.01f * (float)(e + 1);
		for (int64_t e = 0; e < v->layers[i].nbias; e++)
			v->layers[i].bias[e] = -0.01f * (float)(e + 1);
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

/* Is weight element e of a one-direction LSTM view in gate g's rows? ih
 * is 8 x 3 at 0, hh 8 x 2 at 24; biases 8 + 8. */
static int in_gate(int64_t e, int g)
{
	int64_t row = e < 24 ? e / F : (e - 24) / H;
	return row / H == g;
}

Test(rnn_static, ratio_operators_touch_only_the_gate)
{
	const char *ops[] = {"RWGF", "RWQ", "RWPR"};
	for (int o = 0; o < 3; o++) {
		mt_model_view *v = recurrent(4, 1), *orig = recurrent(4, 1);
		mt_op_result r;
		/* forget gate: 6 ih + 4 hh weights, 2 + 2 biases = 14; ratio 0.5 -> 7 */
		mt_op_args a = args_for(ops[o], (const char *const[]){"layer", "rnn", "gate", "forget",
								  "ratio", "0.5", "seed", "11", NULL});
		cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s: %s", ops[o], mt_error_last());
		cr_assert_eq(r.units, 7, "%s", ops[o]);
		const mt_view_layer *l = &v->layers[0], *ol = &orig->layers[0];
		int changed = 0;
		for (int64_t e = 0; e < l->numel; e++)
			if (l->weight[e] != ol->weight[e]) {
				cr_assert(in_gate(e, 1), "%s changed weight %lld outside the forget gate", ops[o], (long long)e);
				changed++;
			}
		for (int64_t e = 0; e < l->nbias; e++)
			if (l->bias[e] != ol->bias[e]) {
				cr_assert_eq((e % 8) / H, 1, "%s changed bias %lld", ops[o], (long long)e);
				changed++;
			}
		cr_assert_leq(changed, 7);
		cr_assert_geq(changed, o == 2 ? 0 : 7, "%s changed %d", ops[o], changed);
		if (o == 1)
			for (int64_t e = 0; e < l->numel; e++)
				if (l->weight[e] != ol->weight[e])
					cr_assert_eq(l->weight[e], 1.0f);
		/* the same seed gives the same mutant */
		mt_model_view *again = recurrent(4, 1);
		cr_assert_eq(mt_operator_apply(&r, again, &a), 0);
		cr_assert_eq(memcmp(again->layers[0].weight, l->weight, (size_t)l->numel * sizeof(float)), 0);
		mt_model_view_free(again);
		mt_op_args_dispose(&a);
		mt_model_view_free(v);
		mt_model_view_free(orig);
	}
}

Test(rnn_static, gate_operators_change_every_weight_of_the_gate)
{
	mt_model_view *v = recurrent(3, 2), *orig = recurrent(3, 2);
	mt_op_result r;
	/* GRU "new" gate, both directions: one factor per direction */
	mt_op_args a = args_for("RGGF", (const char *const[]){"layer", "rnn", "gate", "new", "sigma", "0.5",
							  "seed", "3", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	cr_assert_eq(r.units, 2);
	const mt_view_layer *l = &v->layers[0], *ol = &orig->layers[0];
	/* direction d: ih 6x3 at d*30, hh 6x2 at d*30+18; new gate rows 4, 5 */
	for (int d = 0; d < 2; d++) {
		double ratio = l->weight[d * 30 + 4 * F] / ol->weight[d * 30 + 4 * F];
		for (int row = 0; row < 6; row++)
			for (int c = 0; c < F; c++) {
				int64_t e = d * 30 + row * F + c;
				if (row >= 4)
					cr_assert_float_eq(l->weight[e] / ol->weight[e], ratio, 1e-5);
				else
					cr_assert_eq(l->weight[e], ol->weight[e]);
			}
	}
	mt_op_args_dispose(&a);
	/* RGPR: every weight of all gates on a multiple of 2^-bits */
	a = args_for("RGPR", (const char *const[]){"layer", "rnn", "bits", "3", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	for (int64_t e = 0; e < l->numel; e++)
		cr_assert_eq(l->weight[e] * 8.0f, nearbyintf(l->weight[e] * 8.0f));
	for (int64_t e = 0; e < l->nbias; e++)
		cr_assert_eq(l->bias[e] * 8.0f, nearbyintf(l->bias[e] * 8.0f));
	mt_op_args_dispose(&a);
	mt_model_view_free(v);
	mt_model_view_free(orig);
}

Test(rnn_static, gates_the_layer_does_not_have_are_errors)
{
	mt_model_view *gru = recurrent(3, 1), *rnn = recurrent(1, 1);
	mt_op_result r;
	mt_op_args a = args_for("RWGF", (const char *const[]){"layer", "rnn", "gate", "forget", NULL});
	cr_assert_eq(mt_operator_apply(&r, gru, &a), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "layer 'rnn' is a gru layer, which has no gate 'forget'") &&
		  strstr(mt_error_last(), "reset, update, new"), "%s", mt_error_last());
	cr_assert_eq(mt_operator_apply(&r, rnn, &a), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "no gates; expected gate: all"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	/* a static RNN operator on a linear layer */
	a = args_for("RWQ", (const char *const[]){"layer", "fc", NULL});
	cr_assert_eq(mt_operator_apply(&r, gru, &a), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "layer 'fc' is a linear layer") &&
		  strstr(mt_error_last(), "recurrent layer (LSTM, GRU or RNN): rnn"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	/* gate operators on an RNN (no gates) */
	a = args_for("GC", (const char *const[]){"layer", "rnn", "step", "1", NULL});
	cr_assert_eq(mt_op_check_layer(rnn, &a, "rnn"), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "rnn layer, which has no gates"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	mt_model_view_free(gru);
	mt_model_view_free(rnn);
}

Test(rnn_dynamic, prepare_checks_steps_states_and_draws_factors)
{
	mt_model_view *v = recurrent(4, 2);
	const mt_view_layer *l = &v->layers[0];
	mt_rnn_mutation m;
	float *f = NULL;
	mt_op_args a = args_for("SGF", (const char *const[]){"layer", "rnn", "step", "2-4", "state", "both",
							 "sigma", "0.5", "seed", "77", NULL});
	cr_assert_eq(mt_rnn_op_prepare(&m, &f, &a, l, 28), 0, "%s", mt_error_last());
	cr_assert_eq(m.action, MT_RNN_STATE_SCALE);
	cr_assert_eq(m.first, 2);
	cr_assert_eq(m.last, 4);
	cr_assert_eq(m.states, MT_RNN_STATE_H | MT_RNN_STATE_C);
	/* 3 steps x 1 depth x 2 directions x 2 states */
	cr_assert_eq(m.nfactors, 12);
	mt_rng rng;
	mt_rng_seed(&rng, 77);
	for (size_t i = 0; i < m.nfactors; i++)
		cr_assert_eq(f[i], (float)(1.0 + 0.5 * mt_rng_normal(&rng)));
	free(f);
	/* past the sequence: names the layer and the valid steps */
	cr_assert_eq(mt_rnn_op_prepare(&m, &f, &a, l, 4), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "step 4 is past the end of the input of layer 'rnn' (4 time steps)") &&
		  strstr(mt_error_last(), "0-3"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	/* auto: the cell state of an LSTM */
	a = args_for("SC", (const char *const[]){"layer", "rnn", "step", "5", "direction", "reverse", NULL});
	cr_assert_eq(mt_rnn_op_prepare(&m, &f, &a, l, 28), 0, "%s", mt_error_last());
	cr_assert_eq(m.states, MT_RNN_STATE_C);
	cr_assert_eq(m.direction, 1);
	cr_assert_null(f);
	mt_op_args_dispose(&a);
	/* SR: from must come before the step */
	a = args_for("SR", (const char *const[]){"layer", "rnn", "step", "5", "from", "5", NULL});
	cr_assert_eq(mt_rnn_op_prepare(&m, &f, &a, l, 28), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "'from' is 5"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	/* GPR on the output gate: bit 3, 2^bits */
	a = args_for("GPR", (const char *const[]){"layer", "rnn", "step", "0-27", "gate", "output", "bits", "3", NULL});
	cr_assert_eq(mt_rnn_op_prepare(&m, &f, &a, l, 28), 0, "%s", mt_error_last());
	cr_assert_eq(m.gates, 8u);
	cr_assert_eq(m.scale, 8.0);
	mt_op_args_dispose(&a);
	/* no step */
	a = args_for("GC", (const char *const[]){"layer", "rnn", NULL});
	cr_assert_eq(mt_rnn_op_prepare(&m, &f, &a, l, 28), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "'step' is missing"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	mt_model_view_free(v);

	/* a GRU has no cell state, a unidirectional layer no reverse */
	v = recurrent(3, 1);
	a = args_for("SPR", (const char *const[]){"layer", "rnn", "step", "1", "state", "cell", NULL});
	cr_assert_eq(mt_rnn_op_prepare(&m, &f, &a, &v->layers[0], 28), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "gru layer, which has no cell state"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	a = args_for("GGF", (const char *const[]){"layer", "rnn", "step", "1", "direction", "reverse", NULL});
	cr_assert_eq(mt_rnn_op_prepare(&m, &f, &a, &v->layers[0], 28), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "not bidirectional"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	a = args_for("SC", (const char *const[]){"layer", "rnn", "step", "1", "depth", "1", NULL});
	cr_assert_eq(mt_rnn_op_prepare(&m, &f, &a, &v->layers[0], 28), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "1 stacked layer"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	mt_model_view_free(v);
}

Test(rnn_dynamic, arguments_parse_and_format)
{
	mt_op_args a;
	char *s = NULL;
	cr_assert_eq(mt_op_args_init(&a, mt_operator_find("GGF")), 0);
	cr_assert_eq(mt_op_args_set(&a, "step", "3-9"), 0);
	cr_assert_eq(mt_op_args_set(&a, "gate", "forget"), 0);
	cr_assert_eq(mt_op_args_set(&a, "depth", "1"), 0);
	cr_assert_eq(mt_op_args_set(&a, "layer", "enc.lstm"), 0);
	a.seed = 5;
	cr_assert_eq(mt_op_args_format(&s, &a), 0);
	cr_assert_str_eq(s, "GGF layers=enc.lstm step=3-9 sigma=0.5 gate=forget depth=1 direction=all seed=5");
	free(s);
	cr_assert_eq(mt_op_args_set(&a, "step", "9-3"), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "range first-last"), "%s", mt_error_last());
	cr_assert_eq(mt_op_args_set(&a, "step", "-1"), MT_EINVALID);
	cr_assert_eq(mt_op_args_set(&a, "gate", "memory"), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "input|forget|cell|output|reset|update|new"), "%s", mt_error_last());
	cr_assert_eq(mt_op_args_set(&a, "depth", "x"), MT_EINVALID);
	cr_assert_eq(mt_op_args_set(&a, "state", "cell"), MT_EINVALID); /* GGF has no state */
	mt_op_args_dispose(&a);
	/* every RNN operator is in the registry with its kind and targets */
	const char *dyn[] = {"SC", "SR", "SGF", "SPR", "GC", "GGF", "GPR"};
	const char *stat[] = {"RWGF", "RWQ", "RWPR", "RGGF", "RGPR"};
	for (int i = 0; i < 7; i++) {
		const mt_operator *op = mt_operator_find(dyn[i]);
		cr_assert_not_null(op, "%s", dyn[i]);
		cr_assert_eq(op->kind, MT_OP_KIND_DYNAMIC);
		cr_assert_eq(op->targets, dyn[i][0] == 'G' ? MT_OP_TARGET_GATED : MT_OP_TARGET_RECURRENT);
	}
	for (int i = 0; i < 5; i++) {
		const mt_operator *op = mt_operator_find(stat[i]);
		cr_assert_not_null(op, "%s", stat[i]);
		cr_assert_eq(op->kind, MT_OP_KIND_WEIGHTS);
		cr_assert_not_null(op->apply);
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert_eq(mt_operators_print(f), 0);
	fclose(f);
	for (int i = 0; i < 7; i++) {
		char row[16];
		snprintf(row, sizeof(row), "\n%-5s model", dyn[i]);
		cr_assert(strstr(text, row), "%s missing from `mutorch operators`", dyn[i]);
	}
	cr_assert(strstr(text, "RGPR  model"), "%s", text);
	free(text);
}
