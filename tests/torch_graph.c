/* The structural operators LD, LAm and AFRm on real TorchScript modules:
 * the LeNet-5 PyTorch trained and saved (tests/fixtures/lenet5_pytorch.pt,
 * F.relu / F.max_pool2d in its forward) and a module mt_module_build makes
 * from an architecture (activations as submodules). Mutants must run, save,
 * and load in PyTorch with the same outputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mutorch/arch.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/recipe.h"
#include "mutorch/shim.h"
#include "mutorch/shim_graph.h"

#define LENET MT_FIXTURES "/lenet5_pytorch.pt"
#define BATCH 4
#define FMNIST "/usr/share/datasets/fashion-mnist"

static const int64_t input_shape[4] = {1, 1, 28, 28};

static void setup(void)
{
	cr_assert_eq(mt_shim_init(1, 0, 1), 0, "%s", mt_error_last());
}

TestSuite(graph, .init = setup);

/* The first BATCH Fashion-MNIST test images, normalised as the fixture
 * was trained ((x/255 - 0.2860) / 0.3530). */
static float *make_input(void)
{
	mt_dataset *ds = NULL;
	cr_assert_eq(mt_dataset_load_idx(&ds, FMNIST "/t10k-images-idx3-ubyte.gz",
					 FMNIST "/t10k-labels-idx1-ubyte.gz", 10),
		     0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_U8);
	const uint8_t *px = mt_dataset_pixels(ds);
	float *x = malloc(BATCH * 28 * 28 * sizeof(float));
	for (int i = 0; i < BATCH * 28 * 28; i++)
		x[i] = (float)(((double)px[i] / 255.0 - 0.2860) / 0.3530);
	mt_dataset_free(ds);
	return x;
}

/* Forward BATCH inputs; returns malloc'd logits (*n floats). */
static float *run(mt_module *m, const float *x, int64_t *n)
{
	int64_t shape[4] = {BATCH, 1, 28, 28};
	mt_tensor *in = NULL, *out = NULL;
	cr_assert_eq(mt_tensor_from_data(&in, x, MT_DTYPE_FLOAT32, shape, 4), 0, "%s",
		     mt_error_last());
	cr_assert_eq(mt_module_set_training(m, 0), 0);
	cr_assert_eq(mt_module_forward(&out, m, in), 0, "%s", mt_error_last());
	*n = mt_tensor_numel(out);
	float *y = malloc((size_t)*n * sizeof(float));
	cr_assert_eq(mt_tensor_copy_out(out, y, MT_DTYPE_FLOAT32, *n), 0);
	mt_tensor_free(in);
	mt_tensor_free(out);
	return y;
}

static mt_module *load_lenet(void)
{
	mt_module *m = NULL;
	cr_assert_eq(mt_module_load(&m, LENET), 0, "%s", mt_error_last());
	return m;
}

static const mt_graph_site *find_site(const mt_graph_site *s, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	return NULL;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
	double d = 0;
	for (int64_t i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - (double)b[i]));
	return d;
}

Test(graph, lists_the_sites_of_a_pytorch_lenet)
{
	mt_module *m = load_lenet();
	mt_graph_site *sites = NULL;
	size_t n = 0;
	cr_assert_eq(mt_graph_sites(&sites, &n, m, input_shape, 4), 0, "%s", mt_error_last());
	const char *expect[] = {"conv1", "relu@1", "max_pool2d@1", "conv2", "relu@2",
				"max_pool2d@2", "flatten@1", "fc1", "relu@3", "fc2", "relu@4", "fc3"};
	cr_assert_eq(n, 12, "%zu sites", n);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(sites[i].name, expect[i]);

	const mt_graph_site *conv1 = find_site(sites, n, "conv1");
	cr_assert_eq(conv1->kind, MT_SITE_MODULE);
	cr_assert_eq(conv1->in_ndim, 4);
	cr_assert_eq(conv1->out_shape[1], 6);
	cr_assert_eq(conv1->out_shape[2], 28);
	cr_assert_eq(conv1->is_activation, 0);
	cr_assert_eq(conv1->applicable[MT_GRAPH_LD], 0);
	cr_assert(strstr(conv1->reason[MT_GRAPH_LD], "[1, 1, 28, 28] -> [1, 6, 28, 28]"), "%s",
		  conv1->reason[MT_GRAPH_LD]);
	cr_assert(strstr(conv1->reason[MT_GRAPH_AFRM], "not an activation"), "%s",
		  conv1->reason[MT_GRAPH_AFRM]);

	const mt_graph_site *relu3 = find_site(sites, n, "relu@3");
	cr_assert_eq(relu3->kind, MT_SITE_FUNCTION);
	cr_assert(relu3->is_activation);
	cr_assert_eq(relu3->in_ndim, 2);
	cr_assert_eq(relu3->in_shape[1], 120);
	for (int op = 0; op < MT_GRAPH__COUNT; op++)
		cr_assert(relu3->applicable[op], "%s: %s", mt_graph_op_name(op), relu3->reason[op]);
	const mt_graph_site *flat = find_site(sites, n, "flatten@1");
	cr_assert_eq(flat->kind, MT_SITE_OP);
	cr_assert_eq(flat->out_shape[1], 400);
	cr_assert_eq(flat->applicable[MT_GRAPH_LD], 0);
	const mt_graph_site *pool = find_site(sites, n, "max_pool2d@2");
	cr_assert_eq(pool->is_activation, 0);
	cr_assert_eq(pool->out_shape[2], 5);
	free(sites);
	mt_module_free(m);
}

Test(graph, afrm_on_every_relu_runs_and_changes_outputs)
{
	mt_module *m = load_lenet();
	float *x = make_input();
	int64_t n0;
	float *y0 = run(m, x, &n0);
	const char *relus[] = {"relu@1", "relu@2", "relu@3", "relu@4"};
	for (int i = 0; i < 4; i++) {
		mt_module *mutant = NULL;
		cr_assert_eq(mt_graph_mutate(&mutant, m, MT_GRAPH_AFRM, relus[i], input_shape, 4), 0,
			     "%s: %s", relus[i], mt_error_last());
		int64_t n1;
		float *y1 = run(mutant, x, &n1);
		cr_assert_eq(n1, n0);
		cr_assert_gt(max_diff(y0, y1, n0), 1e-3, "AFRm at %s changed nothing", relus[i]);
		/* the mutant has one site fewer, and no longer that relu */
		mt_graph_site *sites = NULL;
		size_t ns = 0;
		cr_assert_eq(mt_graph_sites(&sites, &ns, mutant, input_shape, 4), 0, "%s", mt_error_last());
		cr_assert_eq(ns, 11);
		cr_assert_null(find_site(sites, ns, "relu@4"));
		free(sites);
		free(y1);
		mt_module_free(mutant);
	}
	/* the source module is untouched */
	int64_t n2;
	float *y2 = run(m, x, &n2);
	cr_assert_eq(max_diff(y0, y2, n0), 0.0);
	free(y0);
	free(y2);
	free(x);
	mt_module_free(m);
}

Test(graph, ld_removes_shape_preserving_calls_and_refuses_others)
{
	mt_module *m = load_lenet();
	float *x = make_input();
	mt_module *ld = NULL, *afrm = NULL;
	cr_assert_eq(mt_graph_mutate(&ld, m, MT_GRAPH_LD, "relu@3", input_shape, 4), 0, "%s",
		     mt_error_last());
	cr_assert_eq(mt_graph_mutate(&afrm, m, MT_GRAPH_AFRM, "relu@3", input_shape, 4), 0);
	int64_t n, n2, n0;
	float *a = run(ld, x, &n), *b = run(afrm, x, &n2), *y0 = run(m, x, &n0);
	/* removing a relu is making it the identity */
	cr_assert_eq(max_diff(a, b, n), 0.0);
	cr_assert_gt(max_diff(a, y0, n), 1e-4);

	mt_module *bad = NULL;
	cr_assert_eq(mt_graph_mutate(&bad, m, MT_GRAPH_LD, "conv1", input_shape, 4), MT_EINVALID);
	cr_assert_null(bad);
	cr_assert(strstr(mt_error_last(), "LD: site 'conv1'") &&
		  strstr(mt_error_last(), "changes the shape") &&
		  strstr(mt_error_last(), "expected"), "%s", mt_error_last());
	cr_assert_eq(mt_graph_mutate(&bad, m, MT_GRAPH_LAM, "fc2", input_shape, 4), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "[1, 120] -> [1, 84]"), "%s", mt_error_last());
	cr_assert_eq(mt_graph_mutate(&bad, m, MT_GRAPH_AFRM, "max_pool2d@1", input_shape, 4),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "not an activation"), "%s", mt_error_last());
	cr_assert_eq(mt_graph_mutate(&bad, m, MT_GRAPH_LD, "relu@9", input_shape, 4), MT_ENOTFOUND);
	cr_assert(strstr(mt_error_last(), "relu@9") && strstr(mt_error_last(), "conv1, relu@1"),
		  "%s", mt_error_last());
	int64_t wrong[4] = {1, 3, 28, 28};
	cr_assert_lt(mt_graph_mutate(&bad, m, MT_GRAPH_LD, "relu@1", wrong, 4), 0);
	cr_assert_null(bad);
	free(a);
	free(b);
	free(y0);
	free(x);
	mt_module_free(ld);
	mt_module_free(afrm);
	mt_module_free(m);
}

Test(graph, lam_repeats_a_relu)
{
	mt_module *m = load_lenet();
	float *x = make_input();
	mt_module *lam = NULL;
	cr_assert_eq(mt_graph_mutate(&lam, m, MT_GRAPH_LAM, "relu@2", input_shape, 4), 0, "%s",
		     mt_error_last());
	mt_graph_site *sites = NULL;
	size_t ns = 0;
	cr_assert_eq(mt_graph_sites(&sites, &ns, lam, input_shape, 4), 0, "%s", mt_error_last());
	cr_assert_eq(ns, 13);
	cr_assert_str_eq(sites[4].name, "relu@2");
	cr_assert_str_eq(sites[5].name, "relu@3");
	cr_assert_str_eq(sites[6].name, "max_pool2d@2");
	free(sites);
	/* relu(relu(x)) == relu(x): a repeated relu runs and changes nothing */
	int64_t n, n0;
	float *a = run(lam, x, &n), *y0 = run(m, x, &n0);
	cr_assert_eq(max_diff(a, y0, n), 0.0);
	free(a);
	free(y0);
	free(x);
	mt_module_free(lam);
	mt_module_free(m);
}

/* Save the module, run it in PyTorch on x, compare with mutorch's output. */
static void check_pytorch_agrees(mt_module *m, const float *x, const char *tag)
{
	char *dir = th_tempdir(tag);
	char path[1024], xin[1024], yout[1024];
	snprintf(path, sizeof(path), "%s/mutant.pt", dir);
	cr_assert_eq(mt_module_save(m, path), 0, "%s", mt_error_last());
	free(th_write(dir, "x.bin", x, BATCH * 28 * 28 * sizeof(float)));
	snprintf(xin, sizeof(xin), "%s/x.bin", dir);
	snprintf(yout, sizeof(yout), "%s/y.bin", dir);
	char *out = NULL, *err = NULL;
	int rc = th_run(&out, &err,
			"/usr/bin/python3 -c \""
			"import torch, numpy as np; torch.set_num_threads(1); "
			"m = torch.jit.load('%s'); m.eval(); "
			"x = torch.from_numpy(np.fromfile('%s', dtype=np.float32).reshape(%d, 1, 28, 28)); "
			"y = m(x).detach().numpy().astype(np.float32); y.tofile('%s')\"",
			path, xin, BATCH, yout);
	cr_assert_eq(rc, 0, "PyTorch could not load or run the mutant: %s", err ? err : "");
	FILE *f = fopen(yout, "rb");
	cr_assert_not_null(f);
	float py[BATCH * 10];
	cr_assert_eq(fread(py, sizeof(float), BATCH * 10, f), (size_t)(BATCH * 10));
	fclose(f);
	int64_t n;
	float *ours = run(m, x, &n);
	cr_assert_eq(n, BATCH * 10);
	cr_assert_lt(max_diff(ours, py, n), 1e-4, "PyTorch and mutorch disagree on the %s mutant",
		     tag);
	free(ours);
	free(out);
	free(err);
	free(dir);
}

Test(graph, saved_mutants_load_in_pytorch_with_the_same_outputs)
{
	mt_module *m = load_lenet();
	float *x = make_input();
	mt_module *afrm = NULL, *lam = NULL;
	cr_assert_eq(mt_graph_mutate(&afrm, m, MT_GRAPH_AFRM, "relu@1", input_shape, 4), 0, "%s",
		     mt_error_last());
	check_pytorch_agrees(afrm, x, "graph_afrm");
	cr_assert_eq(mt_graph_mutate(&lam, m, MT_GRAPH_LD, "relu@4", input_shape, 4), 0, "%s",
		     mt_error_last());
	check_pytorch_agrees(lam, x, "graph_ld");
	free(x);
	mt_module_free(afrm);
	mt_module_free(lam);
	mt_module_free(m);
}

Test(graph, built_modules_have_submodule_sites)
{
	mt_arch *arch = NULL;
	cr_assert_eq(mt_arch_parse(&arch, "conv2d(1,4,3,padding=1) relu conv2d(4,4,3,padding=1) "
					  "tanh maxpool2d(2) flatten linear(784,10)"),
		     0, "%s", mt_error_last());
	mt_module *m = NULL;
	cr_assert_eq(mt_module_build(&m, arch, MT_INIT_DEFAULT, 5), 0, "%s", mt_error_last());
	mt_graph_site *sites = NULL;
	size_t n = 0;
	cr_assert_eq(mt_graph_sites(&sites, &n, m, input_shape, 4), 0, "%s", mt_error_last());
	cr_assert_eq(n, 7);
	cr_assert_str_eq(sites[0].name, "conv2d_0");
	cr_assert_str_eq(sites[1].name, "relu_1");
	cr_assert_str_eq(sites[3].name, "tanh_3");
	cr_assert(sites[1].is_activation && sites[3].is_activation);
	cr_assert(!sites[0].is_activation && !sites[2].is_activation && !sites[4].is_activation);
	cr_assert(sites[2].applicable[MT_GRAPH_LAM], "%s", sites[2].reason[MT_GRAPH_LAM]);
	cr_assert(!sites[0].applicable[MT_GRAPH_LD]);
	free(sites);

	float *x = make_input();
	int64_t n0;
	float *y0 = run(m, x, &n0);
	const struct {
		mt_graph_op op;
		const char *site;
	} cases[] = {{MT_GRAPH_AFRM, "relu_1"}, {MT_GRAPH_AFRM, "tanh_3"},
		     {MT_GRAPH_LAM, "conv2d_2"}, {MT_GRAPH_LD, "conv2d_2"}, {MT_GRAPH_LAM, "tanh_3"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mt_module *mutant = NULL;
		cr_assert_eq(mt_graph_mutate(&mutant, m, cases[i].op, cases[i].site, input_shape, 4),
			     0, "%s %s: %s", mt_graph_op_name(cases[i].op), cases[i].site,
			     mt_error_last());
		int64_t n1;
		float *y1 = run(mutant, x, &n1);
		cr_assert_eq(n1, n0);
		cr_assert_gt(max_diff(y0, y1, n0), 1e-6, "%s %s changed nothing",
			     mt_graph_op_name(cases[i].op), cases[i].site);
		if (i == 2) {
			mt_graph_site *ms = NULL;
			size_t mn = 0;
			cr_assert_eq(mt_graph_sites(&ms, &mn, mutant, input_shape, 4), 0);
			cr_assert_eq(mn, 8);
			cr_assert_str_eq(ms[3].name, "conv2d_2@2");
			free(ms);
			check_pytorch_agrees(mutant, x, "graph_built_lam");
		}
		free(y1);
		mt_module_free(mutant);
	}
	mt_module *bad = NULL;
	cr_assert_eq(mt_graph_mutate(&bad, m, MT_GRAPH_AFRM, "conv2d_0", input_shape, 4),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "not an activation"), "%s", mt_error_last());

	mt_graph_op op;
	cr_assert_eq(mt_graph_op_from_name(&op, "LAm"), 0);
	cr_assert_eq(op, MT_GRAPH_LAM);
	cr_assert_eq(mt_graph_op_from_name(&op, "LX"), MT_EINVALID);
	free(y0);
	free(x);
	mt_module_free(m);
	mt_arch_free(arch);
}
