/* Mutant planning: see plan.h for the rules. Ids and seeds depend only on
 * the entry, the target and the mutant's number, so plans are stable. */
#include "mutorch/plan.h"
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/operators.h"
#include "mutorch/hash.h"
#include "mutorch/rng.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mt_plan {
	mt_mutant_desc *items;
	size_t n, cap;
	char digest[17];
};

static const char *const planner_keys[] = {"mutants", "layers", "sites", NULL};

static void desc_dispose(mt_mutant_desc *d)
{
	free(d->id);
	free(d->op);
	free(d->target);
	free(d->params);
}

void mt_plan_free(mt_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n; i++)
		desc_dispose(&plan->items[i]);
	free(plan->items);
	free(plan);
}

size_t mt_plan_count(const mt_plan *plan) { return plan ? plan->n : 0; }

const mt_mutant_desc *mt_plan_at(const mt_plan *plan, size_t i)
{
	return plan && i < plan->n ? &plan->items[i] : NULL;
}

int mt_plan_find(size_t *index, const mt_plan *plan, const char *id)
{
	for (size_t i = 0; i < plan->n; i++)
		if (!strcmp(plan->items[i].id, id)) {
			*index = i;
			return 0;
		}
	return mt_error_set(MT_ENOTFOUND, "no mutant with id '%s' in the plan", id);
}

const char *mt_plan_digest(const mt_plan *plan) { return plan->digest; }

static void compute_digest(mt_plan *plan)
{
	uint64_t h = MT_FNV1A64_INIT;
	for (size_t i = 0; i < plan->n; i++) {
		const mt_mutant_desc *d = &plan->items[i];
		h = mt_fnv1a64(d->id, strlen(d->id) + 1, h);
		h = mt_fnv1a64(d->params, strlen(d->params) + 1, h);
		h = mt_fnv1a64(&d->seed, sizeof(d->seed), h);
	}
	snprintf(plan->digest, sizeof(plan->digest), "%016llx", (unsigned long long)h);
}

static int plan_push(mt_plan *plan, const char *id, const char *op, const char *target,
		     const char *params, uint64_t seed, size_t entry)
{
	mt_mutant_desc *d;
	if (plan->n == plan->cap) {
		size_t cap = plan->cap ? plan->cap * 2 : 64;
		mt_mutant_desc *items = realloc(plan->items, cap * sizeof(*items));
		if (!items)
			return mt_error_oom();
		plan->items = items;
		plan->cap = cap;
	}
	d = &plan->items[plan->n];
	memset(d, 0, sizeof(*d));
	d->id = strdup(id);
	d->op = strdup(op);
	d->target = strdup(target);
	d->params = strdup(params ? params : "");
	d->seed = seed;
	d->entry = entry;
	if (!d->id || !d->op || !d->target || !d->params) {
		desc_dispose(d);
		return mt_error_oom();
	}
	plan->n++;
	return 0;
}

int mt_plan_new(mt_plan **out)
{
	if (!(*out = calloc(1, sizeof(**out))))
		return mt_error_oom();
	return 0;
}

int mt_plan_append(mt_plan *plan, const char *id, const char *op, const char *target,
		   const char *params, uint64_t seed, size_t entry)
{
	size_t dummy;
	if (plan->n && mt_plan_find(&dummy, plan, id) == 0)
		return mt_error_set(MT_EINVALID, "mutant id '%s' is planned twice", id);
	mt_error_clear();
	return plan_push(plan, id, op, target, params, seed, entry);
}

void mt_plan_finish(mt_plan *plan) { compute_digest(plan); }

static const char *entry_value(const mt_config_mutation *m, const char *key, int *line)
{
	for (size_t i = 0; i < m->nparams; i++)
		if (!strcmp(m->params[i].key, key)) {
			if (line)
				*line = m->params[i].line;
			return m->params[i].value;
		}
	return NULL;
}

/* Split "a,b,c" into a NULL-terminated array of trimmed strings. */
static char **split_list(const char *s, size_t *count)
{
	size_t n = 1, k = 0;
	char **out, *copy, *tok, *save = NULL;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	if (!(out = calloc(n + 1, sizeof(char *))) || !(copy = strdup(s))) {
		free(out);
		return NULL;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t len = strlen(tok);
		while (len && tok[len - 1] == ' ')
			tok[--len] = '\0';
		if (len)
			out[k++] = strdup(tok);
	}
	free(copy);
	*count = k;
	return out;
}

static void free_list(char **list)
{
	if (!list)
		return;
	for (size_t i = 0; list[i]; i++)
		free(list[i]);
	free(list);
}

/* Operators that draw no random numbers: a second mutant of the same
 * target and parameters would be the same mutant. */
static int op_is_deterministic(const char *op)
{
	const mt_operator *o = mt_operator_find(op);
	return o && o->kind != MT_OP_KIND_GRAPH && o->deterministic;
}

static int op_count_in_config(const mt_config *cfg, const char *op)
{
	int n = 0;
	for (size_t i = 0; i < cfg->nmodel_level; i++)
		n += !strcmp(cfg->model_level[i].op, op);
	return n;
}

/* One mutant: set target and seed on a copy of the entry's args, format. */
static int plan_one(mt_plan *plan, const mt_config *cfg, const mt_plan_model *model,
		    const mt_op_args *base, const char *op_label, const char *op,
		    const char *target, int is_graph, int k, size_t entry, int line)
{
	mt_op_args args;
	char id[512], *params = NULL;
	int error;

	memset(&args, 0, sizeof(args));
	if (k >= 0)
		snprintf(id, sizeof(id), "%s-%s-%03d", op_label, target, k);
	else
		snprintf(id, sizeof(id), "%s-%s", op_label, target);
	if ((error = mt_op_args_copy(&args, base)) < 0)
		return error;
	if (is_graph)
		error = mt_op_args_set(&args, "site", target);
	else if (!strcmp(target, "all"))
		error = mt_op_args_set(&args, "layers", "all");
	else
		error = mt_op_args_set(&args, "layer", target);
	if (error < 0)
		goto cleanup;
	args.seed = mt_rng_seed_for_id(cfg->mutation_seed, id);
	/* The model checks what it can only know itself: the layer's kind,
	 * its gates and states, the time steps it sees. */
	if (!is_graph && model->check && (error = model->check(model->ctx, &args)) < 0) {
		mt_error_prefix("%s:%d: mutation.model_level[%zu] (%s): ", cfg->path, line, entry, op);
		goto cleanup;
	}
	if ((error = mt_op_args_format(&params, &args)) < 0)
		goto cleanup;
	error = plan_push(plan, id, op, target, params, args.seed, entry);
cleanup:
	free(params);
	mt_op_args_dispose(&args);
	return error;
}

/* A configured site where the operator does not apply: why, and what
 * would be valid (the model explains; the planner adds the config line). */
static int site_error(const mt_config *cfg, int line, size_t e, const char *op,
		      const mt_plan_model *model, const char *site)
{
	char why[1536] = "";
	int code = MT_EINVALID;
	if (model->explain_site) {
		code = model->explain_site(model->ctx, op, site, why, sizeof(why));
		if (code == 0) /* the model says it applies: the lists disagree */
			code = MT_ERROR;
		if (!why[0])
			snprintf(why, sizeof(why), "%s", mt_error_last());
	} else {
		snprintf(why, sizeof(why), "'%s' is not a site where %s applies", site, op);
	}
	return mt_error_set(code, "%s:%d: mutation.model_level[%zu] (%s): %s", cfg->path, line, e, op, why);
}

static int has_name(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

int mt_plan_model_level(mt_plan **out, const mt_config *cfg, const mt_plan_model *model)
{
	mt_plan *plan = calloc(1, sizeof(*plan));
	int error = 0;

	*out = NULL;
	if (!plan)
		return mt_error_oom();
	for (size_t e = 0; e < cfg->nmodel_level; e++) {
		const mt_config_mutation *m = &cfg->model_level[e];
		const mt_operator *op = mt_operator_find(m->op);
		const char *v;
		char label[64], **targets = NULL;
		size_t ntargets = 0;
		int line = m->line, mutants = 10, is_graph;
		mt_op_args base;

		if (!op) {
			error = mt_error_set(MT_EINVALID, "%s:%d: mutation.model_level[%zu]: unknown operator '%s' (see `mutorch operators`)",
					     cfg->path, m->line, e, m->op);
			goto fail;
		}
		if (op->level != MT_OP_LEVEL_MODEL) {
			error = mt_error_set(MT_EINVALID, "%s:%d: mutation.model_level[%zu]: '%s' is a source-level operator",
					     cfg->path, m->line, e, m->op);
			goto fail;
		}
		is_graph = op->kind == MT_OP_KIND_GRAPH;
		memset(&base, 0, sizeof(base));
		if ((error = mt_op_args_from_config(&base, m, planner_keys)) < 0) {
			mt_error_prefix("%s: mutation.model_level[%zu] (%s): ", cfg->path, e, m->op);
			goto fail;
		}
		if ((v = entry_value(m, "mutants", &line))) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 100000) {
				mt_op_args_dispose(&base);
				error = mt_error_set(MT_EINVALID, "%s:%d: mutation.model_level[%zu] (%s): 'mutants' must be an integer in [1, 100000], got '%s'",
						     cfg->path, line, e, m->op, v);
				goto fail;
			}
			mutants = (int)n;
			if (mutants > 1 && op_is_deterministic(m->op)) {
				mt_op_args_dispose(&base);
				error = mt_error_set(MT_EINVALID, "%s:%d: mutation.model_level[%zu] (%s): %s draws nothing at random, so 'mutants: %d' would give %d identical mutants; use 'mutants: 1' and vary its parameters in separate entries",
						     cfg->path, line, e, m->op, m->op, mutants, mutants);
				goto fail;
			}
		} else if (op_is_deterministic(m->op)) {
			mutants = 1;
		}
		if (op_count_in_config(cfg, m->op) > 1)
			snprintf(label, sizeof(label), "%s#%zu", m->op, e);
		else
			snprintf(label, sizeof(label), "%s", m->op);

		if (is_graph) {
			const char *const *sites = NULL;
			size_t nsites = 0;
			if (model->graph_sites &&
			    (error = model->graph_sites(model->ctx, m->op, &sites, &nsites)) < 0) {
				mt_error_prefix("%s: mutation.model_level[%zu] (%s): ", cfg->path, e, m->op);
				mt_op_args_dispose(&base);
				goto fail;
			}
			if ((v = entry_value(m, "sites", &line))) {
				if (!(targets = split_list(v, &ntargets))) {
					error = mt_error_oom();
					mt_op_args_dispose(&base);
					goto fail;
				}
				for (size_t i = 0; i < ntargets; i++)
					if (!has_name(sites, nsites, targets[i])) {
						error = site_error(cfg, line, e, m->op, model, targets[i]);
						free_list(targets);
						mt_op_args_dispose(&base);
						goto fail;
					}
				for (size_t i = 0; i < ntargets && error == 0; i++)
					error = plan_one(plan, cfg, model, &base, label, m->op, targets[i], 1, -1, e, line);
				free_list(targets);
			} else {
				for (size_t i = 0; i < nsites && error == 0; i++)
					error = plan_one(plan, cfg, model, &base, label, m->op, sites[i], 1, -1, e, line);
			}
			mt_op_args_dispose(&base);
			if (error < 0)
				goto fail;
			continue;
		}

		v = entry_value(m, "layers", &line);
		{
			/* The layers the operator takes when none are named. */
			const char *const *deflayers = model->layers;
			size_t ndef = model->nlayers;
			if (model->op_layers)
				ndef = model->op_layers(model->ctx, &base, &deflayers);
			if ((!v || !strcmp(v, "each") || !strcmp(v, "all")) && model->op_layers && ndef == 0) {
				error = mt_error_set(MT_EINVALID, "%s:%d: mutation.model_level[%zu] (%s): the model has no layer %s takes (%s)",
						     cfg->path, line, e, m->op, m->op,
						     op->targets == MT_OP_TARGET_RECURRENT ? "an LSTM, GRU or RNN layer" :
						     op->targets == MT_OP_TARGET_GATED ? "an LSTM or GRU layer" :
						     "a layer with neurons");
			} else if (!v || !strcmp(v, "each")) {
				for (size_t i = 0; i < ndef && error == 0; i++)
					for (int k = 0; k < mutants && error == 0; k++)
						error = plan_one(plan, cfg, model, &base, label, m->op, deflayers[i], 0, k, e, line);
			} else if (!strcmp(v, "all")) {
				if (op->kind == MT_OP_KIND_DYNAMIC)
					error = mt_error_set(MT_EINVALID, "%s:%d: mutation.model_level[%zu] (%s): 'layers: all' means one mutant of every layer at once, which a dynamic operator cannot be; expected each or layer names",
							     cfg->path, line, e, m->op);
				for (int k = 0; k < mutants && error == 0; k++)
					error = plan_one(plan, cfg, model, &base, label, m->op, "all", 0, k, e, line);
			} else {
				if (!(targets = split_list(v, &ntargets))) {
					error = mt_error_oom();
					mt_op_args_dispose(&base);
					goto fail;
				}
				for (size_t i = 0; i < ntargets && error == 0; i++) {
					if (!model->check && !has_name(model->layers, model->nlayers, targets[i])) {
						error = mt_error_set(MT_EINVALID, "%s:%d: mutation.model_level[%zu] (%s): layer '%s' is not a layer with neurons of the model",
								     cfg->path, line, e, m->op, targets[i]);
						break;
					}
					for (int k = 0; k < mutants && error == 0; k++)
						error = plan_one(plan, cfg, model, &base, label, m->op, targets[i], 0, k, e, line);
				}
				free_list(targets);
			}
		}
		mt_op_args_dispose(&base);
		if (error < 0)
			goto fail;
	}
	compute_digest(plan);
	*out = plan;
	return 0;
fail:
	mt_plan_free(plan);
	return error;
}

int mt_plan_save(const mt_plan *plan, const char *path)
{
	json_t *root = json_object(), *arr = json_array();
	char *text = NULL;
	int error = 0;

	json_object_set_new(root, "format", json_string("mutorch-plan"));
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "digest", json_string(plan->digest));
	for (size_t i = 0; i < plan->n; i++) {
		const mt_mutant_desc *d = &plan->items[i];
		char seed[32];
		snprintf(seed, sizeof(seed), "%llu", (unsigned long long)d->seed);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}",
						     "id", d->id, "op", d->op, "target", d->target,
						     "params", d->params, "seed", seed,
						     "entry", (json_int_t)d->entry));
	}
	json_object_set_new(root, "mutants", arr);
	if (!(text = json_dumps(root, JSON_INDENT(1)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	error = mt_io_write_file_atomic(path, text, strlen(text));
cleanup:
	free(text);
	json_decref(root);
	return error;
}

int mt_plan_load(mt_plan **out, const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *arr;
	mt_plan *plan = NULL;
	int error = 0;
	size_t i;
	json_t *item;

	*out = NULL;
	if (!root)
		return mt_error_set(MT_EINVALID, "%s:%d: not a valid plan file: %s", path, jerr.line, jerr.text);
	arr = json_object_get(root, "mutants");
	if (!json_is_array(arr)) {
		error = mt_error_set(MT_EINVALID, "%s: missing array 'mutants'", path);
		goto cleanup;
	}
	if (!(plan = calloc(1, sizeof(*plan)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	json_array_foreach(arr, i, item) {
		const char *id = json_string_value(json_object_get(item, "id"));
		const char *op = json_string_value(json_object_get(item, "op"));
		const char *target = json_string_value(json_object_get(item, "target"));
		const char *params = json_string_value(json_object_get(item, "params"));
		const char *seed = json_string_value(json_object_get(item, "seed"));
		json_t *entry = json_object_get(item, "entry");
		if (!id || !op || !target || !params || !seed || !json_is_integer(entry)) {
			error = mt_error_set(MT_EINVALID, "%s: mutant %zu lacks id, op, target, params, seed or entry", path, i);
			goto cleanup;
		}
		if ((error = plan_push(plan, id, op, target, params, strtoull(seed, NULL, 10),
				       (size_t)json_integer_value(entry))) < 0)
			goto cleanup;
	}
	compute_digest(plan);
	*out = plan;
	plan = NULL;
cleanup:
	mt_plan_free(plan);
	json_decref(root);
	return error;
}
