/* Partial evaluation (shim/partial.cpp): for every cut, predicting from the
 * cache must give bit for bit the logits of a full mt_module_predict with
 * the same batch size, before and after a mutant's weights are written.
 * Models: the PyTorch-trained LeNet-5 fixture on real Fashion-MNIST test
 * images, a module built by mt_module_build (batch norm, dropout), and a
 * tiny scripted residual model (several live values, an in-place update of
 * a cached value, an int live across a layer). */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/recipe.h"
#include "mutorch/shim.h"
#include "mutorch/shim_partial.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define NUM_IMAGES 2000
#define BATCH 500

static void setup(void)
{
	cr_assert_eq(mt_shim_init(1, 7, 0), 0, "%s", mt_error_last());
}

TestSuite(partial, .init = setup, .timeout = 600);

/* The first n Fashion-MNIST test images, normalised like the fixture's
 * training script (scale 255, mean 0.2860, std 0.3530). */
static mt_tensor *fashion_inputs(int64_t n)
{
	mt_dataset *ds = NULL;
	cr_assert_eq(mt_dataset_load_idx(&ds, FASHION "/t10k-images-idx3-ubyte.gz",
					 FASHION "/t10k-labels-idx1-ubyte.gz", 10),
		     0, "%s", mt_error_last());
	cr_assert_geq(mt_dataset_count(ds), n);
	const double mean = 0.2860, std = 0.3530;
	mt_tensor *x = NULL;
	cr_assert_eq(mt_tensor_from_pixels(&x, mt_dataset_pixels(ds), 0, n,
					   mt_dataset_shape(ds), 255.0, &mean, &std, 1),
		     0, "%s", mt_error_last());
	mt_dataset_free(ds);
	return x;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
	int64_t n, nout;
	int64_t *labels;
	float *logits;
} predictions;

static predictions full_predict(mt_module *m, const mt_tensor *x, int64_t batch)
{
	predictions p = {.n = mt_tensor_dim(x, 0)};
	p.labels = calloc((size_t)p.n, sizeof(int64_t));
	p.logits = calloc((size_t)p.n * 64, sizeof(float));
	cr_assert(p.labels && p.logits);
	cr_assert_eq(mt_module_predict(p.labels, p.logits, &p.nout, m, x, batch), 0,
		     "%s", mt_error_last());
	cr_assert(p.nout > 0 && p.nout <= 64);
	return p;
}

static predictions partial_predict(const mt_partial *part, int64_t batch)
{
	predictions p = {.n = mt_partial_count(part), .nout = mt_partial_num_outputs(part)};
	cr_assert_gt(p.n, 0);
	cr_assert_gt(p.nout, 0);
	p.labels = calloc((size_t)p.n, sizeof(int64_t));
	p.logits = calloc((size_t)(p.n * p.nout), sizeof(float));
	cr_assert(p.labels && p.logits);
	cr_assert_eq(mt_partial_predict(p.labels, p.logits, part, batch), 0, "%s",
		     mt_error_last());
	return p;
}

static void predictions_free(predictions *p)
{
	free(p->labels);
	free(p->logits);
}

static int same_predictions(const predictions *a, const predictions *b)
{
	return a->n == b->n && a->nout == b->nout &&
	       memcmp(a->labels, b->labels, (size_t)a->n * sizeof(int64_t)) == 0 &&
	       memcmp(a->logits, b->logits, (size_t)(a->n * a->nout) * sizeof(float)) == 0;
}

static void assert_same(const predictions *a, const predictions *b, const char *what)
{
	cr_assert_eq(a->n, b->n, "%s: %lld vs %lld inputs", what, (long long)a->n,
		     (long long)b->n);
	cr_assert_eq(a->nout, b->nout, "%s: output width", what);
	for (int64_t i = 0; i < a->n * a->nout; i++)
		cr_assert(memcmp(&a->logits[i], &b->logits[i], sizeof(float)) == 0,
			  "%s: logit %lld differs: %.9g vs %.9g", what, (long long)i,
			  a->logits[i], b->logits[i]);
	cr_assert(memcmp(a->labels, b->labels, (size_t)a->n * sizeof(int64_t)) == 0,
		  "%s: labels differ", what);
}

static mt_partial *cached_partial(mt_module *m, const char *const *names, size_t n,
				  const mt_tensor *x, int64_t batch)
{
	mt_partial *p = NULL;
	cr_assert_eq(mt_partial_new(&p, m, names, n), 0, "%s", mt_error_last());
	cr_assert_eq(mt_partial_cache(p, x, batch, 0), 0, "%s", mt_error_last());
	cr_assert_eq(mt_partial_count(p), mt_tensor_dim(x, 0));
	cr_assert_gt(mt_partial_cache_bytes(p), 0);
	return p;
}

/* Partial from the cut before `names` equals the full forward. */
static void check_cut(mt_module *m, const char *const *names, size_t n,
		      const mt_tensor *x, int64_t batch, const predictions *full,
		      const char *what)
{
	mt_partial *p = cached_partial(m, names, n, x, batch);
	predictions part = partial_predict(p, 0);
	assert_same(full, &part, what);
	predictions_free(&part);
	mt_partial_free(p);
}

static float *read_tensor(mt_module *m, const char *name, int64_t numel)
{
	float *w = malloc((size_t)numel * sizeof(float));
	cr_assert(w);
	cr_assert_eq(mt_module_read_tensor(m, name, w, numel), 0, "%s", mt_error_last());
	return w;
}

/* Write a mutant of `name` (every 7th element scaled by -1.5 plus 0.1, a
 * change large enough to move logits), check partial == full on it, check
 * it changed the logits, restore and check partial == the original. */
static void check_mutant(mt_module *m, const mt_partial *p, const char *name,
			 int64_t numel, const mt_tensor *x, int64_t batch,
			 const predictions *original)
{
	float *w = read_tensor(m, name, numel);
	float *mutated = malloc((size_t)numel * sizeof(float));
	cr_assert(mutated);
	memcpy(mutated, w, (size_t)numel * sizeof(float));
	for (int64_t i = 0; i < numel; i += 7)
		mutated[i] = -1.5f * mutated[i] + 0.1f;
	cr_assert_eq(mt_module_write_tensor(m, name, mutated, numel), 0, "%s",
		     mt_error_last());

	predictions full = full_predict(m, x, batch);
	predictions part = partial_predict(p, 0);
	assert_same(&full, &part, name);
	cr_assert_not(same_predictions(&full, original),
		      "%s: the mutant did not change any logit", name);

	cr_assert_eq(mt_module_write_tensor(m, name, w, numel), 0, "%s", mt_error_last());
	predictions back = partial_predict(p, 0);
	assert_same(original, &back, name);
	predictions_free(&full);
	predictions_free(&part);
	predictions_free(&back);
	free(mutated);
	free(w);
}

static mt_module *load_fixture(const char *file)
{
	mt_module *m = NULL;
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", MT_FIXTURES, file);
	cr_assert_eq(mt_module_load(&m, path), 0, "%s", mt_error_last());
	return m;
}

static int64_t tensor_numel(mt_module *m, const char *name)
{
	mt_tensor_info *info = NULL;
	size_t count = 0;
	int64_t numel = -1;
	cr_assert_eq(mt_module_tensors(&info, &count, m), 0, "%s", mt_error_last());
	for (size_t i = 0; i < count; i++)
		if (strcmp(info[i].name, name) == 0)
			numel = info[i].numel;
	free(info);
	cr_assert_gt(numel, 0, "no tensor %s", name);
	return numel;
}

/* ---- LeNet-5 saved by PyTorch ------------------------------------------- */

static const char *const LENET_LAYERS[] = {"conv1", "conv2", "fc1", "fc2", "fc3"};

Test(partial, lenet_every_cut_matches_full_forward)
{
	mt_module *m = load_fixture("lenet5_pytorch.pt");
	mt_tensor *x = fashion_inputs(NUM_IMAGES);
	predictions full = full_predict(m, x, BATCH);

	check_cut(m, NULL, 0, x, BATCH, &full, "cut at the start");
	double previous = 1.0 + 1e-9;
	for (size_t l = 0; l < 5; l++) {
		char weight[64], bias[64];
		snprintf(weight, sizeof(weight), "%s.weight", LENET_LAYERS[l]);
		snprintf(bias, sizeof(bias), "%s.bias", LENET_LAYERS[l]);
		const char *both[] = {weight, bias};
		check_cut(m, both, 2, x, BATCH, &full, weight);
		check_cut(m, both + 1, 1, x, BATCH, &full, bias);

		mt_partial *p = cached_partial(m, both, 2, x, BATCH);
		double fraction = mt_partial_suffix_fraction(p);
		cr_assert(fraction > 0 && fraction < previous,
			  "%s: suffix fraction %g, expected below %g", weight, fraction,
			  previous);
		previous = fraction;
		mt_partial_free(p);
	}

	/* A batch size that does not divide the inputs. */
	predictions full300 = full_predict(m, x, 300);
	const char *fc1[] = {"fc1.weight"};
	check_cut(m, fc1, 1, x, 300, &full300, "fc1, batches of 300");
	predictions_free(&full300);

	predictions_free(&full);
	mt_tensor_free(x);
	mt_module_free(m);
}

Test(partial, lenet_mutants_match_full_forward)
{
	mt_module *m = load_fixture("lenet5_pytorch.pt");
	mt_tensor *x = fashion_inputs(NUM_IMAGES);
	predictions original = full_predict(m, x, BATCH);

	for (size_t l = 0; l < 5; l++) {
		char weight[64], bias[64];
		snprintf(weight, sizeof(weight), "%s.weight", LENET_LAYERS[l]);
		snprintf(bias, sizeof(bias), "%s.bias", LENET_LAYERS[l]);
		const char *both[] = {weight, bias};
		mt_partial *p = cached_partial(m, both, 2, x, BATCH);
		check_mutant(m, p, weight, tensor_numel(m, weight), x, BATCH, &original);
		check_mutant(m, p, bias, tensor_numel(m, bias), x, BATCH, &original);
		mt_partial_free(p);
	}

	/* The cache is really used: with the cut at fc3, a mutated conv2
	 * (before the cut) does not change what the suffix computes. */
	const char *fc3[] = {"fc3.weight"};
	mt_partial *p = cached_partial(m, fc3, 1, x, BATCH);
	int64_t numel = tensor_numel(m, "conv2.weight");
	float *w = read_tensor(m, "conv2.weight", numel);
	float *zero = calloc((size_t)numel, sizeof(float));
	cr_assert(zero);
	cr_assert_eq(mt_module_write_tensor(m, "conv2.weight", zero, numel), 0);
	predictions stale = partial_predict(p, 0);
	assert_same(&original, &stale, "conv2 mutated before an fc3 cut");
	cr_assert_eq(mt_module_write_tensor(m, "conv2.weight", w, numel), 0);
	free(zero);
	free(w);
	mt_partial_free(p);

	predictions_free(&original);
	mt_tensor_free(x);
	mt_module_free(m);
}

Test(partial, lenet_cache_size_budget_and_errors)
{
	mt_module *m = load_fixture("lenet5_pytorch.pt");
	mt_tensor *x = fashion_inputs(NUM_IMAGES);

	/* Live at conv2: the pooled 6 x 14 x 14 float maps; at fc1: the
	 * flattened 16 x 5 x 5 (a view of the pooled maps' storage). */
	const char *conv2[] = {"conv2.weight"};
	mt_partial *p = cached_partial(m, conv2, 1, x, BATCH);
	cr_assert_eq(mt_partial_live_count(p), 1);
	cr_assert_eq(mt_partial_cache_bytes(p), (size_t)NUM_IMAGES * 6 * 14 * 14 * 4);
	cr_assert_eq(mt_partial_num_outputs(p), 10);

	int64_t labels[NUM_IMAGES];
	cr_assert_eq(mt_partial_predict(labels, NULL, p, 123), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "batch size") != NULL, "%s", mt_error_last());

	/* Over budget: MT_ENOMEM, a message that says so, nothing kept. */
	cr_assert_eq(mt_partial_cache(p, x, BATCH, 1000000), MT_ENOMEM);
	cr_assert(strstr(mt_error_last(), "memory budget of 1000000 bytes") != NULL, "%s",
		  mt_error_last());
	cr_assert_eq(mt_partial_cache_bytes(p), 0);
	cr_assert_eq(mt_partial_count(p), 0);
	cr_assert_eq(mt_partial_predict(labels, NULL, p, 0), MT_EINVALID);
	mt_partial_free(p);

	const char *fc1[] = {"fc1.weight"};
	p = cached_partial(m, fc1, 1, x, BATCH);
	cr_assert_eq(mt_partial_cache_bytes(p), (size_t)NUM_IMAGES * 16 * 5 * 5 * 4);
	mt_partial_free(p);

	const char *unknown[] = {"conv9.weight"};
	p = NULL;
	cr_assert_eq(mt_partial_new(&p, m, unknown, 1), MT_ENOTFOUND);
	cr_assert_null(p);
	cr_assert(strstr(mt_error_last(), "conv9.weight") != NULL, "%s", mt_error_last());
	mt_partial_free(NULL);

	mt_tensor_free(x);
	mt_module_free(m);
}

Test(partial, lenet_param_use_order)
{
	mt_module *m = load_fixture("lenet5_pytorch.pt");
	char **names = NULL;
	size_t count = 0;
	cr_assert_eq(mt_module_param_use_order(&names, &count, m), 0, "%s", mt_error_last());
	const char *expected[] = {"conv1.weight", "conv1.bias", "conv2.weight",
				  "conv2.bias",   "fc1.weight", "fc1.bias",
				  "fc2.weight",   "fc2.bias",   "fc3.weight",
				  "fc3.bias"};
	cr_assert_eq(count, 10);
	for (size_t i = 0; i < count; i++)
		cr_assert_str_eq(names[i], expected[i]);
	mt_module_param_use_order_free(names, count);
	mt_module_free(m);
}

/* Not a check (timing is never asserted): how long the suffix takes per
 * cut compared with a full predict, logged for the report. The machine is
 * shared, so each figure is the best of several runs, full and partial
 * interleaved. */
static double best_of(double a, double b)
{
	return a < b ? a : b;
}

Test(partial, lenet_timing_report)
{
	mt_module *m = load_fixture("lenet5_pytorch.pt");
	mt_tensor *x = fashion_inputs(NUM_IMAGES);
	int64_t *labels = calloc(NUM_IMAGES, sizeof(int64_t));
	cr_assert(labels);
	int64_t nout = 0;
	cr_assert_eq(mt_module_predict(labels, NULL, &nout, m, x, BATCH), 0); /* warm */
	for (size_t l = 0; l < 5; l++) {
		char weight[64];
		snprintf(weight, sizeof(weight), "%s.weight", LENET_LAYERS[l]);
		const char *names[] = {weight};
		mt_partial *p = NULL;
		cr_assert_eq(mt_partial_new(&p, m, names, 1), 0, "%s", mt_error_last());
		double t0 = now_seconds();
		cr_assert_eq(mt_partial_cache(p, x, BATCH, 0), 0, "%s", mt_error_last());
		double cache = now_seconds() - t0;
		cr_assert_eq(mt_partial_predict(labels, NULL, p, 0), 0); /* warm */
		double full = 1e9, part = 1e9;
		for (int r = 0; r < 7; r++) {
			t0 = now_seconds();
			cr_assert_eq(mt_module_predict(labels, NULL, &nout, m, x, BATCH), 0);
			full = best_of(full, now_seconds() - t0);
			t0 = now_seconds();
			cr_assert_eq(mt_partial_predict(labels, NULL, p, 0), 0);
			part = best_of(part, now_seconds() - t0);
		}
		cr_log_info("partial timing, %d images, 1 thread: cut at %-5s: %7.2f ms vs full %7.2f ms (%5.1f%%), suffix share %.3f, cache %zu bytes built in %.1f ms",
			    NUM_IMAGES, LENET_LAYERS[l], part * 1e3, full * 1e3,
			    100.0 * part / full, mt_partial_suffix_fraction(p),
			    mt_partial_cache_bytes(p), cache * 1e3);
		mt_partial_free(p);
	}
	free(labels);
	mt_tensor_free(x);
	mt_module_free(m);
}

/* ---- a module built by mt_module_build ------------------------------------ */

static mt_layer layer(mt_layer_kind kind, int64_t in, int64_t out, int64_t kernel)
{
	mt_layer l = {.kind = kind, .in = in, .out = out, .kernel = kernel,
		      .stride = 1, .padding = 0, .dilation = 1, .groups = 1,
		      .bias = 1, .p = 0.5, .alpha = 0.01, .eps = 1e-5,
		      .momentum = 0.1, .dim = 1};
	if (kind == MT_LAYER_MAXPOOL2D)
		l.stride = kernel;
	return l;
}

Test(partial, built_module_cuts_and_mutants)
{
	mt_layer layers[] = {
		layer(MT_LAYER_CONV2D, 1, 6, 5),      /* 0, padding 2 below */
		layer(MT_LAYER_BATCHNORM2D, 6, 6, 0), /* 1 */
		layer(MT_LAYER_RELU, 0, 0, 0),        /* 2 */
		layer(MT_LAYER_MAXPOOL2D, 0, 0, 2),   /* 3 */
		layer(MT_LAYER_CONV2D, 6, 16, 5),     /* 4 */
		layer(MT_LAYER_RELU, 0, 0, 0),        /* 5 */
		layer(MT_LAYER_MAXPOOL2D, 0, 0, 2),   /* 6 */
		layer(MT_LAYER_FLATTEN, 0, 0, 0),     /* 7 */
		layer(MT_LAYER_LINEAR, 400, 120, 0),  /* 8 */
		layer(MT_LAYER_RELU, 0, 0, 0),        /* 9 */
		layer(MT_LAYER_DROPOUT, 0, 0, 0),     /* 10 */
		layer(MT_LAYER_LINEAR, 120, 84, 0),   /* 11 */
		layer(MT_LAYER_TANH, 0, 0, 0),        /* 12 */
		layer(MT_LAYER_LINEAR, 84, 10, 0),    /* 13 */
	};
	layers[0].padding = 2;
	mt_arch arch = {.layers = layers, .nlayers = sizeof(layers) / sizeof(layers[0])};
	mt_module *m = NULL;
	cr_assert_eq(mt_module_build(&m, &arch, MT_INIT_DEFAULT, 3), 0, "%s",
		     mt_error_last());
	mt_tensor *x = fashion_inputs(NUM_IMAGES);

	/* Batch norm with untouched running stats is the identity; give it
	 * statistics so that its buffers matter. */
	float mean[6], var[6];
	for (int c = 0; c < 6; c++) {
		mean[c] = 0.05f * (float)(c - 2);
		var[c] = 0.5f + 0.25f * (float)c;
	}
	cr_assert_eq(mt_module_write_tensor(m, "batchnorm2d_1.running_mean", mean, 6), 0);
	cr_assert_eq(mt_module_write_tensor(m, "batchnorm2d_1.running_var", var, 6), 0);

	char **order = NULL;
	size_t count = 0;
	cr_assert_eq(mt_module_param_use_order(&order, &count, m), 0, "%s", mt_error_last());
	cr_assert_geq(count, 12);
	cr_assert_str_eq(order[0], "conv2d_0.weight");
	cr_assert_str_eq(order[count - 1], "linear_13.bias");

	predictions full = full_predict(m, x, BATCH);
	/* Every tensor the forward reads, in forward order, is a cut. */
	for (size_t i = 0; i < count; i++) {
		const char *names[] = {order[i]};
		check_cut(m, names, 1, x, BATCH, &full, order[i]);
	}
	const char *targets[][2] = {
		{"batchnorm2d_1.running_mean", NULL},
		{"conv2d_4.weight", NULL},
		{"linear_11.weight", NULL},
	};
	for (size_t i = 0; i < 3; i++) {
		mt_partial *p = cached_partial(m, targets[i], 1, x, BATCH);
		check_mutant(m, p, targets[i][0], tensor_numel(m, targets[i][0]), x, BATCH,
			     &full);
		mt_partial_free(p);
	}
	mt_module_param_use_order_free(order, count);
	predictions_free(&full);
	mt_tensor_free(x);
	mt_module_free(m);
}

/* ---- a residual model (tests/fixtures/make_partial_fixture.py) ------------ */

Test(partial, residual_live_values)
{
	mt_module *m = load_fixture("partial_residual.pt");
	mt_tensor *x = fashion_inputs(NUM_IMAGES);
	predictions full = full_predict(m, x, BATCH);

	static const char *const layers[] = {"stem", "conv_a", "conv_b", "conv_c", "fc"};
	/* Live values at each cut: x; a; a and b (the skip connection);
	 * h only (the int n = h.size(0) moves the cut before it); the
	 * flattened h. */
	static const size_t live[] = {1, 1, 2, 1, 1};
	for (size_t l = 0; l < 5; l++) {
		char weight[64];
		snprintf(weight, sizeof(weight), "%s.weight", layers[l]);
		const char *names[] = {weight};
		mt_partial *p = cached_partial(m, names, 1, x, BATCH);
		cr_assert_eq(mt_partial_live_count(p), live[l], "%s: %zu live values", weight,
			     mt_partial_live_count(p));
		predictions part = partial_predict(p, 0);
		assert_same(&full, &part, weight);
		/* conv_c's suffix adds into the cached h in place: a second
		 * run must see the cache unchanged. */
		predictions again = partial_predict(p, 0);
		assert_same(&full, &again, weight);
		check_mutant(m, p, weight, tensor_numel(m, weight), x, BATCH, &full);
		predictions_free(&part);
		predictions_free(&again);
		mt_partial_free(p);
	}
	predictions_free(&full);
	mt_tensor_free(x);
	mt_module_free(m);
}

/* A tensor without the batch dimension live at the cut cannot be cached:
 * MT_EINVALID naming the value, so the caller falls back to a full forward.
 * A cut before it (here: at the start) still works. */
Test(partial, unbatched_live_value_is_rejected)
{
	mt_module *m = load_fixture("partial_unbatched.pt");
	mt_tensor *x = fashion_inputs(NUM_IMAGES);
	predictions full = full_predict(m, x, BATCH);

	static const char *const rejected[] = {"fc1.weight", "fc2.weight", "fc2.bias"};
	for (size_t i = 0; i < 3; i++) {
		mt_partial *p = NULL;
		cr_assert_eq(mt_partial_new(&p, m, &rejected[i], 1), 0, "%s", mt_error_last());
		cr_assert_eq(mt_partial_cache(p, x, BATCH, 0), MT_EINVALID, "%s", rejected[i]);
		cr_assert(strstr(mt_error_last(), "expected the batch as dim 0") != NULL, "%s",
			  mt_error_last());
		cr_assert_eq(mt_partial_count(p), 0);
		cr_assert_eq(mt_partial_cache_bytes(p), 0);
		mt_partial_free(p);
	}
	const char *gain[] = {"gain"};
	mt_partial *p = cached_partial(m, gain, 1, x, BATCH);
	cr_assert_eq(mt_partial_suffix_fraction(p), 1.0);
	predictions part = partial_predict(p, 0);
	assert_same(&full, &part, "gain");
	check_mutant(m, p, "gain", 10, x, BATCH, &full);
	predictions_free(&part);
	mt_partial_free(p);
	predictions_free(&full);
	mt_tensor_free(x);
	mt_module_free(m);
}

/* mt_partial_cache_from: each cut filled from the previous one (LeNet and
 * the residual model, whose skip connection keeps two values live) holds
 * exactly what mt_partial_cache computes: bit-identical predictions, also
 * for a mutant; a later cut cannot fill an earlier one. */
static void check_chain(const char *fixture, const char *const *layers, size_t nlayers)
{
	mt_module *m = load_fixture(fixture);
	mt_tensor *x = fashion_inputs(NUM_IMAGES);
	predictions full = full_predict(m, x, BATCH);
	mt_partial *prev = NULL;

	for (size_t l = 0; l < nlayers; l++) {
		char weight[64];
		snprintf(weight, sizeof(weight), "%s.weight", layers[l]);
		const char *names[] = {weight};
		mt_partial *p = NULL;
		cr_assert_eq(mt_partial_new(&p, m, names, 1), 0, "%s", mt_error_last());
		if (prev)
			cr_assert_eq(mt_partial_cache_from(p, prev, x, 0), 0, "%s: %s", weight,
				     mt_error_last());
		else
			cr_assert_eq(mt_partial_cache(p, x, BATCH, 0), 0, "%s", mt_error_last());
		cr_assert_eq(mt_partial_count(p), NUM_IMAGES);
		predictions part = partial_predict(p, 0);
		assert_same(&full, &part, weight);
		check_mutant(m, p, weight, tensor_numel(m, weight), x, BATCH, &full);
		if (prev) {
			/* the other way round is refused, and prev keeps its cache */
			cr_assert_eq(mt_partial_cache_from(prev, p, x, 0), MT_EINVALID);
			cr_assert_eq(mt_partial_count(prev), NUM_IMAGES);
		}
		predictions_free(&part);
		mt_partial_free(prev);
		prev = p;
	}
	mt_partial_free(prev);
	predictions_free(&full);
	mt_tensor_free(x);
	mt_module_free(m);
}

Test(partial, cache_from_an_earlier_cut)
{
	check_chain("lenet5_pytorch.pt", LENET_LAYERS, 5);
	static const char *const residual[] = {"stem", "conv_a", "conv_b", "conv_c", "fc"};
	check_chain("partial_residual.pt", residual, 5);
}
