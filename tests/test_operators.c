/* The operator registry, parameter parsing and the weight operators on
 * small hand-made layers with exact expected results. Expected float bit
 * patterns for fp16/bf16/round/QNT were computed with PyTorch 1.13
 * (x.half(), x.bfloat16(), torch.round(x, decimals=2), and
 * (w/s).round().clamp(-q,q)*s with s = w.abs().max()/q). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/floats.h"
#include "mutorch/operators.h"
#include "mutorch/rng.h"
#include "mutorch/shim.h"
#include "mutorch/view.h"

static uint32_t bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

static float from_bits(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

static mt_op_args args_for(const char *op, const char *const *kv)
{
	mt_op_args a;
	cr_assert_eq(mt_op_args_init(&a, mt_operator_find(op)), 0, "%s", mt_error_last());
	for (size_t i = 0; kv && kv[i]; i += 2)
		cr_assert_eq(mt_op_args_set(&a, kv[i], kv[i + 1]), 0, "%s", mt_error_last());
	return a;
}

/* A linear layer rows x cols with w[i] = (i+1) * 0.01 * (-1)^i and bias
 * b[r] = 0.5 + r. */
static mt_model_view *one_linear(int64_t rows, int64_t cols)
{
	mt_model_view *v;
	cr_assert_eq(mt_model_view_new(&v), 0);
	int64_t shape[2] = {rows, cols};
	float *w = malloc((size_t)(rows * cols) * sizeof(float));
	float *b = malloc((size_t)rows * sizeof(float));
	for (int64_t i = 0; i < rows * cols; i++)
		w[i] = (float)((i + 1) * 0.01 * ((i % 2) ? -1 : 1));
	for (int64_t r = 0; r < rows; r++)
		b[r] = 0.5f + (float)r;
	cr_assert_eq(mt_model_view_add(v, "fc", 2, shape, w, 1, b), 0, "%s", mt_error_last());
	free(w);
	free(b);
	return v;
}

static int rows_equal(const float *a, const float *b, int64_t n)
{
	return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

/* ---- rng and conversions ------------------------------------------------ */

Test(operators, rng_is_deterministic_and_in_range)
{
	mt_rng a, b, c;
	mt_rng_seed(&a, 42);
	mt_rng_seed(&b, 42);
	mt_rng_seed(&c, 43);
	int differs = 0;
	for (int i = 0; i < 100; i++) {
		uint64_t x = mt_rng_next(&a), y = mt_rng_next(&b), z = mt_rng_next(&c);
		cr_assert_eq(x, y);
		differs |= x != z;
	}
	cr_assert(differs);
	for (int i = 0; i < 1000; i++) {
		cr_assert_lt(mt_rng_below(&a, 7), 7u);
		double u = mt_rng_uniform(&a);
		cr_assert(u >= 0.0 && u < 1.0);
	}
	/* normals: mean ~0, variance ~1 over many draws */
	double s = 0, ss = 0;
	for (int i = 0; i < 20000; i++) {
		double z = mt_rng_normal(&a);
		s += z;
		ss += z * z;
	}
	cr_assert_lt(fabs(s / 20000), 0.05);
	cr_assert_lt(fabs(ss / 20000 - 1.0), 0.05);
	int64_t pick[10];
	cr_assert_eq(mt_rng_sample(pick, &a, 10, 10), 0);
	int seen[10] = {0};
	for (int i = 0; i < 10; i++)
		seen[pick[i]]++;
	for (int i = 0; i < 10; i++)
		cr_assert_eq(seen[i], 1, "sampling without replacement repeats %d", i);
	cr_assert_lt(mt_rng_sample(pick, &a, 3, 4), 0);
}

Test(operators, fp16_and_bf16_match_torch)
{
	const uint32_t in[] = {1036831949, 1051372203, 1199562752, 1199566592, 1199566848,
			       925353388, 864082265, 855636709, 1065365504, 3139688202,
			       1078530011, 1621981420, 2147483648u};
	const uint16_t half[] = {0x2e66, 0x3555, 0x7bff, 0x7bff, 0x7c00, 0xa8, 0x1,
				 0x0, 0x3c02, 0x991f, 0x4248, 0x7c00, 0x8000};
	const uint16_t bf[] = {0x3dcd, 0x3eab, 0x4780, 0x4780, 0x4780, 0x3728, 0x3381,
			       0x3300, 0x3f80, 0xbb24, 0x4049, 0x60ad, 0x8000};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		float x = from_bits(in[i]);
		cr_assert_eq(mt_float_to_fp16(x), half[i], "fp16 of %a: %#x, expected %#x", x,
			     mt_float_to_fp16(x), half[i]);
		cr_assert_eq(mt_float_to_bf16(x), bf[i], "bf16 of %a: %#x, expected %#x", x,
			     mt_float_to_bf16(x), bf[i]);
	}
	/* round trips of exactly representable values */
	cr_assert_eq(mt_fp16_to_float(0x3c00), 1.0f);
	cr_assert_eq(mt_fp16_to_float(0x0001), 0x1.0p-24f);
	cr_assert_eq(mt_fp16_to_float(0x7bff), 65504.0f);
	cr_assert(isinf(mt_fp16_to_float(0x7c00)));
	cr_assert(isnan(mt_fp16_to_float(mt_float_to_fp16(NAN))));
	cr_assert_eq(mt_bf16_to_float(0x3f80), 1.0f);
	cr_assert_eq(mt_float_to_bf16(NAN), 0x7fc0);
	cr_assert_eq(mt_round_half_even(2.5f), 2.0f);
	cr_assert_eq(mt_round_half_even(3.5f), 4.0f);
	cr_assert_eq(mt_round_half_even(-0.5f), -0.0f);
}

/* ---- registry and parameters ------------------------------------------- */

Test(operators, registry_has_every_model_operator)
{
	const char *names[] = {"GF", "WS", "NEB", "NAI", "NS", "LD", "LAm", "AFRm",
			       "WPR", "QNT", "BF", "PRN"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const mt_operator *op = mt_operator_find(names[i]);
		cr_assert_not_null(op, "%s", names[i]);
		cr_assert_str_eq(op->name, names[i]);
		cr_assert_eq(op->level, MT_OP_LEVEL_MODEL);
		cr_assert_eq(op->apply == NULL, op->kind == MT_OP_KIND_GRAPH, "%s", names[i]);
	}
	cr_assert_null(mt_operator_find("XYZ"));
	cr_assert_null(mt_operator_find("gf"));

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert_eq(mt_operators_print(f), 0);
	fclose(f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert(strstr(text, names[i]), "printout lacks %s", names[i]);
	cr_assert(strstr(text, "ratio=0.01"), "%s", text);
	cr_assert(strstr(text, "sigma_mode=relative"), "%s", text);
	free(text);
}

Test(operators, defaults_and_canonical_text)
{
	mt_op_args a = args_for("GF", NULL);
	cr_assert_eq(a.ratio, 0.01);
	cr_assert_eq(a.sigma, 1.0);
	cr_assert_eq(a.sigma_mode, MT_GF_SIGMA_RELATIVE);
	cr_assert_eq(a.gf_variant, MT_GF_ADDITIVE);
	char *s = NULL;
	cr_assert_eq(mt_op_args_format(&s, &a), 0);
	cr_assert_str_eq(s, "GF layers=all ratio=0.01 sigma=1 sigma_mode=relative variant=additive seed=0");
	free(s);
	const char *kv[] = {"layers", "conv1, fc1", "variant", "multiplicative", "sigma", "0.5",
			    "seed", "7", NULL};
	mt_op_args b = args_for("GF", kv);
	cr_assert_eq(mt_op_args_format(&s, &b), 0);
	cr_assert_str_eq(s, "GF layers=conv1,fc1 ratio=0.01 sigma=0.5 sigma_mode=relative variant=multiplicative seed=7");
	free(s);
	mt_op_args c;
	cr_assert_eq(mt_op_args_copy(&c, &b), 0);
	cr_assert_eq(c.nlayers, 2);
	cr_assert_str_eq(c.layers[1], "fc1");
	mt_op_args_dispose(&b);
	mt_op_args_dispose(&c);

	mt_op_args w = args_for("WPR", NULL);
	cr_assert_eq(w.wpr_mode, MT_WPR_FP16);
	const char *d[] = {"digits", "3", NULL};
	mt_op_args w3 = args_for("WPR", d);
	cr_assert_eq(w3.wpr_mode, MT_WPR_DIGITS);
	cr_assert_eq(mt_op_args_format(&s, &w3), 0);
	cr_assert_str_eq(s, "WPR layers=all digits=3 seed=0");
	free(s);
	mt_op_args bf = args_for("BF", NULL);
	cr_assert_eq(bf.bf_class, MT_BF_EXPONENT);
	cr_assert_eq(bf.k, 1);
	mt_op_args ld = args_for("LD", (const char *const[]){"layer", "relu@1", NULL});
	cr_assert_str_eq(ld.site, "relu@1");
	cr_assert_eq(mt_op_args_format(&s, &ld), 0);
	cr_assert_str_eq(s, "LD site=relu@1 seed=0");
	free(s);
}

static void expect_error(const char *op, const char *key, const char *value,
			 const char *const *needles)
{
	mt_op_args a;
	cr_assert_eq(mt_op_args_init(&a, mt_operator_find(op)), 0);
	int rc = mt_op_args_set(&a, key, value);
	cr_assert_eq(rc, MT_EINVALID, "%s %s=%s accepted", op, key, value);
	for (size_t i = 0; needles[i]; i++)
		cr_assert(strstr(mt_error_last(), needles[i]), "'%s' lacks '%s'",
			  mt_error_last(), needles[i]);
	mt_op_args_dispose(&a);
}

Test(operators, parameter_errors_name_operator_parameter_and_expectation)
{
	expect_error("GF", "ratio", "0", (const char *const[]){"GF", "'ratio'", "expected a number in (0, 1]", NULL});
	expect_error("GF", "ratio", "1.5", (const char *const[]){"GF", "'ratio'", "'1.5'", NULL});
	expect_error("NAI", "ratio", "abc", (const char *const[]){"NAI", "'ratio'", "expected", NULL});
	expect_error("GF", "sigma_mode", "sideways", (const char *const[]){"GF", "sigma_mode", "relative|absolute", NULL});
	expect_error("GF", "colour", "red", (const char *const[]){"GF", "unknown parameter 'colour'", "ratio", "sigma", NULL});
	expect_error("BF", "bit", "32", (const char *const[]){"BF", "'bit'", "sign|exponent|mantissa|any|0..31", NULL});
	expect_error("BF", "k", "0", (const char *const[]){"BF", "'k'", "integer", NULL});
	expect_error("QNT", "bits", "16", (const char *const[]){"QNT", "'bits'", "[2, 8]", NULL});
	expect_error("QNT", "granularity", "row", (const char *const[]){"QNT", "tensor|channel", NULL});
	expect_error("WPR", "dtype", "fp8", (const char *const[]){"WPR", "fp16|bf16", NULL});
	expect_error("GF", "seed", "-3", (const char *const[]){"GF", "'seed'", "unsigned", NULL});
	expect_error("GF", "layer", "a,b", (const char *const[]){"GF", "'layer'", "one layer", NULL});

	/* from a config entry: unknown operator, combinations, line numbers */
	mt_config_param p1[] = {{"digits", "2", 5}, {"dtype", "bf16", 6}};
	mt_config_mutation m1 = {"WPR", p1, 2, 4};
	mt_op_args a;
	cr_assert_eq(mt_op_args_from_config(&a, &m1, NULL), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "line 4") && strstr(mt_error_last(), "digits") &&
		  strstr(mt_error_last(), "dtype"), "%s", mt_error_last());
	mt_config_mutation m2 = {"GFX", NULL, 0, 9};
	cr_assert_eq(mt_op_args_from_config(&a, &m2, NULL), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "'GFX'") && strstr(mt_error_last(), "NEB"),
		  "%s", mt_error_last());
	mt_config_param p3[] = {{"ratio", "2", 12}};
	mt_config_mutation m3 = {"NS", p3, 1, 11};
	cr_assert_eq(mt_op_args_from_config(&a, &m3, NULL), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "line 12: NS: parameter 'ratio'"), "%s", mt_error_last());
	mt_config_param p4[] = {{"ratio", "0.5", 3}, {"count", "4", 4}};
	mt_config_mutation m4 = {"NS", p4, 2, 2};
	const char *ignore[] = {"count", NULL};
	cr_assert_eq(mt_op_args_from_config(&a, &m4, ignore), 0, "%s", mt_error_last());
	cr_assert_eq(a.ratio, 0.5);
	mt_op_args_dispose(&a);
	cr_assert_eq(mt_op_args_from_config(&a, &m4, NULL), MT_EINVALID);
}

Test(operators, apply_checks_targets)
{
	mt_model_view *v = one_linear(4, 3);
	mt_op_result r;
	mt_op_args a = args_for("GF", (const char *const[]){"layer", "conv9", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), MT_ENOTFOUND);
	cr_assert(strstr(mt_error_last(), "GF: layer 'conv9' not found") &&
		  strstr(mt_error_last(), "fc"), "%s", mt_error_last());
	mt_op_args_dispose(&a);
	mt_op_args ld = args_for("LD", NULL);
	cr_assert_eq(mt_operator_apply(&r, v, &ld), MT_EINVALID);
	/* a neuron operator on a 1-D layer is refused */
	int64_t shape1[1] = {4};
	cr_assert_eq(mt_model_view_add(v, "bn", 1, shape1, NULL, 1, NULL), 0);
	mt_op_args nai = args_for("NAI", (const char *const[]){"layer", "bn", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &nai), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "layer 'bn' is an other layer, which has no neurons") &&
		  strstr(mt_error_last(), "expected a layer with neurons: fc"), "%s", mt_error_last());
	mt_op_args_dispose(&nai);
	mt_model_view_free(v);
}

Test(operators, view_from_tensors_groups_weights_and_biases)
{
	mt_tensor_info infos[5];
	memset(infos, 0, sizeof(infos));
	snprintf(infos[0].name, sizeof(infos[0].name), "conv1.weight");
	infos[0].ndim = 4;
	int64_t s0[4] = {6, 1, 5, 5};
	memcpy(infos[0].shape, s0, sizeof(s0));
	snprintf(infos[1].name, sizeof(infos[1].name), "conv1.bias");
	infos[1].ndim = 1;
	infos[1].shape[0] = 6;
	snprintf(infos[2].name, sizeof(infos[2].name), "fc.weight");
	infos[2].ndim = 2;
	infos[2].shape[0] = 10;
	infos[2].shape[1] = 20;
	snprintf(infos[3].name, sizeof(infos[3].name), "bn.running_mean");
	infos[3].ndim = 1;
	infos[3].shape[0] = 6;
	infos[3].is_buffer = 1;
	snprintf(infos[4].name, sizeof(infos[4].name), "bn.weight");
	infos[4].ndim = 1;
	infos[4].shape[0] = 6;
	mt_model_view *v;
	cr_assert_eq(mt_model_view_from_tensors(&v, infos, 5), 0, "%s", mt_error_last());
	cr_assert_eq(v->nlayers, 3);
	cr_assert_str_eq(v->layers[0].name, "conv1");
	cr_assert_eq(v->layers[0].kind, MT_VIEW_CONV2D);
	cr_assert_eq(v->layers[0].numel, 150);
	cr_assert_str_eq(v->layers[0].bias_name, "conv1.bias");
	cr_assert_not_null(v->layers[0].bias);
	cr_assert_str_eq(v->layers[1].weight_name, "fc.weight");
	cr_assert_eq(v->layers[1].kind, MT_VIEW_LINEAR);
	cr_assert_null(v->layers[1].bias);
	cr_assert_eq(v->layers[2].kind, MT_VIEW_BATCHNORM); /* it has a running_mean */
	cr_assert_eq(mt_model_view_find(v, "fc"), &v->layers[1]);
	mt_model_view_free(v);
}

/* ---- DeepMutation operators -------------------------------------------- */

Test(operators, nai_negates_exactly_the_chosen_rows)
{
	mt_model_view *orig = one_linear(8, 3), *v;
	cr_assert_eq(mt_model_view_copy(&v, orig), 0);
	mt_op_args a = args_for("NAI", (const char *const[]){"ratio", "0.25", "seed", "3", NULL});
	mt_op_result r;
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	cr_assert_eq(r.units, 2);
	int negated = 0;
	for (int row = 0; row < 8; row++) {
		const float *o = orig->layers[0].weight + row * 3, *m = v->layers[0].weight + row * 3;
		if (rows_equal(o, m, 3)) {
			cr_assert_eq(v->layers[0].bias[row], orig->layers[0].bias[row]);
			continue;
		}
		negated++;
		for (int c = 0; c < 3; c++)
			cr_assert_eq(m[c], -o[c]);
		cr_assert_eq(v->layers[0].bias[row], -orig->layers[0].bias[row]);
	}
	cr_assert_eq(negated, 2);
	cr_assert_eq(r.weights_changed, 2 * 3 + 2);
	cr_assert(v->layers[0].weight_changed && v->layers[0].bias_changed);
	/* restore brings the original back */
	cr_assert_eq(mt_model_view_restore(v, orig), 0);
	cr_assert(rows_equal(v->layers[0].weight, orig->layers[0].weight, 24));
	cr_assert(rows_equal(v->layers[0].bias, orig->layers[0].bias, 8));
	mt_model_view_free(v);
	mt_model_view_free(orig);
}

Test(operators, ns_swaps_rows_and_biases)
{
	mt_model_view *orig = one_linear(10, 4), *v;
	cr_assert_eq(mt_model_view_copy(&v, orig), 0);
	mt_op_args a = args_for("NS", (const char *const[]){"ratio", "0.4", "seed", "11", NULL});
	mt_op_result r;
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	cr_assert_eq(r.units, 2, "ratio 0.4 of 10 neurons: 4 neurons, 2 pairs");
	int moved = 0;
	for (int row = 0; row < 10; row++) {
		const float *m = v->layers[0].weight + row * 4;
		if (rows_equal(m, orig->layers[0].weight + row * 4, 4))
			continue;
		moved++;
		int found = -1;
		for (int o = 0; o < 10; o++)
			if (rows_equal(m, orig->layers[0].weight + o * 4, 4))
				found = o;
		cr_assert_neq(found, -1, "row %d is no original row", row);
		/* a swap: the partner holds this row's original */
		cr_assert(rows_equal(v->layers[0].weight + found * 4, orig->layers[0].weight + row * 4, 4));
		cr_assert_eq(v->layers[0].bias[row], orig->layers[0].bias[found]);
	}
	cr_assert_eq(moved, 4);
	/* a tiny ratio still makes one pair */
	mt_model_view *w;
	cr_assert_eq(mt_model_view_copy(&w, orig), 0);
	mt_op_args small = args_for("NS", (const char *const[]){"ratio", "0.01", NULL});
	cr_assert_eq(mt_operator_apply(&r, w, &small), 0);
	cr_assert_eq(r.units, 1);
	cr_assert_eq(r.weights_changed, 2 * 4 + 2);
	mt_model_view_free(w);
	mt_model_view_free(v);
	mt_model_view_free(orig);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

Test(operators, ws_permutes_within_rows)
{
	mt_model_view *orig = one_linear(20, 16), *v;
	cr_assert_eq(mt_model_view_copy(&v, orig), 0);
	mt_op_args a = args_for("WS", (const char *const[]){"ratio", "0.1", "seed", "5", NULL});
	mt_op_result r;
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	cr_assert_eq(r.units, 2);
	int changed = 0;
	for (int row = 0; row < 20; row++) {
		float o[16], m[16];
		memcpy(o, orig->layers[0].weight + row * 16, sizeof(o));
		memcpy(m, v->layers[0].weight + row * 16, sizeof(m));
		if (!rows_equal(o, m, 16))
			changed++;
		qsort(o, 16, sizeof(float), cmp_float);
		qsort(m, 16, sizeof(float), cmp_float);
		cr_assert(rows_equal(o, m, 16), "row %d is not a permutation", row);
	}
	cr_assert_eq(changed, 2);
	cr_assert(rows_equal(v->layers[0].bias, orig->layers[0].bias, 20));
	cr_assert_eq(v->layers[0].bias_changed, 0);
	mt_model_view_free(v);
	mt_model_view_free(orig);
}

Test(operators, gf_changes_exactly_round_ratio_n_weights_deterministically)
{
	mt_model_view *orig = one_linear(25, 40), *v1, *v2, *v3;
	cr_assert_eq(mt_model_view_copy(&v1, orig), 0);
	cr_assert_eq(mt_model_view_copy(&v2, orig), 0);
	cr_assert_eq(mt_model_view_copy(&v3, orig), 0);
	mt_op_args a = args_for("GF", (const char *const[]){"ratio", "0.013", "seed", "9", NULL});
	mt_op_result r;
	cr_assert_eq(mt_operator_apply(&r, v1, &a), 0, "%s", mt_error_last());
	cr_assert_eq(r.units, 13);
	cr_assert_eq(r.weights_changed, 13);
	int64_t diff = 0;
	for (int64_t i = 0; i < 1000; i++)
		diff += bits(v1->layers[0].weight[i]) != bits(orig->layers[0].weight[i]);
	cr_assert_eq(diff, 13);
	cr_assert(rows_equal(v1->layers[0].bias, orig->layers[0].bias, 25));
	cr_assert_eq(mt_operator_apply(&r, v2, &a), 0);
	cr_assert(rows_equal(v1->layers[0].weight, v2->layers[0].weight, 1000),
		  "same seed gave different bytes");
	a.seed = 10;
	cr_assert_eq(mt_operator_apply(&r, v3, &a), 0);
	cr_assert(!rows_equal(v1->layers[0].weight, v3->layers[0].weight, 1000));

	/* absolute sigma, multiplicative: noise stays proportional */
	mt_model_view *v4;
	cr_assert_eq(mt_model_view_copy(&v4, orig), 0);
	mt_op_args m = args_for("GF", (const char *const[]){"ratio", "1", "variant", "multiplicative",
							  "sigma", "0.001", NULL});
	cr_assert_eq(mt_operator_apply(&r, v4, &m), 0);
	for (int64_t i = 0; i < 1000; i++) {
		double o = orig->layers[0].weight[i];
		cr_assert_leq(fabs(v4->layers[0].weight[i] - o), fabs(o) * 0.006 + 1e-9);
	}
	mt_model_view_free(v4);
	mt_model_view_free(v1);
	mt_model_view_free(v2);
	mt_model_view_free(v3);
	mt_model_view_free(orig);
}

/* conv1 (4 out, 1 in, 2x2) -> conv2 (3 out, 4 in, 2x2) -> fc (5 out, 12
 * in = 4 channels... no: 3 channels x 2x2) -> out (2 out, 5 in) */
static mt_model_view *small_cnn(void)
{
	mt_model_view *v;
	cr_assert_eq(mt_model_view_new(&v), 0);
	int64_t c1[4] = {4, 1, 2, 2}, c2[4] = {3, 4, 2, 2}, f1[2] = {5, 12}, f2[2] = {2, 5};
	cr_assert_eq(mt_model_view_add(v, "conv1", 4, c1, NULL, 1, NULL), 0);
	cr_assert_eq(mt_model_view_add(v, "conv2", 4, c2, NULL, 1, NULL), 0);
	cr_assert_eq(mt_model_view_add(v, "fc", 2, f1, NULL, 1, NULL), 0);
	cr_assert_eq(mt_model_view_add(v, "out", 2, f2, NULL, 1, NULL), 0);
	for (size_t l = 0; l < v->nlayers; l++) {
		for (int64_t i = 0; i < v->layers[l].numel; i++)
			v->layers[l].weight[i] = 1.0f + (float)i;
		for (int64_t i = 0; i < v->layers[l].nbias; i++)
			v->layers[l].bias[i] = 2.0f;
	}
	return v;
}

Test(operators, neb_zeroes_the_next_layers_inputs)
{
	mt_model_view *v = small_cnn();
	mt_op_result r;
	/* conv1 has 4 channels; ratio 0.25 -> 1 channel j; conv2's weights
	 * [:, j, :, :] become 0: 3 outputs x 4 kernel elements */
	mt_op_args a = args_for("NEB", (const char *const[]){"layer", "conv1", "ratio", "0.25", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	cr_assert_eq(r.weights_changed, 12);
	cr_assert(!v->layers[0].weight_changed && v->layers[1].weight_changed);
	int j = -1;
	for (int c = 0; c < 4; c++)
		if (v->layers[1].weight[c * 4] == 0.0f)
			j = c;
	cr_assert_neq(j, -1);
	for (int o = 0; o < 3; o++)
		for (int c = 0; c < 4; c++)
			for (int e = 0; e < 4; e++) {
				float w = v->layers[1].weight[(o * 4 + c) * 4 + e];
				cr_assert_eq(w == 0.0f, c == j, "o%d c%d e%d", o, c, e);
			}
	mt_op_args_dispose(&a);

	/* conv2 (3 channels) -> fc with 12 inputs: blocks of 4 columns */
	mt_model_view *w = small_cnn();
	mt_op_args b = args_for("NEB", (const char *const[]){"layer", "conv2", "ratio", "0.3", "seed", "2", NULL});
	cr_assert_eq(mt_operator_apply(&r, w, &b), 0, "%s", mt_error_last());
	cr_assert_eq(r.weights_changed, 5 * 4);
	int ch = -1;
	for (int c = 0; c < 3; c++)
		if (w->layers[2].weight[c * 4] == 0.0f)
			ch = c;
	cr_assert_neq(ch, -1);
	for (int row = 0; row < 5; row++)
		for (int col = 0; col < 12; col++)
			cr_assert_eq(w->layers[2].weight[row * 12 + col] == 0.0f, col / 4 == ch);
	mt_op_args_dispose(&b);

	/* fc -> out: column j of out */
	mt_op_args c = args_for("NEB", (const char *const[]){"layer", "fc", "ratio", "0.2", NULL});
	mt_model_view *x = small_cnn();
	cr_assert_eq(mt_operator_apply(&r, x, &c), 0);
	cr_assert_eq(r.weights_changed, 2);
	mt_op_args_dispose(&c);

	/* the last layer has no outgoing weights */
	mt_op_args d = args_for("NEB", (const char *const[]){"layer", "out", NULL});
	mt_model_view *y = small_cnn();
	cr_assert_eq(mt_operator_apply(&r, y, &d), 0);
	cr_assert_eq(r.not_applicable, 1);
	cr_assert(strstr(r.reason, "last parametric layer"), "%s", r.reason);
	cr_assert_eq(r.weights_changed, 0);
	mt_op_args_dispose(&d);

	/* incoming variant: the neuron's own row and bias */
	mt_op_args e = args_for("NEB", (const char *const[]){"layer", "out", "variant", "incoming",
							    "ratio", "0.5", NULL});
	cr_assert_eq(mt_operator_apply(&r, y, &e), 0);
	cr_assert_eq(r.not_applicable, 0);
	cr_assert_eq(r.weights_changed, 5 + 1);
	cr_assert(y->layers[3].bias_changed);
	mt_op_args_dispose(&e);

	/* whole model: layers without a next layer are skipped with a note */
	mt_model_view *z = small_cnn();
	mt_op_args f = args_for("NEB", NULL);
	cr_assert_eq(mt_operator_apply(&r, z, &f), 0);
	cr_assert_eq(r.not_applicable, 0);
	cr_assert_eq(r.units, 1);
	cr_assert(strstr(r.reason, "out skipped"), "%s", r.reason);
	mt_model_view_free(v);
	mt_model_view_free(w);
	mt_model_view_free(x);
	mt_model_view_free(y);
	mt_model_view_free(z);
}

/* ---- deployment and fault operators ------------------------------------ */

Test(operators, wpr_matches_torch_casts_and_round)
{
	const float in[] = {0.12345f, -2.675f, 1.005f, 0.5f, 1.5f, 2.5f, -0.5f, 123.456f};
	/* torch.round(x, decimals=2) on float32 */
	const float rounded[] = {0.11999999731779099f, -2.680000066757202f, 1.0f, 0.5f, 1.5f,
				 2.5f, -0.5f, 123.45999908447266f};
	mt_model_view *v;
	cr_assert_eq(mt_model_view_new(&v), 0);
	int64_t shape[2] = {2, 4};
	float bias[2] = {0.1f, 1.0f / 3};
	cr_assert_eq(mt_model_view_add(v, "fc", 2, shape, in, 1, bias), 0);
	mt_op_result r;
	mt_op_args a = args_for("WPR", (const char *const[]){"digits", "2", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	for (int i = 0; i < 8; i++)
		cr_assert_eq(bits(v->layers[0].weight[i]), bits(rounded[i]), "%d: %a vs %a", i,
			     v->layers[0].weight[i], rounded[i]);
	mt_model_view_free(v);

	cr_assert_eq(mt_model_view_new(&v), 0);
	cr_assert_eq(mt_model_view_add(v, "fc", 2, shape, in, 1, bias), 0);
	mt_op_args h = args_for("WPR", (const char *const[]){"dtype", "bf16", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &h), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(bits(v->layers[0].weight[i]), (uint32_t)mt_float_to_bf16(in[i]) << 16);
	/* biases are cast too: 0.1 -> bf16 0x3dcd */
	cr_assert_eq(bits(v->layers[0].bias[0]), 0x3dcdu << 16);
	cr_assert(v->layers[0].bias_changed);
	mt_model_view_free(v);
}

Test(operators, qnt_matches_hand_computation)
{
	const float w[] = {0.5f, -1.25f, 0.3f, 0.7f, -0.05f, 2.0f};
	const uint32_t int8[] = {1057030660, 3214884477, 1050227301, 1060201158, 3175187206, 1073741824};
	const uint32_t int4[] = {1058162981, 3214035237, 1049774373, 1058162981, 2147483648u, 1073741824};
	int64_t shape[2] = {2, 3};
	mt_op_result r;
	for (int pass = 0; pass < 2; pass++) {
		mt_model_view *v;
		cr_assert_eq(mt_model_view_new(&v), 0);
		cr_assert_eq(mt_model_view_add(v, "fc", 2, shape, w, 1, NULL), 0);
		mt_op_args a = args_for("QNT", (const char *const[]){"bits", pass ? "4" : "8", NULL});
		cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
		for (int i = 0; i < 6; i++)
			cr_assert_eq(bits(v->layers[0].weight[i]), pass ? int4[i] : int8[i],
				     "bits %d element %d: %a", pass ? 4 : 8, i, v->layers[0].weight[i]);
		cr_assert_eq(v->layers[0].bias_changed, 0, "QNT leaves biases in float");
		mt_model_view_free(v);
	}
	/* per channel: each row has its own scale max|row| / 127 */
	const float wc[] = {0.5f, -1.0f, 0.25f, 0.1f, 0.3f, -0.2f};
	const uint32_t chan[] = {1057030660, 3212836864, 1048642052, 1036726266, 1050253722, 3192757046};
	mt_model_view *v;
	cr_assert_eq(mt_model_view_new(&v), 0);
	cr_assert_eq(mt_model_view_add(v, "fc", 2, shape, wc, 0, NULL), 0);
	mt_op_args c = args_for("QNT", (const char *const[]){"granularity", "channel", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &c), 0);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(bits(v->layers[0].weight[i]), chan[i], "element %d", i);
	/* the row maximum is exact: q = 127 times scale */
	cr_assert_eq(v->layers[0].weight[1], -1.0f);
	mt_model_view_free(v);
}

Test(operators, bf_flips_exactly_one_bit_per_chosen_weight)
{
	const char *classes[] = {"sign", "exponent", "mantissa", "any", "7"};
	for (int k = 0; k < 5; k++) {
		mt_model_view *orig = one_linear(10, 10), *v;
		cr_assert_eq(mt_model_view_copy(&v, orig), 0);
		mt_op_args a = args_for("BF", (const char *const[]){"k", "3", "bit", classes[k],
								   "seed", "1", NULL});
		mt_op_result r;
		cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
		int flipped = 0;
		for (int i = 0; i < 100; i++) {
			uint32_t x = bits(orig->layers[0].weight[i]) ^ bits(v->layers[0].weight[i]);
			if (!x)
				continue;
			flipped++;
			cr_assert_eq(__builtin_popcount(x), 1, "%s: more than one bit", classes[k]);
			int b = __builtin_ctz(x);
			if (k == 0)
				cr_assert_eq(b, 31);
			if (k == 1)
				cr_assert(b >= 23 && b <= 30, "exponent bit %d", b);
			if (k == 2)
				cr_assert(b <= 22, "mantissa bit %d", b);
			if (k == 4)
				cr_assert_eq(b, 7);
		}
		cr_assert_eq(flipped, 3, "%s", classes[k]);
		cr_assert_eq(r.weights_changed, 3);
		mt_model_view_free(v);
		mt_model_view_free(orig);
	}
}

Test(operators, prn_zeroes_exactly_the_smallest_with_ties_by_index)
{
	const float w[] = {0.5f, -0.1f, 0.3f, 0.1f, -0.9f, 0.2f, -0.1f, 0.05f};
	int64_t shape[2] = {2, 4};
	mt_model_view *v;
	cr_assert_eq(mt_model_view_new(&v), 0);
	cr_assert_eq(mt_model_view_add(v, "fc", 2, shape, w, 1, NULL), 0);
	/* ratio 0.375 of 8 = 3: 0.05 (7), then the ties at 0.1: indices 1, 3
	 * (6 stays) */
	mt_op_args a = args_for("PRN", (const char *const[]){"ratio", "0.375", NULL});
	mt_op_result r;
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0, "%s", mt_error_last());
	const float expect[] = {0.5f, 0.0f, 0.3f, 0.0f, -0.9f, 0.2f, -0.1f, 0.0f};
	for (int i = 0; i < 8; i++)
		cr_assert_eq(bits(v->layers[0].weight[i]), bits(expect[i]), "element %d", i);
	cr_assert_eq(r.weights_changed, 3);
	mt_model_view_free(v);
}

Test(operators, global_ratio_spans_layers)
{
	mt_model_view *orig = small_cnn(), *v;
	cr_assert_eq(mt_model_view_copy(&v, orig), 0);
	/* 16 + 48 + 60 + 10 = 134 weights; ratio 0.5 -> 67 pruned */
	mt_op_args a = args_for("PRN", (const char *const[]){"layers", "all", "ratio", "0.5", NULL});
	mt_op_result r;
	cr_assert_eq(mt_operator_apply(&r, v, &a), 0);
	cr_assert_eq(r.units, 67);
	int64_t zeros = 0;
	for (size_t l = 0; l < v->nlayers; l++)
		for (int64_t i = 0; i < v->layers[l].numel; i++)
			zeros += v->layers[l].weight[i] == 0.0f;
	cr_assert_eq(zeros, 67);
	/* the smallest magnitudes are 1..k of each layer: every layer loses
	 * some */
	cr_assert_eq(r.layers_changed, 4);
	mt_model_view_free(v);

	/* GF over two named layers changes weights only there */
	cr_assert_eq(mt_model_view_copy(&v, orig), 0);
	mt_op_args g = args_for("GF", (const char *const[]){"layers", "conv2,out", "ratio", "0.5",
							  "sigma_mode", "absolute", NULL});
	cr_assert_eq(mt_operator_apply(&r, v, &g), 0);
	cr_assert_eq(r.units, 29);
	cr_assert(!v->layers[0].weight_changed && !v->layers[2].weight_changed);
	cr_assert(v->layers[1].weight_changed || v->layers[3].weight_changed);
	mt_op_args_dispose(&g);
	mt_model_view_free(v);
	mt_model_view_free(orig);
}

Test(operators, every_weight_operator_is_deterministic)
{
	const char *ops[] = {"GF", "WS", "NEB", "NAI", "NS", "WPR", "QNT", "BF", "PRN"};
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		mt_model_view *base = small_cnn();
		/* make the weights irregular so shuffles and noise show */
		mt_rng rng;
		mt_rng_seed(&rng, 99);
		for (size_t l = 0; l < base->nlayers; l++)
			for (int64_t i = 0; i < base->layers[l].numel; i++)
				base->layers[l].weight[i] = (float)mt_rng_normal(&rng);
		mt_model_view *a, *b, *c;
		cr_assert_eq(mt_model_view_copy(&a, base), 0);
		cr_assert_eq(mt_model_view_copy(&b, base), 0);
		cr_assert_eq(mt_model_view_copy(&c, base), 0);
		mt_op_args args = args_for(ops[o], (const char *const[]){"seed", "1234", NULL});
		if (strcmp(ops[o], "BF") && strcmp(ops[o], "WPR") && strcmp(ops[o], "QNT"))
			args.ratio = 0.3;
		mt_op_result r;
		cr_assert_eq(mt_operator_apply(&r, a, &args), 0, "%s: %s", ops[o], mt_error_last());
		cr_assert_gt(r.weights_changed, 0, "%s changed nothing", ops[o]);
		cr_assert_eq(mt_operator_apply(&r, b, &args), 0);
		args.seed = 4321;
		cr_assert_eq(mt_operator_apply(&r, c, &args), 0);
		int same_ab = 1, same_ac = 1;
		for (size_t l = 0; l < base->nlayers; l++) {
			same_ab &= rows_equal(a->layers[l].weight, b->layers[l].weight, a->layers[l].numel) &&
				   rows_equal(a->layers[l].bias, b->layers[l].bias, a->layers[l].nbias);
			same_ac &= rows_equal(a->layers[l].weight, c->layers[l].weight, a->layers[l].numel) &&
				   rows_equal(a->layers[l].bias, c->layers[l].bias, a->layers[l].nbias);
		}
		cr_assert(same_ab, "%s: same seed, different bytes", ops[o]);
		int seeded = strcmp(ops[o], "WPR") && strcmp(ops[o], "QNT") && strcmp(ops[o], "PRN");
		cr_assert_eq(!same_ac, seeded, "%s: seed dependence wrong", ops[o]);
		mt_model_view_free(a);
		mt_model_view_free(b);
		mt_model_view_free(c);
		mt_model_view_free(base);
	}
}
