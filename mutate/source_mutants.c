/* Planning the source-level mutants (see mutorch/source_plan.h): entries
 * of mutation.source_level become mutants with ids and seeds; a planned
 * mutant is rebuilt from its canonical parameters by the workers. */
#include "mutorch/source_plan.h"
#include "mutorch/error.h"
#include "mutorch/rng.h"
#include "mutorch/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse a canonical parameter string "OP k=v k=v" back into a list. */
static int parse_params(mt_config_param **out, size_t *count, const char *canonical)
{
	char *copy = strdup(canonical), *tok, *save = NULL;
	size_t n = 0, cap = 8;
	mt_config_param *list = calloc(cap, sizeof(*list));
	int first = 1;

	*out = NULL;
	*count = 0;
	if (!copy || !list) {
		free(copy);
		free(list);
		return mt_error_oom();
	}
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		if (first) {
			first = 0;
			continue; /* the operator's name */
		}
		if (!eq)
			continue;
		if (n == cap) {
			mt_config_param *grown = realloc(list, 2 * cap * sizeof(*list));
			if (!grown)
				goto oom;
			list = grown;
			cap *= 2;
		}
		*eq = '\0';
		list[n].key = strdup(tok);
		list[n].value = strdup(eq + 1);
		list[n].line = 0;
		if (!list[n].key || !list[n].value)
			goto oom;
		n++;
	}
	free(copy);
	*out = list;
	*count = n;
	return 0;
oom:
	for (size_t i = 0; i <= n && i < cap; i++) {
		free(list[i].key);
		free(list[i].value);
	}
	free(list);
	free(copy);
	return mt_error_oom();
}

static void free_params(mt_config_param *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].key);
		free(list[i].value);
	}
	free(list);
}

int mt_source_plan_mutant(mt_source_mutant **mu, const mt_config *cfg, const mt_dataset *train,
			  const mt_mutant_desc *d)
{
	mt_config_param *params = NULL;
	size_t n = 0;
	int error;

	*mu = NULL;
	if ((error = parse_params(&params, &n, d->params)) < 0)
		return error;
	error = mt_source_apply(mu, cfg, train, d->op, params, n, d->seed);
	free_params(params, n);
	if (error == 0 && (*mu)->not_applicable) {
		error = mt_error_set(MT_EINVALID, "source mutant %s is not applicable: %s", d->id,
				     (*mu)->reason);
		mt_source_mutant_free(*mu);
		*mu = NULL;
	}
	return error;
}

static const char *param_value(const mt_config_mutation *e, const char *key)
{
	for (size_t i = 0; i < e->nparams; i++)
		if (!strcmp(e->params[i].key, key))
			return e->params[i].value;
	return NULL;
}

int mt_source_plan(mt_plan **out, const mt_config *cfg, const mt_dataset *train)
{
	mt_plan *plan = NULL;
	int error;

	*out = NULL;
	if (cfg->nsource_level == 0)
		return mt_error_set(MT_EINVALID, "%s: no mutation.source_level operators configured", cfg->path);
	if ((error = mt_plan_new(&plan)) < 0)
		return error;
	for (size_t e = 0; e < cfg->nsource_level; e++) {
		const mt_config_mutation *entry = &cfg->source_level[e];
		mt_source_variant *vars = NULL;
		size_t nvars = 0;
		char why[MT_OP_REASON_MAX] = "";
		const char *v = param_value(entry, "mutants");
		int mutants = 1, same_op = 0;
		char label[64];

		for (size_t f = 0; f < cfg->nsource_level; f++)
			same_op += !strcmp(cfg->source_level[f].op, entry->op);
		if (same_op > 1)
			snprintf(label, sizeof(label), "%s#%zu", entry->op, e);
		else
			snprintf(label, sizeof(label), "%s", entry->op);
		if (v) {
			char *end;
			long m = strtol(v, &end, 10);
			if (*end || m < 1 || m > 1000) {
				error = mt_error_set(MT_EINVALID, "%s:%d: mutation.source_level[%zu] (%s): 'mutants' must be an integer in [1, 1000], got '%s'",
						     cfg->path, entry->line, e, entry->op, v);
				goto fail;
			}
			mutants = (int)m;
		}
		if (mutants > 1 && !mt_source_op_is_random(entry->op)) {
			error = mt_error_set(MT_EINVALID, "%s:%d: mutation.source_level[%zu] (%s): %s draws nothing at random, so 'mutants: %d' would give identical mutants",
					     cfg->path, entry->line, e, entry->op, entry->op, mutants);
			goto fail;
		}
		/* An operator that cannot touch the user's own training program
		 * is a mistake in the config, not an empty entry. */
		if ((error = mt_source_check_program(cfg, entry->op, entry->params,
						     entry->nparams)) < 0) {
			mt_error_prefix("%s:%d: mutation.source_level[%zu]: ", cfg->path, entry->line, e);
			goto fail;
		}
		if ((error = mt_source_plan_targets(&vars, &nvars, cfg, train, entry->op,
						    entry->params, entry->nparams, why)) < 0) {
			mt_error_prefix("%s:%d: mutation.source_level[%zu]: ", cfg->path, entry->line, e);
			goto fail;
		}
		if (nvars == 0)
			fprintf(stderr, "mutorch: %s:%d: %s makes no mutant here: %s\n", cfg->path,
				entry->line, entry->op, why);
		for (size_t i = 0; i < nvars && error == 0; i++) {
			char target[256];
			size_t k;
			if (vars[i].target && *vars[i].target) {
				snprintf(target, sizeof(target), "%s", vars[i].target);
			} else {
				/* nothing expanded: name it by the entry's own parameters */
				size_t len = 0;
				target[0] = '\0';
				for (size_t p = 0; p < entry->nparams; p++) {
					if (!strcmp(entry->params[p].key, "mutants") || !strcmp(entry->params[p].key, "seed"))
						continue;
					len += (size_t)snprintf(target + len, len < sizeof(target) ? sizeof(target) - len : 0,
								"%s%s=%s", len ? "," : "", entry->params[p].key,
								entry->params[p].value);
					if (len >= sizeof(target))
						break;
				}
				if (!target[0])
					snprintf(target, sizeof(target), "default");
			}
			for (k = 0; target[k]; k++)
				if (target[k] == ' ')
					target[k] = ',';
			for (int m = 0; m < mutants && error == 0; m++) {
				char id[512];
				uint64_t seed;
				mt_source_mutant *mu = NULL;
				size_t dup;
				if (mt_source_op_is_random(entry->op))
					snprintf(id, sizeof(id), "%s-%s-%03d", label, target, m);
				else
					snprintf(id, sizeof(id), "%s-%s", label, target);
				seed = mt_rng_seed_for_id(cfg->mutation_seed, id);
				if ((error = mt_source_apply(&mu, cfg, train, entry->op, vars[i].params,
							     vars[i].nparams, seed)) < 0)
					break;
				if (mu->not_applicable) {
					mt_source_mutant_free(mu);
					continue;
				}
				/* The same mutant reached from two entries is planned once. */
				int seen = 0;
				for (dup = 0; dup < mt_plan_count(plan); dup++)
					seen |= !strcmp(mt_plan_at(plan, dup)->params, mu->params);
				if (!seen)
					error = mt_plan_append(plan, id, entry->op, target, mu->params,
							       mu->seed, e);
				mt_source_mutant_free(mu);
			}
		}
		mt_source_variants_free(vars, nvars);
		if (error < 0)
			goto fail;
	}
	mt_plan_finish(plan);
	*out = plan;
	return 0;
fail:
	mt_plan_free(plan);
	return error;
}

