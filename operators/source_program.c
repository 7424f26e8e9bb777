/*
 * Source-level program operators: they rewrite the training recipe (a deep
 * copy of the config). Architecture operators work on model.architecture
 * (layer = 0-based position, as mt_arch and the shim's module names count)
 * and keep only results that pass mt_arch_check on model.input_shape. None
 * draws random numbers. A result equal to the original is refused
 * (not applicable), never returned as a mutant.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/arch.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/recipe.h"
#include "mutorch/source.h"
#include "source_internal.h"

static int missing(const mt_source_mutant *mu, const char *key, const char *expected)
{
	return mt_error_set(MT_EINVALID, "%s: parameter '%s' is missing, expected %s",
			    mu->op->name, key, expected);
}

static int same_double(double a, double b)
{
	return a == b;
}

/* ---- architecture helpers ------------------------------------------------- */

typedef struct {
	mt_arch *orig;
	int64_t (*shapes)[3]; /* output shape of each layer of orig */
	mt_arch *mut;
	size_t layer;         /* the `layer` parameter */
	char text[128];       /* the target layer as written, for messages */
} arch_ctx;

static void arch_ctx_dispose(arch_ctx *x)
{
	mt_arch_free(x->orig);
	mt_arch_free(x->mut);
	free(x->shapes);
}

/* One layer with the parser's defaults, from its text ("relu",
 * "batchnorm2d(16)"). */
static int make_layer(mt_layer *out, const char *text)
{
	mt_arch *a = NULL;
	int error = mt_arch_parse(&a, text);
	if (error == 0)
		*out = a->layers[0];
	mt_arch_free(a);
	return error;
}

static int layer_text(char *buf, size_t len, const mt_layer *l)
{
	mt_arch one = { (mt_layer *)l, 1 };
	char *s = NULL;
	int error = mt_arch_format(&s, &one);
	snprintf(buf, len, "%s", error == 0 ? s : mt_layer_kind_name(l->kind));
	free(s);
	return error;
}

static int remove_layer(mt_arch *a, size_t i)
{
	memmove(a->layers + i, a->layers + i + 1, (a->nlayers - i - 1) * sizeof(*a->layers));
	a->nlayers--;
	return 0;
}

static int insert_layer(mt_arch *a, size_t i, const mt_layer *l)
{
	mt_layer *grown = realloc(a->layers, (a->nlayers + 1) * sizeof(*grown));
	if (!grown)
		return mt_error_oom();
	a->layers = grown;
	memmove(a->layers + i + 1, a->layers + i, (a->nlayers - i) * sizeof(*a->layers));
	a->layers[i] = *l;
	a->nlayers++;
	return 0;
}

static const int64_t *in_shape(const arch_ctx *x, const mt_config *cfg, size_t i)
{
	return i == 0 ? cfg->input_shape : x->shapes[i - 1];
}

/* Same input and output shape, and not a flatten (which changes the rank). */
static int shape_preserving(const arch_ctx *x, const mt_config *cfg, size_t i)
{
	const int64_t *in = in_shape(x, cfg, i), *out = x->shapes[i];
	return x->orig->layers[i].kind != MT_LAYER_FLATTEN && in[0] == out[0] &&
	       in[1] == out[1] && in[2] == out[2];
}

/* Is the output of layer i flattened ({N, d})? */
static int flat_after(const arch_ctx *x, size_t i)
{
	for (size_t j = 0; j <= i; j++)
		if (x->orig->layers[j].kind == MT_LAYER_FLATTEN)
			return 1;
	return 0;
}

static int is_weighted(mt_layer_kind k)
{
	return k == MT_LAYER_LINEAR || k == MT_LAYER_CONV2D;
}

/* The first activation after layer i, before the next linear or conv2d
 * layer (dropout, pooling, flatten and batch norm are skipped); -1: none. */
static long activation_after(const mt_arch *a, size_t i)
{
	for (size_t j = i + 1; j < a->nlayers && !is_weighted(a->layers[j].kind); j++)
		if (mt_layer_kind_is_activation(a->layers[j].kind))
			return (long)j;
	return -1;
}

static int wrong_layer(const mt_source_mutant *mu, const arch_ctx *x, const char *expected)
{
	return mt_error_set(MT_EINVALID, "%s: parameter 'layer' is %zu ('%s'), expected %s",
			    mu->op->name, x->layer, x->text, expected);
}

/* Parse and check the original; read and check the layer parameter. */
static int arch_begin(arch_ctx *x, mt_source_mutant *mu, src_args *a, int *na)
{
	const mt_config *cfg = a->cfg;
	src_value *layer = src_arg(a, "layer");
	int error;

	*na = 0;
	memset(x, 0, sizeof(*x));
	if (!cfg->architecture) {
		*na = 1;
		return src_not_applicable(mu, "the model is a TorchScript file, not an architecture");
	}
	if (!cfg->has_input_shape)
		return mt_error_set(MT_EINVALID, "%s: %s: model.input_shape is missing, expected it with an architecture",
				    mu->op->name, cfg->path);
	if ((error = mt_arch_parse(&x->orig, cfg->architecture)) < 0)
		return mt_error_prefix("%s: %s: model.architecture: ", mu->op->name, cfg->path);
	if (!(x->shapes = calloc(x->orig->nlayers, sizeof(*x->shapes))))
		return mt_error_oom();
	if ((error = mt_arch_check(x->orig, cfg->input_shape, x->shapes)) < 0)
		return mt_error_prefix("%s: %s: model.architecture: ", mu->op->name, cfg->path);
	if ((error = mt_arch_copy(&x->mut, x->orig)) < 0)
		return error;
	if (!layer)
		return 0;
	if (!layer->has)
		return missing(mu, "layer", "the 0-based position of a layer in model.architecture (or let the planner list them)");
	if (layer->num >= (double)x->orig->nlayers)
		return mt_error_set(MT_EINVALID, "%s: parameter 'layer' is %lld, expected a position in [0, %zu]",
				    mu->op->name, (long long)layer->num, x->orig->nlayers - 1);
	x->layer = (size_t)layer->num;
	layer_text(x->text, sizeof(x->text), &x->orig->layers[x->layer]);
	return 0;
}

/* Check the mutated architecture, refuse one equal to the original, store
 * the canonical text in the mutant's config. */
static int arch_finish(arch_ctx *x, mt_source_mutant *mu, const mt_config *cfg)
{
	char *orig_text = NULL, *mut_text = NULL;
	int error;

	if (x->mut->nlayers == 0)
		return src_not_applicable(mu, "the architecture would have no layer left");
	if (mt_arch_check(x->mut, cfg->input_shape, NULL) < 0) {
		char why[MT_OP_REASON_MAX];
		snprintf(why, sizeof(why), "%s", mt_error_last());
		mt_error_clear();
		return src_not_applicable(mu, "the mutated architecture does not fit input {%lld,%lld,%lld}: %s",
					  (long long)cfg->input_shape[0], (long long)cfg->input_shape[1],
					  (long long)cfg->input_shape[2], why);
	}
	if ((error = mt_arch_format(&orig_text, x->orig)) < 0 ||
	    (error = mt_arch_format(&mut_text, x->mut)) < 0)
		goto cleanup;
	if (strcmp(orig_text, mut_text) == 0) {
		error = src_not_applicable(mu, "the architecture would equal the original");
		goto cleanup;
	}
	free(mu->config->architecture);
	mu->config->architecture = mut_text;
	mut_text = NULL;
cleanup:
	free(orig_text);
	free(mut_text);
	return error;
}

static int activation_layer(mt_layer *out, src_value *v)
{
	return make_layer(out, mt_layer_kind_name(mt_src_activation_kinds[v->choice]));
}

static int arch_op(mt_source_mutant *mu, src_args *a)
{
	const char *name = mu->op->name;
	const mt_config *cfg = a->cfg;
	arch_ctx x;
	int na, error;
	mt_layer nl;
	char nl_text[128];

	if ((error = arch_begin(&x, mu, a, &na)) < 0 || na)
		goto cleanup;
	const mt_layer *target = &x.orig->layers[x.layer];
	size_t L = x.layer;

	if (strcmp(name, "LRs") == 0) {
		if (!shape_preserving(&x, cfg, L))
			{ error = wrong_layer(mu, &x, "a layer whose input and output shapes match"); goto cleanup; }
		remove_layer(x.mut, L);
		error = src_describe(mu, "remove layer %zu '%s'", L, x.text);
	} else if (strcmp(name, "LAs") == 0) {
		int what = src_arg(a, "what")->choice; /* copy|batchnorm|activation */
		if (what == 0) {
			if (!shape_preserving(&x, cfg, L))
				{ error = wrong_layer(mu, &x, "a layer whose input and output shapes match (what=copy)"); goto cleanup; }
			nl = *target;
		} else if (what == 1) {
			char text[64];
			if (flat_after(&x, L))
				snprintf(text, sizeof(text), "batchnorm1d(%lld)", (long long)x.shapes[L][2]);
			else
				snprintf(text, sizeof(text), "batchnorm2d(%lld)", (long long)x.shapes[L][0]);
			if ((error = make_layer(&nl, text)) < 0)
				goto cleanup;
		} else if ((error = activation_layer(&nl, src_arg(a, "activation"))) < 0) {
			goto cleanup;
		}
		if (what != 2)
			src_arg(a, "activation")->has = 0; /* not used: keep it out of the text */
		if ((error = insert_layer(x.mut, L + 1, &nl)) < 0)
			goto cleanup;
		layer_text(nl_text, sizeof(nl_text), &nl);
		error = src_describe(mu, "add '%s' after layer %zu '%s'", nl_text, L, x.text);
	} else if (strcmp(name, "AFRs") == 0) {
		if (!mt_layer_kind_is_activation(target->kind))
			{ error = wrong_layer(mu, &x, "an activation layer"); goto cleanup; }
		remove_layer(x.mut, L);
		error = src_describe(mu, "remove activation layer %zu '%s'", L, x.text);
	} else if (strcmp(name, "ACH") == 0) {
		src_value *act = src_arg(a, "activation");
		if (!mt_layer_kind_is_activation(target->kind))
			{ error = wrong_layer(mu, &x, "an activation layer"); goto cleanup; }
		if (!act->has)
			{ error = missing(mu, "activation", "one of " "relu|leaky_relu|elu|gelu|tanh|sigmoid|softmax"); goto cleanup; }
		if (mt_src_activation_kinds[act->choice] == target->kind)
			{ error = src_not_applicable(mu, "layer %zu is already %s", L, mt_layer_kind_name(target->kind)); goto cleanup; }
		if ((error = activation_layer(&nl, act)) < 0)
			goto cleanup;
		x.mut->layers[L] = nl;
		error = src_describe(mu, "layer %zu '%s' -> %s", L, x.text, mt_layer_kind_name(nl.kind));
	} else if (strcmp(name, "ARM") == 0 || strcmp(name, "AAL") == 0) {
		if (!is_weighted(target->kind))
			{ error = wrong_layer(mu, &x, "a linear or conv2d layer"); goto cleanup; }
		long j = activation_after(x.orig, L);
		if (name[1] == 'R') {
			if (j < 0)
				{ error = src_not_applicable(mu, "no activation follows layer %zu '%s' before the next linear/conv2d layer", L, x.text); goto cleanup; }
			layer_text(nl_text, sizeof(nl_text), &x.orig->layers[j]);
			remove_layer(x.mut, (size_t)j);
			error = src_describe(mu, "remove activation layer %ld '%s' after layer %zu '%s'",
					     j, nl_text, L, x.text);
		} else {
			src_value *act = src_arg(a, "activation");
			if (j >= 0)
				{ error = src_not_applicable(mu, "layer %zu '%s' already has an activation (layer %ld)", L, x.text, j); goto cleanup; }
			if (!act->has) { /* relu when applied directly */
				act->has = 1;
				act->choice = 0;
			}
			if ((error = activation_layer(&nl, act)) < 0 ||
			    (error = insert_layer(x.mut, L + 1, &nl)) < 0)
				goto cleanup;
			error = src_describe(mu, "add %s after layer %zu '%s'", mt_layer_kind_name(nl.kind), L, x.text);
		}
	} else if (strcmp(name, "RCD") == 0) {
		src_value *rate = src_arg(a, "rate");
		if (target->kind != MT_LAYER_DROPOUT)
			{ error = wrong_layer(mu, &x, "a dropout layer"); goto cleanup; }
		if (rate->has && rate->num >= 1)
			{ error = mt_error_set(MT_EINVALID, "%s: parameter 'rate' is %g, expected a number in [0, 1)", name, rate->num); goto cleanup; }
		if (!rate->has) {
			rate->has = 1;
			rate->num = target->p / 2;
		}
		if (same_double(rate->num, target->p))
			{ error = src_not_applicable(mu, "layer %zu already has rate %g", L, target->p); goto cleanup; }
		x.mut->layers[L].p = rate->num;
		error = src_describe(mu, "layer %zu '%s': dropout rate %g -> %g", L, x.text, target->p, rate->num);
	} else if (strcmp(name, "WAB") == 0 || strcmp(name, "WRB") == 0) {
		int add = name[1] == 'A';
		if (!is_weighted(target->kind))
			{ error = wrong_layer(mu, &x, "a linear or conv2d layer"); goto cleanup; }
		if (!!target->bias == add)
			{ error = src_not_applicable(mu, "layer %zu '%s' %s", L, x.text, add ? "already has a bias" : "has no bias"); goto cleanup; }
		x.mut->layers[L].bias = add;
		error = src_describe(mu, "%s the bias of layer %zu '%s'", add ? "add" : "remove", L, x.text);
	} else {
		error = mt_error_set(MT_ERROR, "%s: not an architecture operator", name);
	}
	if (error < 0 || mu->not_applicable)
		goto cleanup;
	error = arch_finish(&x, mu, cfg);
cleanup:
	arch_ctx_dispose(&x);
	return error;
}

/* ---- recipe operators ------------------------------------------------------- */

static int64_t scaled(int64_t v, double factor)
{
	double r = (double)llround((double)v * factor);
	if (r < 1)
		return 1;
	if (r > 1e15)
		return (int64_t)1e15;
	return (int64_t)r;
}

/* RCD on the user's own training program: its one dropout knob. */
static int rcd_knob(mt_source_mutant *mu, src_args *a)
{
	src_value *layer = src_arg(a, "layer"), *rate = src_arg(a, "rate");
	double old = a->cfg->dropout;

	if (layer->given)
		return mt_error_set(MT_EINVALID, "RCD: parameter 'layer' names a layer of model.architecture, but your training program has one dropout rate ('training.hyperparameters.dropout'); expected no layer");
	if (rate->has && rate->num >= 1)
		return mt_error_set(MT_EINVALID, "RCD: parameter 'rate' is %g, expected a number in [0, 1)", rate->num);
	if (!rate->has) {
		rate->has = 1;
		rate->num = old / 2;
	}
	if (same_double(rate->num, old))
		return src_not_applicable(mu, "the dropout rate is already %g", old);
	mu->config->dropout = rate->num;
	return src_describe(mu, "dropout rate %g -> %g", old, rate->num);
}

int mt_src_program_apply(mt_source_mutant *mu, src_args *a)
{
	static const char *const arch_ops[] = { "LRs", "LAs", "AFRs", "ACH", "ARM", "AAL",
		"RCD", "WAB", "WRB" };
	const char *name = mu->op->name;
	const mt_config *cfg = a->cfg;
	mt_config *m = mu->config;
	src_value *value = src_arg(a, "value"), *factor = src_arg(a, "factor");
	int refused, error;

	if ((error = src_program_refusal(mu, a, &refused)) < 0 || refused)
		return error;
	if (cfg->command && strcmp(name, "RCD") == 0)
		return rcd_knob(mu, a);
	for (size_t i = 0; i < sizeof(arch_ops) / sizeof(arch_ops[0]); i++)
		if (strcmp(arch_ops[i], name) == 0)
			return arch_op(mu, a);

	if (strcmp(name, "HBS") == 0) {
		m->batch_size = value->given ? (int64_t)value->num : scaled(cfg->batch_size, factor->num);
		if (m->batch_size == cfg->batch_size)
			return src_not_applicable(mu, "the batch size would stay %lld", (long long)cfg->batch_size);
		return src_describe(mu, "batch size %lld -> %lld", (long long)cfg->batch_size,
				    (long long)m->batch_size);
	}
	if (strcmp(name, "HLR") == 0) {
		m->optim.lr = value->given ? value->num : cfg->optim.lr * factor->num;
		if (same_double(m->optim.lr, cfg->optim.lr))
			return src_not_applicable(mu, "the learning rate would stay %g", cfg->optim.lr);
		return src_describe(mu, "learning rate %g -> %g", cfg->optim.lr, m->optim.lr);
	}
	if (strcmp(name, "HNE") == 0) {
		int64_t e = value->given ? (int64_t)value->num : scaled(cfg->epochs, factor->num);
		if (e > (1 << 30))
			e = 1 << 30;
		m->epochs = (int)e;
		if (m->epochs == cfg->epochs)
			return src_not_applicable(mu, "the number of epochs would stay %d", cfg->epochs);
		return src_describe(mu, "epochs %d -> %d", cfg->epochs, m->epochs);
	}
	if (strcmp(name, "HDB") == 0) {
		int64_t n = mt_dataset_count(a->train);
		if (cfg->batch_size >= n)
			return src_not_applicable(mu, "the batch size %lld already covers the %lld training samples",
						  (long long)cfg->batch_size, (long long)n);
		m->batch_size = n;
		return src_describe(mu, "no batching: batch size %lld -> %lld (the whole training set)",
				    (long long)cfg->batch_size, (long long)n);
	}
	if (strcmp(name, "RAW") == 0) {
		src_value *pen = src_arg(a, "penalty");
		if (!pen->has)
			return missing(mu, "penalty", "l1 or l2");
		double *field = pen->choice == 0 ? &m->l1 : &m->l2;
		const char *pn = pen->choice == 0 ? "l1" : "l2";
		if (*field != 0)
			return src_not_applicable(mu, "the recipe already has %s = %g (RCW and RRW change it)", pn, *field);
		*field = value->num;
		return src_describe(mu, "add the %s weight penalty %g", pn, value->num);
	}
	if (strcmp(name, "RCW") == 0) {
		if (same_double(cfg->l1, cfg->l2))
			return src_not_applicable(mu, "l1 and l2 are equal (%g), swapping them changes nothing", cfg->l1);
		m->l1 = cfg->l2;
		m->l2 = cfg->l1;
		return src_describe(mu, "swap the weight penalties: l1 %g -> %g, l2 %g -> %g",
				    cfg->l1, m->l1, cfg->l2, m->l2);
	}
	if (strcmp(name, "RRW") == 0) {
		src_value *pen = src_arg(a, "penalty");
		if (!pen->has)
			return missing(mu, "penalty", "l1, l2 or all");
		if (pen->choice != 1)
			m->l1 = 0;
		if (pen->choice != 0)
			m->l2 = 0;
		if (m->l1 == cfg->l1 && m->l2 == cfg->l2)
			return src_not_applicable(mu, "the recipe has no %s weight penalty to remove",
						  pen->choice == 0 ? "l1" : pen->choice == 1 ? "l2" : "l1 or l2");
		return src_describe(mu, "remove the weight penalty: l1 %g -> %g, l2 %g -> %g",
				    cfg->l1, m->l1, cfg->l2, m->l2);
	}
	if (strcmp(name, "RCP") == 0) {
		if (!value->given && cfg->patience == 0)
			return src_not_applicable(mu, "early stopping is off (training.patience 0); give 'value' to turn it on");
		int64_t p = value->given ? (int64_t)value->num : scaled(cfg->patience, factor->num);
		m->patience = (int)(p > (1 << 30) ? (1 << 30) : p);
		if (m->patience == cfg->patience)
			return src_not_applicable(mu, "the patience would stay %d", cfg->patience);
		/* an external program that does not declare its validation
		 * split splits as it likes */
		if (m->patience > 0 && cfg->validation_split == 0 &&
		    (!cfg->command || (cfg->knobs & MT_KNOB_VALIDATION_SPLIT)))
			return src_not_applicable(mu, "early stopping needs a validation split, and data.validation_split is 0");
		return src_describe(mu, "early-stopping patience %d -> %d", cfg->patience, m->patience);
	}
	if (strcmp(name, "WCI") == 0) {
		src_value *init = src_arg(a, "init");
		if (!cfg->architecture && !cfg->command)
			return src_not_applicable(mu, "the model is a TorchScript file, not an architecture (its weights are loaded, not initialised)");
		if (!init->has)
			return missing(mu, "init", "one of default|xavier_uniform|xavier_normal|kaiming_uniform|kaiming_normal|normal|uniform|zeros");
		m->init = (mt_init_kind)init->choice;
		if (m->init == cfg->init)
			return src_not_applicable(mu, "the initialiser is already %s", mt_init_kind_name(cfg->init));
		return src_describe(mu, "initialiser %s -> %s", mt_init_kind_name(cfg->init),
				    mt_init_kind_name(m->init));
	}
	if (strcmp(name, "LCH") == 0) {
		src_value *loss = src_arg(a, "loss");
		if (!loss->has)
			return missing(mu, "loss", "one of cross_entropy|nll|mse");
		m->loss = (mt_loss_kind)loss->choice;
		if (m->loss == cfg->loss)
			return src_not_applicable(mu, "the loss is already %s", mt_loss_kind_name(cfg->loss));
		return src_describe(mu, "loss %s -> %s", mt_loss_kind_name(cfg->loss), mt_loss_kind_name(m->loss));
	}
	if (strcmp(name, "OCH") == 0) {
		src_value *opt = src_arg(a, "optimizer");
		if (!opt->has)
			return missing(mu, "optimizer", "one of sgd|adam|adamw|rmsprop|adagrad");
		if ((mt_optim_kind)opt->choice == cfg->optim.kind)
			return src_not_applicable(mu, "the optimizer is already %s", mt_optim_kind_name(cfg->optim.kind));
		mt_optim_config_defaults(&m->optim, (mt_optim_kind)opt->choice);
		return src_describe(mu, "optimizer %s (lr %g) -> %s (lr %g, PyTorch's defaults)",
				    mt_optim_kind_name(cfg->optim.kind), cfg->optim.lr,
				    mt_optim_kind_name(m->optim.kind), m->optim.lr);
	}
	if (strcmp(name, "OCG") == 0) {
		if (same_double(cfg->grad_clip, value->num))
			return src_not_applicable(mu, "gradients are already clipped at norm %g", cfg->grad_clip);
		m->grad_clip = value->num;
		if (cfg->grad_clip == 0)
			return src_describe(mu, "clip gradients at norm %g", m->grad_clip);
		return src_describe(mu, "gradient clipping norm %g -> %g", cfg->grad_clip, m->grad_clip);
	}
	if (strcmp(name, "VRM") == 0) {
		if (cfg->validation_split == 0)
			return src_not_applicable(mu, "%s is already 0", cfg->command ?
						  "training.hyperparameters.validation_split" : "data.validation_split");
		m->validation_split = 0;
		return src_describe(mu, "validation split %g -> 0 (train on every sample)", cfg->validation_split);
	}
	return mt_error_set(MT_ERROR, "%s: source operator without an implementation", name);
}
