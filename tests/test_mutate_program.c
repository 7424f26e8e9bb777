/* Source-level operators and planning on the user's own training program
 * (training.command): each program operator changes the knob it maps to,
 * one whose knob is not declared (and every architecture operator) is
 * refused by mt_source_apply and is an error at planning time naming the
 * missing training.hyperparameters key, data operators apply as always,
 * and the recipe text (cache keys, telling mutants apart) holds the
 * command and the declared knobs only. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/plan.h"
#include "mutorch/recipe.h"
#include "mutorch/source.h"
#include "mutorch/source_plan.h"

#define DATA \
	"data:\n" \
	"  format: npy\n" \
	"  classes: 3\n" \
	"  train: {x: x.npy, y: y.npy}\n" \
	"  test: {x: x.npy, y: y.npy}\n"

/* every knob but l1, dropout and init */
static const char *const yaml_program =
	DATA
	"training:\n"
	"  command: [python3, train.py]\n"
	"  program_files: [train.py]\n"
	"  hyperparameters:\n"
	"    optimizer: adam\n"
	"    lr: 0.01\n"
	"    batch_size: 4\n"
	"    epochs: 6\n"
	"    loss: cross_entropy\n"
	"    l2: 0.001\n"
	"    grad_clip: 0\n"
	"    patience: 2\n"
	"    validation_split: 0.2\n";

static const int64_t labels10[10] = { 0, 1, 0, 2, 0, 1, 0, 2, 1, 0 };

static mt_config *load(const char *yaml)
{
	mt_config *cfg = NULL;
	cr_assert_eq(mt_config_load_buffer(&cfg, yaml, strlen(yaml), "mutorch.yml", "/base"), 0,
		     "%s", mt_error_last());
	return cfg;
}

static mt_dataset *dataset10(void)
{
	uint8_t px[10 * 64];
	int64_t shape[3] = { 1, 8, 8 };
	mt_dataset *ds = NULL;
	for (int i = 0; i < 10 * 64; i++)
		px[i] = (uint8_t)((i * 37) % 256);
	cr_assert_eq(mt_dataset_new(&ds, "train10", MT_PIXELS_U8, px, labels10, 10, shape, 3), 0,
		     "%s", mt_error_last());
	return ds;
}

static mt_source_mutant *apply1(const mt_config *cfg, const mt_dataset *ds, const char *op,
				const char *key, const char *value)
{
	mt_config_param p = { (char *)key, (char *)value, 0 };
	mt_source_mutant *mu = NULL;
	cr_assert_eq(mt_source_apply(&mu, cfg, ds, op, key ? &p : NULL, key ? 1 : 0, 3), 0, "%s: %s", op,
		     mt_error_last());
	return mu;
}

static mt_source_mutant *applies(const mt_config *cfg, const mt_dataset *ds, const char *op,
				 const char *key, const char *value)
{
	mt_source_mutant *mu = apply1(cfg, ds, op, key, value);
	cr_assert_eq(mu->not_applicable, 0, "%s: %s", op, mu->reason);
	return mu;
}

static void refused(const mt_config *cfg, const mt_dataset *ds, const char *op, const char *key,
		    const char *value, const char *why)
{
	mt_source_mutant *mu = apply1(cfg, ds, op, key, value);
	cr_assert_eq(mu->not_applicable, 1, "%s should be refused (%s)", op, why);
	cr_assert(th_contains(mu->reason, why), "%s: '%s' lacks '%s'", op, mu->reason, why);
	mt_source_mutant_free(mu);
}

Test(mutate_program, program_operators_change_their_knobs)
{
	mt_config *cfg = load(yaml_program);
	mt_dataset *ds = dataset10();
	mt_source_mutant *mu;

	mu = applies(cfg, ds, "HLR", "factor", "0.1");
	cr_assert_float_eq(mu->config->optim.lr, 0.001, 1e-15);
	mt_source_mutant_free(mu);
	mu = applies(cfg, ds, "HBS", "value", "16");
	cr_assert_eq(mu->config->batch_size, 16);
	mt_source_mutant_free(mu);
	mu = applies(cfg, ds, "HDB", NULL, NULL);
	cr_assert_eq(mu->config->batch_size, 10, "the whole training set");
	mt_source_mutant_free(mu);
	mu = applies(cfg, ds, "HNE", "value", "1");
	cr_assert_eq(mu->config->epochs, 1);
	mt_source_mutant_free(mu);
	mu = applies(cfg, ds, "OCH", "optimizer", "sgd");
	cr_assert_eq(mu->config->optim.kind, MT_OPTIM_SGD);
	mt_source_mutant_free(mu);
	mu = applies(cfg, ds, "LCH", "loss", "mse");
	cr_assert_eq(mu->config->loss, MT_LOSS_MSE);
	mt_source_mutant_free(mu);
	mu = applies(cfg, ds, "RRW", "penalty", "l2");
	cr_assert_float_eq(mu->config->l2, 0, 0);
	mt_source_mutant_free(mu);
	mu = applies(cfg, ds, "OCG", "value", "1");
	cr_assert_float_eq(mu->config->grad_clip, 1, 0);
	mt_source_mutant_free(mu);
	mu = applies(cfg, ds, "RCP", "value", "5");
	cr_assert_eq(mu->config->patience, 5);
	mt_source_mutant_free(mu);
	mu = applies(cfg, ds, "VRM", NULL, NULL);
	cr_assert_float_eq(mu->config->validation_split, 0, 0);
	mt_source_mutant_free(mu);
	/* data operators apply as with the built-in trainer */
	mu = applies(cfg, ds, "LE", "ratio", "0.3");
	cr_assert(mu->is_data && mu->labels);
	mt_source_mutant_free(mu);
	/* an equal configuration is still no mutant */
	refused(cfg, ds, "HLR", "factor", "1", "would stay");
	mt_dataset_free(ds);
	mt_config_free(cfg);
}

Test(mutate_program, undeclared_knobs_and_the_architecture_are_refused)
{
	mt_config *cfg = load(yaml_program);
	mt_dataset *ds = dataset10();

	refused(cfg, ds, "RAW", "penalty", "l1", "does not declare 'training.hyperparameters.l1'");
	refused(cfg, ds, "RCW", NULL, NULL, "'training.hyperparameters.l1'");
	refused(cfg, ds, "WCI", "init", "zeros", "'training.hyperparameters.init'");
	refused(cfg, ds, "RCD", "rate", "0.1", "'training.hyperparameters.dropout'");
	refused(cfg, ds, "ACH", "layer", "1", "defines the model");
	refused(cfg, ds, "AFRs", "layer", "1", "defines the model");
	refused(cfg, ds, "WRB", "layer", "0", "defines the model");

	/* at planning time, the same is an error naming the key */
	mt_config_param pen = { "penalty", "l1", 0 };
	cr_assert_eq(mt_source_check_program(cfg, "RAW", &pen, 1), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "training.hyperparameters.l1") &&
		  th_contains(mt_error_last(), "RAW"), "%s", mt_error_last());
	cr_assert_eq(mt_source_check_program(cfg, "RCW", NULL, 0), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "'training.hyperparameters.l1'") &&
		  !th_contains(mt_error_last(), "hyperparameters.l2'"), "only the missing one: %s",
		  mt_error_last());
	cr_assert_eq(mt_source_check_program(cfg, "ACH", NULL, 0), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "model.architecture"), "%s", mt_error_last());
	cr_assert_eq(mt_source_check_program(cfg, "HLR", NULL, 0), 0);
	cr_assert_eq(mt_source_check_program(cfg, "RAW", NULL, 0), 0, "l2 is declared: one will do");
	cr_assert_eq(mt_source_check_program(cfg, "DR", NULL, 0), 0, "data operators need no knob");
	mt_dataset_free(ds);
	mt_config_free(cfg);

	/* without an lr knob, HLR needs the optimizer's */
	cfg = load(DATA "training:\n  command: [t]\n  program_files: [t]\n  hyperparameters: {epochs: 2}\n");
	cr_assert_eq(mt_source_check_program(cfg, "HLR", NULL, 0), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "'training.hyperparameters.lr' or 'training.hyperparameters.optimizer'"),
		  "%s", mt_error_last());
	mt_config_free(cfg);
	cfg = load(DATA "training:\n  command: [t]\n  program_files: [t]\n  hyperparameters: {optimizer: sgd}\n");
	cr_assert_eq(mt_source_check_program(cfg, "HLR", NULL, 0), 0);
	mt_config_free(cfg);

	/* the built-in trainer checks nothing here */
	cfg = load("model: {torchscript: m.pt}\n" DATA);
	cr_assert_eq(mt_source_check_program(cfg, "RAW", &pen, 1), 0);
	mt_config_free(cfg);
}

Test(mutate_program, dropout_knob_and_init)
{
	mt_config *cfg = load(DATA "training:\n  command: [t]\n  program_files: [t]\n"
			      "  hyperparameters: {dropout: 0.4, init: default}\n");
	mt_source_mutant *mu;

	mu = applies(cfg, NULL, "RCD", NULL, NULL);
	cr_assert_float_eq(mu->config->dropout, 0.2, 1e-15, "half the rate by default");
	cr_assert_str_eq(mu->params, "RCD rate=0.2", "no layer: %s", mu->params);
	mt_source_mutant_free(mu);
	mu = applies(cfg, NULL, "RCD", "rate", "0.1");
	cr_assert_float_eq(mu->config->dropout, 0.1, 0);
	mt_source_mutant_free(mu);
	refused(cfg, NULL, "RCD", "rate", "0.4", "already 0.4");
	mt_source_mutant *bad = NULL;
	mt_config_param p = { "layer", "3", 0 };
	cr_assert_eq(mt_source_apply(&bad, cfg, NULL, "RCD", &p, 1, 1), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "one dropout rate"), "%s", mt_error_last());
	mu = applies(cfg, NULL, "WCI", "init", "zeros");
	cr_assert_eq(mu->config->init, MT_INIT_ZEROS);
	mt_source_mutant_free(mu);

	/* the planner lists the other initialisers, and no layers */
	mt_source_variant *v = NULL;
	size_t n = 0;
	char why[MT_OP_REASON_MAX];
	cr_assert_eq(mt_source_plan_targets(&v, &n, cfg, NULL, "WCI", NULL, 0, why), 0, "%s", mt_error_last());
	cr_assert_eq(n, 7, "every initialiser but default: %zu (%s)", n, why);
	mt_source_variants_free(v, n);
	cr_assert_eq(mt_source_plan_targets(&v, &n, cfg, NULL, "RCD", NULL, 0, why), 0, "%s", mt_error_last());
	cr_assert_eq(n, 1, "one dropout knob: %zu (%s)", n, why);
	mt_source_variants_free(v, n);
	mt_config_free(cfg);
}

Test(mutate_program, planning_refuses_an_entry_that_cannot_mutate_the_program)
{
	mt_dataset *ds = dataset10();
	char yaml[4096];
	mt_config *cfg;
	mt_plan *plan = NULL;

	snprintf(yaml, sizeof(yaml), "%s"
		 "mutation:\n"
		 "  source_level:\n"
		 "    - {op: LE, ratio: 0.3}\n"
		 "    - {op: RAW}\n"          /* expands to l2 only: l1 is not declared */
		 "    - {op: HLR, factor: 0.1}\n", yaml_program);
	cfg = load(yaml);
	cr_assert_eq(mt_source_plan(&plan, cfg, ds), 0, "%s", mt_error_last());
	cr_assert_eq(mt_plan_count(plan), 2, "LE and HLR (RAW: l2 is already set)");
	mt_plan_free(plan);
	mt_config_free(cfg);

	snprintf(yaml, sizeof(yaml), "%s"
		 "mutation:\n"
		 "  source_level:\n"
		 "    - {op: LE, ratio: 0.3}\n"
		 "    - {op: WCI, init: zeros}\n", yaml_program);
	cfg = load(yaml);
	cr_assert_eq(mt_source_plan(&plan, cfg, ds), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "mutorch.yml:22: mutation.source_level[1]") &&
		  th_contains(mt_error_last(), "'training.hyperparameters.init'"), "%s", mt_error_last());
	cr_assert_null(plan);
	mt_config_free(cfg);
	mt_dataset_free(ds);
}

Test(mutate_program, recipe_text_holds_the_command_and_declared_knobs)
{
	mt_config *a = load(yaml_program), *b = load(yaml_program);
	char *ta = NULL, *tb = NULL;

	cr_assert_eq(mt_source_recipe_text(&ta, a), 0);
	cr_assert(th_contains(ta, "command=[7:python3,8:train.py]") && th_contains(ta, "lr=0.01") &&
		  th_contains(ta, "batch_size=4") && th_contains(ta, "optimizer=adam,"), "%s", ta);
	cr_assert(!th_contains(ta, "dropout=") && !th_contains(ta, "init="), "undeclared knobs: %s", ta);
	/* an undeclared field never tells recipes apart; a declared one does */
	b->dropout = 0.7;
	b->init = MT_INIT_ZEROS;
	cr_assert_eq(mt_source_recipe_text(&tb, b), 0);
	cr_assert_str_eq(ta, tb);
	free(tb);
	b->epochs = 7;
	cr_assert_eq(mt_source_recipe_text(&tb, b), 0);
	cr_assert_str_neq(ta, tb);
	free(tb);
	free(b->command[1]);
	b->command[1] = strdup("other.py");
	b->epochs = a->epochs;
	cr_assert_eq(mt_source_recipe_text(&tb, b), 0);
	cr_assert_str_neq(ta, tb, "the command is part of the recipe");
	free(ta);
	free(tb);
	mt_config_free(a);
	mt_config_free(b);
}
