/* The 'training', 'run', 'mutation' and 'ci' sections of mutorch.yml
 * (docs/config.md): how the model is trained, where a run writes, which
 * mutants to make and how to judge them, and what CI checks. One of the
 * section files that config.c's loader calls in turn; the YAML getters they
 * share are in yaml_get.c. */
#include "sections.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/recipe.h"
#include "yaml_get.h"

/* ---- training ------------------------------------------------------------ */

int cfg_load_optimizer(load_ctx *ctx, const yaml_node_t *parent, const char *prefix,
		       const char *key)
{
	static const char *const all_keys[] = { "name", "lr", "momentum", "dampening",
		"nesterov", "weight_decay", "beta1", "beta2", "betas", "eps", "alpha",
		"amsgrad", "lr_decay" };
	/* The keys each optimizer takes (torch.optim's arguments). */
	static const char *const applies[][9] = {
		[MT_OPTIM_SGD] = { "name", "lr", "momentum", "dampening", "nesterov",
			"weight_decay" },
		[MT_OPTIM_ADAM] = { "name", "lr", "beta1", "beta2", "betas", "eps",
			"weight_decay", "amsgrad" },
		[MT_OPTIM_ADAMW] = { "name", "lr", "beta1", "beta2", "betas", "eps",
			"weight_decay", "amsgrad" },
		[MT_OPTIM_RMSPROP] = { "name", "lr", "alpha", "eps", "weight_decay",
			"momentum" },
		[MT_OPTIM_ADAGRAD] = { "name", "lr", "lr_decay", "weight_decay", "eps" },
	};
	char P[KEY_MAX], full[KEY_MAX];
	mt_optim_config *o = &ctx->cfg->optim;
	size_t noptim;
	const char *const *optim_names = mt_optim_kind_names(&noptim);
	yaml_node_t *v = cfg_lookup(ctx, parent, key), *betas;
	yaml_node_pair_t *pair;
	int error, kind = MT_OPTIM_ADAM;

	cfg_join_key(P, prefix, key);
	if (!v)
		return 0;
	if (v->type == YAML_SCALAR_NODE) {
		/* Shorthand: `optimizer: sgd` takes all of PyTorch's defaults. */
		if ((error = cfg_get_enum(&kind, ctx, parent, prefix, key,
					  optim_names, noptim)) < 0)
			return error;
		mt_optim_config_defaults(o, (mt_optim_kind)kind);
		return 0;
	}
	if (v->type != YAML_MAPPING_NODE)
		return cfg_err_type(ctx, v, P, "an optimizer name or a mapping {name: ..., lr: ...}");
	if ((error = cfg_check_keys(ctx, v, P, all_keys, COUNT(all_keys))) < 0)
		return error;
	if (!cfg_lookup(ctx, v, "name")) {
		cfg_join_key(full, P, "name");
		return cfg_err_missing(ctx, full);
	}
	if ((error = cfg_get_enum(&kind, ctx, v, P, "name", optim_names, noptim)) < 0)
		return error;
	mt_optim_config_defaults(o, (mt_optim_kind)kind);

	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = cfg_node_at(ctx, pair->key);
		size_t i;
		int ok = 0;
		char list[256] = "";
		size_t used = 0;
		for (i = 0; i < 9 && applies[kind][i]; i++) {
			if (!strcmp(applies[kind][i], cfg_scalar_text(k)))
				ok = 1;
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 i ? ", " : "", applies[kind][i]);
		}
		if (!ok)
			return cfg_err_at(ctx, k,
					  "'%s.%s' does not apply to %s; expected one of: %s",
					  P, cfg_scalar_text(k), optim_names[kind], list);
	}

	if ((error = cfg_get_double(&o->lr, ctx, v, P, "lr", RANGE_POSITIVE)) < 0 ||
	    (error = cfg_get_double(&o->momentum, ctx, v, P, "momentum", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_double(&o->dampening, ctx, v, P, "dampening", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_bool(&o->nesterov, ctx, v, P, "nesterov")) < 0 ||
	    (error = cfg_get_double(&o->weight_decay, ctx, v, P, "weight_decay", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_double(&o->beta1, ctx, v, P, "beta1", RANGE_UNIT_OPEN)) < 0 ||
	    (error = cfg_get_double(&o->beta2, ctx, v, P, "beta2", RANGE_UNIT_OPEN)) < 0 ||
	    (error = cfg_get_double(&o->eps, ctx, v, P, "eps", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_double(&o->alpha, ctx, v, P, "alpha", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_bool(&o->amsgrad, ctx, v, P, "amsgrad")) < 0 ||
	    (error = cfg_get_double(&o->lr_decay, ctx, v, P, "lr_decay", RANGE_NONNEG)) < 0)
		return error;

	if ((betas = cfg_lookup(ctx, v, "betas"))) {
		const char *expected = "a list of two numbers in [0, 1), [beta1, beta2]";
		cfg_join_key(full, P, "betas");
		if (cfg_lookup(ctx, v, "beta1") || cfg_lookup(ctx, v, "beta2"))
			return cfg_err_at(ctx, betas,
					  "'%s' and 'beta1'/'beta2' set the same thing; expected only one of them",
					  full);
		if (betas->type != YAML_SEQUENCE_NODE ||
		    betas->data.sequence.items.top - betas->data.sequence.items.start != 2 ||
		    cfg_parse_double_node(&o->beta1, cfg_node_at(ctx, betas->data.sequence.items.start[0]),
					  RANGE_UNIT_OPEN) < 0 ||
		    cfg_parse_double_node(&o->beta2, cfg_node_at(ctx, betas->data.sequence.items.start[1]),
					  RANGE_UNIT_OPEN) < 0)
			return cfg_err_type(ctx, betas, full, expected);
	}
	if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
		return cfg_err_at(ctx, cfg_lookup(ctx, v, "nesterov"),
				  "'%s.nesterov' requires momentum > 0 and dampening 0 (as in PyTorch), got momentum %g, dampening %g",
				  P, o->momentum, o->dampening);
	return 0;
}

/* Every thread is a real OS thread in every worker: thousands of them only
 * thrash, so the bound is a small multiple of the CPUs, and a hard cap. */
static int check_threads(const load_ctx *ctx, const yaml_node_t *t)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long bound = MT_CONFIG_MAX_THREADS;

	if (cpus > 0 && cpus * MT_CONFIG_THREADS_PER_CPU < bound)
		bound = cpus * MT_CONFIG_THREADS_PER_CPU;
	if (ctx->cfg->threads <= bound)
		return 0;
	return cfg_err_at(ctx, cfg_lookup(ctx, t, "threads"),
			  "'training.threads' is %d, expected at most %ld (%d per CPU on "
			  "this machine's %ld CPUs, and never more than %d)",
			  ctx->cfg->threads, bound, MT_CONFIG_THREADS_PER_CPU, cpus,
			  MT_CONFIG_MAX_THREADS);
}

int cfg_load_training(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "optimizer", "loss", "epochs", "batch_size",
		"eval_batch_size", "seed", "threads", "grad_clip", "l1", "l2", "patience",
		"command", "program_files", "hyperparameters", "protocol" };
	const char *P = "training";
	mt_config *cfg = ctx->cfg;
	yaml_node_t *t;
	size_t nloss;
	const char *const *loss_names = mt_loss_kind_names(&nloss);
	int error, loss = (int)cfg->loss;

	if ((error = cfg_get_mapping(&t, ctx, root, NULL, "training", keys, COUNT(keys))) < 0)
		return error;
	if (!t)
		return 0;
	if ((error = cfg_load_optimizer(ctx, t, "training", "optimizer")) < 0 ||
	    (error = cfg_get_enum(&loss, ctx, t, P, "loss", loss_names, nloss)) < 0 ||
	    (error = cfg_get_int(&cfg->epochs, ctx, t, P, "epochs", 1)) < 0 ||
	    (error = cfg_get_int64(&cfg->batch_size, ctx, t, P, "batch_size", 1, INT64_MAX)) < 0 ||
	    (error = cfg_get_int64(&cfg->eval_batch_size, ctx, t, P, "eval_batch_size", 1,
				   INT64_MAX)) < 0 ||
	    (error = cfg_get_uint64(&cfg->seed, ctx, t, P, "seed")) < 0 ||
	    (error = cfg_get_int(&cfg->threads, ctx, t, P, "threads", 1)) < 0 ||
	    (error = cfg_get_double(&cfg->grad_clip, ctx, t, P, "grad_clip", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_double(&cfg->l1, ctx, t, P, "l1", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_double(&cfg->l2, ctx, t, P, "l2", RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_int(&cfg->patience, ctx, t, P, "patience", 0)) < 0 ||
	    (error = check_threads(ctx, t)) < 0)
		return error;
	cfg->loss = (mt_loss_kind)loss;
	return cfg_load_program(ctx, t);
}

/* ---- run ---------------------------------------------------------------- */

int cfg_load_run(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "dir" };
	yaml_node_t *run;
	int error;

	if ((error = cfg_get_mapping(&run, ctx, root, NULL, "run", keys, COUNT(keys))) < 0)
		return error;
	return cfg_get_path(&ctx->cfg->run_dir, ctx, run, "run", "dir", "mutorch.out");
}

/* ---- mutation ------------------------------------------------------------ */

/* A parameter value as written; a list of scalars joined with ','. */
static int param_value(char **out, const load_ctx *ctx, const yaml_node_t *v,
		       const char *key)
{
	yaml_node_item_t *item;
	size_t len = 1;

	if (v->type == YAML_SCALAR_NODE)
		return (*out = strdup(cfg_is_null(v) ? "" : cfg_scalar_text(v))) ? 0 : mt_error_oom();
	if (v->type != YAML_SEQUENCE_NODE)
		return cfg_err_type(ctx, v, key, "a value or a list of values");
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top; item++) {
		yaml_node_t *e = cfg_node_at(ctx, *item);
		if (e->type != YAML_SCALAR_NODE)
			return cfg_err_type(ctx, e, key, "a value or a list of values");
		len += strlen(cfg_scalar_text(e)) + 1;
	}
	if (!(*out = calloc(1, len)))
		return mt_error_oom();
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top; item++) {
		if (item > v->data.sequence.items.start)
			strcat(*out, ",");
		strcat(*out, cfg_scalar_text(cfg_node_at(ctx, *item)));
	}
	return 0;
}

static int load_mutation_list(mt_config_mutation **out, size_t *count, load_ctx *ctx,
			      const yaml_node_t *section, const char *name)
{
	char prefix[KEY_MAX];
	yaml_node_t *list = cfg_lookup(ctx, section, name);
	yaml_node_item_t *item;
	mt_config_mutation *entries;
	size_t n, i;
	int error;

	cfg_join_key(prefix, "mutation", name);
	if (!list)
		return 0;
	if (list->type != YAML_SEQUENCE_NODE)
		return cfg_err_type(ctx, list, prefix, "a list of {op: NAME, ...} entries");
	n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	if (n == 0)
		return 0;
	if (!(entries = calloc(n, sizeof(*entries))))
		return mt_error_oom();
	*out = entries;
	*count = n;

	for (i = 0, item = list->data.sequence.items.start; i < n; i++, item++) {
		yaml_node_t *e = cfg_node_at(ctx, *item), *op;
		mt_config_mutation *m = &entries[i];
		yaml_node_pair_t *pair, *other;
		char entry[KEY_MAX], full[KEY_MAX];
		size_t np;

		snprintf(entry, sizeof(entry), "%.200s[%zu]", prefix, i);
		m->line = cfg_line_of(e);
		if (e->type != YAML_MAPPING_NODE)
			return cfg_err_type(ctx, e, entry, "a mapping {op: NAME, ...}");
		cfg_join_key(full, entry, "op");
		op = cfg_lookup(ctx, e, "op");
		if (!op)
			return cfg_err_at(ctx, e, "missing required key '%s' (the operator name)", full);
		if (op->type != YAML_SCALAR_NODE)
			return cfg_err_type(ctx, op, full, "an operator name");
		if (!(m->op = strdup(cfg_scalar_text(op))))
			return mt_error_oom();

		np = (size_t)(e->data.mapping.pairs.top - e->data.mapping.pairs.start) - 1;
		if (np && !(m->params = calloc(np, sizeof(*m->params))))
			return mt_error_oom();
		for (pair = e->data.mapping.pairs.start; pair < e->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = cfg_node_at(ctx, pair->key);
			mt_config_param *p;
			if (k->type != YAML_SCALAR_NODE)
				return cfg_err_at(ctx, k, "keys under '%s' must be plain strings", entry);
			cfg_join_key(full, entry, cfg_scalar_text(k));
			for (other = e->data.mapping.pairs.start; other < pair; other++)
				if (!strcmp(cfg_scalar_text(cfg_node_at(ctx, other->key)), cfg_scalar_text(k)))
					return cfg_err_at(ctx, k, "duplicate key '%s' (first at line %d)",
							  full, cfg_line_of(cfg_node_at(ctx, other->key)));
			if (!strcmp(cfg_scalar_text(k), "op"))
				continue;
			p = &m->params[m->nparams];
			p->line = cfg_line_of(k);
			if (!(p->key = strdup(cfg_scalar_text(k))))
				return mt_error_oom();
			m->nparams++;
			if ((error = param_value(&p->value, ctx, cfg_node_at(ctx, pair->value),
						 full)) < 0)
				return error;
		}
	}
	return 0;
}

static int load_mutation_source(load_ctx *ctx, const yaml_node_t *mutation)
{
	static const char *const keys[] = { "runs", "rule", "alpha", "effect_size",
		"correction", "sequential", "max_runs", "timeout" };
	static const char *const rules[] = { "deepcrime", "welch", "mannwhitney", "fisher" };
	static const char *const corrections[] = { "none", "holm", "bh" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *s;
	int error;

	if ((error = cfg_get_mapping(&s, ctx, mutation, "mutation", "source", keys, COUNT(keys))) < 0)
		return error;
	if (!s)
		return 0;
	if ((error = cfg_get_int(&cfg->src_runs, ctx, s, "mutation.source", "runs", 2)) < 0 ||
	    (error = cfg_get_enum(&cfg->src_rule, ctx, s, "mutation.source", "rule", rules,
				  COUNT(rules))) < 0 ||
	    (error = cfg_get_double(&cfg->src_alpha, ctx, s, "mutation.source", "alpha",
				    RANGE_UNIT_OPEN)) < 0 ||
	    (error = cfg_get_double(&cfg->src_effect, ctx, s, "mutation.source", "effect_size",
				    RANGE_NONNEG)) < 0 ||
	    (error = cfg_get_enum(&cfg->src_correction, ctx, s, "mutation.source", "correction",
				  corrections, COUNT(corrections))) < 0 ||
	    (error = cfg_get_bool(&cfg->src_sequential, ctx, s, "mutation.source", "sequential")) < 0 ||
	    (error = cfg_get_int(&cfg->src_max_runs, ctx, s, "mutation.source", "max_runs", 4)) < 0 ||
	    (error = cfg_get_double(&cfg->src_timeout, ctx, s, "mutation.source", "timeout",
				    RANGE_NONNEG)) < 0)
		return error;
	if (cfg->src_alpha <= 0)
		return cfg_err_at(ctx, cfg_lookup(ctx, s, "alpha"), "'mutation.source.alpha' must be in (0, 1), got 0");
	return 0;
}

int cfg_load_mutation(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "seed", "accuracy_filter", "model_level",
		"source_level", "source" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *m;
	int error;

	if ((error = cfg_get_mapping(&m, ctx, root, NULL, "mutation", keys, COUNT(keys))) < 0)
		return error;
	if (!m)
		return 0;
	if ((error = cfg_get_uint64(&cfg->mutation_seed, ctx, m, "mutation", "seed")) < 0 ||
	    (error = cfg_get_double(&cfg->accuracy_filter, ctx, m, "mutation", "accuracy_filter",
				    RANGE_UNIT)) < 0 ||
	    (error = load_mutation_list(&cfg->model_level, &cfg->nmodel_level, ctx, m,
					"model_level")) < 0 ||
	    (error = load_mutation_list(&cfg->source_level, &cfg->nsource_level, ctx, m,
					"source_level")) < 0 ||
	    (error = load_mutation_source(ctx, m)) < 0)
		return error;
	return 0;
}

/* ---- ci ------------------------------------------------------------------ */

int cfg_load_ci(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "score", "threshold", "tolerance", "base" };
	static const char *const scores[] = { "mutation_score", "deepmutation_score",
		"average_error_rate", "source_mutation_score" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *ci, *node;
	char list[256];
	size_t i;
	int error;

	if ((error = cfg_get_mapping(&ci, ctx, root, NULL, "ci", keys, COUNT(keys))) < 0)
		return error;
	if (!ci)
		return 0;
	if ((error = cfg_get_string(&cfg->ci_score, &node, ctx, ci, "ci", "score")) < 0 ||
	    (error = cfg_get_double(&cfg->ci_threshold, ctx, ci, "ci", "threshold", RANGE_UNIT)) < 0 ||
	    (error = cfg_get_double(&cfg->ci_tolerance, ctx, ci, "ci", "tolerance", RANGE_UNIT)) < 0 ||
	    (error = cfg_get_string(&cfg->ci_base, NULL, ctx, ci, "ci", "base")) < 0)
		return error;
	if (cfg->ci_score) {
		for (i = 0; i < COUNT(scores); i++)
			if (!strcmp(cfg->ci_score, scores[i]))
				return 0;
		cfg_list_names(list, sizeof(list), scores, COUNT(scores));
		return cfg_err_at(ctx, node, "'ci.score' is '%s'; expected one of: %s", cfg->ci_score, list);
	}
	return 0;
}
