/* The shim (C API over libtorch): building, saving and loading TorchScript
 * modules, parameters, inference, training on real Fashion-MNIST, data
 * tensors, and the errors. Fixtures made by PyTorch come from
 * tests/fixtures/make_shim_fixture.py. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/recipe.h"
#include "mutorch/shim.h"
#include "mutorch/shim_train.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

static void setup(void)
{
	cr_assert_eq(mt_shim_init(1, 42, 0), 0, "%s", mt_shim_last_error());
}

TestSuite(shim, .init = setup, .timeout = 300);

/* ---- helpers ----------------------------------------------------------- */

static mt_layer layer(mt_layer_kind kind)
{
	mt_layer l;
	memset(&l, 0, sizeof(l));
	l.kind = kind;
	l.stride = 1;
	l.dilation = 1;
	l.groups = 1;
	l.bias = 1;
	l.p = 0.5;
	l.alpha = 0.01;
	l.eps = 1e-5;
	l.momentum = 0.1;
	l.dim = 1;
	return l;
}

static mt_layer linear(int64_t in, int64_t out)
{
	mt_layer l = layer(MT_LAYER_LINEAR);
	l.in = in;
	l.out = out;
	return l;
}

static mt_layer conv(int64_t in, int64_t out, int64_t k, int64_t padding)
{
	mt_layer l = layer(MT_LAYER_CONV2D);
	l.in = in;
	l.out = out;
	l.kernel = k;
	l.padding = padding;
	return l;
}

static mt_layer pool(int64_t k)
{
	mt_layer l = layer(MT_LAYER_MAXPOOL2D);
	l.kernel = k;
	l.stride = k;
	return l;
}

/* LeNet-5: conv2d(1,6,5,padding=2) relu maxpool2d(2) conv2d(6,16,5) relu
 * maxpool2d(2) flatten linear(400,120) relu linear(120,84) relu
 * linear(84,10) */
static mt_layer lenet_layers[12];
static mt_arch lenet(void)
{
	mt_layer *L = lenet_layers;
	L[0] = conv(1, 6, 5, 2);
	L[1] = layer(MT_LAYER_RELU);
	L[2] = pool(2);
	L[3] = conv(6, 16, 5, 0);
	L[4] = layer(MT_LAYER_RELU);
	L[5] = pool(2);
	L[6] = layer(MT_LAYER_FLATTEN);
	L[7] = linear(400, 120);
	L[8] = layer(MT_LAYER_RELU);
	L[9] = linear(120, 84);
	L[10] = layer(MT_LAYER_RELU);
	L[11] = linear(84, 10);
	return (mt_arch){L, 12};
}

/* flatten linear(784,64) relu [dropout(0.2)] linear(64,10) */
static mt_layer mlp_layers[5];
static mt_arch mlp(int with_dropout)
{
	mt_layer *L = mlp_layers;
	size_t n = 0;
	L[n++] = layer(MT_LAYER_FLATTEN);
	L[n++] = linear(784, 64);
	L[n++] = layer(MT_LAYER_RELU);
	if (with_dropout) {
		L[n] = layer(MT_LAYER_DROPOUT);
		L[n++].p = 0.2;
	}
	L[n++] = linear(64, 10);
	return (mt_arch){L, n};
}

static mt_module *build(const mt_arch *arch, mt_init_kind init, uint64_t seed)
{
	mt_module *m = NULL;
	int rc = mt_module_build(&m, arch, init, seed);
	cr_assert_eq(rc, 0, "build: %s", mt_shim_last_error());
	cr_assert(m);
	return m;
}

/* Every parameter and buffer, concatenated as float32; *n receives the
 * count. */
static float *all_weights(const mt_module *m, int64_t *n)
{
	mt_tensor_info *info;
	size_t count;
	int64_t total = 0, at = 0;
	cr_assert_eq(mt_module_tensors(&info, &count, m), 0, "%s",
		     mt_shim_last_error());
	for (size_t i = 0; i < count; i++)
		total += info[i].numel;
	float *w = malloc((size_t)total * sizeof(float) + 1);
	for (size_t i = 0; i < count; i++) {
		cr_assert_eq(mt_module_read_tensor(m, info[i].name, w + at,
						   info[i].numel), 0, "%s",
			     mt_shim_last_error());
		at += info[i].numel;
	}
	free(info);
	*n = total;
	return w;
}

static float *read_param(const mt_module *m, const char *name, int64_t numel)
{
	float *w = malloc((size_t)numel * sizeof(float));
	cr_assert_eq(mt_module_read_tensor(m, name, w, numel), 0, "%s",
		     mt_shim_last_error());
	return w;
}

static mt_tensor *random_input(int64_t n, int64_t c, int64_t h, int64_t w,
			       unsigned seed)
{
	int64_t shape[4] = {n, c, h, w}, total = n * c * h * w;
	float *data = malloc((size_t)total * sizeof(float));
	mt_tensor *t;
	srand(seed);
	for (int64_t i = 0; i < total; i++)
		data[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
	cr_assert_eq(mt_tensor_from_data(&t, data, MT_DTYPE_FLOAT32, shape, 4), 0);
	free(data);
	return t;
}

typedef struct {
	mt_tensor *x, *y;
	int64_t *labels;
	int64_t n;
} fmnist;

/* The first n samples of a Fashion-MNIST split, normalised like the
 * usual PyTorch pipeline. */
static fmnist load_fmnist(const char *split, int64_t n)
{
	char ipath[256], lpath[256];
	void *img, *lab;
	size_t ilen, llen;
	fmnist d;
	const int64_t shape[3] = {1, 28, 28};
	const double mean = 0.2860, std = 0.3530;

	snprintf(ipath, sizeof(ipath), FMNIST "%s-images-idx3-ubyte.gz", split);
	snprintf(lpath, sizeof(lpath), FMNIST "%s-labels-idx1-ubyte.gz", split);
	cr_assert_eq(mt_io_read_maybe_gzip(&img, &ilen, ipath), 0, "%s",
		     mt_error_last());
	cr_assert_eq(mt_io_read_maybe_gzip(&lab, &llen, lpath), 0, "%s",
		     mt_error_last());
	cr_assert_geq(ilen, 16 + (size_t)n * 784);
	cr_assert_geq(llen, 8 + (size_t)n);
	d.n = n;
	d.labels = malloc((size_t)n * sizeof(int64_t));
	for (int64_t i = 0; i < n; i++)
		d.labels[i] = ((unsigned char *)lab)[8 + i];
	cr_assert_eq(mt_tensor_from_pixels(&d.x, (unsigned char *)img + 16, 0, n,
					   shape, 255.0, &mean, &std, 1), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(mt_tensor_from_data(&d.y, d.labels, MT_DTYPE_INT64, &n, 1), 0);
	free(img);
	free(lab);
	return d;
}

static void fmnist_free(fmnist *d)
{
	mt_tensor_free(d->x);
	mt_tensor_free(d->y);
	free(d->labels);
}

static double accuracy(mt_module *m, const fmnist *d)
{
	int64_t *pred = malloc((size_t)d->n * sizeof(int64_t)), hits = 0;
	cr_assert_eq(mt_module_predict(pred, NULL, NULL, m, d->x, 250), 0, "%s",
		     mt_shim_last_error());
	for (int64_t i = 0; i < d->n; i++)
		hits += pred[i] == d->labels[i];
	free(pred);
	return (double)hits / (double)d->n;
}

/* A fixed permutation (a multiplicative step coprime with n). */
static int64_t *permutation(int64_t n, int64_t step)
{
	int64_t *order = malloc((size_t)n * sizeof(int64_t));
	for (int64_t i = 0; i < n; i++)
		order[i] = (i * step + 7) % n;
	return order;
}

static mt_optim_config adam(double lr)
{
	mt_optim_config c;
	memset(&c, 0, sizeof(c));
	c.kind = MT_OPTIM_ADAM;
	c.lr = lr;
	c.beta1 = 0.9;
	c.beta2 = 0.999;
	c.eps = 1e-8;
	return c;
}

static mt_train_options ce_options(int64_t batch)
{
	mt_train_options o;
	memset(&o, 0, sizeof(o));
	o.loss = MT_LOSS_CROSS_ENTROPY;
	o.batch_size = batch;
	o.num_classes = 10;
	return o;
}

static char *fixture(const char *name)
{
	char *p = malloc(1024);
	snprintf(p, 1024, "%s/%s", MT_FIXTURES, name);
	return p;
}

/* A dict fixture's x as floats; *n receives the element count. */
static float *fixture_x(const char *name, int64_t *n, mt_tensor **y)
{
	mt_tensor *x;
	char *path = fixture(name);
	cr_assert_eq(mt_shim_load_tensor_dict(&x, y, path), 0, "%s",
		     mt_shim_last_error());
	*n = mt_tensor_numel(x);
	float *v = malloc((size_t)*n * sizeof(float));
	cr_assert_eq(mt_tensor_copy_out(x, v, MT_DTYPE_FLOAT32, *n), 0);
	mt_tensor_free(x);
	free(path);
	return v;
}

/* ---- building ------------------------------------------------------------ */

Test(shim, lenet_names_and_shapes)
{
	mt_arch arch = lenet();
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 1);
	mt_tensor_info *info;
	size_t count;
	static const struct {
		const char *name;
		int ndim;
		int64_t shape[4];
	} want[] = {
		{"conv2d_0.weight", 4, {6, 1, 5, 5}}, {"conv2d_0.bias", 1, {6}},
		{"conv2d_3.weight", 4, {16, 6, 5, 5}}, {"conv2d_3.bias", 1, {16}},
		{"linear_7.weight", 2, {120, 400}}, {"linear_7.bias", 1, {120}},
		{"linear_9.weight", 2, {84, 120}}, {"linear_9.bias", 1, {84}},
		{"linear_11.weight", 2, {10, 84}}, {"linear_11.bias", 1, {10}},
	};

	cr_assert_eq(mt_module_tensors(&info, &count, m), 0);
	cr_assert_eq(count, 10);
	for (size_t i = 0; i < count; i++) {
		cr_expect_str_eq(info[i].name, want[i].name);
		cr_expect_eq(info[i].is_buffer, 0);
		cr_expect_eq(info[i].dtype, MT_DTYPE_FLOAT32);
		cr_assert_eq(info[i].ndim, want[i].ndim, "%s", info[i].name);
		for (int d = 0; d < want[i].ndim; d++)
			cr_expect_eq(info[i].shape[d], want[i].shape[d], "%s dim %d",
				     info[i].name, d);
	}
	free(info);

	mt_tensor *x = random_input(3, 1, 28, 28, 5), *y;
	cr_assert_eq(mt_module_forward(&y, m, x), 0, "%s", mt_shim_last_error());
	cr_expect_eq(mt_tensor_ndim(y), 2);
	cr_expect_eq(mt_tensor_dim(y, 0), 3);
	cr_expect_eq(mt_tensor_dim(y, 1), 10);
	mt_tensor_free(y);
	mt_tensor_free(x);
	mt_module_free(m);
}

Test(shim, seed_decides_weights)
{
	mt_arch arch = lenet();
	mt_module *a = build(&arch, MT_INIT_DEFAULT, 11);
	mt_module *b = build(&arch, MT_INIT_DEFAULT, 11);
	mt_module *c = build(&arch, MT_INIT_DEFAULT, 12);
	int64_t na, nb, nc;
	float *wa = all_weights(a, &na), *wb = all_weights(b, &nb),
	      *wc = all_weights(c, &nc);
	cr_assert_eq(na, 61706); /* LeNet-5's parameter count */
	cr_assert_eq(na, nb);
	cr_expect(memcmp(wa, wb, (size_t)na * sizeof(float)) == 0);
	cr_expect(memcmp(wa, wc, (size_t)na * sizeof(float)) != 0);
	free(wa), free(wb), free(wc);
	mt_module_free(a), mt_module_free(b), mt_module_free(c);
}

/* MT_INIT_DEFAULT draws exactly what nn.Conv2d / nn.Linear draw after
 * torch.manual_seed(7). */
Test(shim, default_init_matches_pytorch)
{
	mt_layer L[5] = {conv(1, 2, 3, 0), layer(MT_LAYER_RELU), pool(2),
			 layer(MT_LAYER_FLATTEN), linear(8, 3)};
	mt_arch arch = {L, 5};
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 7);
	mt_tensor *y;
	int64_t n, nw;
	float *want = fixture_x("shim_init_default.pt", &n, &y);
	float *got = all_weights(m, &nw);
	cr_assert_eq(n, nw);
	cr_assert_eq(n, 2 * 9 + 2 + 3 * 8 + 3);
	for (int64_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "parameter %lld: %g, PyTorch %g",
			     (long long)i, got[i], want[i]);
	free(want), free(got);
	mt_tensor_free(y);
	mt_module_free(m);
}

Test(shim, initialisers)
{
	mt_layer L[2] = {linear(200, 100), layer(MT_LAYER_BATCHNORM1D)};
	L[1].in = L[1].out = 100;
	mt_arch arch = {L, 2};
	const double fan_in = 200, fan_out = 100;
	for (int kind = MT_INIT_DEFAULT; kind <= MT_INIT_ZEROS; kind++) {
		mt_module *m = build(&arch, (mt_init_kind)kind, 3);
		float *w = read_param(m, "linear_0.weight", 20000);
		float *b = read_param(m, "linear_0.bias", 100);
		float *g = read_param(m, "batchnorm1d_1.weight", 100);
		float *beta = read_param(m, "batchnorm1d_1.bias", 100);
		double sum = 0, sq = 0, maxabs = 0, bmax = 0;
		for (int i = 0; i < 20000; i++) {
			sum += w[i];
			sq += (double)w[i] * w[i];
			maxabs = fmax(maxabs, fabs(w[i]));
		}
		for (int i = 0; i < 100; i++) {
			bmax = fmax(bmax, fabs(b[i]));
			cr_expect_eq(g[i], 1.0f);
			cr_expect_eq(beta[i], 0.0f);
		}
		double sd = sqrt(sq / 20000 - (sum / 20000) * (sum / 20000));
		double bound;
		switch (kind) {
		case MT_INIT_DEFAULT:
			bound = 1 / sqrt(fan_in);
			cr_expect_leq(maxabs, bound);
			cr_expect_gt(maxabs, 0.95 * bound);
			cr_expect_gt(bmax, 0);
			cr_expect_leq(bmax, bound);
			break;
		case MT_INIT_XAVIER_UNIFORM:
			bound = sqrt(6 / (fan_in + fan_out));
			cr_expect_leq(maxabs, bound);
			cr_expect_gt(maxabs, 0.95 * bound);
			break;
		case MT_INIT_XAVIER_NORMAL:
			cr_expect_lt(fabs(sd / sqrt(2 / (fan_in + fan_out)) - 1), 0.05);
			break;
		case MT_INIT_KAIMING_UNIFORM:
			bound = sqrt(6 / fan_in);
			cr_expect_leq(maxabs, bound);
			cr_expect_gt(maxabs, 0.95 * bound);
			break;
		case MT_INIT_KAIMING_NORMAL:
			cr_expect_lt(fabs(sd / sqrt(2 / fan_in) - 1), 0.05);
			break;
		case MT_INIT_NORMAL:
			cr_expect_lt(fabs(sd / 0.01 - 1), 0.05);
			break;
		case MT_INIT_UNIFORM:
			cr_expect_leq(maxabs, 0.05);
			cr_expect_gt(maxabs, 0.049);
			break;
		case MT_INIT_ZEROS:
			cr_expect_eq(maxabs, 0);
			break;
		}
		if (kind != MT_INIT_DEFAULT)
			cr_expect_eq(bmax, 0, "init %d: bias not zero", kind);
		free(w), free(b), free(g), free(beta);
		mt_module_free(m);
	}
}

Test(shim, every_layer_kind_builds_and_trains)
{
	mt_layer L[16];
	size_t n = 0;
	L[n++] = conv(1, 4, 3, 1);
	L[n] = layer(MT_LAYER_BATCHNORM2D);
	L[n].in = L[n].out = 4;
	n++;
	L[n++] = layer(MT_LAYER_LEAKY_RELU);
	L[n] = layer(MT_LAYER_AVGPOOL2D);
	L[n].kernel = L[n].stride = 2;
	n++;
	L[n++] = layer(MT_LAYER_ELU);
	L[n++] = pool(2);
	L[n++] = layer(MT_LAYER_FLATTEN);
	L[n++] = linear(4 * 7 * 7, 32);
	L[n] = layer(MT_LAYER_BATCHNORM1D);
	L[n].in = L[n].out = 32;
	n++;
	L[n++] = layer(MT_LAYER_GELU);
	L[n++] = layer(MT_LAYER_DROPOUT);
	L[n++] = layer(MT_LAYER_TANH);
	L[n] = linear(32, 10);
	L[n++].bias = 0;
	L[n++] = layer(MT_LAYER_SIGMOID);
	L[n++] = layer(MT_LAYER_SOFTMAX);
	mt_arch arch = {L, n};
	mt_module *m = build(&arch, MT_INIT_KAIMING_UNIFORM, 5);

	/* no bias on the last linear layer; batchnorm has its buffers */
	float unused;
	cr_expect_eq(mt_module_read_tensor(m, "linear_12.bias", &unused, 1),
		     MT_ENOTFOUND);
	mt_tensor_info *info;
	size_t count, buffers = 0;
	cr_assert_eq(mt_module_tensors(&info, &count, m), 0);
	for (size_t i = 0; i < count; i++)
		buffers += info[i].is_buffer;
	cr_expect_eq(buffers, 6); /* 2 x running_mean, running_var, num_batches_tracked */
	free(info);

	mt_tensor *x = random_input(8, 1, 28, 28, 9);
	int64_t labels[8] = {0, 1, 2, 3, 4, 5, 6, 7}, n8 = 8;
	mt_tensor *y;
	cr_assert_eq(mt_tensor_from_data(&y, labels, MT_DTYPE_INT64, &n8, 1), 0);
	mt_optim_config oc = adam(0.01);
	mt_optimizer *opt;
	cr_assert_eq(mt_optimizer_new(&opt, m, &oc), 0, "%s", mt_shim_last_error());
	mt_train_options o = ce_options(8);
	double loss;
	cr_assert_eq(mt_train_step(&loss, m, opt, x, y, &o), 0, "%s",
		     mt_shim_last_error());
	cr_expect(isfinite(loss));
	float tracked, mean[4];
	cr_assert_eq(mt_module_read_tensor(m, "batchnorm2d_1.num_batches_tracked",
					   &tracked, 1), 0);
	cr_expect_eq(tracked, 1.0f);
	cr_assert_eq(mt_module_read_tensor(m, "batchnorm2d_1.running_mean", mean, 4), 0);
	cr_expect(mean[0] != 0.0f || mean[1] != 0.0f, "running stats not updated");

	/* eval mode: no dropout, running statistics: repeatable outputs */
	float l1[80], l2[80];
	int64_t p1[8], p2[8], nout;
	cr_assert_eq(mt_module_predict(p1, l1, &nout, m, x, 3), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(nout, 10);
	cr_assert_eq(mt_module_predict(p2, l2, &nout, m, x, 8), 0);
	for (int i = 0; i < 80; i++)
		cr_expect_float_eq(l1[i], l2[i], 1e-6);
	for (int i = 0; i < 8; i++) {
		double rowsum = 0;
		for (int k = 0; k < 10; k++)
			rowsum += l1[i * 10 + k];
		cr_expect_float_eq(rowsum, 1.0, 1e-5, "softmax row %d", i);
	}
	mt_optimizer_free(opt);
	mt_tensor_free(x), mt_tensor_free(y);
	mt_module_free(m);
}

Test(shim, bad_architecture_is_rejected)
{
	mt_layer L[1] = {linear(0, 3)};
	mt_arch arch = {L, 1};
	mt_module *m = (mt_module *)1;
	cr_expect_eq(mt_module_build(&m, &arch, MT_INIT_DEFAULT, 1), MT_EINVALID);
	cr_expect_null(m);
	cr_expect(strstr(mt_shim_last_error(), "in is 0"), "%s",
		  mt_shim_last_error());
	cr_expect_str_eq(mt_error_last(), mt_shim_last_error());
	arch.nlayers = 0;
	cr_expect_eq(mt_module_build(&m, &arch, MT_INIT_DEFAULT, 1), MT_EINVALID);
}

/* A shape mismatch inside forward is an error of the model or its input
 * (MT_EINVALID, exit 3), not a crash and not mutorch's fault. */
Test(shim, forward_error_is_reported)
{
	mt_arch arch = lenet();
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 1);
	mt_tensor *x = random_input(2, 3, 28, 28, 1), *y = NULL;
	cr_expect_eq(mt_module_forward(&y, m, x), MT_EINVALID);
	cr_expect_null(y);
	cr_expect(strstr(mt_shim_last_error(), "the model's forward failed: "), "%s", mt_shim_last_error());
	cr_expect_null(strchr(mt_shim_last_error(), '\n'));
	cr_log_info("forward error: %s", mt_shim_last_error());
	mt_tensor_free(x);
	mt_module_free(m);
}

/* ---- saving, loading, cloning -------------------------------------------------- */

static void expect_same_predictions(mt_module *a, mt_module *b, mt_tensor *x)
{
	int64_t n = mt_tensor_dim(x, 0), na, nb;
	int64_t *pa = malloc((size_t)n * 8), *pb = malloc((size_t)n * 8);
	float *la = malloc((size_t)n * 10 * 4), *lb = malloc((size_t)n * 10 * 4);
	cr_assert_eq(mt_module_predict(pa, la, &na, a, x, 16), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(mt_module_predict(pb, lb, &nb, b, x, 7), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(na, 10);
	cr_assert_eq(nb, 10);
	cr_expect(memcmp(pa, pb, (size_t)n * 8) == 0);
	for (int64_t i = 0; i < n * 10; i++)
		cr_assert_float_eq(la[i], lb[i], 1e-6, "logit %lld", (long long)i);
	free(pa), free(pb), free(la), free(lb);
}

Test(shim, save_load_round_trip)
{
	mt_arch arch = lenet();
	mt_module *m = build(&arch, MT_INIT_XAVIER_UNIFORM, 3), *l, *lb;
	char *dir = th_tempdir("shim");
	char path[4096];
	void *buf;
	size_t len;
	snprintf(path, sizeof(path), "%s/lenet.pt", dir);
	cr_assert_eq(mt_module_save(m, path), 0, "%s", mt_shim_last_error());
	cr_assert_eq(mt_module_load(&l, path), 0, "%s", mt_shim_last_error());
	cr_assert_eq(mt_module_save_buffer(m, &buf, &len), 0);
	cr_assert_eq(mt_module_load_buffer(&lb, buf, len, "blob"), 0, "%s",
		     mt_shim_last_error());
	free(buf);

	int64_t n1, n2, n3;
	float *w1 = all_weights(m, &n1), *w2 = all_weights(l, &n2),
	      *w3 = all_weights(lb, &n3);
	cr_assert_eq(n1, n2);
	cr_assert_eq(n1, n3);
	cr_expect(memcmp(w1, w2, (size_t)n1 * 4) == 0);
	cr_expect(memcmp(w1, w3, (size_t)n1 * 4) == 0);
	mt_tensor *x = random_input(40, 1, 28, 28, 77);
	expect_same_predictions(m, l, x);
	expect_same_predictions(m, lb, x);

	/* the loaded model trains: its parameters are leaves an optimizer
	 * takes */
	mt_optim_config oc = adam(1e-3);
	mt_optimizer *opt;
	cr_assert_eq(mt_optimizer_new(&opt, l, &oc), 0, "%s", mt_shim_last_error());
	mt_optimizer_free(opt);
	free(w1), free(w2), free(w3);
	mt_tensor_free(x);
	mt_module_free(m), mt_module_free(l), mt_module_free(lb);
	free(dir);
}

Test(shim, pytorch_model_matches_pytorch)
{
	char *model_path = fixture("shim_model.pt"), *io_path = fixture("shim_model_io.pt");
	mt_module *m;
	mt_tensor *x, *want_pred, *y2;
	int64_t nl;
	float *want = fixture_x("shim_model_logits.pt", &nl, &y2);
	cr_assert_eq(mt_module_load(&m, model_path), 0, "%s", mt_shim_last_error());
	cr_assert_eq(mt_shim_load_tensor_dict(&x, &want_pred, io_path), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(mt_tensor_ndim(x), 4);
	cr_assert_eq(mt_tensor_dim(x, 0), 4);
	cr_assert_eq(nl, 12);

	int64_t pred[4], wp[4], nout;
	float logits[12];
	cr_assert_eq(mt_module_predict(pred, logits, &nout, m, x, 3), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(nout, 3);
	cr_assert_eq(mt_tensor_copy_out(want_pred, wp, MT_DTYPE_INT64, 4), 0);
	for (int i = 0; i < 12; i++)
		cr_expect_float_eq(logits[i], want[i], 1e-5, "logit %d: %g vs %g", i,
				   logits[i], want[i]);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(pred[i], wp[i]);

	/* loaded in training mode: BatchNorm uses the batch's statistics
	 * (and updates its running ones, so this runs after predict) */
	mt_module *fresh;
	mt_tensor *train_out;
	float tv[12];
	cr_assert_eq(mt_module_load(&fresh, model_path), 0);
	cr_assert_eq(mt_module_forward(&train_out, fresh, x), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(mt_tensor_copy_out(train_out, tv, MT_DTYPE_FLOAT32, 12), 0);
	double diff = 0;
	for (int i = 0; i < 12; i++)
		diff += fabs(tv[i] - want[i]);
	cr_expect_gt(diff, 1e-3, "training-mode output equals eval-mode output");
	mt_module_free(fresh);

	mt_tensor_info *info;
	size_t count;
	cr_assert_eq(mt_module_tensors(&info, &count, m), 0);
	cr_expect_str_eq(info[0].name, "conv.weight");
	cr_expect_str_eq(info[count - 1].name, "bn.num_batches_tracked");
	cr_expect_eq(info[count - 1].dtype, MT_DTYPE_INT64);
	free(info);
	mt_tensor_free(train_out), mt_tensor_free(x), mt_tensor_free(want_pred),
		mt_tensor_free(y2);
	mt_module_free(m);
	free(want), free(model_path), free(io_path);
}

Test(shim, clone_trains_independently)
{
	mt_arch arch = mlp(0);
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 4), *c;
	cr_assert_eq(mt_module_clone(&c, m), 0, "%s", mt_shim_last_error());
	int64_t n0, nc;
	float *before = all_weights(m, &n0);
	fmnist d = load_fmnist("train", 256);
	int64_t *order = permutation(d.n, 5);
	mt_optim_config oc = adam(1e-2);
	mt_optimizer *opt;
	mt_epoch_stats st;
	mt_train_options o = ce_options(32);
	cr_assert_eq(mt_optimizer_new(&opt, c, &oc), 0, "%s", mt_shim_last_error());
	cr_assert_eq(mt_train_epoch(&st, c, opt, d.x, d.y, order, d.n, &o), 0, "%s",
		     mt_shim_last_error());
	cr_expect_eq(st.batches, 8);
	cr_expect_eq(st.samples, 256);

	float *after = all_weights(m, &n0), *cloned = all_weights(c, &nc);
	cr_assert_eq(n0, nc);
	cr_expect(memcmp(before, after, (size_t)n0 * 4) == 0,
		  "training the clone changed the original");
	cr_expect(memcmp(before, cloned, (size_t)n0 * 4) != 0,
		  "the clone did not train");
	free(before), free(after), free(cloned), free(order);
	mt_optimizer_free(opt);
	fmnist_free(&d);
	mt_module_free(m), mt_module_free(c);
}

Test(shim, write_read_round_trip)
{
	mt_arch arch = lenet();
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 2);
	float w[10 * 84], r[10 * 84], bad;
	for (int i = 0; i < 840; i++)
		w[i] = (float)i * 0.25f - 3.0f;
	cr_assert_eq(mt_module_write_tensor(m, "linear_11.weight", w, 840), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(mt_module_read_tensor(m, "linear_11.weight", r, 840), 0);
	cr_expect(memcmp(w, r, sizeof(w)) == 0);

	cr_expect_eq(mt_module_read_tensor(m, "linear_11.wieght", &bad, 1),
		     MT_ENOTFOUND);
	cr_expect(strstr(mt_shim_last_error(), "linear_11.wieght"), "%s",
		  mt_shim_last_error());
	cr_expect_eq(mt_module_write_tensor(m, "linear_11.weight", w, 839),
		     MT_EINVALID);
	cr_expect(strstr(mt_error_last(), "840"), "%s", mt_error_last());

	/* a write keeps the buffer's dtype (int64 num_batches_tracked) */
	mt_module *p;
	char *path = fixture("shim_model.pt");
	float seven = 7.0f, back;
	cr_assert_eq(mt_module_load(&p, path), 0, "%s", mt_shim_last_error());
	cr_assert_eq(mt_module_write_tensor(p, "bn.num_batches_tracked", &seven, 1), 0);
	cr_assert_eq(mt_module_read_tensor(p, "bn.num_batches_tracked", &back, 1), 0);
	cr_expect_eq(back, 7.0f);
	mt_tensor_info *info;
	size_t count;
	cr_assert_eq(mt_module_tensors(&info, &count, p), 0);
	cr_expect_eq(info[count - 1].dtype, MT_DTYPE_INT64);
	free(info);
	free(path);
	mt_module_free(p);
	mt_module_free(m);
}

/* ---- training -------------------------------------------------------------------- */

Test(shim, fashion_mnist_mlp_learns, .timeout = 600)
{
	fmnist train = load_fmnist("train", 2000), test = load_fmnist("t10k", 1000);
	mt_arch arch = mlp(0);
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 1);
	mt_optim_config oc = adam(1e-3);
	mt_optimizer *opt;
	mt_train_options o = ce_options(64);
	mt_epoch_stats st;
	int64_t *order = permutation(train.n, 7);
	double first = 0, last = 0;
	double before = accuracy(m, &test);

	cr_assert_eq(mt_optimizer_new(&opt, m, &oc), 0, "%s", mt_shim_last_error());
	for (int epoch = 0; epoch < 5; epoch++) {
		cr_assert_eq(mt_train_epoch(&st, m, opt, train.x, train.y, order,
					    train.n, &o), 0, "%s",
			     mt_shim_last_error());
		cr_assert_eq(st.samples, 2000);
		cr_assert_eq(st.batches, 32);
		cr_assert_not(st.diverged);
		if (epoch == 0)
			first = st.mean_loss;
		last = st.mean_loss;
	}
	double acc = accuracy(m, &test);
	cr_log_info("loss %.4f -> %.4f, test accuracy %.3f -> %.3f", first, last,
		    before, acc);
	cr_expect_lt(last, first * 0.8, "loss %g -> %g", first, last);
	cr_expect_gt(acc, 0.70, "test accuracy %.3f", acc);
	free(order);
	mt_optimizer_free(opt);
	mt_module_free(m);
	fmnist_free(&train), fmnist_free(&test);
}

static float *train_once(const fmnist *d, const int64_t *order, int64_t *n)
{
	mt_arch arch = mlp(1); /* dropout: the global generator matters too */
	mt_module *m;
	mt_optim_config oc = adam(1e-3);
	mt_optimizer *opt;
	mt_train_options o = ce_options(50);
	mt_epoch_stats st;
	cr_assert_eq(mt_shim_init(1, 99, 1), 0);
	m = build(&arch, MT_INIT_KAIMING_NORMAL, 99);
	cr_assert_eq(mt_optimizer_new(&opt, m, &oc), 0);
	for (int e = 0; e < 2; e++)
		cr_assert_eq(mt_train_epoch(&st, m, opt, d->x, d->y, order, d->n, &o),
			     0, "%s", mt_shim_last_error());
	float *w = all_weights(m, n);
	mt_optimizer_free(opt);
	mt_module_free(m);
	return w;
}

Test(shim, same_seed_same_threads_bit_identical)
{
	fmnist d = load_fmnist("train", 500);
	int64_t *order = permutation(d.n, 3), n1, n2;
	float *a = train_once(&d, order, &n1), *b = train_once(&d, order, &n2);
	cr_assert_eq(n1, n2);
	cr_expect(memcmp(a, b, (size_t)n1 * 4) == 0, "two runs differ");
	free(a), free(b), free(order);
	fmnist_free(&d);
}

static int count_progress(void *ctx, int64_t done, int64_t total, double loss)
{
	int64_t *calls = ctx;
	cr_expect_leq(done, total);
	cr_expect(isfinite(loss));
	return ++*calls == 3; /* stop after the third batch */
}

Test(shim, order_with_repeats_progress_and_stop)
{
	fmnist d = load_fmnist("train", 100);
	mt_arch arch = mlp(0);
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 1);
	mt_optim_config oc = adam(1e-3);
	mt_optimizer *opt;
	mt_train_options o = ce_options(10);
	mt_epoch_stats st;
	int64_t order[60], calls = 0;
	for (int i = 0; i < 60; i++)
		order[i] = i % 20; /* repeats: data mutations use them */
	cr_assert_eq(mt_optimizer_new(&opt, m, &oc), 0);
	o.progress = count_progress;
	o.progress_ctx = &calls;
	cr_assert_eq(mt_train_epoch(&st, m, opt, d.x, d.y, order, 60, &o), 0);
	cr_expect_eq(calls, 3);
	cr_expect_eq(st.batches, 3);
	cr_expect_eq(st.samples, 30);

	order[5] = 100;
	o.progress = NULL;
	cr_expect_eq(mt_train_epoch(&st, m, opt, d.x, d.y, order, 60, &o), MT_EINVALID);
	cr_expect(strstr(mt_shim_last_error(), "order[5] = 100"), "%s",
		  mt_shim_last_error());
	mt_optimizer_free(opt);
	mt_module_free(m);
	fmnist_free(&d);
}

Test(shim, huge_learning_rate_diverges)
{
	fmnist d = load_fmnist("train", 500);
	mt_arch arch = mlp(0);
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 1);
	mt_optim_config oc;
	memset(&oc, 0, sizeof(oc));
	oc.kind = MT_OPTIM_SGD;
	oc.lr = 1e10;
	mt_optimizer *opt;
	mt_train_options o = ce_options(50);
	mt_epoch_stats st;
	int64_t *order = permutation(d.n, 3);
	int rc = 0;
	cr_assert_eq(mt_optimizer_new(&opt, m, &oc), 0);
	for (int e = 0; e < 5 && rc == 0; e++)
		rc = mt_train_epoch(&st, m, opt, d.x, d.y, order, d.n, &o);
	cr_expect_eq(rc, MT_EDIVERGED, "rc %d: %s", rc, mt_shim_last_error());
	cr_expect_eq(st.diverged, 1);
	cr_expect(strstr(mt_error_last(), "diverged"), "%s", mt_error_last());
	free(order);
	mt_optimizer_free(opt);
	mt_module_free(m);
	fmnist_free(&d);
}

Test(shim, every_optimizer_and_loss_trains)
{
	fmnist d = load_fmnist("train", 300);
	int64_t *order = permutation(d.n, 7);
	mt_optim_config cfgs[5];
	memset(cfgs, 0, sizeof(cfgs));
	cfgs[0].kind = MT_OPTIM_SGD, cfgs[0].lr = 0.05, cfgs[0].momentum = 0.9,
	cfgs[0].nesterov = 1, cfgs[0].weight_decay = 1e-4;
	cfgs[1] = adam(1e-3);
	cfgs[1].amsgrad = 1;
	cfgs[2] = adam(1e-3);
	cfgs[2].kind = MT_OPTIM_ADAMW, cfgs[2].weight_decay = 0.01;
	cfgs[3].kind = MT_OPTIM_RMSPROP, cfgs[3].lr = 1e-3, cfgs[3].alpha = 0.99,
	cfgs[3].eps = 1e-8, cfgs[3].momentum = 0.5;
	cfgs[4].kind = MT_OPTIM_ADAGRAD, cfgs[4].lr = 0.05, cfgs[4].eps = 1e-10;
	mt_loss_kind losses[3] = {MT_LOSS_CROSS_ENTROPY, MT_LOSS_MSE, MT_LOSS_NLL};
	for (int k = 0; k < 5; k++) {
		for (int li = 0; li < 3; li++) {
			mt_arch arch = mlp(0);
			mt_module *m = build(&arch, MT_INIT_DEFAULT, 10 + k);
			mt_optimizer *opt;
			mt_train_options o = ce_options(30);
			mt_epoch_stats st;
			double first = 0;
			o.loss = losses[li];
			o.grad_clip = li == 1 ? 1.0 : 0.0;
			cr_assert_eq(mt_optimizer_new(&opt, m, &cfgs[k]), 0, "%s",
				     mt_shim_last_error());
			for (int e = 0; e < 3; e++) {
				cr_assert_eq(mt_train_epoch(&st, m, opt, d.x, d.y, order,
							    d.n, &o), 0,
					     "optimizer %d loss %d: %s", k, li,
					     mt_shim_last_error());
				if (e == 0)
					first = st.mean_loss;
			}
			cr_expect_lt(st.mean_loss, first, "optimizer %d loss %d: %g -> %g",
				     k, li, first, st.mean_loss);
			mt_optimizer_free(opt);
			mt_module_free(m);
		}
	}
	mt_optim_config bad = adam(0);
	mt_optimizer *opt;
	mt_arch arch = mlp(0);
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 1);
	cr_expect_eq(mt_optimizer_new(&opt, m, &bad), MT_EINVALID);
	mt_module_free(m);
	free(order);
	fmnist_free(&d);
}

/* The penalties add l1 * sum|w| + l2 * sum w^2 over every parameter. */
Test(shim, weight_penalties_add_to_the_loss)
{
	fmnist d = load_fmnist("train", 32);
	mt_arch arch = mlp(0);
	mt_module *m = build(&arch, MT_INIT_DEFAULT, 8), *c;
	cr_assert_eq(mt_module_clone(&c, m), 0);
	int64_t n;
	float *w = all_weights(m, &n);
	double abs_sum = 0, sq_sum = 0;
	for (int64_t i = 0; i < n; i++) {
		abs_sum += fabs(w[i]);
		sq_sum += (double)w[i] * w[i];
	}
	mt_optim_config oc = adam(1e-3);
	mt_optimizer *om, *ocl;
	cr_assert_eq(mt_optimizer_new(&om, m, &oc), 0);
	cr_assert_eq(mt_optimizer_new(&ocl, c, &oc), 0);
	mt_train_options o = ce_options(32);
	double plain, penalised;
	cr_assert_eq(mt_train_step(&plain, m, om, d.x, d.y, &o), 0);
	o.l1 = 0.001;
	o.l2 = 0.01;
	cr_assert_eq(mt_train_step(&penalised, c, ocl, d.x, d.y, &o), 0, "%s",
		     mt_shim_last_error());
	double want = plain + 0.001 * abs_sum + 0.01 * sq_sum;
	cr_expect_float_eq(penalised, want, 1e-4 * want, "%g vs %g", penalised, want);
	free(w);
	mt_optimizer_free(om), mt_optimizer_free(ocl);
	mt_module_free(m), mt_module_free(c);
	fmnist_free(&d);
}

/* ---- data -------------------------------------------------------------------------- */

Test(shim, pixels_bit_identical_to_pytorch)
{
	char *path = fixture("shim_pixels.pt");
	mt_tensor *px, *py, *t;
	unsigned char pixels[96];
	float got[96];
	int64_t n, shape[3] = {2, 4, 4};
	cr_assert_eq(mt_shim_load_tensor_dict(&px, &py, path), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(mt_tensor_dtype(px), MT_DTYPE_UINT8);
	cr_assert_eq(mt_tensor_dtype(py), MT_DTYPE_INT64);
	cr_assert_eq(mt_tensor_copy_out(px, pixels, MT_DTYPE_UINT8, 96), 0);

	const double mean1 = 0.2860, std1 = 0.3530;
	float *want = fixture_x("shim_pixels_scalar.pt", &n, &t);
	mt_tensor_free(t);
	cr_assert_eq(n, 96);
	cr_assert_eq(mt_tensor_from_pixels(&t, pixels, 0, 3, shape, 255, &mean1,
					   &std1, 1), 0, "%s", mt_shim_last_error());
	cr_assert_eq(mt_tensor_copy_out(t, got, MT_DTYPE_FLOAT32, 96), 0);
	cr_expect(memcmp(got, want, sizeof(got)) == 0, "scalar normalisation differs");
	mt_tensor_free(t);
	free(want);

	const double mean2[2] = {0.4914, 0.4822}, std2[2] = {0.2470, 0.2435};
	want = fixture_x("shim_pixels_channel.pt", &n, &t);
	mt_tensor_free(t);
	cr_assert_eq(mt_tensor_from_pixels(&t, pixels, 0, 3, shape, 255, mean2,
					   std2, 2), 0, "%s", mt_shim_last_error());
	cr_assert_eq(mt_tensor_copy_out(t, got, MT_DTYPE_FLOAT32, 96), 0);
	cr_expect(memcmp(got, want, sizeof(got)) == 0,
		  "per-channel normalisation differs");
	mt_tensor_free(t);
	free(want);

	/* float input, scale only */
	float fpix[96];
	for (int i = 0; i < 96; i++)
		fpix[i] = (float)pixels[i];
	cr_assert_eq(mt_tensor_from_pixels(&t, fpix, 1, 3, shape, 2.0, NULL, NULL, 0), 0);
	cr_assert_eq(mt_tensor_copy_out(t, got, MT_DTYPE_FLOAT32, 96), 0);
	for (int i = 0; i < 96; i++)
		cr_expect_eq(got[i], fpix[i] / 2.0f);
	mt_tensor_free(t);
	cr_expect_eq(mt_tensor_from_pixels(&t, pixels, 0, 3, shape, 255, mean2, std2, 3),
		     MT_EINVALID);
	mt_tensor_free(px), mt_tensor_free(py);
	free(path);
}

/* ---- errors -------------------------------------------------------------------------- */

Test(shim, load_errors_name_the_file)
{
	char *dir = th_tempdir("shim");
	char missing[4096];
	mt_module *m = (mt_module *)1;
	snprintf(missing, sizeof(missing), "%s/nope.pt", dir);
	cr_expect_eq(mt_module_load(&m, missing), MT_ENOTFOUND);
	cr_expect_null(m);
	cr_expect(strstr(mt_shim_last_error(), missing), "%s", mt_shim_last_error());

	char *text = th_write(dir, "model.pt", "this is not a model\n", (size_t)-1);
	cr_expect_eq(mt_module_load(&m, text), MT_EINVALID);
	cr_expect(strstr(mt_shim_last_error(), text), "%s", mt_shim_last_error());
	cr_expect(strstr(mt_shim_last_error(), "not a TorchScript archive"), "%s",
		  mt_shim_last_error());
	cr_expect_str_eq(mt_error_last(), mt_shim_last_error());

	/* a zip written by torch.save, but not a TorchScript module */
	char *dict = fixture("shim_pixels.pt");
	cr_expect_eq(mt_module_load(&m, dict), MT_EINVALID);
	cr_expect(strstr(mt_shim_last_error(), "not a TorchScript archive ("), "%s",
		  mt_shim_last_error());
	cr_expect_null(strchr(mt_shim_last_error(), '\n'));
	cr_log_info("%s", mt_shim_last_error());

	cr_expect_eq(mt_module_load_buffer(&m, "PK", 2, "blob.pt"), MT_EINVALID);
	cr_expect(strstr(mt_shim_last_error(), "blob.pt: "), "%s", mt_shim_last_error());

	/* saving into a directory that does not exist */
	mt_arch arch = mlp(0);
	mt_module *b = build(&arch, MT_INIT_DEFAULT, 1);
	char bad[4096];
	snprintf(bad, sizeof(bad), "%s/no/such/dir/m.pt", dir);
	cr_expect_lt(mt_module_save(b, bad), 0);
	cr_expect(strstr(mt_error_last(), "no/such/dir"), "%s", mt_error_last());
	mt_module_free(b);
	free(text), free(dict), free(dir);
}

Test(shim, tensor_dict_errors)
{
	mt_tensor *x = (mt_tensor *)1, *y = (mt_tensor *)1;
	char *missing_y = fixture("shim_missing_y.pt"),
	     *ordered = fixture("shim_ordereddict.pt"),
	     *model = fixture("shim_model.pt");
	cr_expect_eq(mt_shim_load_tensor_dict(&x, &y, missing_y), MT_EINVALID);
	cr_expect_null(x);
	cr_expect_null(y);
	cr_expect(strstr(mt_shim_last_error(), missing_y), "%s", mt_shim_last_error());
	cr_expect(strstr(mt_shim_last_error(), "'y' is missing"), "%s",
		  mt_shim_last_error());

	cr_expect_eq(mt_shim_load_tensor_dict(&x, &y, ordered), MT_EINVALID);
	cr_expect(strstr(mt_shim_last_error(), ordered), "%s", mt_shim_last_error());
	cr_log_info("%s", mt_shim_last_error());

	cr_expect_eq(mt_shim_load_tensor_dict(&x, &y, model), MT_EINVALID);
	cr_expect(strstr(mt_shim_last_error(), model), "%s", mt_shim_last_error());
	cr_log_info("%s", mt_shim_last_error());

	cr_expect_eq(mt_shim_load_tensor_dict_buffer(&x, &y, "x,y\n1,2\n", 8, "data.csv"),
		     MT_EINVALID);
	cr_expect(strstr(mt_shim_last_error(), "data.csv: not a torch.save file"),
		  "%s", mt_shim_last_error());
	cr_expect_eq(mt_shim_load_tensor_dict(&x, &y, "/nonexistent/d.pt"),
		     MT_ENOTFOUND);
	cr_expect(strstr(mt_shim_last_error(), "/nonexistent/d.pt"), "%s",
		  mt_shim_last_error());
	free(missing_y), free(ordered), free(model);
}

/* 2-D x (n x d) becomes n x 1 x 1 x d; float x stays float32 */
Test(shim, tensor_dict_shapes)
{
	mt_tensor *x, *y;
	char *path = fixture("shim_model_logits.pt");
	cr_assert_eq(mt_shim_load_tensor_dict(&x, &y, path), 0, "%s",
		     mt_shim_last_error());
	cr_assert_eq(mt_tensor_ndim(x), 4);
	cr_expect_eq(mt_tensor_dim(x, 0), 4);
	cr_expect_eq(mt_tensor_dim(x, 1), 1);
	cr_expect_eq(mt_tensor_dim(x, 2), 1);
	cr_expect_eq(mt_tensor_dim(x, 3), 3);
	cr_expect_eq(mt_tensor_dtype(x), MT_DTYPE_FLOAT32);
	cr_expect_eq(mt_tensor_ndim(y), 1);
	cr_expect_eq(mt_tensor_dim(y, 0), 4);
	mt_tensor_free(x), mt_tensor_free(y);
	free(path);
}
