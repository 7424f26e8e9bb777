/* The architecture description language: parse, canonical format, shape
 * check, copy, and every class of error. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mutorch/arch.h"
#include "mutorch/error.h"
#include "mutorch/recipe.h"

#define LENET5 \
	"conv2d(1,6,5,padding=2) relu maxpool2d(2) conv2d(6,16,5) relu " \
	"maxpool2d(2) flatten linear(400,120) relu linear(120,84) relu linear(84,10)"

static mt_arch *parse_ok(const char *text)
{
	mt_arch *arch = NULL;
	int error = mt_arch_parse(&arch, text);
	cr_assert_eq(error, 0, "parse '%s' failed: %s", text, mt_error_last());
	cr_assert_not_null(arch);
	return arch;
}

/* Parse must fail with MT_EINVALID and a message containing every needle. */
static void parse_fails(const char *text, const char *needle1, const char *needle2)
{
	mt_arch *arch = (mt_arch *)0x1;
	int error = mt_arch_parse(&arch, text);
	cr_assert_eq(error, MT_EINVALID, "parse '%s' gave %d, expected MT_EINVALID", text,
		     error);
	cr_assert_null(arch, "output must be NULL on failure");
	cr_assert(th_contains(mt_error_last(), needle1), "message '%s' lacks '%s'",
		  mt_error_last(), needle1);
	if (needle2)
		cr_assert(th_contains(mt_error_last(), needle2), "message '%s' lacks '%s'",
			  mt_error_last(), needle2);
}

static void layers_equal(const mt_layer *a, const mt_layer *b, size_t i)
{
	cr_assert_eq(a->kind, b->kind, "layer %zu kind", i);
	cr_assert_eq(a->in, b->in, "layer %zu in", i);
	cr_assert_eq(a->out, b->out, "layer %zu out", i);
	cr_assert_eq(a->kernel, b->kernel, "layer %zu kernel", i);
	cr_assert_eq(a->stride, b->stride, "layer %zu stride", i);
	cr_assert_eq(a->padding, b->padding, "layer %zu padding", i);
	cr_assert_eq(a->dilation, b->dilation, "layer %zu dilation", i);
	cr_assert_eq(a->groups, b->groups, "layer %zu groups", i);
	cr_assert_eq(a->bias, b->bias, "layer %zu bias", i);
	cr_assert_eq(a->p, b->p, "layer %zu p", i);
	cr_assert_eq(a->alpha, b->alpha, "layer %zu alpha", i);
	cr_assert_eq(a->eps, b->eps, "layer %zu eps", i);
	cr_assert_eq(a->momentum, b->momentum, "layer %zu momentum", i);
	cr_assert_eq(a->dim, b->dim, "layer %zu dim", i);
}

static void archs_equal(const mt_arch *a, const mt_arch *b)
{
	size_t i;
	cr_assert_eq(a->nlayers, b->nlayers);
	for (i = 0; i < a->nlayers; i++)
		layers_equal(&a->layers[i], &b->layers[i], i);
}

static void check_conv(const mt_layer *l, int64_t in, int64_t out, int64_t k,
		       int64_t s, int64_t p)
{
	cr_assert_eq(l->kind, MT_LAYER_CONV2D);
	cr_assert_eq(l->in, in);
	cr_assert_eq(l->out, out);
	cr_assert_eq(l->kernel, k);
	cr_assert_eq(l->stride, s);
	cr_assert_eq(l->padding, p);
	cr_assert_eq(l->dilation, 1);
	cr_assert_eq(l->groups, 1);
	cr_assert_eq(l->bias, 1);
}

static void check_linear(const mt_layer *l, int64_t in, int64_t out)
{
	cr_assert_eq(l->kind, MT_LAYER_LINEAR);
	cr_assert_eq(l->in, in);
	cr_assert_eq(l->out, out);
	cr_assert_eq(l->bias, 1);
}

static void check_pool(const mt_layer *l, int64_t k, int64_t s)
{
	cr_assert_eq(l->kind, MT_LAYER_MAXPOOL2D);
	cr_assert_eq(l->kernel, k);
	cr_assert_eq(l->stride, s);
	cr_assert_eq(l->padding, 0);
}

Test(arch, parses_lenet5_every_field)
{
	mt_arch *a = parse_ok(LENET5);
	cr_assert_eq(a->nlayers, 12);
	check_conv(&a->layers[0], 1, 6, 5, 1, 2);
	cr_assert_eq(a->layers[1].kind, MT_LAYER_RELU);
	check_pool(&a->layers[2], 2, 2);
	check_conv(&a->layers[3], 6, 16, 5, 1, 0);
	cr_assert_eq(a->layers[4].kind, MT_LAYER_RELU);
	check_pool(&a->layers[5], 2, 2);
	cr_assert_eq(a->layers[6].kind, MT_LAYER_FLATTEN);
	check_linear(&a->layers[7], 400, 120);
	cr_assert_eq(a->layers[8].kind, MT_LAYER_RELU);
	check_linear(&a->layers[9], 120, 84);
	cr_assert_eq(a->layers[10].kind, MT_LAYER_RELU);
	check_linear(&a->layers[11], 84, 10);
	mt_arch_free(a);
}

Test(arch, parses_every_kind_with_keywords_and_defaults)
{
	mt_arch *a = parse_ok(
		"conv2d( 4 , 8, 3, stride=2, padding=1, dilation=2, groups=4, bias=false )\n"
		"  avgpool2d(3, stride=1, padding=1) maxpool2d(kernel=4)\n"
		"batchnorm2d(8) batchnorm2d(8, eps=0.001, momentum=0.5) dropout dropout(p=0.25)\n"
		"flatten batchnorm1d(features=32) linear(32, 16, bias=False) leaky_relu\n"
		"leaky_relu(0.2) elu elu(alpha=2.5) gelu tanh sigmoid softmax softmax(dim=-1)");
	const mt_layer *l = a->layers;

	cr_assert_eq(a->nlayers, 19);
	cr_assert_eq(l[0].kind, MT_LAYER_CONV2D);
	cr_assert_eq(l[0].in, 4);
	cr_assert_eq(l[0].out, 8);
	cr_assert_eq(l[0].kernel, 3);
	cr_assert_eq(l[0].stride, 2);
	cr_assert_eq(l[0].padding, 1);
	cr_assert_eq(l[0].dilation, 2);
	cr_assert_eq(l[0].groups, 4);
	cr_assert_eq(l[0].bias, 0);
	cr_assert_eq(l[1].kind, MT_LAYER_AVGPOOL2D);
	cr_assert_eq(l[1].kernel, 3);
	cr_assert_eq(l[1].stride, 1);
	cr_assert_eq(l[1].padding, 1);
	cr_assert_eq(l[2].kind, MT_LAYER_MAXPOOL2D);
	cr_assert_eq(l[2].kernel, 4);
	cr_assert_eq(l[2].stride, 4, "pool stride defaults to the kernel");
	cr_assert_eq(l[3].kind, MT_LAYER_BATCHNORM2D);
	cr_assert_eq(l[3].in, 8);
	cr_assert_eq(l[3].out, 8);
	cr_assert_float_eq(l[3].eps, 1e-5, 1e-12);
	cr_assert_float_eq(l[3].momentum, 0.1, 1e-12);
	cr_assert_float_eq(l[4].eps, 0.001, 1e-12);
	cr_assert_float_eq(l[4].momentum, 0.5, 1e-12);
	cr_assert_eq(l[5].kind, MT_LAYER_DROPOUT);
	cr_assert_float_eq(l[5].p, 0.5, 1e-12);
	cr_assert_float_eq(l[6].p, 0.25, 1e-12);
	cr_assert_eq(l[7].kind, MT_LAYER_FLATTEN);
	cr_assert_eq(l[8].kind, MT_LAYER_BATCHNORM1D);
	cr_assert_eq(l[8].in, 32);
	cr_assert_eq(l[8].out, 32);
	cr_assert_eq(l[9].kind, MT_LAYER_LINEAR);
	cr_assert_eq(l[9].bias, 0);
	cr_assert_eq(l[10].kind, MT_LAYER_LEAKY_RELU);
	cr_assert_float_eq(l[10].alpha, 0.01, 1e-12);
	cr_assert_float_eq(l[11].alpha, 0.2, 1e-12);
	cr_assert_eq(l[12].kind, MT_LAYER_ELU);
	cr_assert_float_eq(l[12].alpha, 1.0, 1e-12);
	cr_assert_float_eq(l[13].alpha, 2.5, 1e-12);
	cr_assert_eq(l[14].kind, MT_LAYER_GELU);
	cr_assert_eq(l[15].kind, MT_LAYER_TANH);
	cr_assert_eq(l[16].kind, MT_LAYER_SIGMOID);
	cr_assert_eq(l[17].kind, MT_LAYER_SOFTMAX);
	cr_assert_eq(l[17].dim, 1);
	cr_assert_eq(l[18].dim, -1);
	mt_arch_free(a);
}

Test(arch, canonical_format_round_trips_and_is_stable)
{
	const char *texts[] = {
		LENET5,
		"conv2d(3,8,3,stride=2,padding=1,dilation=2,groups=1,bias=false) "
		"batchnorm2d(8,eps=0.001) avgpool2d(3,stride=1,padding=1) flatten "
		"dropout(0.3) linear(8,4) leaky_relu(0.2) elu(0.7) gelu tanh sigmoid "
		"batchnorm1d(4,momentum=0.01) softmax(dim=1)",
	};
	size_t t;

	for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		mt_arch *a = parse_ok(texts[t]), *b;
		char *s1 = NULL, *s2 = NULL;
		cr_assert_eq(mt_arch_format(&s1, a), 0);
		b = parse_ok(s1);
		archs_equal(a, b);
		cr_assert_eq(mt_arch_format(&s2, b), 0);
		cr_assert_str_eq(s1, s2, "format must be stable");
		free(s1);
		free(s2);
		mt_arch_free(a);
		mt_arch_free(b);
	}
}

Test(arch, canonical_format_writes_every_argument)
{
	mt_arch *a = parse_ok("conv2d(1,6,5,padding=2)   relu\n maxpool2d(2) flatten "
			      "linear(400,120) dropout batchnorm1d(120) leaky_relu softmax");
	mt_arch *spaced = parse_ok("conv2d( 1, 6, 5, stride = 1, padding=2 ) relu "
				   "maxpool2d(kernel=2, stride=2) flatten linear(400, 120, true) "
				   "dropout(p=0.5) batchnorm1d(120, 1e-5) leaky_relu(0.01) softmax(1)");
	char *s = NULL, *t = NULL;
	cr_assert_eq(mt_arch_format(&s, a), 0);
	cr_assert_str_eq(s,
			 "conv2d(1,6,5,stride=1,padding=2,dilation=1,groups=1,bias=true) relu "
			 "maxpool2d(2,stride=2,padding=0) flatten linear(400,120,bias=true) "
			 "dropout(p=0.5) batchnorm1d(120,eps=1e-05,momentum=0.1) "
			 "leaky_relu(negative_slope=0.01) softmax(dim=1)");
	/* Equal architectures written differently give equal strings. */
	cr_assert_eq(mt_arch_format(&t, spaced), 0);
	cr_assert_str_eq(s, t);
	free(s);
	free(t);
	mt_arch_free(a);
	mt_arch_free(spaced);
}

Test(arch, shape_check_lenet5)
{
	mt_arch *a = parse_ok(LENET5);
	const int64_t in[3] = { 1, 28, 28 };
	const int64_t expected[12][3] = {
		{ 6, 28, 28 }, { 6, 28, 28 }, { 6, 14, 14 }, { 16, 10, 10 }, { 16, 10, 10 },
		{ 16, 5, 5 }, { 1, 1, 400 }, { 1, 1, 120 }, { 1, 1, 120 }, { 1, 1, 84 },
		{ 1, 1, 84 }, { 1, 1, 10 },
	};
	int64_t shapes[12][3];
	size_t i;

	memset(shapes, 0, sizeof(shapes));
	cr_assert_eq(mt_arch_check(a, in, shapes), 0, "%s", mt_error_last());
	for (i = 0; i < 12; i++)
		cr_assert(shapes[i][0] == expected[i][0] && shapes[i][1] == expected[i][1] &&
				  shapes[i][2] == expected[i][2],
			  "layer %zu: got {%lld,%lld,%lld}", i + 1, (long long)shapes[i][0],
			  (long long)shapes[i][1], (long long)shapes[i][2]);
	cr_assert_eq(mt_arch_check(a, in, NULL), 0, "out_shapes may be NULL");
	mt_arch_free(a);
}

Test(arch, shape_check_floor_mode_stride_dilation)
{
	/* (32 + 2 - 2*(3-1) - 1)/2 + 1 = 15; pool (15 - 3)/2 + 1 = 7;
	 * avgpool k=3 s=3 p=1: (7 + 2 - 2 - 1)/3 + 1 = 3 */
	mt_arch *a = parse_ok("conv2d(3,8,3,stride=2,padding=1,dilation=2) "
			      "maxpool2d(3,stride=2) avgpool2d(3,padding=1) flatten linear(72,10)");
	const int64_t in[3] = { 3, 32, 32 };
	int64_t shapes[5][3];
	cr_assert_eq(mt_arch_check(a, in, shapes), 0, "%s", mt_error_last());
	cr_assert_eq(shapes[0][0], 8);
	cr_assert_eq(shapes[0][1], 15);
	cr_assert_eq(shapes[0][2], 15);
	cr_assert_eq(shapes[1][1], 7);
	cr_assert_eq(shapes[2][1], 3);
	cr_assert_eq(shapes[2][2], 3);
	cr_assert_eq(shapes[3][2], 72);
	cr_assert_eq(shapes[4][2], 10);
	mt_arch_free(a);
}

static void check_fails(const char *text, int64_t c, int64_t h, int64_t w,
			const char *needle1, const char *needle2)
{
	mt_arch *a = parse_ok(text);
	const int64_t in[3] = { c, h, w };
	int error = mt_arch_check(a, in, NULL);
	cr_assert_eq(error, MT_EINVALID, "check of '%s' gave %d", text, error);
	cr_assert(th_contains(mt_error_last(), needle1), "message '%s' lacks '%s'",
		  mt_error_last(), needle1);
	if (needle2)
		cr_assert(th_contains(mt_error_last(), needle2), "message '%s' lacks '%s'",
			  mt_error_last(), needle2);
	mt_arch_free(a);
}

Test(arch, shape_check_errors)
{
	/* linear expecting the wrong number of features (LeNet without padding) */
	check_fails("conv2d(1,6,5) relu maxpool2d(2) conv2d(6,16,5) relu maxpool2d(2) "
		    "flatten linear(400,120) relu linear(120,84) relu linear(84,10)",
		    1, 28, 28, "layer 7 'linear(400,120)': input has 256 features, expected 400",
		    NULL);
	/* conv channels */
	check_fails("conv2d(1,6,5) conv2d(3,16,5)", 1, 28, 28,
		    "layer 1 'conv2d(3,16,5)': input has 6 channels, expected 3", NULL);
	check_fails("conv2d(3,6,5)", 1, 28, 28, "layer 0 'conv2d(3,6,5)'",
		    "input has 1 channels, expected 3");
	/* linear on an image */
	check_fails("linear(784,10)", 1, 28, 28, "layer 0 'linear(784,10)'", "not flattened");
	/* conv after flatten */
	check_fails("flatten conv2d(1,6,5)", 1, 28, 28, "layer 1 'conv2d(1,6,5)'",
		    "flattened");
	check_fails("flatten maxpool2d(2)", 1, 28, 28, "layer 1 'maxpool2d(2)'", "flattened");
	/* input too small */
	check_fails("conv2d(1,6,5) maxpool2d(2) conv2d(6,16,5)", 1, 10, 10,
		    "layer 2 'conv2d(6,16,5)'", "too small");
	check_fails("maxpool2d(4)", 1, 3, 3, "layer 0 'maxpool2d(4)'", "too small");
	/* batch norms */
	check_fails("conv2d(1,6,5) batchnorm2d(8)", 1, 28, 28, "layer 1 'batchnorm2d(8)'",
		    "input has 6 channels, expected 8");
	check_fails("flatten batchnorm1d(100)", 1, 28, 28, "layer 1 'batchnorm1d(100)'",
		    "input has 784 features, expected 100");
	check_fails("batchnorm1d(1)", 1, 28, 28, "layer 0 'batchnorm1d(1)'", "not flattened");
	check_fails("flatten batchnorm2d(1)", 1, 28, 28, "layer 1 'batchnorm2d(1)'",
		    "flattened");
	/* softmax dim out of range for a flattened input */
	check_fails("flatten softmax(dim=2)", 1, 28, 28, "layer 1 'softmax(dim=2)'",
		    "out of range");
}

Test(arch, shape_check_rejects_bad_programmatic_layers)
{
	mt_layer l;
	mt_arch a = { &l, 1 };
	const int64_t in[3] = { 4, 8, 8 };
	const int64_t bad_in[3] = { 0, 8, 8 };

	memset(&l, 0, sizeof(l));
	l.kind = MT_LAYER_CONV2D;
	l.in = 4;
	l.out = 6;
	l.kernel = 3;
	l.stride = 1;
	l.dilation = 1;
	l.groups = 4; /* 6 % 4 != 0 */
	l.bias = 1;
	cr_assert_eq(mt_arch_check(&a, in, NULL), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "divisible by groups"), "%s", mt_error_last());
	l.groups = 2;
	cr_assert_eq(mt_arch_check(&a, in, NULL), 0, "%s", mt_error_last());
	l.stride = 0;
	cr_assert_eq(mt_arch_check(&a, in, NULL), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "'stride'"), "%s", mt_error_last());
	l.stride = 1;
	cr_assert_eq(mt_arch_check(&a, bad_in, NULL), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "input shape"), "%s", mt_error_last());
}

Test(arch, parse_errors)
{
	parse_fails("conv2d(1,6,5) relu conv2d(6,16)",
		    "layer 2 'conv2d(6,16)': missing argument 'kernel' (conv2d(in, out, kernel,",
		    NULL);
	parse_fails("conv2d(1,6,5) relux", "layer 1 'relux': unknown layer 'relux'",
		    "expected one of: linear, conv2d");
	parse_fails("conv2d(1,6,5,pad=2)", "layer 0 'conv2d(1,6,5,pad=2)'",
		    "unknown argument 'pad'");
	parse_fails("conv2d(1,6,5.5)", "layer 0", "argument 'kernel' must be an integer, got '5.5'");
	parse_fails("linear(4,2,bias=yes)", "argument 'bias' must be true or false, got 'yes'",
		    NULL);
	parse_fails("dropout(p=half)", "argument 'p' must be a number, got 'half'", NULL);
	parse_fails("relu linear(4,2)x", "layer 1 'linear(4,2)x'", "unexpected 'x'");
	parse_fails("relu conv2d(1,6,5", "layer 1 'conv2d(1,6,5'",
		    "unbalanced parentheses: missing ')'");
	parse_fails("relu) flatten", "layer 0 'relu)'", "unbalanced parentheses");
	parse_fails("relu ) flatten", "layer 1", "unbalanced parentheses");
	parse_fails("conv2d(1,(6),5)", "layer 0", "nested '('");
	parse_fails("linear(1,2,true,4)", "layer 0", "too many arguments");
	parse_fails("relu(1)", "layer 0 'relu(1)'", "relu takes no arguments");
	parse_fails("linear(in=1,2)", "positional argument '2' after a keyword", NULL);
	parse_fails("linear(1,2,in=3)", "argument 'in' given twice", NULL);
	parse_fails("linear(1,,2)", "empty argument", NULL);
	parse_fails("linear(1,2,)", "empty argument", NULL);
	parse_fails("linear(1,bias=)", "argument 'bias' has no value", NULL);
	parse_fails("conv2d(1,6,0)", "argument 'kernel' must be a positive integer", NULL);
	parse_fails("conv2d(1,6,3,padding=-1)", "argument 'padding' must be a non-negative",
		    NULL);
	parse_fails("dropout(1.5)", "argument 'p' must be in [0, 1], got 1.5", NULL);
	parse_fails("batchnorm2d(4,eps=0)", "argument 'eps' must be positive", NULL);
	parse_fails("conv2d(4,6,3,groups=4)", "divisible by groups", NULL);
	parse_fails("maxpool2d(2,padding=2)", "at most half the kernel", NULL);
	parse_fails("softmax(dim=7)", "argument 'dim' must be in [-4, 3]", NULL);
	parse_fails("linear(99999999999999999999,2)", "must be an integer", NULL);
	parse_fails("   \n ", "no layers", NULL);
	parse_fails("", "no layers", NULL);
	parse_fails("relu ,", "layer 1", "expected a layer name");
}

Test(arch, kind_names_params_copy_free)
{
	mt_arch *a = parse_ok(LENET5), *b = NULL;
	int k;

	cr_assert_str_eq(mt_layer_kind_name(MT_LAYER_CONV2D), "conv2d");
	cr_assert_str_eq(mt_layer_kind_name(MT_LAYER_LEAKY_RELU), "leaky_relu");
	cr_assert_str_eq(mt_layer_kind_name(MT_LAYER_BATCHNORM1D), "batchnorm1d");
	cr_assert_str_eq(mt_layer_kind_name(MT_LAYER__COUNT), "unknown");
	/* Every name parses back to its kind. */
	for (k = 0; k < MT_LAYER__COUNT; k++) {
		char text[64];
		mt_arch *one;
		const char *args = "";
		if (k == MT_LAYER_LINEAR)
			args = "(2,3)";
		else if (k == MT_LAYER_CONV2D)
			args = "(2,3,1)";
		else if (k == MT_LAYER_MAXPOOL2D || k == MT_LAYER_AVGPOOL2D ||
			 k == MT_LAYER_BATCHNORM1D || k == MT_LAYER_BATCHNORM2D)
			args = "(2)";
		snprintf(text, sizeof(text), "%s%s", mt_layer_kind_name((mt_layer_kind)k), args);
		one = parse_ok(text);
		cr_assert_eq(one->layers[0].kind, k, "%s", text);
		mt_arch_free(one);
	}
	cr_assert(mt_layer_kind_has_params(MT_LAYER_LINEAR));
	cr_assert(mt_layer_kind_has_params(MT_LAYER_CONV2D));
	cr_assert(mt_layer_kind_has_params(MT_LAYER_BATCHNORM1D));
	cr_assert(mt_layer_kind_has_params(MT_LAYER_BATCHNORM2D));
	cr_assert_not(mt_layer_kind_has_params(MT_LAYER_RELU));
	cr_assert_not(mt_layer_kind_has_params(MT_LAYER_MAXPOOL2D));
	cr_assert_not(mt_layer_kind_has_params(MT_LAYER_DROPOUT));

	cr_assert_eq(mt_arch_copy(&b, a), 0);
	cr_assert_neq(b->layers, a->layers, "copy must be deep");
	archs_equal(a, b);
	b->layers[0].out = 99;
	cr_assert_eq(a->layers[0].out, 6);
	mt_arch_free(a);
	mt_arch_free(b);
	mt_arch_free(NULL);
}
