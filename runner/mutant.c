/* Applying planned mutants to a trained module (see mutant.h). */
#include "mutorch/mutant.h"
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/plan.h"
#include "mutorch/shim.h"
#include "mutorch/shim_graph.h"
#include "mutorch/shim_partial.h"
#include "mutorch/shim_rnn.h"
#include "mutorch/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const planner_keys[] = {"mutants", "layers", "sites", NULL};

/* A recurrent layer's split forward, made when a dynamic mutant (or the
 * planner's check) first needs it. */
typedef struct {
	mt_rnn_site *site;
	int64_t steps;           /* time steps the layer sees */
	const mt_tensor *cached; /* the inputs its cache holds */
	int64_t cached_batch;
} rnn_layer;

struct mt_mutator {
	mt_module *trained;
	int64_t input_shape[4];
	mt_model_view *original, *work;
	const char **order;       /* every view layer, forward order */
	const char **layer_names; /* those with neurons, forward order */
	size_t nlayers;
	const char **op_layers;   /* scratch for the planner's op_layers */
	mt_graph_site *sites;
	size_t nsites;
	int have_sites;
	const char **site_lists[MT_GRAPH__COUNT];
	size_t nsite_lists[MT_GRAPH__COUNT];
	mt_module *graph_mutant;
	const char **changed;     /* tensors written by the last apply */
	size_t nchanged;
	int changed_recurrent;    /* ... some of a recurrent layer */
	rnn_layer *rnn;           /* per view layer */
	mt_rnn_mutation mut;      /* the last dynamic mutant */
	float *factors;
	size_t dynamic_layer;
	int dynamic;
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
 * is only a convention): NEB needs the next layer. A layer whose tensors
 * the forward reads only through a list (a recurrent layer's
 * _flat_weights) keeps its place after its registration predecessor. */
static int order_layers(mt_mutator *mu)
{
	const mt_model_view *v = mu->original;
	char **use = NULL;
	size_t nuse = 0, k = 0, n = v->nlayers;
	long *first = NULL;
	int error;

	mu->order = calloc(n + 1, sizeof(char *));
	mu->layer_names = calloc(n + 1, sizeof(char *));
	mu->op_layers = calloc(n + 1, sizeof(char *));
	first = malloc((n + 1) * sizeof(long));
	if (!mu->order || !mu->layer_names || !mu->op_layers || !first) {
		free(first);
		return mt_error_oom();
	}
	if ((error = mt_module_param_use_order(&use, &nuse, mu->trained)) < 0) {
		free(first);
		return error;
	}
	for (size_t i = 0; i < n; i++) {
		first[i] = -1;
		for (size_t u = 0; u < nuse && first[i] < 0; u++)
			for (size_t p = 0; p < v->layers[i].nparts; p++)
				if (!strcmp(v->layers[i].parts[p].name, use[u]))
					first[i] = (long)u;
	}
	mt_module_param_use_order_free(use, nuse);
	/* position of layer i: its first use, or just after the position of
	 * its registration predecessor (2u+1 slots keep them apart) */
	for (size_t i = 0; i < n; i++)
		first[i] = first[i] >= 0 ? 2 * first[i] + 1 : (i ? first[i - 1] + 1 : 0);
	for (size_t placed = 0; placed < n; placed++) {
		size_t best = n;
		for (size_t i = 0; i < n; i++) {
			int done = 0;
			for (size_t j = 0; j < placed; j++)
				done |= mu->order[j] == v->layers[i].name;
			if (!done && (best == n || first[i] < first[best]))
				best = i;
		}
		mu->order[placed] = v->layers[best].name;
	}
	for (size_t i = 0; i < n; i++)
		if (mt_view_kind_has_neurons(mt_model_view_find(v, mu->order[i])->kind))
			mu->layer_names[k++] = mu->order[i];
	mu->nlayers = k;
	free(first);
	return 0;
}

/* Class names and groups of the submodules that own the layers. */
static int view_from_module(mt_model_view **out, mt_module *m, const mt_tensor_info *infos,
			    size_t ninfos)
{
	mt_view_hint *hints = calloc(ninfos + 1, sizeof(*hints));
	char (*names)[MT_MAX_NAME] = calloc(ninfos + 1, MT_MAX_NAME);
	char (*types)[MT_MAX_NAME] = calloc(ninfos + 1, MT_MAX_NAME);
	size_t nh = 0;
	int error;

	if (!hints || !names || !types) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (size_t i = 0; i < ninfos; i++) {
		const char *dot = strrchr(infos[i].name, '.');
		if (infos[i].is_buffer || !dot ||
		    (strcmp(dot, ".weight") != 0 && strcmp(dot, ".weight_ih_l0") != 0))
			continue;
		snprintf(names[nh], MT_MAX_NAME, "%.*s", (int)(dot - infos[i].name), infos[i].name);
		if (mt_module_type_name(types[nh], MT_MAX_NAME, m, names[nh]) < 0)
			types[nh][0] = '\0';
		hints[nh].prefix = names[nh];
		hints[nh].type = types[nh];
		if (mt_module_int_attr(&hints[nh].groups, m, names[nh], "groups") < 0)
			hints[nh].groups = 0;
		nh++;
	}
	mt_error_clear();
	error = mt_model_view_from_module(out, infos, ninfos, hints, nh);
cleanup:
	free(hints);
	free(names);
	free(types);
	return error;
}

static float *part_data(mt_view_layer *l, const mt_view_part *p)
{
	return (p->is_bias ? l->bias : l->weight) + p->offset;
}

int mt_mutator_new(mt_mutator **out, mt_module *trained, const int64_t input_shape[3])
{
	mt_mutator *mu = calloc(1, sizeof(*mu));
	mt_tensor_info *infos = NULL;
	size_t ninfos = 0, nparts = 0;
	int error;

	*out = NULL;
	if (!mu)
		return mt_error_oom();
	mu->trained = trained;
	mu->input_shape[0] = 1;
	memcpy(mu->input_shape + 1, input_shape, 3 * sizeof(int64_t));
	if ((error = mt_module_tensors(&infos, &ninfos, trained)) < 0 ||
	    (error = view_from_module(&mu->original, trained, infos, ninfos)) < 0)
		goto fail;
	for (size_t i = 0; i < mu->original->nlayers; i++) {
		mt_view_layer *l = &mu->original->layers[i];
		for (size_t p = 0; p < l->nparts; p++, nparts++)
			if ((error = mt_module_read_tensor(trained, l->parts[p].name,
							   part_data(l, &l->parts[p]),
							   l->parts[p].numel)) < 0)
				goto fail;
	}
	if ((error = mt_model_view_copy(&mu->work, mu->original)) < 0 ||
	    (error = order_layers(mu)) < 0)
		goto fail;
	if (!(mu->changed = calloc(nparts + 1, sizeof(char *))) ||
	    !(mu->rnn = calloc(mu->original->nlayers + 1, sizeof(*mu->rnn)))) {
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
	for (size_t i = 0; mu->rnn && mu->original && i < mu->original->nlayers; i++)
		mt_rnn_site_free(mu->rnn[i].site);
	free(mu->rnn);
	free(mu->factors);
	mt_model_view_free(mu->original);
	mt_model_view_free(mu->work);
	for (int op = 0; op < MT_GRAPH__COUNT; op++)
		free(mu->site_lists[op]);
	free(mu->sites);
	free(mu->order);
	free(mu->layer_names);
	free(mu->op_layers);
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

static size_t plan_op_layers(void *ctx, const mt_op_args *args, const char *const **layers)
{
	mt_mutator *mu = ctx;
	size_t n = 0;
	for (size_t i = 0; mu->order[i]; i++)
		if (mt_op_default_layer(args->op, mt_model_view_find(mu->original, mu->order[i])))
			mu->op_layers[n++] = mu->order[i];
	*layers = mu->op_layers;
	return n;
}

/* The split forward of recurrent layer i and the steps it sees. */
static int rnn_layer_of(rnn_layer **out, mt_mutator *mu, size_t i)
{
	rnn_layer *r = &mu->rnn[i];
	int error;
	if (!r->site) {
		if ((error = mt_rnn_site_new(&r->site, mu->trained, mu->original->layers[i].name)) < 0)
			return error;
		if ((error = mt_rnn_site_seq_len(&r->steps, r->site, mu->input_shape + 1, 3)) < 0) {
			mt_rnn_site_free(r->site);
			r->site = NULL;
			return error;
		}
	}
	*out = r;
	return 0;
}

static int plan_check(void *ctx, const mt_op_args *args)
{
	mt_mutator *mu = ctx;
	int error;
	for (size_t j = 0; j < args->nlayers; j++) {
		const mt_view_layer *l;
		rnn_layer *r;
		mt_rnn_mutation mut;
		float *factors = NULL;
		if ((error = mt_op_check_layer(mu->original, args, args->layers[j])) < 0)
			return error;
		if (args->op->kind != MT_OP_KIND_DYNAMIC)
			continue;
		l = mt_model_view_find(mu->original, args->layers[j]);
		if ((error = rnn_layer_of(&r, mu, (size_t)(l - mu->original->layers))) < 0 ||
		    (error = mt_rnn_op_prepare(&mut, &factors, args, l, r->steps)) < 0)
			return error;
		free(factors);
	}
	return 0;
}

void mt_mutator_plan_model(mt_plan_model *pm, mt_mutator *mu)
{
	memset(pm, 0, sizeof(*pm));
	pm->layers = mu->layer_names;
	pm->nlayers = mu->nlayers;
	pm->graph_sites = plan_graph_sites;
	pm->explain_site = explain_graph_site;
	pm->op_layers = plan_op_layers;
	pm->check = plan_check;
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

/* Write the tensors of the work view that differ from the original (only
 * those: a recurrent layer has many) and remember their names. */
static int write_changed(mt_mutator *mu)
{
	int error;
	for (size_t i = 0; i < mu->work->nlayers; i++) {
		mt_view_layer *l = &mu->work->layers[i], *o = &mu->original->layers[i];
		for (size_t p = 0; p < l->nparts; p++) {
			const mt_view_part *part = &l->parts[p];
			int marked = part->is_bias ? l->bias_changed : l->weight_changed;
			float *data = part_data(l, part);
			if (!marked || !memcmp(data, part_data(o, part), (size_t)part->numel * sizeof(float)))
				continue;
			if ((error = mt_module_write_tensor(mu->trained, part->name, data, part->numel)) < 0)
				return error;
			mu->changed[mu->nchanged++] = part->name;
			mu->changed_recurrent |= mt_view_kind_is_recurrent(l->kind);
		}
	}
	return 0;
}

static int apply_dynamic(mt_mutator *mu, mt_op_result *res, const mt_op_args *args)
{
	const mt_view_layer *l = args->nlayers ? mt_model_view_find(mu->original, args->layers[0]) : NULL;
	rnn_layer *r;
	int error;
	if (!l)
		return mt_error_set(MT_EINVALID, "%s: no recurrent layer named", args->op->name);
	if ((error = mt_op_check_layer(mu->original, args, l->name)) < 0 ||
	    (error = rnn_layer_of(&r, mu, (size_t)(l - mu->original->layers))) < 0 ||
	    (error = mt_rnn_op_prepare(&mu->mut, &mu->factors, args, l, r->steps)) < 0)
		return error;
	mu->dynamic = 1;
	mu->dynamic_layer = (size_t)(l - mu->original->layers);
	res->units = mu->mut.last - mu->mut.first + 1;
	return 0;
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
	mu->changed_recurrent = 0;
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
	if (args.op->kind == MT_OP_KIND_DYNAMIC) {
		if ((error = apply_dynamic(mu, res, &args)) < 0)
			goto cleanup;
		*model = mu->trained;
		goto cleanup;
	}
	if ((error = mt_operator_apply(res, mu->work, &args)) < 0 ||
	    (error = write_changed(mu)) < 0)
		goto cleanup;
	*model = mu->trained;
cleanup:
	mt_op_args_dispose(&args);
	return error;
}

const char *const *mt_mutator_changed(const mt_mutator *mu, size_t *count)
{
	/* A recurrent layer's op reads its weights through a list attribute
	 * (_flat_weights) that a partial cut does not see as a read of
	 * them: only a full forward is right. */
	*count = mu->changed_recurrent ? 0 : mu->nchanged;
	return mu->changed;
}

int mt_mutator_is_graph(const mt_mutator *mu) { return mu->graph_mutant != NULL; }

int mt_mutator_is_dynamic(const mt_mutator *mu) { return mu->dynamic; }

int mt_mutator_predict_dynamic(int64_t *labels, float *logits, int64_t *nout, mt_mutator *mu,
			       const mt_tensor *inputs, int64_t batch_size)
{
	rnn_layer *r = &mu->rnn[mu->dynamic_layer];
	int error;
	if (!mu->dynamic || !r->site)
		return mt_error_set(MT_EINVALID, "no dynamic mutant applied");
	if (r->cached != inputs || r->cached_batch != batch_size) {
		if ((error = mt_rnn_site_cache(r->site, inputs, batch_size)) < 0)
			return error;
		r->cached = inputs;
		r->cached_batch = batch_size;
	}
	return mt_rnn_site_predict(labels, logits, nout, r->site, &mu->mut);
}

int mt_mutator_restore(mt_mutator *mu)
{
	int error = 0;

	mt_module_free(mu->graph_mutant);
	mu->graph_mutant = NULL;
	free(mu->factors);
	mu->factors = NULL;
	memset(&mu->mut, 0, sizeof(mu->mut));
	mu->dynamic = 0;
	if ((error = mt_model_view_restore(mu->work, mu->original)) < 0)
		return error;
	for (size_t c = 0; c < mu->nchanged; c++)
		for (size_t i = 0; i < mu->work->nlayers; i++) {
			mt_view_layer *l = &mu->work->layers[i];
			for (size_t p = 0; p < l->nparts; p++)
				if (l->parts[p].name == mu->changed[c] &&
				    (error = mt_module_write_tensor(mu->trained, l->parts[p].name,
								    part_data(l, &l->parts[p]),
								    l->parts[p].numel)) < 0)
					return error;
		}
	mt_model_view_clear_changed(mu->work);
	mu->nchanged = 0;
	mu->changed_recurrent = 0;
	return 0;
}
