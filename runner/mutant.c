/* Applying planned mutants to a trained module (see mutant.h). */
#include "mutorch/mutant.h"
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/plan.h"
#include "mutorch/shim.h"
#include "mutorch/shim_graph.h"
#include "mutorch/shim_partial.h"
#include "mutorch/view.h"

#include <stdlib.h>
#include <string.h>

static const char *const planner_keys[] = {"mutants", "layers", "sites", NULL};

struct mt_mutator {
	mt_module *trained;
	int64_t input_shape[4];
	mt_model_view *original, *work;
	const char **layer_names; /* linear/conv2d, forward order */
	size_t nlayers;
	mt_graph_site *sites;
	size_t nsites;
	int have_sites;
	const char **site_lists[MT_GRAPH__COUNT];
	size_t nsite_lists[MT_GRAPH__COUNT];
	mt_module *graph_mutant;
	const char **changed;
	size_t nchanged;
};

static int load_sites(mt_mutator *mu)
{
	int error;
	if (mu->have_sites)
		return 0;
	if ((error = mt_graph_sites(&mu->sites, &mu->nsites, mu->trained, mu->input_shape, 4)) < 0) {
		/* The forward failed on one sample of model.input_shape: the
		 * config and the model do not fit together. */
		if (error == MT_ETORCH) {
			char why[1024];
			snprintf(why, sizeof(why), "%s", mt_error_last());
			error = mt_error_set(MT_EINVALID, "the model's forward fails on one input of model.input_shape [%lld, %lld, %lld]: %s",
					     (long long)mu->input_shape[1], (long long)mu->input_shape[2],
					     (long long)mu->input_shape[3], why);
		}
		return error;
	}
	for (int op = 0; op < MT_GRAPH__COUNT; op++) {
		mu->site_lists[op] = calloc(mu->nsites + 1, sizeof(char *));
		if (!mu->site_lists[op])
			return mt_error_oom();
		for (size_t i = 0; i < mu->nsites; i++)
			if (mu->sites[i].applicable[op])
				mu->site_lists[op][mu->nsite_lists[op]++] = mu->sites[i].name;
	}
	mu->have_sites = 1;
	return 0;
}

/* Order the view's layers by first use in the forward (registration order
 * is only a convention): NEB needs the next layer. */
static int order_layers(mt_mutator *mu)
{
	char **use = NULL;
	size_t nuse = 0, k = 0;
	int error;

	mu->layer_names = calloc(mu->original->nlayers + 1, sizeof(char *));
	if (!mu->layer_names)
		return mt_error_oom();
	if ((error = mt_module_param_use_order(&use, &nuse, mu->trained)) < 0)
		return error;
	for (size_t u = 0; u < nuse; u++)
		for (size_t i = 0; i < mu->original->nlayers; i++) {
			const mt_view_layer *l = &mu->original->layers[i];
			int seen = 0;
			if (strcmp(l->weight_name, use[u]) != 0 ||
			    (l->kind != MT_VIEW_LINEAR && l->kind != MT_VIEW_CONV2D))
				continue;
			for (size_t j = 0; j < k; j++)
				seen |= !strcmp(mu->layer_names[j], l->name);
			if (!seen)
				mu->layer_names[k++] = l->name;
		}
	mu->nlayers = k;
	mt_module_param_use_order_free(use, nuse);
	return 0;
}

int mt_mutator_new(mt_mutator **out, mt_module *trained, const int64_t input_shape[3])
{
	mt_mutator *mu = calloc(1, sizeof(*mu));
	mt_tensor_info *infos = NULL;
	size_t ninfos = 0;
	int error;

	*out = NULL;
	if (!mu)
		return mt_error_oom();
	mu->trained = trained;
	mu->input_shape[0] = 1;
	memcpy(mu->input_shape + 1, input_shape, 3 * sizeof(int64_t));
	if ((error = mt_module_tensors(&infos, &ninfos, trained)) < 0 ||
	    (error = mt_model_view_from_tensors(&mu->original, infos, ninfos)) < 0)
		goto fail;
	for (size_t i = 0; i < mu->original->nlayers; i++) {
		mt_view_layer *l = &mu->original->layers[i];
		if ((error = mt_module_read_tensor(trained, l->weight_name, l->weight, l->numel)) < 0 ||
		    (l->bias && (error = mt_module_read_tensor(trained, l->bias_name, l->bias, l->nbias)) < 0))
			goto fail;
	}
	if ((error = mt_model_view_copy(&mu->work, mu->original)) < 0 ||
	    (error = order_layers(mu)) < 0)
		goto fail;
	if (!(mu->changed = calloc(2 * mu->original->nlayers + 1, sizeof(char *)))) {
		error = mt_error_oom();
		goto fail;
	}
	free(infos);
	*out = mu;
	return 0;
fail:
	free(infos);
	mt_mutator_free(mu);
	return error;
}

void mt_mutator_free(mt_mutator *mu)
{
	if (!mu)
		return;
	mt_module_free(mu->graph_mutant);
	mt_model_view_free(mu->original);
	mt_model_view_free(mu->work);
	for (int op = 0; op < MT_GRAPH__COUNT; op++)
		free(mu->site_lists[op]);
	free(mu->sites);
	free(mu->layer_names);
	free(mu->changed);
	free(mu);
}

static int plan_graph_sites(void *ctx, const char *op, const char *const **sites, size_t *count)
{
	mt_mutator *mu = ctx;
	mt_graph_op gop;
	int error;
	*sites = NULL;
	*count = 0;
	if ((error = mt_graph_op_from_name(&gop, op)) < 0 || (error = load_sites(mu)) < 0)
		return error;
	*sites = mu->site_lists[gop];
	*count = mu->nsite_lists[gop];
	return 0;
}

static int explain_graph_site(void *ctx, const char *op, const char *site, char *buf, size_t len)
{
	mt_mutator *mu = ctx;
	mt_graph_op gop;
	int error;
	if ((error = mt_graph_op_from_name(&gop, op)) < 0 || (error = load_sites(mu)) < 0)
		return error;
	return mt_graph_site_explain(buf, len, mu->sites, mu->nsites, gop, site);
}

void mt_mutator_plan_model(mt_plan_model *pm, mt_mutator *mu)
{
	pm->layers = mu->layer_names;
	pm->nlayers = mu->nlayers;
	pm->graph_sites = plan_graph_sites;
	pm->explain_site = explain_graph_site;
	pm->ctx = mu;
}

static int rebuild_args(mt_op_args *args, const mt_config *cfg, const mt_mutant_desc *d)
{
	char *params = NULL;
	int error;

	if (d->entry >= cfg->nmodel_level || strcmp(cfg->model_level[d->entry].op, d->op) != 0)
		return mt_error_set(MT_EINVALID, "mutant %s: the config's mutation section changed since the plan was made (run with --force)", d->id);
	if ((error = mt_op_args_from_config(args, &cfg->model_level[d->entry], planner_keys)) < 0)
		return error;
	if (args->op->kind == MT_OP_KIND_GRAPH)
		error = mt_op_args_set(args, "site", d->target);
	else if (!strcmp(d->target, "all"))
		error = mt_op_args_set(args, "layers", "all");
	else
		error = mt_op_args_set(args, "layer", d->target);
	if (error < 0)
		return error;
	args->seed = d->seed;
	if ((error = mt_op_args_format(&params, args)) < 0)
		return error;
	if (strcmp(params, d->params) != 0)
		error = mt_error_set(MT_EINVALID, "mutant %s: planned as '%s' but the config now gives '%s' (run with --force)",
				     d->id, d->params, params);
	free(params);
	return error;
}

int mt_mutator_apply(mt_module **model, mt_op_result *res, mt_mutator *mu,
		     const mt_config *cfg, const mt_mutant_desc *d)
{
	mt_op_args args;
	int error;

	*model = NULL;
	memset(res, 0, sizeof(*res));
	memset(&args, 0, sizeof(args));
	mu->nchanged = 0;
	if ((error = rebuild_args(&args, cfg, d)) < 0)
		goto cleanup;
	if (args.op->kind == MT_OP_KIND_GRAPH) {
		mt_graph_op gop;
		if ((error = mt_graph_op_from_name(&gop, d->op)) < 0)
			goto cleanup;
		error = mt_graph_mutate(&mu->graph_mutant, mu->trained, gop, d->target,
					mu->input_shape, 4);
		if (error == MT_EINVALID) {
			/* The site cannot take the operator: nothing to evaluate. */
			res->not_applicable = 1;
			snprintf(res->reason, sizeof(res->reason), "%s", mt_error_last());
			error = 0;
			goto cleanup;
		}
		if (error < 0)
			goto cleanup;
		*model = mu->graph_mutant;
		goto cleanup;
	}
	if ((error = mt_operator_apply(res, mu->work, &args)) < 0)
		goto cleanup;
	for (size_t i = 0; i < mu->work->nlayers; i++) {
		mt_view_layer *l = &mu->work->layers[i];
		if (l->weight_changed) {
			if ((error = mt_module_write_tensor(mu->trained, l->weight_name, l->weight, l->numel)) < 0)
				goto cleanup;
			mu->changed[mu->nchanged++] = l->weight_name;
		}
		if (l->bias_changed && l->bias) {
			if ((error = mt_module_write_tensor(mu->trained, l->bias_name, l->bias, l->nbias)) < 0)
				goto cleanup;
			mu->changed[mu->nchanged++] = l->bias_name;
		}
	}
	*model = mu->trained;
cleanup:
	mt_op_args_dispose(&args);
	return error;
}

const char *const *mt_mutator_changed(const mt_mutator *mu, size_t *count)
{
	*count = mu->nchanged;
	return mu->changed;
}

int mt_mutator_is_graph(const mt_mutator *mu) { return mu->graph_mutant != NULL; }

int mt_mutator_restore(mt_mutator *mu)
{
	int error = 0;

	mt_module_free(mu->graph_mutant);
	mu->graph_mutant = NULL;
	if ((error = mt_model_view_restore(mu->work, mu->original)) < 0)
		return error;
	for (size_t i = 0; i < mu->work->nlayers; i++) {
		mt_view_layer *l = &mu->work->layers[i];
		if (l->weight_changed &&
		    (error = mt_module_write_tensor(mu->trained, l->weight_name, l->weight, l->numel)) < 0)
			return error;
		if (l->bias_changed && l->bias &&
		    (error = mt_module_write_tensor(mu->trained, l->bias_name, l->bias, l->nbias)) < 0)
			return error;
	}
	mt_model_view_clear_changed(mu->work);
	mu->nchanged = 0;
	return 0;
}
