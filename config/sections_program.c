/* training.command and its keys (docs/training-programs.md): the user's
 * own training program, which mutorch drives through a JSON spec instead of
 * training with its built-in loop. The knobs the program declares under
 * training.hyperparameters are read into the recipe fields the program
 * operators already change (optim, epochs, ...), and `knobs` records which
 * were declared, so an operator whose knob is missing can be refused. */
#include "sections.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/recipe.h"
#include "yaml_get.h"

/* Indexed by bit position: MT_KNOB_LR is 1u << 0, ... */
static const char *const knob_names[MT_KNOB_COUNT] = { "lr", "batch_size", "epochs",
	"optimizer", "loss", "l1", "l2", "grad_clip", "dropout", "patience",
	"validation_split", "init" };

/* The built-in trainer's recipe keys: next to a command they would
 * silently do nothing. */
static const char *const builtin_keys[] = { "optimizer", "loss", "epochs", "batch_size",
	"grad_clip", "l1", "l2", "patience" };

/* The keys that only make sense with a command. */
static const char *const program_keys[] = { "program_files", "hyperparameters", "protocol" };

const char *mt_knob_name(int i)
{
	return i >= 0 && i < MT_KNOB_COUNT ? knob_names[i] : NULL;
}

int cfg_has_command(const load_ctx *ctx, const yaml_node_t *root)
{
	const yaml_node_t *t = cfg_lookup(ctx, root, "training");
	/* a program key without the command is the user's own program too,
	 * so the error names the command, not the model */
	for (size_t i = 0; i < COUNT(program_keys); i++)
		if (cfg_lookup(ctx, t, program_keys[i]))
			return 1;
	return cfg_lookup(ctx, t, "command") != NULL;
}

/* A list of non-empty strings (or, when one_ok, a single string) into a
 * malloc'd array; paths are resolved against the config's directory. */
static int load_strings(char ***out, size_t *count, const load_ctx *ctx, const yaml_node_t *v,
			const char *key, const char *expected, int one_ok, int paths)
{
	const yaml_node_item_t *item;
	size_t n = 0;

	if (v->type == YAML_SCALAR_NODE && one_ok && *cfg_scalar_text(v)) {
		n = 1;
	} else if (v->type == YAML_SEQUENCE_NODE) {
		n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		for (item = v->data.sequence.items.start; item < v->data.sequence.items.top; item++) {
			const yaml_node_t *e = cfg_node_at(ctx, *item);
			if (e->type != YAML_SCALAR_NODE || !*cfg_scalar_text(e))
				return cfg_err_type(ctx, e, key, expected);
		}
	}
	if (n == 0)
		return cfg_err_type(ctx, v, key, expected);
	if (!(*out = calloc(n, sizeof(char *))))
		return mt_error_oom();
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *e = v->type == YAML_SCALAR_NODE ? v
				       : cfg_node_at(ctx, v->data.sequence.items.start[i]);
		const char *text = cfg_scalar_text(e);
		(*out)[i] = paths ? mt_io_path_join(ctx->base_dir, text) : strdup(text);
		if (!(*out)[i])
			return mt_error_oom();
		*count = i + 1;
	}
	return 0;
}

/* training.hyperparameters: every knob the program declares, typed and
 * range-checked as the built-in trainer's key of the same meaning. */
static int load_knobs(load_ctx *ctx, const yaml_node_t *t)
{
	const char *P = "training.hyperparameters";
	mt_config *cfg = ctx->cfg;
	yaml_node_t *h, *opt, *lr;
	size_t nloss, ninit;
	const char *const *loss_names = mt_loss_kind_names(&nloss);
	const char *const *init_names = mt_init_kind_names(&ninit);
	int error, loss = (int)cfg->loss, init = (int)cfg->init;

	if ((error = cfg_get_mapping(&h, ctx, t, "training", "hyperparameters", knob_names,
				     MT_KNOB_COUNT)) < 0 || !h)
		return error;
	opt = cfg_lookup(ctx, h, "optimizer");
	lr = cfg_lookup(ctx, h, "lr");
	if (opt && lr && opt->type == YAML_MAPPING_NODE && cfg_lookup(ctx, opt, "lr"))
		return cfg_err_at(ctx, lr,
				  "'%s.lr' and '%s.optimizer.lr' both set the learning rate; expected only one of them",
				  P, P);
	/* the optimizer first: its defaults include an lr that the lr knob
	 * then overrides */
	if ((error = cfg_load_optimizer(ctx, h, P, "optimizer")) < 0 ||
	    (error = cfg_get_double(&cfg->optim.lr, ctx, h, P, "lr", RANGE_POSITIVE)) < 0 ||
	    (error = cfg_get_int64(&cfg->batch_size, ctx, h, P, "batch_size", 1, INT64_MAX)) < 0 ||
	    (error = cfg_get_int(&cfg->epochs, ctx, h, P, "epochs", 1)) < 0 ||
	    (error = cfg_get_enum(&loss, ctx, h, P, "loss", loss_names, nloss)) < 0 ||
	    (error = cfg_get_double(&cfg->l1, ctx, h, P, "l1", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_double(&cfg->l2, ctx, h, P, "l2", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_double(&cfg->grad_clip, ctx, h, P, "grad_clip", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_double(&cfg->dropout, ctx, h, P, "dropout", RANGE_UNIT_OPEN)) < 0 ||
	    (error = cfg_get_int(&cfg->patience, ctx, h, P, "patience", 0)) < 0 ||
	    (error = cfg_get_double(&cfg->validation_split, ctx, h, P, "validation_split",
				    RANGE_UNIT_OPEN)) < 0 ||
	    (error = cfg_get_enum(&init, ctx, h, P, "init", init_names, ninit)) < 0)
		return error;
	cfg->loss = (mt_loss_kind)loss;
	cfg->init = (mt_init_kind)init;
	for (int i = 0; i < MT_KNOB_COUNT; i++)
		if (cfg_lookup(ctx, h, knob_names[i]))
			cfg->knobs |= 1u << i;
	return 0;
}

int cfg_load_program(load_ctx *ctx, const yaml_node_t *t)
{
	mt_config *cfg = ctx->cfg;
	yaml_node_t *command = cfg_lookup(ctx, t, "command"), *files, *v;
	int64_t protocol = MT_PROTOCOL_VERSION;
	int error;

	if (!command) {
		for (size_t i = 0; i < COUNT(program_keys); i++)
			if ((v = cfg_lookup(ctx, t, program_keys[i])))
				return cfg_err_at(ctx, v,
						  "'training.%s' describes your own training program, but 'training.command' is missing; expected the command that runs it, e.g. [python3, train.py]",
						  program_keys[i]);
		return 0;
	}
	for (size_t i = 0; i < COUNT(builtin_keys); i++)
		if ((v = cfg_lookup(ctx, t, builtin_keys[i])))
			return cfg_err_at(ctx, v,
					  "'training.%s' is a setting of mutorch's built-in trainer, but 'training.command' runs your own program; expected it under 'training.hyperparameters' when the program reads it",
					  builtin_keys[i]);
	if ((error = load_strings(&cfg->command, &cfg->ncommand, ctx, command, "training.command",
				  "a list of strings [program, argument, ...]", 0, 0)) < 0)
		return error;
	if (!(files = cfg_lookup(ctx, t, "program_files")))
		return cfg_err_at(ctx, command,
				  "missing required key 'training.program_files' (the files that make up the training program, e.g. [train.py]; their content is part of every cache key)");
	if ((error = load_strings(&cfg->program_files, &cfg->nprogram_files, ctx, files,
				  "training.program_files", "a path or a list of paths", 1, 1)) < 0)
		return error;
	if ((error = cfg_get_int64(&protocol, ctx, t, "training", "protocol", 1, INT64_MAX)) < 0)
		return error;
	if (protocol != MT_PROTOCOL_VERSION)
		return cfg_err_at(ctx, cfg_lookup(ctx, t, "protocol"),
				  "'training.protocol' is %lld, but this mutorch speaks version %d of the training-program protocol; expected %d",
				  (long long)protocol, MT_PROTOCOL_VERSION, MT_PROTOCOL_VERSION);
	cfg->protocol = (int)protocol;
	return load_knobs(ctx, t);
}
