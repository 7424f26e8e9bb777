/* The graph executor the shim picks per model (shim/module.cpp,
 * choose_executor) must not change what training gives: mutorch's weights
 * after four SGD steps equal, bit for bit, PyTorch's under the legacy
 * executor (what mutorch ran for every model before), both for a model
 * that gets the faster simple executor and for one that keeps the legacy
 * one (tanh and sigmoid, whose gradients the two executors round
 * differently: the test checks that they do, so it can tell). The
 * PyTorch side is tests/fixtures/make_executor_fixture.py. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mutorch/recipe.h"
#include "mutorch/shim.h"
#include "mutorch/shim_train.h"

static void setup(void)
{
	cr_assert_eq(mt_shim_init(1, 42, 0), 0, "%s", mt_shim_last_error());
}

TestSuite(executor, .init = setup, .timeout = 300);

static mt_layer layer(mt_layer_kind kind)
{
	mt_layer l;
	memset(&l, 0, sizeof(l));
	l.kind = kind;
	l.stride = 1;
	l.dilation = 1;
	l.groups = 1;
	l.bias = 1;
	l.alpha = 0.1;
	l.eps = 1e-5;
	l.momentum = 0.1;
	l.dim = 1;
	return l;
}

static mt_layer sized(mt_layer_kind kind, int64_t in, int64_t out)
{
	mt_layer l = layer(kind);
	l.in = in;
	l.out = out;
	return l;
}

static float *all_weights(const mt_module *m, int64_t *n)
{
	mt_tensor_info *info;
	size_t count;
	int64_t total = 0, at = 0;
	cr_assert_eq(mt_module_tensors(&info, &count, m), 0, "%s", mt_shim_last_error());
	for (size_t i = 0; i < count; i++)
		total += info[i].numel;
	float *w = malloc((size_t)total * sizeof(float) + 1);
	for (size_t i = 0; i < count; i++) {
		cr_assert_eq(mt_module_read_tensor(m, info[i].name, w + at, info[i].numel), 0,
			     "%s", mt_shim_last_error());
		at += info[i].numel;
	}
	free(info);
	*n = total;
	return w;
}

static mt_module *load(const char *dir, const char *name)
{
	char path[1024];
	mt_module *m;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(mt_module_load(&m, path), 0, "%s", mt_shim_last_error());
	return m;
}

static int same_weights(const mt_module *a, const mt_module *b)
{
	int64_t na, nb;
	float *wa = all_weights(a, &na), *wb = all_weights(b, &nb);
	int same = na == nb && memcmp(wa, wb, (size_t)na * sizeof(float)) == 0;
	free(wa), free(wb);
	return same;
}

/* Train arch with mutorch and with PyTorch under both executors; returns
 * whether PyTorch's two executors agree. */
static int check(mt_layer *layers, size_t n, const char *tag)
{
	char *dir = th_tempdir(tag), path[1024], *err = NULL;
	mt_arch arch = {layers, n};
	mt_module *m, *legacy, *simple;
	mt_optimizer *opt;
	mt_tensor *x, *y, *bx, *by;
	mt_optim_config oc;
	mt_train_options o;
	float xs[64 * 64];
	int64_t ys[64], shape[4] = {16, 1, 8, 8}, nb = 16;
	double loss;

	cr_assert_eq(mt_module_build(&m, &arch, MT_INIT_DEFAULT, 3), 0, "%s", mt_shim_last_error());
	snprintf(path, sizeof(path), "%s/init.pt", dir);
	cr_assert_eq(mt_module_save(m, path), 0, "%s", mt_shim_last_error());
	int rc = th_run(NULL, &err,
			"cd '%s' && F='%s/make_executor_fixture.py' && /usr/bin/python3 \"$F\" data data.pt && "
			"/usr/bin/python3 \"$F\" legacy init.pt data.pt legacy.pt && "
			"/usr/bin/python3 \"$F\" simple init.pt data.pt simple.pt",
			dir, MT_FIXTURES);
	cr_assert_eq(rc, 0, "fixture: %s", err ? err : "");
	free(err);

	snprintf(path, sizeof(path), "%s/data.pt", dir);
	cr_assert_eq(mt_shim_load_tensor_dict(&x, &y, path), 0, "%s", mt_shim_last_error());
	cr_assert_eq(mt_tensor_copy_out(x, xs, MT_DTYPE_FLOAT32, 64 * 64), 0);
	cr_assert_eq(mt_tensor_copy_out(y, ys, MT_DTYPE_INT64, 64), 0);
	memset(&oc, 0, sizeof(oc));
	oc.kind = MT_OPTIM_SGD;
	oc.lr = 0.1;
	memset(&o, 0, sizeof(o));
	o.loss = MT_LOSS_CROSS_ENTROPY;
	o.batch_size = 16;
	cr_assert_eq(mt_optimizer_new(&opt, m, &oc), 0, "%s", mt_shim_last_error());
	for (int b = 0; b < 4; b++) {
		cr_assert_eq(mt_tensor_from_data(&bx, xs + b * 16 * 64, MT_DTYPE_FLOAT32, shape, 4), 0);
		cr_assert_eq(mt_tensor_from_data(&by, ys + b * 16, MT_DTYPE_INT64, &nb, 1), 0);
		cr_assert_eq(mt_train_step(&loss, m, opt, bx, by, &o), 0, "%s", mt_shim_last_error());
		mt_tensor_free(bx), mt_tensor_free(by);
	}

	legacy = load(dir, "legacy.pt");
	simple = load(dir, "simple.pt");
	cr_expect(same_weights(m, legacy),
		  "%s: mutorch's weights differ from PyTorch's under the legacy executor", tag);
	int agree = same_weights(legacy, simple);
	mt_module_free(legacy), mt_module_free(simple), mt_module_free(m);
	mt_optimizer_free(opt);
	mt_tensor_free(x), mt_tensor_free(y);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
	free(dir);
	return agree;
}

Test(executor, simple_executor_model_trains_as_before)
{
	mt_layer L[16];
	size_t n = 0;
	L[n] = sized(MT_LAYER_CONV2D, 1, 4);
	L[n].kernel = 3;
	L[n++].padding = 1;
	L[n++] = sized(MT_LAYER_BATCHNORM2D, 4, 4);
	L[n++] = layer(MT_LAYER_RELU);
	L[n] = layer(MT_LAYER_MAXPOOL2D);
	L[n].kernel = L[n].stride = 2;
	n++;
	L[n] = layer(MT_LAYER_AVGPOOL2D);
	L[n].kernel = L[n].stride = 2;
	n++;
	L[n++] = layer(MT_LAYER_FLATTEN);
	L[n++] = sized(MT_LAYER_LINEAR, 16, 16);
	L[n++] = layer(MT_LAYER_LEAKY_RELU);
	L[n++] = sized(MT_LAYER_LINEAR, 16, 16);
	L[n++] = layer(MT_LAYER_ELU);
	L[n++] = sized(MT_LAYER_LINEAR, 16, 16);
	L[n++] = layer(MT_LAYER_GELU);
	L[n++] = sized(MT_LAYER_LINEAR, 16, 4);
	L[n++] = layer(MT_LAYER_SOFTMAX);
	cr_expect(check(L, n, "exec-simple"),
		  "PyTorch's executors disagree on a model of whitelisted operators");
}

Test(executor, legacy_executor_model_trains_as_before)
{
	mt_layer L[8];
	size_t n = 0;
	L[n++] = layer(MT_LAYER_FLATTEN);
	L[n++] = sized(MT_LAYER_LINEAR, 64, 16);
	L[n++] = layer(MT_LAYER_TANH);
	L[n++] = sized(MT_LAYER_LINEAR, 16, 16);
	L[n++] = layer(MT_LAYER_SIGMOID);
	L[n++] = sized(MT_LAYER_LINEAR, 16, 4);
	/* If the two executors agreed here, this test could not tell a
	 * model given the wrong executor. */
	cr_expect(!check(L, n, "exec-legacy"),
		  "tanh/sigmoid: PyTorch's executors agree, the test cannot tell them apart");
}
