/* mutorch.yml: every field, the defaults, and every class of error (with
 * the file, line and dotted key in the message). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/recipe.h"

#define LENET5 \
	"conv2d(1,6,5,padding=2) relu maxpool2d(2) conv2d(6,16,5) relu " \
	"maxpool2d(2) flatten linear(400,120) relu linear(120,84) relu linear(84,10)"

/* Lines 1-2 and 3-5, so the first line after them is line 6. */
#define MODEL_TS "model:\n  torchscript: model.pt\n"
#define DATA_IDX \
	"data:\n" \
	"  train: {images: tr-img.gz, labels: tr-lab.gz}\n" \
	"  test: {images: te-img.gz, labels: te-lab.gz}\n"

static mt_config *load_ok(const char *yaml)
{
	mt_config *cfg = NULL;
	int error = mt_config_load_buffer(&cfg, yaml, strlen(yaml), "mutorch.yml", "/base");
	cr_assert_eq(error, 0, "load failed: %s\n--- config:\n%s", mt_error_last(), yaml);
	cr_assert_not_null(cfg);
	return cfg;
}

static void load_fails(const char *yaml, const char *needle1, const char *needle2)
{
	mt_config *cfg = (mt_config *)0x1;
	int error = mt_config_load_buffer(&cfg, yaml, strlen(yaml), "mutorch.yml", "/base");
	cr_assert_eq(error, MT_EINVALID, "expected MT_EINVALID, got %d (%s)\n--- config:\n%s",
		     error, mt_error_last(), yaml);
	cr_assert_null(cfg, "output must be NULL on failure");
	cr_assert(th_contains(mt_error_last(), needle1), "message '%s' lacks '%s'",
		  mt_error_last(), needle1);
	if (needle2)
		cr_assert(th_contains(mt_error_last(), needle2), "message '%s' lacks '%s'",
			  mt_error_last(), needle2);
}

static char *join(const char *dir, const char *name)
{
	char *out = malloc(strlen(dir) + strlen(name) + 2);
	sprintf(out, "%s/%s", dir, name);
	return out;
}

static void path_is(const char *got, const char *dir, const char *name)
{
	char *want = join(dir, name);
	cr_assert_not_null(got);
	cr_assert_str_eq(got, want);
	free(want);
}

static const char *param(const mt_config_mutation *m, const char *key)
{
	size_t i;
	for (i = 0; i < m->nparams; i++)
		if (!strcmp(m->params[i].key, key))
			return m->params[i].value;
	return NULL;
}

Test(config, full_config_every_field)
{
	const char *yaml =
		"# LeNet-5 on Fashion-MNIST\n"                                   /* 1 */
		"model:\n"                                                          /* 2 */
		"  architecture: \"" LENET5 "\"\n"                                  /* 3 */
		"  init: xavier_normal\n"                                           /* 4 */
		"  input_shape: [1, 28, 28]\n"                                      /* 5 */
		"  output: out/lenet.pt\n"                                          /* 6 */
		"data:\n"                                                           /* 7 */
		"  format: idx\n"                                                   /* 8 */
		"  classes: 10\n"                                                   /* 9 */
		"  train:\n"                                                        /* 10 */
		"    images: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz\n"
		"    labels: /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz\n"
		"  test: {images: t10k-images.gz, labels: sub/t10k-labels.gz}\n"    /* 13 */
		"  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"            /* 14 */
		"  validation_split: 0.1\n"                                         /* 15 */
		"  train_limit: 6000\n"                                             /* 16 */
		"  test_limit: 1000\n"                                              /* 17 */
		"training:\n"                                                       /* 18 */
		"  optimizer: {name: sgd, lr: 0.05, momentum: 0.9, dampening: 0,\n"
		"              nesterov: true, weight_decay: 0.0005}\n"             /* 20 */
		"  loss: nll\n"                                                     /* 21 */
		"  epochs: 3\n"                                                     /* 22 */
		"  batch_size: 128\n"                                               /* 23 */
		"  eval_batch_size: 500\n"                                          /* 24 */
		"  seed: 18446744073709551615\n"                                    /* 25 */
		"  threads: 2\n"                                                    /* 26 */
		"  grad_clip: 5.0\n"                                                /* 27 */
		"  l1: 0.0001\n"                                                    /* 28 */
		"  l2: 0.001\n"                                                     /* 29 */
		"run:\n"                                                            /* 30 */
		"  dir: runs/one\n"                                                 /* 31 */
		"mutation:\n"                                                       /* 32 */
		"  seed: 7\n"                                                       /* 33 */
		"  accuracy_filter: 0.8\n"                                          /* 34 */
		"  model_level:\n"                                                  /* 35 */
		"    - {op: GF, ratio: 0.01, sigma: 1, mutants: 20}\n"              /* 36 */
		"  source_level:\n"                                                 /* 37 */
		"    - {op: HLR, lr: [0.1, 0.01]}\n";                               /* 38 */
	char *dir = th_tempdir("config");
	char *path = th_write(dir, "mutorch.yml", yaml, (size_t)-1);
	mt_config *cfg = NULL;

	cr_assert_eq(mt_config_load(&cfg, path), 0, "%s", mt_error_last());
	cr_assert_str_eq(cfg->path, path);
	cr_assert_str_eq(cfg->base_dir, dir);

	cr_assert_str_eq(cfg->architecture, LENET5);
	cr_assert_null(cfg->torchscript);
	cr_assert_eq(cfg->init, MT_INIT_XAVIER_NORMAL);
	cr_assert(cfg->has_input_shape);
	cr_assert_eq(cfg->input_shape[0], 1);
	cr_assert_eq(cfg->input_shape[1], 28);
	cr_assert_eq(cfg->input_shape[2], 28);
	path_is(cfg->output, dir, "out/lenet.pt");

	cr_assert_eq(cfg->format, MT_FORMAT_IDX);
	cr_assert_eq(cfg->num_classes, 10);
	cr_assert_eq(cfg->train.npaths, 2);
	cr_assert_str_eq(cfg->train.paths[0],
			 "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
			 "absolute paths pass through");
	cr_assert_str_eq(cfg->train.paths[1],
			 "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
	cr_assert_eq(cfg->test.npaths, 2);
	path_is(cfg->test.paths[0], dir, "t10k-images.gz");
	path_is(cfg->test.paths[1], dir, "sub/t10k-labels.gz");
	cr_assert_float_eq(cfg->norm_scale, 255, 1e-12);
	cr_assert_eq(cfg->nnorm, 1);
	cr_assert_float_eq(cfg->norm_mean[0], 0.2860, 1e-12);
	cr_assert_float_eq(cfg->norm_std[0], 0.3530, 1e-12);
	cr_assert_float_eq(cfg->validation_split, 0.1, 1e-12);
	cr_assert_eq(cfg->train_limit, 6000);
	cr_assert_eq(cfg->test_limit, 1000);

	cr_assert_eq(cfg->optim.kind, MT_OPTIM_SGD);
	cr_assert_float_eq(cfg->optim.lr, 0.05, 1e-12);
	cr_assert_float_eq(cfg->optim.momentum, 0.9, 1e-12);
	cr_assert_float_eq(cfg->optim.dampening, 0, 1e-12);
	cr_assert_eq(cfg->optim.nesterov, 1);
	cr_assert_float_eq(cfg->optim.weight_decay, 0.0005, 1e-12);
	cr_assert_eq(cfg->loss, MT_LOSS_NLL);
	cr_assert_eq(cfg->epochs, 3);
	cr_assert_eq(cfg->batch_size, 128);
	cr_assert_eq(cfg->eval_batch_size, 500);
	cr_assert_eq(cfg->seed, UINT64_MAX);
	cr_assert_eq(cfg->threads, 2);
	cr_assert_float_eq(cfg->grad_clip, 5.0, 1e-12);
	cr_assert_float_eq(cfg->l1, 0.0001, 1e-12);
	cr_assert_float_eq(cfg->l2, 0.001, 1e-12);

	path_is(cfg->run_dir, dir, "runs/one");

	cr_assert_eq(cfg->mutation_seed, 7);
	cr_assert_float_eq(cfg->accuracy_filter, 0.8, 1e-12);
	cr_assert_eq(cfg->nmodel_level, 1);
	cr_assert_str_eq(cfg->model_level[0].op, "GF");
	cr_assert_eq(cfg->model_level[0].line, 36);
	cr_assert_eq(cfg->model_level[0].nparams, 3);
	cr_assert_str_eq(param(&cfg->model_level[0], "ratio"), "0.01");
	cr_assert_str_eq(param(&cfg->model_level[0], "sigma"), "1");
	cr_assert_str_eq(param(&cfg->model_level[0], "mutants"), "20");
	cr_assert_eq(cfg->nsource_level, 1);
	cr_assert_str_eq(cfg->source_level[0].op, "HLR");
	cr_assert_str_eq(param(&cfg->source_level[0], "lr"), "0.1,0.01");

	mt_config_free(cfg);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

Test(config, defaults)
{
	mt_config *cfg = load_ok(MODEL_TS DATA_IDX);

	cr_assert_str_eq(cfg->path, "mutorch.yml");
	cr_assert_str_eq(cfg->base_dir, "/base");
	cr_assert_null(cfg->architecture);
	cr_assert_str_eq(cfg->torchscript, "/base/model.pt");
	cr_assert_eq(cfg->init, MT_INIT_DEFAULT);
	cr_assert_eq(cfg->has_input_shape, 0);
	cr_assert_str_eq(cfg->output, "/base/trained/model.pt");
	cr_assert_eq(cfg->format, MT_FORMAT_IDX);
	cr_assert_eq(cfg->num_classes, 10);
	cr_assert_str_eq(cfg->train.paths[0], "/base/tr-img.gz");
	cr_assert_str_eq(cfg->train.paths[1], "/base/tr-lab.gz");
	cr_assert_str_eq(cfg->test.paths[0], "/base/te-img.gz");
	cr_assert_str_eq(cfg->test.paths[1], "/base/te-lab.gz");
	cr_assert_eq(cfg->norm_scale, 1.0);
	cr_assert_eq(cfg->nnorm, 0);
	cr_assert_eq(cfg->validation_split, 0.0);
	cr_assert_eq(cfg->train_limit, 0);
	cr_assert_eq(cfg->test_limit, 0);
	cr_assert_eq(cfg->optim.kind, MT_OPTIM_ADAM);
	cr_assert_float_eq(cfg->optim.lr, 0.001, 1e-15);
	cr_assert_float_eq(cfg->optim.beta1, 0.9, 1e-15);
	cr_assert_float_eq(cfg->optim.beta2, 0.999, 1e-15);
	cr_assert_float_eq(cfg->optim.eps, 1e-8, 1e-20);
	cr_assert_eq(cfg->optim.weight_decay, 0.0);
	cr_assert_eq(cfg->optim.amsgrad, 0);
	cr_assert_eq(cfg->loss, MT_LOSS_CROSS_ENTROPY);
	cr_assert_eq(cfg->epochs, 10);
	cr_assert_eq(cfg->batch_size, 64);
	cr_assert_eq(cfg->eval_batch_size, 1000);
	cr_assert_eq(cfg->seed, 42);
	cr_assert_eq(cfg->threads, 1);
	cr_assert_eq(cfg->grad_clip, 0.0);
	cr_assert_eq(cfg->l1, 0.0);
	cr_assert_eq(cfg->l2, 0.0);
	cr_assert_str_eq(cfg->run_dir, "/base/mutorch.out");
	cr_assert_eq(cfg->mutation_seed, 1);
	cr_assert_float_eq(cfg->accuracy_filter, 0.9, 1e-15);
	cr_assert_eq(cfg->nmodel_level, 0);
	cr_assert_null(cfg->model_level);
	cr_assert_eq(cfg->nsource_level, 0);
	mt_config_free(cfg);
	mt_config_free(NULL);
}

Test(config, null_sections_take_defaults)
{
	mt_config *cfg = load_ok(MODEL_TS DATA_IDX "training:\nrun: ~\nmutation:\n");
	cr_assert_eq(cfg->epochs, 10);
	cr_assert_str_eq(cfg->run_dir, "/base/mutorch.out");
	mt_config_free(cfg);
}

Test(config, normalize_per_channel_and_scale_only)
{
	mt_config *cfg = load_ok(
		"model: {architecture: 'conv2d(3,4,3) flatten linear(3600,10)', input_shape: [3, 32, 32]}\n"
		"data:\n"
		"  format: cifar10\n"
		"  train: {files: [b1.bin, /abs/b2.bin]}\n"
		"  test: {files: test_batch.bin}\n"
		"  normalize: {scale: 255, mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26]}\n");
	cr_assert_eq(cfg->format, MT_FORMAT_CIFAR10);
	cr_assert_eq(cfg->train.npaths, 2);
	cr_assert_str_eq(cfg->train.paths[0], "/base/b1.bin");
	cr_assert_str_eq(cfg->train.paths[1], "/abs/b2.bin");
	cr_assert_eq(cfg->test.npaths, 1);
	cr_assert_str_eq(cfg->test.paths[0], "/base/test_batch.bin");
	cr_assert_eq(cfg->nnorm, 3);
	cr_assert_float_eq(cfg->norm_mean[2], 0.45, 1e-12);
	cr_assert_float_eq(cfg->norm_std[1], 0.24, 1e-12);
	cr_assert_eq(cfg->norm_mean[3], 0.0);
	mt_config_free(cfg);

	cfg = load_ok(MODEL_TS DATA_IDX "  normalize: {scale: 255}\n");
	cr_assert_float_eq(cfg->norm_scale, 255, 1e-12);
	cr_assert_eq(cfg->nnorm, 0);
	mt_config_free(cfg);
}

Test(config, npy_and_torch_sources)
{
	mt_config *cfg = load_ok(MODEL_TS
				 "data:\n  format: npy\n  train: {x: x.npy, y: y.npy}\n"
				 "  test: {x: tx.npy, y: ty.npy}\n");
	cr_assert_eq(cfg->format, MT_FORMAT_NPY);
	cr_assert_str_eq(cfg->train.paths[0], "/base/x.npy");
	cr_assert_str_eq(cfg->train.paths[1], "/base/y.npy");
	cr_assert_str_eq(cfg->test.paths[1], "/base/ty.npy");
	mt_config_free(cfg);

	cfg = load_ok(MODEL_TS "data:\n  format: torch\n  train: {file: train.pt}\n"
		      "  test: {file: test.pt}\n");
	cr_assert_eq(cfg->format, MT_FORMAT_TORCH);
	cr_assert_eq(cfg->train.npaths, 1);
	cr_assert_str_eq(cfg->train.paths[0], "/base/train.pt");
	cr_assert_str_eq(cfg->test.paths[0], "/base/test.pt");
	mt_config_free(cfg);
}

Test(config, optimizers)
{
	mt_config *cfg = load_ok(MODEL_TS DATA_IDX "training:\n  optimizer: rmsprop\n");
	cr_assert_eq(cfg->optim.kind, MT_OPTIM_RMSPROP);
	cr_assert_float_eq(cfg->optim.lr, 0.01, 1e-15);
	cr_assert_float_eq(cfg->optim.alpha, 0.99, 1e-15);
	cr_assert_float_eq(cfg->optim.eps, 1e-8, 1e-20);
	mt_config_free(cfg);

	cfg = load_ok(MODEL_TS DATA_IDX
		      "training:\n  optimizer: {name: adamw, betas: [0.8, 0.99], amsgrad: true}\n");
	cr_assert_eq(cfg->optim.kind, MT_OPTIM_ADAMW);
	cr_assert_float_eq(cfg->optim.lr, 0.001, 1e-15);
	cr_assert_float_eq(cfg->optim.beta1, 0.8, 1e-15);
	cr_assert_float_eq(cfg->optim.beta2, 0.99, 1e-15);
	cr_assert_float_eq(cfg->optim.weight_decay, 0.01, 1e-15);
	cr_assert_eq(cfg->optim.amsgrad, 1);
	mt_config_free(cfg);

	cfg = load_ok(MODEL_TS DATA_IDX
		      "training:\n  optimizer: {name: adagrad, lr_decay: 0.001}\n");
	cr_assert_eq(cfg->optim.kind, MT_OPTIM_ADAGRAD);
	cr_assert_float_eq(cfg->optim.eps, 1e-10, 1e-20);
	cr_assert_float_eq(cfg->optim.lr_decay, 0.001, 1e-15);
	mt_config_free(cfg);
}

Test(config, optim_defaults_and_names)
{
	mt_optim_config o;
	mt_optim_config_defaults(&o, MT_OPTIM_SGD);
	cr_assert_eq(o.kind, MT_OPTIM_SGD);
	cr_assert_float_eq(o.lr, 0.01, 1e-15);
	cr_assert_eq(o.momentum, 0.0);
	cr_assert_eq(o.nesterov, 0);
	cr_assert_eq(o.beta1, 0.0, "fields sgd does not use stay 0");
	mt_optim_config_defaults(&o, MT_OPTIM_ADAM);
	cr_assert_float_eq(o.lr, 0.001, 1e-15);
	cr_assert_float_eq(o.eps, 1e-8, 1e-20);
	cr_assert_eq(o.weight_decay, 0.0);
	mt_optim_config_defaults(&o, MT_OPTIM_ADAMW);
	cr_assert_float_eq(o.weight_decay, 0.01, 1e-15);
	mt_optim_config_defaults(&o, MT_OPTIM_ADAGRAD);
	cr_assert_float_eq(o.eps, 1e-10, 1e-20);
	cr_assert_eq(o.lr_decay, 0.0);

	cr_assert_str_eq(mt_optim_kind_name(MT_OPTIM_ADAMW), "adamw");
	cr_assert_str_eq(mt_loss_kind_name(MT_LOSS_CROSS_ENTROPY), "cross_entropy");
	cr_assert_str_eq(mt_loss_kind_name(MT_LOSS_MSE), "mse");
	cr_assert_str_eq(mt_init_kind_name(MT_INIT_KAIMING_NORMAL), "kaiming_normal");
	cr_assert_str_eq(mt_init_kind_name(MT_INIT_DEFAULT), "default");
	cr_assert_str_eq(mt_data_format_name(MT_FORMAT_CIFAR10), "cifar10");
	cr_assert_str_eq(mt_data_format_name((mt_data_format)99), "unknown");
}

Test(config, architecture_as_list)
{
	mt_config *cfg = load_ok("model:\n  architecture:\n    - flatten\n    - linear(784,10)\n"
				 "  input_shape: [1, 28, 28]\n" DATA_IDX);
	cr_assert_str_eq(cfg->architecture, "flatten linear(784,10)");
	mt_config_free(cfg);
}

Test(config, mutation_entries)
{
	mt_config *cfg = load_ok(
		MODEL_TS DATA_IDX
		"mutation:\n"                                                 /* 6 */
		"  model_level:\n"                                            /* 7 */
		"    - {op: GF, ratio: 0.01, sigma: 1, mutants: 20, layers: [conv2d_0, linear_7]}\n"
		"    - op: NEB\n"                                             /* 9 */
		"      ratio: 0.05\n"                                         /* 10 */
		"      layers: linear_9\n"                                    /* 11 */
		"    - {op: LD}\n"                                            /* 12 */
		"  source_level:\n"                                           /* 13 */
		"    - {op: LE, ratio: 0.1, runs: 5}\n"                       /* 14 */
		"    - {op: OCH, to: [sgd, rmsprop]}\n");                     /* 15 */
	const mt_config_mutation *m = cfg->model_level;

	cr_assert_eq(cfg->nmodel_level, 3);
	cr_assert_str_eq(m[0].op, "GF");
	cr_assert_eq(m[0].line, 8);
	cr_assert_eq(m[0].nparams, 4);
	cr_assert_str_eq(m[0].params[0].key, "ratio");
	cr_assert_str_eq(m[0].params[0].value, "0.01");
	cr_assert_eq(m[0].params[0].line, 8);
	cr_assert_str_eq(m[0].params[3].key, "layers");
	cr_assert_str_eq(m[0].params[3].value, "conv2d_0,linear_7");
	cr_assert_str_eq(m[1].op, "NEB");
	cr_assert_eq(m[1].line, 9);
	cr_assert_eq(m[1].nparams, 2);
	cr_assert_str_eq(param(&m[1], "ratio"), "0.05");
	cr_assert_eq(m[1].params[0].line, 10);
	cr_assert_str_eq(param(&m[1], "layers"), "linear_9");
	cr_assert_eq(m[1].params[1].line, 11);
	cr_assert_str_eq(m[2].op, "LD");
	cr_assert_eq(m[2].nparams, 0);
	cr_assert_eq(cfg->nsource_level, 2);
	cr_assert_str_eq(cfg->source_level[0].op, "LE");
	cr_assert_str_eq(param(&cfg->source_level[0], "runs"), "5");
	cr_assert_eq(cfg->source_level[1].line, 15);
	cr_assert_str_eq(param(&cfg->source_level[1], "to"), "sgd,rmsprop");
	mt_config_free(cfg);
}

Test(config, load_buffer_for_git_blobs)
{
	const char *yaml = MODEL_TS DATA_IDX;
	mt_config *cfg = NULL;

	cr_assert_eq(mt_config_load_buffer(&cfg, yaml, strlen(yaml), "HEAD:ci/mutorch.yml",
					   "/repo/ci"), 0, "%s", mt_error_last());
	cr_assert_str_eq(cfg->path, "HEAD:ci/mutorch.yml");
	cr_assert_str_eq(cfg->torchscript, "/repo/ci/model.pt");
	cr_assert_str_eq(cfg->train.paths[0], "/repo/ci/tr-img.gz");
	mt_config_free(cfg);

	/* Not NUL-terminated at len: only len bytes are read. */
	{
		char buf[512];
		size_t n = strlen(yaml);
		memcpy(buf, yaml, n);
		memcpy(buf + n, "bogus: [", 8);
		cr_assert_eq(mt_config_load_buffer(&cfg, buf, n, "blob", NULL), 0, "%s",
			     mt_error_last());
		cr_assert_str_eq(cfg->torchscript, "model.pt", "NULL base_dir keeps paths relative");
		mt_config_free(cfg);
	}
}

Test(config, missing_file)
{
	mt_config *cfg = (mt_config *)0x1;
	int error = mt_config_load(&cfg, "/nonexistent/mutorch.yml");
	cr_assert_lt(error, 0);
	cr_assert_null(cfg);
	cr_assert(th_contains(mt_error_last(), "/nonexistent/mutorch.yml"), "%s", mt_error_last());
}

Test(config, error_unknown_key_with_line)
{
	load_fails(MODEL_TS DATA_IDX "training:\n  epochs: 3\n  optimiser: sgd\n",
		   "mutorch.yml:8: unknown key 'training.optimiser'; expected one of: optimizer, loss, epochs",
		   NULL);
	load_fails("modle:\n  torchscript: m.pt\n",
		   "mutorch.yml:1: unknown key 'modle'; expected one of: model, data, training, run, mutation",
		   NULL);
	load_fails(MODEL_TS DATA_IDX "  normalise: {scale: 255}\n",
		   "mutorch.yml:6: unknown key 'data.normalise'", NULL);
	load_fails(MODEL_TS "data:\n  train: {images: a, label: b}\n  test: {images: c, labels: d}\n",
		   "mutorch.yml:4: unknown key 'data.train.label'; expected one of: images, labels",
		   NULL);
	load_fails(MODEL_TS DATA_IDX "mutation:\n  seeds: 3\n",
		   "mutorch.yml:7: unknown key 'mutation.seeds'",
		   "seed, accuracy_filter, model_level, source_level");
	load_fails(MODEL_TS DATA_IDX "run:\n  directory: x\n", "mutorch.yml:7: unknown key 'run.directory'",
		   NULL);
	load_fails(MODEL_TS DATA_IDX "training: {optimizer: {name: sgd, mometum: 0.9}}\n",
		   "mutorch.yml:6: unknown key 'training.optimizer.mometum'", NULL);
	load_fails(MODEL_TS DATA_IDX "training: {optimizer: {name: adam, momentum: 0.9}}\n",
		   "mutorch.yml:6: 'training.optimizer.momentum' does not apply to adam", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  epochs: 3\n  epochs: 4\n",
		   "mutorch.yml:8: duplicate key 'training.epochs' (first at line 7)", NULL);
}

Test(config, error_wrong_type)
{
	load_fails(MODEL_TS DATA_IDX "training:\n  epochs: ten\n",
		   "mutorch.yml:7: 'training.epochs' must be a positive integer, got 'ten'", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  epochs: 2.5\n",
		   "'training.epochs' must be a positive integer, got '2.5'", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  l2: [1]\n",
		   "mutorch.yml:7: 'training.l2' must be a non-negative number, got a list", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  seed: -1\n",
		   "'training.seed' must be a non-negative integer, got '-1'", NULL);
	load_fails(MODEL_TS DATA_IDX "training: {optimizer: {name: sgd, momentum: 0.9, nesterov: maybe}}\n",
		   "'training.optimizer.nesterov' must be true or false, got 'maybe'", NULL);
	load_fails(MODEL_TS "data:\n  train: x.gz\n  test: {images: c, labels: d}\n",
		   "mutorch.yml:4: 'data.train' must be a mapping with keys images, labels", NULL);
	load_fails("model: {torchscript: [a, b]}\n" DATA_IDX,
		   "mutorch.yml:1: 'model.torchscript' must be a string, got a list", NULL);
	load_fails("model:\n  architecture: 'flatten linear(784,10)'\n  input_shape: [28, 28]\n" DATA_IDX,
		   "mutorch.yml:3: 'model.input_shape' must be a list of 3 positive integers", NULL);
	load_fails("model:\n  architecture: 'flatten linear(784,10)'\n  input_shape: [1, 0, 28]\n" DATA_IDX,
		   "'model.input_shape' must be a list of 3 positive integers", "got '0'");
	load_fails("- model\n- data\n", "mutorch.yml:1: '(top level)' must be a mapping", NULL);
	load_fails(MODEL_TS DATA_IDX "mutation:\n  model_level: {op: GF}\n",
		   "mutorch.yml:7: 'mutation.model_level' must be a list", NULL);
	load_fails(MODEL_TS DATA_IDX "mutation:\n  model_level:\n    - {op: GF, layers: {a: 1}}\n",
		   "mutorch.yml:8: 'mutation.model_level[0].layers' must be a value or a list of values",
		   NULL);
	load_fails(MODEL_TS DATA_IDX "mutation:\n  model_level:\n    - {ratio: 0.1}\n",
		   "mutorch.yml:8: missing required key 'mutation.model_level[0].op'", NULL);
	load_fails(MODEL_TS DATA_IDX "mutation:\n  model_level:\n    - {op: GF, ratio: 1, ratio: 2}\n",
		   "duplicate key 'mutation.model_level[0].ratio'", NULL);
}

Test(config, error_missing_required)
{
	load_fails(MODEL_TS "data:\n  train: {images: a, labels: b}\n",
		   "mutorch.yml: missing required key 'data.test'", NULL);
	load_fails(MODEL_TS "data:\n  train: {images: a}\n  test: {images: c, labels: d}\n",
		   "mutorch.yml: missing required key 'data.train.labels'", NULL);
	load_fails(MODEL_TS, "mutorch.yml: missing required key 'data'", NULL);
	load_fails(DATA_IDX, "mutorch.yml: missing required key 'model'", NULL);
	load_fails("", "mutorch.yml: the config is empty; missing required key 'model'", NULL);
	load_fails("model:\n  architecture: 'flatten linear(784,10)'\n" DATA_IDX,
		   "mutorch.yml:2: missing required key 'model.input_shape'", NULL);
	load_fails(MODEL_TS "data:\n  format: cifar10\n  train: {}\n  test: {files: t.bin}\n",
		   "missing required key 'data.train.files'", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  optimizer: {lr: 0.1}\n",
		   "mutorch.yml: missing required key 'training.optimizer.name'", NULL);
}

Test(config, error_architecture_xor_torchscript)
{
	load_fails("model:\n  torchscript: m.pt\n  architecture: 'flatten linear(784,10)'\n"
		   "  input_shape: [1,28,28]\n" DATA_IDX,
		   "mutorch.yml:2: 'model' needs exactly one of 'architecture'", "got both");
	load_fails("model:\n  init: zeros\n" DATA_IDX,
		   "mutorch.yml:2: 'model' needs exactly one of 'architecture'", "got neither");
}

Test(config, error_bad_enum_names)
{
	load_fails(MODEL_TS DATA_IDX "training:\n  optimizer: {name: adamm}\n",
		   "mutorch.yml:7: 'training.optimizer.name' must be one of: sgd, adam, adamw, rmsprop, adagrad; got 'adamm'",
		   NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  optimizer: lbfgs\n",
		   "'training.optimizer' must be one of: sgd, adam", "got 'lbfgs'");
	load_fails(MODEL_TS DATA_IDX "training:\n  loss: hinge\n",
		   "mutorch.yml:7: 'training.loss' must be one of: cross_entropy, nll, mse; got 'hinge'",
		   NULL);
	load_fails("model: {torchscript: m.pt, init: he}\n" DATA_IDX,
		   "mutorch.yml:1: 'model.init' must be one of: default, xavier_uniform", "got 'he'");
	load_fails(MODEL_TS "data:\n  format: csv\n  train: {x: a}\n  test: {x: b}\n",
		   "mutorch.yml:4: 'data.format' must be one of: idx, cifar10, npy, torch; got 'csv'",
		   NULL);
}

Test(config, error_out_of_range)
{
	load_fails(MODEL_TS DATA_IDX "training:\n  optimizer: {name: sgd, lr: 0}\n",
		   "'training.optimizer.lr' must be a positive number, got '0'", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  optimizer: {name: adam, lr: -0.1}\n",
		   "'training.optimizer.lr' must be a positive number, got '-0.1'", NULL);
	load_fails(MODEL_TS DATA_IDX "  validation_split: 1\n",
		   "mutorch.yml:6: 'data.validation_split' must be a number in [0, 1), got '1'", NULL);
	load_fails(MODEL_TS DATA_IDX "  validation_split: -0.1\n",
		   "'data.validation_split' must be a number in [0, 1)", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  threads: 0\n",
		   "mutorch.yml:7: 'training.threads' must be a positive integer, got '0'", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  batch_size: 0\n",
		   "'training.batch_size' must be a positive integer, got '0'", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  eval_batch_size: -5\n",
		   "'training.eval_batch_size' must be a positive integer", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  grad_clip: -1\n",
		   "'training.grad_clip' must be a non-negative number", NULL);
	load_fails(MODEL_TS DATA_IDX "  classes: 1\n", "'data.classes' must be an integer >= 2", NULL);
	load_fails(MODEL_TS DATA_IDX "  train_limit: -1\n",
		   "'data.train_limit' must be a non-negative integer", NULL);
	load_fails(MODEL_TS DATA_IDX "mutation:\n  accuracy_filter: 1.5\n",
		   "'mutation.accuracy_filter' must be a number in [0, 1]", NULL);
	load_fails(MODEL_TS DATA_IDX "  normalize: {scale: 0}\n",
		   "'data.normalize.scale' must be a positive number", NULL);
	load_fails(MODEL_TS DATA_IDX "  normalize: {mean: [0.5, 0.5], std: [0.2]}\n",
		   "'data.normalize.std' has 1 values but 'data.normalize.mean' has 2", NULL);
	load_fails(MODEL_TS DATA_IDX "  normalize: {mean: 0.5}\n",
		   "mutorch.yml:6: 'data.normalize' needs both 'mean' and 'std'", NULL);
	load_fails(MODEL_TS DATA_IDX "  normalize: {mean: 0.5, std: 0}\n",
		   "'data.normalize.std' must be a positive number or a list", NULL);
	load_fails(MODEL_TS DATA_IDX "  normalize: {mean: [1,2,3,4,5], std: [1,2,3,4,5]}\n",
		   "'data.normalize.mean' must be a number or a list of 1 to 4 numbers", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  optimizer: {name: sgd, nesterov: true}\n",
		   "'training.optimizer.nesterov' requires momentum > 0", NULL);
	load_fails(MODEL_TS DATA_IDX "training:\n  optimizer: {name: adam, betas: [0.9, 1.0]}\n",
		   "'training.optimizer.betas' must be a list of two numbers in [0, 1)", NULL);
}

Test(config, error_architecture_is_checked)
{
	load_fails("model:\n  architecture: 'conv2d(1,6,5) relux'\n  input_shape: [1,28,28]\n" DATA_IDX,
		   "mutorch.yml:2: 'model.architecture': layer 1 'relux': unknown layer 'relux'",
		   NULL);
	load_fails("model:\n  architecture: 'flatten linear(400,10)'\n  input_shape: [1,28,28]\n" DATA_IDX,
		   "mutorch.yml:2: 'model.architecture' on input_shape [1, 28, 28]: layer 1 'linear(400,10)': input has 784 features, expected 400",
		   NULL);
	load_fails("model:\n  architecture: 'flatten linear(784,12)'\n  input_shape: [1,28,28]\n" DATA_IDX,
		   "mutorch.yml:2: 'model.architecture' outputs {1,1,12}", "data.classes");
	load_fails("model:\n  architecture: 'flatten linear(3072,10)'\n  input_shape: [3,32,32]\n"
		   DATA_IDX "  normalize: {mean: [0.5, 0.5], std: [0.2, 0.2]}\n",
		   "mutorch.yml:7: 'data.normalize' has 2 mean/std values but the input has 3 channels",
		   NULL);
}

Test(config, error_yaml_syntax_with_line)
{
	load_fails(MODEL_TS DATA_IDX "training:\n  epochs: [3\n  loss: mse\n",
		   "mutorch.yml:8: YAML syntax error:", "flow sequence that starts at line 7");
	load_fails("model:\n  torchscript: m.pt\n bad: indent\n", "mutorch.yml:3: YAML syntax error",
		   NULL);
	load_fails("model: {torchscript: 'unterminated}\n", "mutorch.yml:", "YAML syntax error");
}

/* The example in docs/config.md must stay a valid config. */
Test(config, documented_example_loads)
{
	char *doc = NULL, *start, *end;
	mt_config *cfg = NULL;
	FILE *f = fopen(MT_SOURCE_DIR "/docs/config.md", "rb");
	long n;

	cr_assert_not_null(f, "cannot open docs/config.md");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	doc = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(doc, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	start = strstr(doc, "```yaml\n");
	cr_assert_not_null(start);
	start += strlen("```yaml\n");
	end = strstr(start, "```");
	cr_assert_not_null(end);
	cr_assert_eq(mt_config_load_buffer(&cfg, start, (size_t)(end - start), "config.md",
					   "/base"), 0, "%s", mt_error_last());
	cr_assert_eq(cfg->optim.kind, MT_OPTIM_ADAM);
	cr_assert_eq(cfg->threads, 2);
	cr_assert_eq(cfg->nmodel_level, 3);
	cr_assert_str_eq(cfg->model_level[0].op, "GF");
	cr_assert_str_eq(param(&cfg->model_level[0], "layers"), "conv2d_0,linear_7");
	cr_assert_eq(cfg->nsource_level, 1);
	cr_assert_str_eq(cfg->output, "/base/trained/lenet5.pt");
	mt_config_free(cfg);
	free(doc);
}
