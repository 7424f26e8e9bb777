/* mutorch.yml with the user's own training program (training.command,
 * docs/training-programs.md): the keys, the knobs of
 * training.hyperparameters and their types, mutation.source.timeout, the
 * copy, and every refusal (with the file, line and dotted key). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/recipe.h"

/* Lines 1-3; the training section starts at line 4. */
#define DATA \
	"data:\n" \
	"  train: {images: tr-img.gz, labels: tr-lab.gz}\n" \
	"  test: {images: te-img.gz, labels: te-lab.gz}\n"

static mt_config *load_ok(const char *yaml)
{
	mt_config *cfg = NULL;
	int error = mt_config_load_buffer(&cfg, yaml, strlen(yaml), "mutorch.yml", "/base");
	cr_assert_eq(error, 0, "load failed: %s\n--- config:\n%s", mt_error_last(), yaml);
	return cfg;
}

static void load_fails(const char *yaml, const char *needle1, const char *needle2)
{
	mt_config *cfg = (mt_config *)0x1;
	int error = mt_config_load_buffer(&cfg, yaml, strlen(yaml), "mutorch.yml", "/base");
	cr_assert_eq(error, MT_EINVALID, "expected MT_EINVALID, got %d (%s)\n--- config:\n%s",
		     error, mt_error_last(), yaml);
	cr_assert_null(cfg);
	cr_assert(th_contains(mt_error_last(), needle1), "message '%s' lacks '%s'", mt_error_last(), needle1);
	if (needle2)
		cr_assert(th_contains(mt_error_last(), needle2), "message '%s' lacks '%s'", mt_error_last(),
			  needle2);
}

Test(config_program, every_key_and_knob)
{
	mt_config *cfg = load_ok(DATA
		"training:\n"                                                      /* 4 */
		"  command: [python3, train.py, --fast]\n"
		"  program_files: [train.py, lib/model.py]\n"
		"  protocol: 1\n"
		"  seed: 7\n"
		"  threads: 2\n"
		"  hyperparameters:\n"
		"    optimizer: {name: sgd, momentum: 0.9}\n"
		"    lr: 0.05\n"
		"    batch_size: 32\n"
		"    epochs: 4\n"
		"    loss: nll\n"
		"    l1: 0.001\n"
		"    l2: 0.01\n"
		"    grad_clip: 2\n"
		"    dropout: 0.25\n"
		"    patience: 3\n"
		"    validation_split: 0.1\n"
		"    init: xavier_uniform\n"
		"mutation:\n"
		"  source: {timeout: 90}\n");

	cr_assert_eq(cfg->ncommand, 3);
	cr_assert_str_eq(cfg->command[0], "python3");
	cr_assert_str_eq(cfg->command[2], "--fast");
	cr_assert_eq(cfg->nprogram_files, 2);
	cr_assert_str_eq(cfg->program_files[0], "/base/train.py", "program files resolve like paths");
	cr_assert_str_eq(cfg->program_files[1], "/base/lib/model.py");
	cr_assert_eq(cfg->protocol, 1);
	cr_assert_eq(cfg->threads, 2);
	cr_assert_eq(cfg->seed, 7);
	cr_assert_eq(cfg->knobs, (1u << MT_KNOB_COUNT) - 1, "every knob declared: %#x", cfg->knobs);
	cr_assert_eq(cfg->optim.kind, MT_OPTIM_SGD);
	cr_assert_float_eq(cfg->optim.momentum, 0.9, 0);
	cr_assert_float_eq(cfg->optim.lr, 0.05, 0, "the lr knob sets the optimizer's lr");
	cr_assert_eq(cfg->batch_size, 32);
	cr_assert_eq(cfg->epochs, 4);
	cr_assert_eq(cfg->loss, MT_LOSS_NLL);
	cr_assert_float_eq(cfg->l1, 0.001, 0);
	cr_assert_float_eq(cfg->l2, 0.01, 0);
	cr_assert_float_eq(cfg->grad_clip, 2, 0);
	cr_assert_float_eq(cfg->dropout, 0.25, 0);
	cr_assert_eq(cfg->patience, 3);
	cr_assert_float_eq(cfg->validation_split, 0.1, 0);
	cr_assert_eq(cfg->init, MT_INIT_XAVIER_UNIFORM);
	cr_assert_float_eq(cfg->src_timeout, 90, 0);
	cr_assert_null(cfg->architecture, "no model section is needed");
	cr_assert_str_eq(cfg->output, "/base/trained/model.pt");

	/* the copy owns its own command and files */
	mt_config *copy = NULL;
	cr_assert_eq(mt_config_copy(&copy, cfg), 0);
	cr_assert_eq(copy->ncommand, 3);
	cr_assert_neq(copy->command, cfg->command);
	cr_assert_str_eq(copy->command[1], "train.py");
	cr_assert_str_eq(copy->program_files[1], "/base/lib/model.py");
	cr_assert_eq(copy->knobs, cfg->knobs);
	mt_config_free(cfg);
	cr_assert_str_eq(copy->program_files[0], "/base/train.py");
	mt_config_free(copy);
	for (int i = 0; i < MT_KNOB_COUNT; i++)
		cr_assert_not_null(mt_knob_name(i));
	cr_assert_null(mt_knob_name(MT_KNOB_COUNT));
	cr_assert_str_eq(mt_knob_name(0), "lr");
}

Test(config_program, only_the_declared_knobs)
{
	mt_config *cfg = load_ok(DATA
		"training:\n"
		"  command: [./train.sh]\n"
		"  program_files: train.sh\n"
		"  hyperparameters: {epochs: 2}\n");
	cr_assert_eq(cfg->knobs, MT_KNOB_EPOCHS);
	cr_assert_eq(cfg->epochs, 2);
	cr_assert_eq(cfg->nprogram_files, 1, "one path may be written without a list");
	cr_assert_eq(cfg->protocol, MT_PROTOCOL_VERSION);
	cr_assert_float_eq(cfg->src_timeout, 0, 0, "no time limit by default");
	mt_config_free(cfg);

	/* no knobs at all: only data operators apply */
	cfg = load_ok(DATA "training: {command: [python3, t.py], program_files: [t.py]}\n");
	cr_assert_eq(cfg->knobs, 0);
	mt_config_free(cfg);

	/* an optimizer by name alone, with PyTorch's defaults */
	cfg = load_ok(DATA "training:\n  command: [python3, t.py]\n  program_files: [t.py]\n"
		      "  hyperparameters: {optimizer: rmsprop}\n");
	cr_assert_eq(cfg->knobs, MT_KNOB_OPTIMIZER);
	cr_assert_eq(cfg->optim.kind, MT_OPTIM_RMSPROP);
	cr_assert_float_eq(cfg->optim.alpha, 0.99, 0);
	mt_config_free(cfg);

	/* the trained model for the model level may still be named */
	cfg = load_ok("model: {torchscript: trained.pt}\n" DATA
		      "training: {command: [python3, t.py], program_files: [t.py]}\n");
	cr_assert_str_eq(cfg->torchscript, "/base/trained.pt");
	mt_config_free(cfg);
}

#define PROGRAM "training:\n  command: [python3, t.py]\n  program_files: [t.py]\n" /* 4-6 */

Test(config_program, wrong_types_name_the_key_and_line)
{
	load_fails(DATA PROGRAM "  hyperparameters: {lr: fast}\n", "mutorch.yml:7:",
		   "'training.hyperparameters.lr' must be a positive number, got 'fast'");
	load_fails(DATA PROGRAM "  hyperparameters:\n    batch_size: 6.5\n", "mutorch.yml:8:",
		   "'training.hyperparameters.batch_size' must be a positive integer");
	load_fails(DATA PROGRAM "  hyperparameters: {epochs: 0}\n", "training.hyperparameters.epochs",
		   "positive integer");
	load_fails(DATA PROGRAM "  hyperparameters: {loss: hinge}\n", "training.hyperparameters.loss",
		   "cross_entropy, nll, mse");
	load_fails(DATA PROGRAM "  hyperparameters: {dropout: 1}\n", "training.hyperparameters.dropout",
		   "[0, 1)");
	load_fails(DATA PROGRAM "  hyperparameters: {init: glorot}\n", "training.hyperparameters.init",
		   "xavier_uniform");
	load_fails(DATA PROGRAM "  hyperparameters: {optimizer: {name: adam, momentum: 0.9}}\n",
		   "'training.hyperparameters.optimizer.momentum' does not apply to adam", NULL);
	load_fails(DATA PROGRAM "  hyperparameters: {optimizer: {lr: 0.1}}\n",
		   "missing required key 'training.hyperparameters.optimizer.name'", NULL);
	load_fails(DATA PROGRAM "  hyperparameters: {lr: 0.1, optimizer: {name: sgd, lr: 0.2}}\n",
		   "both set the learning rate", NULL);
	load_fails(DATA PROGRAM "  hyperparameters: {learning_rate: 0.1}\n",
		   "unknown key 'training.hyperparameters.learning_rate'", "lr, batch_size, epochs");
	load_fails(DATA PROGRAM "  hyperparameters: [lr]\n", "'training.hyperparameters' must be a mapping",
		   NULL);
	load_fails(DATA "training:\n  command: python3 t.py\n  program_files: [t.py]\n",
		   "mutorch.yml:5:", "'training.command' must be a list of strings");
	load_fails(DATA "training:\n  command: []\n  program_files: [t.py]\n", "training.command", NULL);
	load_fails(DATA "training:\n  command: [python3, t.py]\n  program_files: [t.py, {a: b}]\n",
		   "'training.program_files' must be a path or a list of paths", NULL);
	load_fails("model: {torchscript: m.pt}\n" DATA "mutation:\n  source: {timeout: -1}\n",
		   "mutation.source.timeout", "non-negative");
}

Test(config_program, what_does_not_go_with_a_command)
{
	load_fails(DATA "training:\n  command: [python3, t.py]\n", "mutorch.yml:5:",
		   "missing required key 'training.program_files'");
	load_fails(DATA PROGRAM "  epochs: 3\n", "mutorch.yml:7:",
		   "'training.epochs' is a setting of mutorch's built-in trainer");
	load_fails(DATA PROGRAM "  optimizer: sgd\n", "'training.optimizer'", "training.hyperparameters");
	load_fails(DATA PROGRAM "  protocol: 2\n", "mutorch.yml:7:",
		   "'training.protocol' is 2, but this mutorch speaks version 1");
	load_fails(DATA "training:\n  hyperparameters: {lr: 0.1}\n", "'training.hyperparameters'",
		   "'training.command' is missing");
	load_fails(DATA "training:\n  program_files: [t.py]\n", "'training.program_files'",
		   "'training.command' is missing");
	load_fails("model: {architecture: \"flatten linear(784,10)\", input_shape: [1, 28, 28]}\n" DATA PROGRAM,
		   "mutorch.yml:1:", "'model.architecture' is for mutorch's built-in trainer");
	load_fails("model: {torchscript: m.pt, init: zeros}\n" DATA PROGRAM, "'model.init'",
		   "training.hyperparameters.init");
	load_fails("data:\n  train: {images: a, labels: b}\n  test: {images: c, labels: d}\n"
		   "  validation_split: 0.1\n" PROGRAM, "mutorch.yml:4:",
		   "expected it as 'training.hyperparameters.validation_split'");
	/* without a command the model is still required */
	load_fails(DATA "training: {epochs: 2}\n", "missing required key 'model'", NULL);
}
