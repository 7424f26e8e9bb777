/* Deep module trees (tests/tree_fixtures.h: torchvision's resnet18 and
 * mobilenet_v3_small scripted for 3x32x32 inputs, a hand-written ResNet
 * with a block called twice and F.relu in every block):
 *  - graph sites anywhere in the tree, with their shapes and reasons;
 *  - graph mutants of shared modules and shared types change only the
 *    intended call (the mutant's own sites say so) and leave the source;
 *  - partial evaluation cut inside nested modules: every weight's cut, in
 *    forward order and each filled from the one before, predicts the full
 *    forward's logits bit for bit, before and after the weight changes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/shim_graph.h"
#include "mutorch/shim_partial.h"
#include "tree_fixtures.h"
#include "../runner/cut_cache.h"

static const int64_t input_shape[4] = {1, 3, 32, 32};

static void setup(void)
{
	cr_assert_eq(mt_shim_init(1, 0, 1), 0, "%s", mt_error_last());
}

TestSuite(tree, .init = setup, .timeout = 600);

static mt_module *load_model(const char *name)
{
	char path[4200];
	mt_module *m = NULL;
	snprintf(path, sizeof(path), "%s/%s.pt", tree_fixtures(), name);
	cr_assert_eq(mt_module_load(&m, path), 0, "%s", mt_error_last());
	cr_assert_eq(mt_module_set_training(m, 0), 0);
	return m;
}

static mt_tensor *load_inputs(void)
{
	char x[4200], y[4200];
	mt_dataset *ds = NULL;
	mt_tensor *t = NULL;
	int64_t shape[4] = {TREE_INPUTS, 3, 32, 32};
	snprintf(x, sizeof(x), "%s/x.npy", tree_fixtures());
	snprintf(y, sizeof(y), "%s/y_resnet18.npy", tree_fixtures());
	cr_assert_eq(mt_dataset_load_npy(&ds, x, y, 10), 0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_F32);
	cr_assert_eq(mt_dataset_count(ds), TREE_INPUTS);
	cr_assert_eq(mt_tensor_from_data(&t, mt_dataset_pixels(ds), MT_DTYPE_FLOAT32, shape, 4), 0,
		     "%s", mt_error_last());
	mt_dataset_free(ds);
	return t;
}

static mt_graph_site *sites_of(mt_module *m, size_t *n)
{
	mt_graph_site *s = NULL;
	cr_assert_eq(mt_graph_sites(&s, n, m, input_shape, 4), 0, "%s", mt_error_last());
	return s;
}

static const mt_graph_site *find(const mt_graph_site *s, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i].name, name))
			return &s[i];
	return NULL;
}

static size_t count_applicable(const mt_graph_site *s, size_t n, mt_graph_op op)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i].applicable[op] != 0;
	return k;
}

Test(tree, resnet18_sites_in_every_block)
{
	mt_module *m = load_model("resnet18");
	size_t n = 0;
	mt_graph_site *s = sites_of(m, &n);
	/* 11 calls in forward/_forward_impl (conv1 bn1 relu maxpool layer1..4
	 * avgpool flatten@1 fc), 2 blocks per layer, 7 calls per BasicBlock
	 * (conv1 bn1 relu conv2 bn2 :add@1 relu@2) and 3 more in the three
	 * blocks with a downsample (the Sequential and its conv and bn):
	 * 11 + 8 + 8 * 7 + 3 * 3. */
	cr_assert_eq(n, 84);
	/* At 32x32, every call keeps its shape except conv1, maxpool,
	 * layer2..4, the first conv of layers 2..4 and their blocks,
	 * downsamples and downsample convs, flatten and fc: 19 of 84. */
	cr_assert_eq(count_applicable(s, n, MT_GRAPH_LD), 65);
	cr_assert_eq(count_applicable(s, n, MT_GRAPH_LAM), 65);
	/* relu, and each block's relu called twice */
	cr_assert_eq(count_applicable(s, n, MT_GRAPH_AFRM), 1 + 8 * 2);

	cr_assert_str_eq(s[0].name, "conv1");
	const mt_graph_site *r2 = find(s, n, "layer3.1.relu@2");
	cr_assert_not_null(r2);
	cr_assert_eq(r2->kind, MT_SITE_MODULE);
	cr_assert_str_eq(r2->module, "layer3.1.relu");
	cr_assert_eq(r2->depth, 2);
	cr_assert_eq(r2->in_shape[1], 256);
	cr_assert_eq(r2->in_shape[2], 2);
	cr_assert(r2->is_activation && r2->applicable[MT_GRAPH_AFRM], "%s", r2->reason[MT_GRAPH_AFRM]);
	const mt_graph_site *add = find(s, n, "layer2.0:add@1");
	cr_assert_not_null(add);
	cr_assert_eq(add->kind, MT_SITE_OP);
	cr_assert_str_eq(add->module, "layer2.0");
	cr_assert(add->applicable[MT_GRAPH_LD]);
	const mt_graph_site *ds = find(s, n, "layer2.0.downsample.0");
	cr_assert_not_null(ds);
	cr_assert_not(ds->applicable[MT_GRAPH_LD]);
	cr_assert(strstr(ds->reason[MT_GRAPH_LD], "[1, 64, 8, 8] -> [1, 128, 4, 4]"), "%s",
		  ds->reason[MT_GRAPH_LD]);
	/* a layer's own ops are not sites: conv1 is one call */
	cr_assert_null(find(s, n, "layer1.0.conv1:conv2d@1"));
	cr_assert_null(find(s, n, "conv1:conv2d@1"));
	free(s);
	mt_module_free(m);
}

Test(tree, mobilenet_sites_inside_sequentials_and_helpers)
{
	mt_module *m = load_model("mobilenet");
	size_t n = 0;
	mt_graph_site *s = sites_of(m, &n);
	/* a ReLU inside SqueezeExcitation inside a Sequential inside an
	 * InvertedResidual inside features */
	const mt_graph_site *act = find(s, n, "features.1.block.1.activation");
	cr_assert_not_null(act);
	cr_assert_eq(act->depth, 4);
	cr_assert(act->applicable[MT_GRAPH_AFRM]);
	/* SqueezeExcitation's _scale is walked as part of its forward */
	cr_assert_not_null(find(s, n, "features.1.block.1.avgpool"));
	cr_assert_not_null(find(s, n, "features.1.block.1:mul@1"));
	cr_assert_not_null(find(s, n, "features.1.block.1.scale_activation"));
	/* Hardswish in Conv2dNormActivation, the top-level classifier */
	const mt_graph_site *hs = find(s, n, "features.0.2");
	cr_assert(hs && hs->is_activation && hs->applicable[MT_GRAPH_AFRM]);
	cr_assert_not_null(find(s, n, "classifier.1"));
	size_t afrm = count_applicable(s, n, MT_GRAPH_AFRM), activations = 0;
	for (size_t i = 0; i < n; i++)
		activations += s[i].is_activation;
	cr_assert_eq(afrm, activations, "every activation keeps its shape");
	cr_assert_gt(afrm, 30);
	free(s);
	mt_module_free(m);
}

static float *forward(mt_module *m, const mt_tensor *x, int64_t *count)
{
	mt_tensor *out = NULL;
	cr_assert_eq(mt_module_forward(&out, m, x), 0, "%s", mt_error_last());
	*count = mt_tensor_numel(out);
	float *y = malloc((size_t)*count * sizeof(float));
	cr_assert_eq(mt_tensor_copy_out(out, y, MT_DTYPE_FLOAT32, *count), 0);
	mt_tensor_free(out);
	return y;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
	double d = 0;
	for (int64_t i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - (double)b[i]));
	return d;
}

/* Mutate `site` of handres with op; the mutant's own site list must have
 * lost `gone` and gained `added` (each NULL: nothing), kept `kept` (the
 * other calls of a shared module or type are as they were), and have
 * `delta` sites more. */
static void check_exact(mt_module *m, const mt_tensor *x, const float *y0, int64_t n0,
			mt_graph_op op, const char *site, const char *gone, const char *added,
			const char *kept, int delta)
{
	mt_module *mut = NULL;
	size_t ns = 0, nm = 0;
	const char *opn = mt_graph_op_name(op);
	cr_assert_eq(mt_graph_mutate(&mut, m, op, site, input_shape, 4), 0, "%s %s: %s", opn,
		     site, mt_error_last());
	mt_graph_site *before = sites_of(m, &ns), *after = sites_of(mut, &nm);
	if (gone) {
		cr_assert_not_null(find(before, ns, gone));
		cr_assert_null(find(after, nm, gone), "%s %s: %s is still there", opn, site, gone);
	}
	if (added) {
		cr_assert_null(find(before, ns, added));
		cr_assert_not_null(find(after, nm, added), "%s %s: no %s", opn, site, added);
	}
	cr_assert_eq((long)nm, (long)ns + delta, "%s %s: %zu sites, %zu before", opn, site, nm, ns);
	cr_assert_not_null(find(after, nm, kept), "%s %s: %s is gone", opn, site, kept);
	int64_t n1;
	float *y1 = forward(mut, x, &n1);
	cr_assert_eq(n1, n0);
	cr_assert_gt(max_diff(y0, y1, n0), 1e-4, "%s %s changed nothing", opn, site);
	free(y1);
	free(before);
	free(after);
	mt_module_free(mut);
}

Test(tree, shared_module_and_shared_type_change_one_call)
{
	mt_module *m = load_model("handres");
	mt_tensor *x = load_inputs();
	int64_t n0;
	float *y0 = forward(m, x, &n0);
	size_t n = 0;
	mt_graph_site *s = sites_of(m, &n);
	/* one object called twice: each call has its sites */
	cr_assert_not_null(find(s, n, "shared.bn1"));
	cr_assert_not_null(find(s, n, "shared@2.bn1"));
	cr_assert_not_null(find(s, n, "shared@2:relu@2"));
	free(s);
	/* the second call loses a relu (its relu@2 is now relu@1); the
	 * first call keeps both */
	check_exact(m, x, y0, n0, MT_GRAPH_AFRM, "shared@2:relu@1", "shared@2:relu@2", NULL,
		    "shared:relu@2", -1);
	check_exact(m, x, y0, n0, MT_GRAPH_LD, "shared.bn1", "shared.bn1", NULL, "shared@2.bn1",
		    -1);
	/* block1, shared and block2 share one type (one graph) */
	check_exact(m, x, y0, n0, MT_GRAPH_LD, "block1:add@1", "block1:add@1", NULL,
		    "block2:add@1", -1);
	check_exact(m, x, y0, n0, MT_GRAPH_LAM, "block2.conv1", NULL, "block2.conv1@2",
		    "block1.conv1", 1);
	/* a third call of the block, with its 7 calls inside */
	check_exact(m, x, y0, n0, MT_GRAPH_LAM, "shared@2", NULL, "shared@3.bn2", "shared.conv2",
		    8);
	/* the source module is untouched */
	int64_t n2;
	float *y2 = forward(m, x, &n2);
	cr_assert_eq(max_diff(y0, y2, n0), 0.0);
	free(y0);
	free(y2);
	mt_tensor_free(x);
	mt_module_free(m);
}

Test(tree, refusals_name_the_site_the_module_and_what_is_valid)
{
	mt_module *m = load_model("resnet18"), *bad = NULL;
	cr_assert_eq(mt_graph_mutate(&bad, m, MT_GRAPH_LD, "layer2.0.conv1", input_shape, 4),
		     MT_EINVALID);
	cr_assert_null(bad);
	const char *e = mt_error_last();
	cr_assert(strstr(e, "LD: site 'layer2.0.conv1' (Conv2d, in the forward of layer2.0)") &&
		  strstr(e, "[1, 64, 8, 8] -> [1, 128, 4, 4]") &&
		  strstr(e, "LD applies in the forward of layer2.0 to layer2.0.bn1"),
		  "%s", e);
	cr_assert_eq(mt_graph_mutate(&bad, m, MT_GRAPH_AFRM, "layer1.1:add@1", input_shape, 4),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "not an activation") &&
		  strstr(mt_error_last(), "layer1.1.relu, layer1.1.relu@2"), "%s", mt_error_last());
	cr_assert_eq(mt_graph_mutate(&bad, m, MT_GRAPH_LD, "layer1.0.relu@3", input_shape, 4),
		     MT_ENOTFOUND);
	cr_assert(strstr(mt_error_last(), "no site 'layer1.0.relu@3'") &&
		  strstr(mt_error_last(), "the forward of layer1.0 are layer1.0.conv1"),
		  "%s", mt_error_last());
	cr_assert_eq(mt_graph_mutate(&bad, m, MT_GRAPH_LD, "layer7", input_shape, 4), MT_ENOTFOUND);
	cr_assert(strstr(mt_error_last(), "the model's forward are conv1, bn1"), "%s",
		  mt_error_last());
	mt_module_free(m);
}

/* ---- partial evaluation through the tree --------------------------------- */

static void predict_full(mt_module *m, const mt_tensor *x, int64_t *labels, float *logits)
{
	int64_t nout = 0;
	cr_assert_eq(mt_module_predict(labels, logits, &nout, m, x, 1000), 0, "%s", mt_error_last());
	cr_assert_eq(nout, 10);
}

static void assert_bits(const float *a, const float *b, int64_t n, const char *what)
{
	for (int64_t i = 0; i < n; i++)
		cr_assert(memcmp(&a[i], &b[i], sizeof(float)) == 0, "%s: logit %lld: %.9g vs %.9g",
			  what, (long long)i, a[i], b[i]);
}

/* Every weight of a conv or linear layer, in forward order: its cut
 * (filled from the previous cut) predicts the full forward bit for bit,
 * also with the weight changed; the cuts move forward through the tree. */
static void check_all_cuts(const char *model)
{
	mt_module *m = load_model(model);
	mt_tensor *x = load_inputs();
	mt_tensor_info *info = NULL;
	size_t ninfo = 0, nuse = 0, ncuts = 0, last_cut = 0;
	char **use = NULL;
	const int64_t n = TREE_INPUTS * 10;
	int64_t *labels = calloc(TREE_INPUTS, sizeof(int64_t));
	float *full = calloc(n, sizeof(float)), *part = calloc(n, sizeof(float));
	float *changed = calloc(n, sizeof(float));
	mt_partial *prev = NULL;

	predict_full(m, x, labels, full);
	cr_assert_eq(mt_module_tensors(&info, &ninfo, m), 0, "%s", mt_error_last());
	cr_assert_eq(mt_module_param_use_order(&use, &nuse, m), 0, "%s", mt_error_last());
	for (size_t u = 0; u < nuse; u++) {
		const mt_tensor_info *t = NULL;
		for (size_t i = 0; i < ninfo; i++)
			if (!strcmp(info[i].name, use[u]))
				t = &info[i];
		/* conv (4-d) and linear (2-d) weights */
		if (!t || t->is_buffer || (t->ndim != 4 && t->ndim != 2) ||
		    !strstr(t->name, ".weight"))
			continue;
		const char *names[] = {t->name};
		mt_partial *p = NULL;
		cr_assert_eq(mt_partial_new(&p, m, names, 1), 0, "%s", mt_error_last());
		if (prev)
			cr_assert_eq(mt_partial_cache_from(p, prev, x, 0), 0, "%s: %s", t->name,
				     mt_error_last());
		else
			cr_assert_eq(mt_partial_cache(p, x, 1000, 0), 0, "%s", mt_error_last());
		cr_assert_geq(mt_partial_cut_index(p), last_cut, "%s: the cut moved back", t->name);
		last_cut = mt_partial_cut_index(p);
		cr_assert_eq(mt_partial_predict(labels, part, p, 0), 0, "%s", mt_error_last());
		assert_bits(full, part, n, t->name);

		float *w = malloc((size_t)t->numel * sizeof(float)), *w2;
		cr_assert_eq(mt_module_read_tensor(m, t->name, w, t->numel), 0);
		w2 = malloc((size_t)t->numel * sizeof(float));
		memcpy(w2, w, (size_t)t->numel * sizeof(float));
		/* every 7th: a stride of 3 would hit only padded kernel
		 * columns of a 3x3 conv on layer4's 2x2 input */
		for (int64_t i = 0; i < t->numel; i += 7)
			w2[i] = -2.0f * w2[i] + 0.05f;
		cr_assert_eq(mt_module_write_tensor(m, t->name, w2, t->numel), 0);
		predict_full(m, x, labels, changed);
		cr_assert_eq(mt_partial_predict(labels, part, p, 0), 0, "%s", mt_error_last());
		assert_bits(changed, part, n, t->name);
		cr_assert(memcmp(changed, full, (size_t)n * sizeof(float)) != 0,
			  "%s: the change moved no logit", t->name);
		cr_assert_eq(mt_module_write_tensor(m, t->name, w, t->numel), 0);
		free(w);
		free(w2);
		mt_partial_free(prev);
		prev = p;
		ncuts++;
	}
	/* every conv and linear layer was cut, the last one near the end */
	cr_assert_gt(ncuts, 20, "%s: %zu cuts", model, ncuts);
	cr_assert_lt(mt_partial_suffix_fraction(prev), 0.05, "%s: the last cut runs %.3f", model,
		     mt_partial_suffix_fraction(prev));
	mt_partial_free(prev);
	mt_module_param_use_order_free(use, nuse);
	free(info);
	free(labels);
	free(full);
	free(part);
	free(changed);
	mt_tensor_free(x);
	mt_module_free(m);
}

Test(tree, resnet18_every_cut_is_bit_identical)
{
	check_all_cuts("resnet18");
}

Test(tree, mobilenet_every_cut_is_bit_identical)
{
	check_all_cuts("mobilenet");
}

Test(tree, a_cut_deep_in_the_tree_keeps_the_memory_budget)
{
	mt_module *m = load_model("resnet18");
	mt_tensor *x = load_inputs();
	const char *names[] = {"layer3.1.conv2.weight"};
	mt_partial *p = NULL;
	cr_assert_eq(mt_partial_new(&p, m, names, 1), 0, "%s", mt_error_last());
	/* inside layer3.1: the block's input (for the residual add) and the
	 * bn1/relu output are live, each 256 x 2 x 2 floats per input */
	cr_assert_eq(mt_partial_cache(p, x, 1000, 0), 0, "%s", mt_error_last());
	cr_assert_eq(mt_partial_live_count(p), 2);
	cr_assert_eq(mt_partial_cache_bytes(p), (size_t)2 * TREE_INPUTS * 256 * 2 * 2 * 4);
	/* the cut is inside layer3.1, not where layer3 begins */
	double deep = mt_partial_suffix_fraction(p);
	const char *start[] = {"layer3.0.conv1.weight"};
	mt_partial *q = NULL;
	cr_assert_eq(mt_partial_new(&q, m, start, 1), 0, "%s", mt_error_last());
	cr_assert_eq(mt_partial_cache(q, x, 1000, 0), 0, "%s", mt_error_last());
	cr_assert_lt(deep, mt_partial_suffix_fraction(q) - 0.1, "%.3f vs %.3f", deep,
		     mt_partial_suffix_fraction(q));
	mt_partial_free(q);
	cr_assert_eq(mt_partial_cache(p, x, 1000, 1000), MT_ENOMEM);
	cr_assert(strstr(mt_error_last(), "memory budget"), "%s", mt_error_last());
	cr_assert_eq(mt_partial_count(p), 0);
	mt_partial_free(p);
	mt_tensor_free(x);
	mt_module_free(m);
}

/* The worker's cut cache (runner/cut_cache.c) with room for about two
 * cuts: every layer still gets a cut, the cache drops the least recently
 * used ones to stay in its budget, and every cut predicts the full
 * forward; with room for none, the caller gets NULL (a full forward). */
Test(tree, the_cut_cache_keeps_its_budget)
{
	mt_module *m = load_model("resnet18");
	mt_tensor *x = load_inputs();
	const size_t budget = (size_t)2 * TREE_INPUTS * 64 * 8 * 8 * 4 + 1;
	const int64_t n = TREE_INPUTS * 10;
	int64_t *labels = calloc(TREE_INPUTS, sizeof(int64_t));
	float *full = calloc(n, sizeof(float)), *part = calloc(n, sizeof(float));
	mt_cut_cache *cc = NULL;
	const char *layers[] = {"conv1", "layer1.0.conv1", "layer1.1.conv2", "layer2.0.conv1",
				"layer2.1.conv1", "layer3.0.downsample.0", "layer4.1.conv2",
				"fc", "layer1.0.conv2", "conv1"};
	predict_full(m, x, labels, full);
	cr_assert_eq(mt_cut_cache_new(&cc, budget), 0);
	for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
		char weight[128];
		snprintf(weight, sizeof(weight), "%s.weight", layers[i]);
		const char *names[] = {weight};
		mt_partial *p = mt_cut_cache_get(cc, m, x, names, 1, 1000);
		if (!strcmp(layers[i], "conv1")) {
			/* the input itself, 3 x 32 x 32 floats per input, fits */
			cr_assert_not_null(p, "%s: %s", weight, mt_error_last());
		}
		if (!p)
			continue;
		cr_assert_eq(mt_partial_predict(labels, part, p, 0), 0, "%s", mt_error_last());
		assert_bits(full, part, n, weight);
		cr_assert_leq(mt_cut_cache_bytes(cc), budget, "%s: %zu bytes held", weight,
			      mt_cut_cache_bytes(cc));
		/* asking again gives the same cut */
		cr_assert_eq(mt_cut_cache_get(cc, m, x, names, 1, 1000), p);
	}
	cr_assert_lt(mt_cut_cache_count(cc), 8, "%zu cuts held", mt_cut_cache_count(cc));
	mt_cut_cache_free(cc);

	cr_assert_eq(mt_cut_cache_new(&cc, 1000), 0);
	const char *names[] = {"layer2.0.conv1.weight"};
	cr_assert_null(mt_cut_cache_get(cc, m, x, names, 1, 1000));
	cr_assert_eq(mt_cut_cache_count(cc), 0);
	mt_cut_cache_free(cc);
	free(labels);
	free(full);
	free(part);
	mt_tensor_free(x);
	mt_module_free(m);
}
