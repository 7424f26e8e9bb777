/*
 * Source-level mutation: the mutant object (mt_source_apply parses the
 * arguments and hands them to the operator's group), the recipe copy and
 * its canonical text, noise and the mutated training set. Argument parsing
 * and the helpers the operators share live in source_args.c, the operators
 * themselves in source_data.c and source_program.c, the planner helper in
 * mutate/source_plan.c.
 * Exact semantics: docs/operators.md, "Source level".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/arch.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/recipe.h"
#include "mutorch/rng.h"
#include "mutorch/source.h"
#include "mutorch/strbuf.h"
#include "source_internal.h"

/* ---- config copy and recipe text ----------------------------------------- */

int mt_source_config_copy(mt_config **out, const mt_config *src)
{
	return mt_config_copy(out, src);
}

/* The recipe of an external training program: what the program is told
 * (command, protocol, seed, every declared knob's value) and nothing it is
 * not told, so that an undeclared field never tells mutants apart. The
 * program files' content is in the cache key's data digest. */
static int program_recipe_text(char **out, const mt_config *cfg)
{
	mt_strbuf sb = { 0 };
	const mt_optim_config *o = &cfg->optim;

	mt_strbuf_printf(&sb, "program command=[");
	for (size_t i = 0; i < cfg->ncommand; i++) /* length-prefixed: any text */
		mt_strbuf_printf(&sb, "%s%zu:%s", i ? "," : "", strlen(cfg->command[i]), cfg->command[i]);
	mt_strbuf_printf(&sb, "] protocol=%d seed=%llu", cfg->protocol, (unsigned long long)cfg->seed);
	for (int i = 0; i < MT_KNOB_COUNT; i++) {
		unsigned bit = 1u << i;
		if (!(cfg->knobs & bit))
			continue;
		mt_strbuf_printf(&sb, " %s=", mt_knob_name(i));
		switch (bit) {
		case MT_KNOB_LR: mt_strbuf_printf(&sb, "%.17g", o->lr); break;
		case MT_KNOB_BATCH_SIZE: mt_strbuf_printf(&sb, "%lld", (long long)cfg->batch_size); break;
		case MT_KNOB_EPOCHS: mt_strbuf_printf(&sb, "%d", cfg->epochs); break;
		case MT_KNOB_OPTIMIZER:
			mt_strbuf_printf(&sb, "%s,lr=%.17g,momentum=%.17g,dampening=%.17g,nesterov=%d,"
					 "weight_decay=%.17g,betas=%.17g/%.17g,eps=%.17g,alpha=%.17g,amsgrad=%d,lr_decay=%.17g",
					 mt_optim_kind_name(o->kind), o->lr, o->momentum, o->dampening,
					 o->nesterov, o->weight_decay, o->beta1, o->beta2, o->eps, o->alpha,
					 o->amsgrad, o->lr_decay);
			break;
		case MT_KNOB_LOSS: mt_strbuf_printf(&sb, "%s", mt_loss_kind_name(cfg->loss)); break;
		case MT_KNOB_L1: mt_strbuf_printf(&sb, "%.17g", cfg->l1); break;
		case MT_KNOB_L2: mt_strbuf_printf(&sb, "%.17g", cfg->l2); break;
		case MT_KNOB_GRAD_CLIP: mt_strbuf_printf(&sb, "%.17g", cfg->grad_clip); break;
		case MT_KNOB_DROPOUT: mt_strbuf_printf(&sb, "%.17g", cfg->dropout); break;
		case MT_KNOB_PATIENCE: mt_strbuf_printf(&sb, "%d", cfg->patience); break;
		case MT_KNOB_VALIDATION_SPLIT: mt_strbuf_printf(&sb, "%.17g", cfg->validation_split); break;
		case MT_KNOB_INIT: mt_strbuf_printf(&sb, "%s", mt_init_kind_name(cfg->init)); break;
		}
	}
	return src_sb_finish(out, &sb, "recipe");
}

int mt_source_recipe_text(char **out, const mt_config *cfg)
{
	mt_strbuf sb = { 0 };
	const mt_optim_config *o = &cfg->optim;
	char *arch_text = NULL;

	*out = NULL;
	if (cfg->command)
		return program_recipe_text(out, cfg);
	if (cfg->architecture) {
		mt_arch *arch = NULL;
		/* canonical when it parses, as written otherwise */
		if (mt_arch_parse(&arch, cfg->architecture) == 0)
			mt_arch_format(&arch_text, arch);
		mt_arch_free(arch);
		mt_error_clear();
		mt_strbuf_printf(&sb, "architecture=%s", arch_text ? arch_text : cfg->architecture);
		free(arch_text);
	} else {
		mt_strbuf_printf(&sb, "torchscript=%s", cfg->torchscript ? cfg->torchscript : "");
	}
	mt_strbuf_printf(&sb, " init=%s optimizer=%s lr=%.17g momentum=%.17g dampening=%.17g nesterov=%d"
		  " weight_decay=%.17g betas=%.17g,%.17g eps=%.17g alpha=%.17g amsgrad=%d lr_decay=%.17g",
		  mt_init_kind_name(cfg->init), mt_optim_kind_name(o->kind), o->lr, o->momentum,
		  o->dampening, o->nesterov, o->weight_decay, o->beta1, o->beta2, o->eps, o->alpha,
		  o->amsgrad, o->lr_decay);
	mt_strbuf_printf(&sb, " loss=%s epochs=%d batch_size=%lld seed=%llu grad_clip=%.17g l1=%.17g"
		  " l2=%.17g patience=%d validation_split=%.17g",
		  mt_loss_kind_name(cfg->loss), cfg->epochs, (long long)cfg->batch_size,
		  (unsigned long long)cfg->seed, cfg->grad_clip, cfg->l1, cfg->l2, cfg->patience,
		  cfg->validation_split);
	return src_sb_finish(out, &sb, "recipe");
}

/* ---- apply ---------------------------------------------------------------- */

static int is_data_op(const char *name)
{
	static const char *const data_ops[] = { "DR", "LE", "DM", "DF", "NP", "TCL", "TRD",
		"TUD", "TAN", "TCO" };
	for (size_t i = 0; i < sizeof(data_ops) / sizeof(data_ops[0]); i++)
		if (strcmp(data_ops[i], name) == 0)
			return 1;
	return 0;
}

int mt_source_op_is_random(const char *op)
{
	const mt_operator *o = mt_operator_find(op);
	return o && o->level == MT_OP_LEVEL_SOURCE && is_data_op(o->name);
}

static int find_source_op(const mt_operator **out, const char *name)
{
	const mt_operator *op = mt_operator_find(name);
	if (!op || op->level != MT_OP_LEVEL_SOURCE) {
		char names[400] = "";
		size_t count, used = 0;
		const mt_operator *all = mt_operators(&count);
		for (size_t i = 0; i < count; i++) {
			if (all[i].level != MT_OP_LEVEL_SOURCE)
				continue;
			int n = snprintf(names + used, sizeof(names) - used, "%s%s",
					 used ? ", " : "", all[i].name);
			if (n > 0 && (size_t)n < sizeof(names) - used)
				used += (size_t)n;
		}
		return mt_error_set(MT_EINVALID, "source operator '%s' is %s, expected one of %s",
				    name ? name : "(none)",
				    op ? "a model-level operator" : "not known", names);
	}
	*out = op;
	return 0;
}

void mt_source_mutant_free(mt_source_mutant *mu)
{
	if (!mu)
		return;
	free(mu->description);
	free(mu->params);
	free(mu->order_map);
	free(mu->labels);
	free(mu->noise);
	mt_config_free(mu->config);
	free(mu);
}

/* Drop everything but the reason of a not-applicable mutant. */
static void clear_outputs(mt_source_mutant *mu)
{
	free(mu->description);
	free(mu->params);
	free(mu->order_map);
	free(mu->labels);
	free(mu->noise);
	mt_config_free(mu->config);
	mu->description = mu->params = NULL;
	mu->order_map = mu->labels = NULL;
	mu->noise = NULL;
	mu->n_map = 0;
	mu->nnoise = 0;
	mu->config = NULL;
}

int mt_source_apply(mt_source_mutant **out, const mt_config *original,
		    const mt_dataset *train, const char *op_name,
		    const mt_config_param *params, size_t nparams, uint64_t seed)
{
	const mt_operator *op = NULL;
	mt_source_mutant *mu = NULL;
	src_args args;
	int error;

	*out = NULL;
	if (!original)
		return mt_error_set(MT_EINVALID, "%s: no config given", op_name ? op_name : "source");
	if ((error = find_source_op(&op, op_name)) < 0)
		return error;
	int data = is_data_op(op->name);
	if ((data || strcmp(op->name, "HDB") == 0) && !train)
		return mt_error_set(MT_EINVALID, "%s: no training set given, expected one (the operator reads it)",
				    op->name);
	if ((error = src_parse_args(&args, op, original, train, params, nparams, seed)) < 0)
		return error;
	if (!(mu = calloc(1, sizeof(*mu))))
		return mt_error_oom();
	mu->op = op;
	mu->is_data = data;
	mu->seed = args.seed;
	if ((error = mt_source_config_copy(&mu->config, original)) < 0)
		goto fail;
	error = data ? mt_src_data_apply(mu, &args) : mt_src_program_apply(mu, &args);
	if (error < 0)
		goto fail;
	if (mu->not_applicable) {
		clear_outputs(mu);
		*out = mu;
		return 0;
	}
	if ((error = src_format_params(&mu->params, &args, data)) < 0)
		goto fail;
	if (!mu->description && (error = src_describe(mu, "%s", op->description)) < 0)
		goto fail;
	*out = mu;
	return 0;
fail:
	mt_source_mutant_free(mu);
	return error;
}

/* ---- noise and the mutated training set ------------------------------------ */

void mt_source_noise_add(float *values, int64_t count, const mt_source_noise *noise,
			 double scale)
{
	mt_rng rng;
	mt_rng_seed(&rng, noise->seed);
	for (int64_t i = 0; i < count; i++)
		values[i] = (float)((double)values[i] + scale * noise->sigma * mt_rng_normal(&rng));
}

int mt_source_build_train(mt_dataset **out, const mt_source_mutant *mu,
			  const mt_dataset *train, const mt_config *cfg)
{
	int64_t n = mt_dataset_count(train), size = mt_dataset_sample_size(train);
	int64_t n_map = mu->order_map ? mu->n_map : n;
	const int64_t *src_labels = mt_dataset_labels(train);
	mt_pixel_type type = mt_dataset_pixel_type(train);
	const void *src = mt_dataset_pixels(train);
	int64_t *noise_of = NULL, *labels = NULL;
	void *pixels = NULL;
	int error = 0;

	*out = NULL;
	if (mu->not_applicable)
		return mt_error_set(MT_EINVALID, "%s: the mutant is not applicable, nothing to build",
				    mu->op->name);
	for (int64_t j = 0; j < n_map; j++)
		if (mu->order_map && (mu->order_map[j] < 0 || mu->order_map[j] >= n))
			return mt_error_set(MT_EINVALID,
					    "%s: order_map[%lld] = %lld is outside the training set (n = %lld)",
					    mu->op->name, (long long)j, (long long)mu->order_map[j],
					    (long long)n);
	if (mu->nnoise) {
		if (!(noise_of = malloc((size_t)(n ? n : 1) * sizeof(*noise_of)))) {
			error = mt_error_oom();
			goto cleanup;
		}
		for (int64_t i = 0; i < n; i++)
			noise_of[i] = -1;
		for (size_t k = 0; k < mu->nnoise; k++) {
			if (mu->noise[k].index < 0 || mu->noise[k].index >= n) {
				error = mt_error_set(MT_EINVALID, "%s: noise entry %zu names sample %lld, outside the training set",
						     mu->op->name, k, (long long)mu->noise[k].index);
				goto cleanup;
			}
			noise_of[mu->noise[k].index] = (int64_t)k;
		}
	}
	mt_pixel_type out_type = mu->nnoise ? MT_PIXELS_F32 : type;
	size_t elem = out_type == MT_PIXELS_F32 ? sizeof(float) : 1;
	if (!(pixels = malloc((size_t)(n_map ? n_map : 1) * (size_t)size * elem)) ||
	    !(labels = malloc((size_t)(n_map ? n_map : 1) * sizeof(*labels)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (int64_t j = 0; j < n_map; j++) {
		int64_t i = mu->order_map ? mu->order_map[j] : j;
		labels[j] = mu->labels ? mu->labels[j] : src_labels[i];
		if (out_type == type) {
			memcpy((char *)pixels + (size_t)j * (size_t)size * elem,
			       (const char *)src + (size_t)i * (size_t)size * elem,
			       (size_t)size * elem);
		} else { /* uint8 to float32 */
			const uint8_t *row = (const uint8_t *)src + (size_t)i * (size_t)size;
			float *dst = (float *)pixels + (size_t)j * (size_t)size;
			for (int64_t e = 0; e < size; e++)
				dst[e] = (float)row[e];
		}
		if (noise_of && noise_of[i] >= 0)
			mt_source_noise_add((float *)pixels + (size_t)j * (size_t)size, size,
					    &mu->noise[noise_of[i]], cfg->norm_scale);
	}
	char name[256];
	snprintf(name, sizeof(name), "%s (%s)", mt_dataset_name(train),
		 mu->params ? mu->params : mu->op->name);
	error = mt_dataset_new(out, name, out_type, pixels, labels, n_map,
			       mt_dataset_shape(train), mt_dataset_num_classes(train));
cleanup:
	free(noise_of);
	free(pixels);
	free(labels);
	return error;
}
