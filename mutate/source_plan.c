/*
 * mt_source_plan_targets: expand a source_level entry that leaves its
 * target open ({op: ACH}) into concrete parameter sets. Candidates are
 * enumerated from the recipe, then each is applied: only applicable ones
 * that give a recipe not seen before are kept, so the planner never emits
 * a configuration equal to the original or two equal mutants.
 * Order: layers ascending (outer), then choices in the registry's order,
 * then classes ascending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/arch.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/recipe.h"
#include "mutorch/source.h"
#include "mutorch/source_plan.h"

void mt_source_variants_free(mt_source_variant *v, size_t count)
{
	if (!v)
		return;
	for (size_t i = 0; i < count; i++) {
		for (size_t p = 0; p < v[i].nparams; p++) {
			free(v[i].params[p].key);
			free(v[i].params[p].value);
		}
		free(v[i].params);
		free(v[i].target);
	}
	free(v);
}

static const mt_config_param *find_param(const mt_config_param *params, size_t n,
					 const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (params[i].key && strcmp(params[i].key, key) == 0)
			return &params[i];
	return NULL;
}

static const mt_op_param_spec *find_spec(const mt_operator *op, const char *key)
{
	for (size_t i = 0; i < op->nparams; i++)
		if (strcmp(op->params[i].name, key) == 0)
			return &op->params[i];
	return NULL;
}

/* The key whose every choice the planner lists when the entry leaves it out
 * (NULL: none). */
static const char *choice_key(const mt_operator *op, const mt_config_param *params,
			      size_t n)
{
	static const struct { const char *op, *key; } keys[] = {
		{ "ACH", "activation" }, { "AAL", "activation" }, { "LAs", "what" },
		{ "WCI", "init" }, { "LCH", "loss" }, { "OCH", "optimizer" },
		{ "RAW", "penalty" }, { "RRW", "penalty" },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].op, op->name) == 0 && !find_param(params, n, keys[i].key))
			return keys[i].key;
	return NULL;
}

/* Split "a|b|c" into malloc'd words. */
static int split_choices(char ***out, size_t *n, const char *choices)
{
	size_t cap = 1;
	for (const char *p = choices; *p; p++)
		cap += *p == '|';
	*out = calloc(cap, sizeof(char *));
	*n = 0;
	if (!*out)
		return -1;
	const char *p = choices;
	while (p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (!((*out)[*n] = strndup(p, len)))
			return -1;
		(*n)++;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* Which layers an operator targets; `what` is LAs's what (-1: any). */
static int layer_fits(const char *op, const mt_arch *arch, const int64_t (*shapes)[3],
		      const int64_t *input, size_t i, const char *what)
{
	const mt_layer *l = &arch->layers[i];
	const int64_t *in = i == 0 ? input : shapes[i - 1];
	int preserving = l->kind != MT_LAYER_FLATTEN && in[0] == shapes[i][0] &&
			 in[1] == shapes[i][1] && in[2] == shapes[i][2];
	int act = mt_layer_kind_is_activation(l->kind);
	int weighted = l->kind == MT_LAYER_LINEAR || l->kind == MT_LAYER_CONV2D;

	if (!strcmp(op, "LRs"))
		return preserving && !act;
	if (!strcmp(op, "LAs")) {
		if (!what || !strcmp(what, "copy"))
			return preserving && !act;
		return weighted; /* batchnorm, activation */
	}
	if (!strcmp(op, "AFRs") || !strcmp(op, "ACH"))
		return act;
	if (!strcmp(op, "RCD"))
		return l->kind == MT_LAYER_DROPOUT;
	return weighted; /* ARM AAL WAB WRB */
}

typedef struct {
	mt_source_variant *v;
	size_t n, cap;
	char **recipes;     /* recipe text of each kept program variant */
} variant_list;

static void list_dispose(variant_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->recipes ? l->recipes[i] : NULL);
	free(l->recipes);
	mt_source_variants_free(l->v, l->n);
}

static int set_param(mt_config_param *p, const char *key, const char *value, int line)
{
	p->key = strdup(key);
	p->value = strdup(value);
	p->line = line;
	return p->key && p->value ? 0 : -1;
}

/* Build the candidate, apply it, keep it when it is a new mutant. */
static int try_candidate(variant_list *list, char *reason, const mt_operator *op,
			 const mt_config *cfg, const mt_dataset *train,
			 const mt_config_param *base, size_t nbase,
			 const char *const *keys, const char *const *values, size_t nextra)
{
	mt_source_variant v = { 0 };
	mt_source_mutant *mu = NULL;
	char *recipe = NULL;
	int error = 0;

	if (!(v.params = calloc(nbase + nextra + 1, sizeof(*v.params))))
		return mt_error_oom();
	for (size_t i = 0; i < nbase; i++) {
		if (!strcmp(base[i].key, "class") && !strcmp(base[i].value, "each"))
			continue;
		if (set_param(&v.params[v.nparams++], base[i].key, base[i].value, base[i].line) < 0)
			goto nomem;
	}
	size_t tlen = 1;
	for (size_t i = 0; i < nextra; i++) {
		if (set_param(&v.params[v.nparams++], keys[i], values[i], 0) < 0)
			goto nomem;
		tlen += strlen(keys[i]) + strlen(values[i]) + 2;
	}
	if (!(v.target = calloc(tlen, 1)))
		goto nomem;
	for (size_t i = 0; i < nextra; i++)
		sprintf(v.target + strlen(v.target), "%s%s=%s", i ? " " : "", keys[i], values[i]);

	if ((error = mt_source_apply(&mu, cfg, train, op->name, v.params, v.nparams, 0)) < 0)
		goto cleanup;
	if (mu->not_applicable) {
		if (reason)
			snprintf(reason, MT_OP_REASON_MAX, "%s", mu->reason);
		goto cleanup;
	}
	if (!mu->is_data) {
		if ((error = mt_source_recipe_text(&recipe, mu->config)) < 0)
			goto cleanup;
		for (size_t i = 0; i < list->n; i++)
			if (list->recipes[i] && !strcmp(list->recipes[i], recipe)) {
				if (reason)
					snprintf(reason, MT_OP_REASON_MAX,
						 "%s: not applicable: %s gives the same recipe as %s",
						 op->name, v.target, list->v[i].target);
				goto cleanup;
			}
	}
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		mt_source_variant *gv = realloc(list->v, cap * sizeof(*gv));
		if (gv)
			list->v = gv;
		char **gr = realloc(list->recipes, cap * sizeof(*gr));
		if (gr)
			list->recipes = gr;
		if (!gv || !gr)
			goto nomem;
		list->cap = cap;
	}
	list->recipes[list->n] = recipe;
	recipe = NULL;
	list->v[list->n++] = v;
	memset(&v, 0, sizeof(v));
	goto cleanup;
nomem:
	error = mt_error_oom();
cleanup:
	mt_source_mutant_free(mu);
	for (size_t p = 0; p < v.nparams; p++) {
		free(v.params[p].key);
		free(v.params[p].value);
	}
	free(v.params);
	free(v.target);
	free(recipe);
	return error;
}

int mt_source_plan_targets(mt_source_variant **out, size_t *count,
			   const mt_config *cfg, const mt_dataset *train,
			   const char *op_name, const mt_config_param *params,
			   size_t nparams, char *reason)
{
	const mt_operator *op = mt_operator_find(op_name);
	variant_list list = { 0 };
	mt_arch *arch = NULL;
	int64_t (*shapes)[3] = NULL;
	char **choices = NULL;
	size_t nchoices = 0, nlayers = 1;
	const char *ckey;
	int expand_layer, expand_class, error = 0;
	int64_t *class_count = NULL;
	int num_classes = 0;

	*out = NULL;
	*count = 0;
	if (reason)
		reason[0] = '\0';
	if (!op || op->level != MT_OP_LEVEL_SOURCE) {
		mt_source_mutant *mu = NULL;
		/* the same message as mt_source_apply */
		error = mt_source_apply(&mu, cfg, train, op_name, NULL, 0, 0);
		mt_source_mutant_free(mu);
		return error < 0 ? error : mt_error_set(MT_EINVALID, "'%s' is not a source operator", op_name);
	}
	/* An external program has no architecture: its layers are not ours
	 * to list (mt_source_apply refuses the architecture operators). */
	expand_layer = find_spec(op, "layer") && !find_param(params, nparams, "layer") &&
		       !cfg->command;
	const mt_config_param *cp = find_param(params, nparams, "class");
	expand_class = find_spec(op, "class") && cp && !strcmp(cp->value, "each");
	ckey = choice_key(op, params, nparams);

	if (expand_layer || !strcmp(op->name, "WCI")) {
		if (!cfg->architecture && !cfg->command) {
			if (reason)
				snprintf(reason, MT_OP_REASON_MAX,
					 "%s: not applicable: the model is a TorchScript file, not an architecture",
					 op->name);
			return 0;
		}
	}
	if (expand_layer) {
		if (!cfg->has_input_shape)
			return mt_error_set(MT_EINVALID, "%s: %s: model.input_shape is missing, expected it with an architecture",
					    op->name, cfg->path);
		if ((error = mt_arch_parse(&arch, cfg->architecture)) < 0)
			return mt_error_prefix("%s: %s: model.architecture: ", op->name, cfg->path);
		if (!(shapes = calloc(arch->nlayers, sizeof(*shapes)))) {
			error = mt_error_oom();
			goto cleanup;
		}
		if ((error = mt_arch_check(arch, cfg->input_shape, shapes)) < 0) {
			mt_error_prefix("%s: %s: model.architecture: ", op->name, cfg->path);
			goto cleanup;
		}
		nlayers = arch->nlayers;
	}
	if (ckey) {
		if (split_choices(&choices, &nchoices, find_spec(op, ckey)->choices) < 0) {
			error = mt_error_oom();
			goto cleanup;
		}
	}
	if (expand_class) {
		if (!train) {
			error = mt_error_set(MT_EINVALID, "%s: no training set given, expected one (class: each)",
					     op->name);
			goto cleanup;
		}
		num_classes = mt_dataset_num_classes(train);
		if (!(class_count = calloc((size_t)(num_classes ? num_classes : 1), sizeof(int64_t)))) {
			error = mt_error_oom();
			goto cleanup;
		}
		const int64_t *labels = mt_dataset_labels(train);
		for (int64_t i = 0; i < mt_dataset_count(train); i++)
			class_count[labels[i]]++;
	}
	const mt_config_param *what_param = find_param(params, nparams, "what");
	int candidates = 0;
	for (size_t L = 0; L < nlayers; L++) {
		for (size_t c = 0; c < (ckey ? nchoices : 1); c++) {
			if (ckey && !strcmp(op->name, "LAs") && !strcmp(choices[c], "activation"))
				continue; /* adding activations is AAL's job */
			const char *what = ckey && !strcmp(ckey, "what") ? choices[c]
					   : what_param ? what_param->value : NULL;
			if (expand_layer && !layer_fits(op->name, arch, (const int64_t (*)[3])shapes,
							 cfg->input_shape, L, what))
				continue;
			for (int k = 0; k < (expand_class ? num_classes : 1); k++) {
				const char *keys[3], *values[3];
				char lbuf[32], cbuf[32];
				size_t nextra = 0;
				if (expand_class && class_count[k] == 0)
					continue;
				if (expand_layer) {
					snprintf(lbuf, sizeof(lbuf), "%zu", L);
					keys[nextra] = "layer";
					values[nextra++] = lbuf;
				}
				if (ckey) {
					keys[nextra] = ckey;
					values[nextra++] = choices[c];
				}
				if (expand_class) {
					snprintf(cbuf, sizeof(cbuf), "%d", k);
					keys[nextra] = "class";
					values[nextra++] = cbuf;
				}
				candidates++;
				if ((error = try_candidate(&list, reason, op, cfg, train, params, nparams,
							   keys, values, nextra)) < 0)
					goto cleanup;
			}
		}
	}
	if (candidates == 0 && reason)
		snprintf(reason, MT_OP_REASON_MAX, "%s: not applicable: the architecture has no layer %s takes",
			 op->name, op->name);
	if (list.n && reason)
		reason[0] = '\0';
	*out = list.v;
	*count = list.n;
	for (size_t i = 0; i < list.n; i++)
		free(list.recipes[i]);
	free(list.recipes);
	list.recipes = NULL;
	list.v = NULL;
	list.n = 0;
cleanup:
	list_dispose(&list);
	for (size_t i = 0; i < nchoices; i++)
		free(choices[i]);
	free(choices);
	free(shapes);
	free(class_count);
	mt_arch_free(arch);
	return error;
}
