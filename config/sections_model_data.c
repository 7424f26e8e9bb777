/* The 'model' and 'data' sections of mutorch.yml (docs/config.md): what is
 * tested, the model (an architecture or a TorchScript file) and its data
 * sets. One of the section files that config.c's loader calls in turn; the
 * YAML getters they share are in yaml_get.c. */
#include "sections.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mutorch/arch.h"
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/recipe.h"
#include "yaml_get.h"

/* ---- names ------------------------------------------------------------- */

static const char *const format_names[] = { "idx", "cifar10", "npy", "torch" };

const char *mt_data_format_name(mt_data_format fmt)
{
	return (int)fmt >= 0 && (size_t)fmt < COUNT(format_names) ? format_names[fmt] : "unknown";
}

/* ---- model ------------------------------------------------------------- */

int cfg_load_model(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "architecture", "torchscript", "init",
		"input_shape", "output" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *model, *arch_node, *ts_node, *shape;
	const char *const *names;
	size_t nnames;
	int error, init = (int)cfg->init;

	if ((error = cfg_get_mapping(&model, ctx, root, NULL, "model", keys, COUNT(keys))) < 0)
		return error;
	/* Your own training program defines the model: `model` is optional
	 * then, and holds at most the trained model for the model level. */
	if (!model && ctx->external)
		return cfg_get_path(&cfg->output, ctx, NULL, "model", "output", "trained/model.pt");
	if (!model)
		return cfg_err_missing(ctx, "model");

	arch_node = cfg_lookup(ctx, model, "architecture");
	ts_node = cfg_lookup(ctx, model, "torchscript");
	if (ctx->external && (arch_node || cfg_lookup(ctx, model, "init")))
		return cfg_err_at(ctx, arch_node ? arch_node : cfg_lookup(ctx, model, "init"),
				  "'model.%s' is for mutorch's built-in trainer, but 'training.command' runs your own program, which defines the model; expected %s",
				  arch_node ? "architecture" : "init",
				  arch_node ? "no 'model.architecture' (at most 'model.torchscript', a trained model for the model level)"
					    : "the initialiser as 'training.hyperparameters.init' when the program reads it");
	if (!ctx->external && !arch_node == !ts_node)
		return cfg_err_at(ctx, model,
				  "'model' needs exactly one of 'architecture' (a layer description) or 'torchscript' (a saved model), got %s",
				  arch_node ? "both" : "neither");

	if (arch_node) {
		ctx->arch_line = cfg_line_of(arch_node);
		if (arch_node->type == YAML_SEQUENCE_NODE) {
			/* A list of layers reads better for long models. */
			yaml_node_item_t *item;
			size_t len = 1;
			for (item = arch_node->data.sequence.items.start;
			     item < arch_node->data.sequence.items.top; item++) {
				yaml_node_t *l = cfg_node_at(ctx, *item);
				if (l->type != YAML_SCALAR_NODE)
					return cfg_err_type(ctx, l, "model.architecture",
							    "a string or a list of layer strings");
				len += strlen(cfg_scalar_text(l)) + 1;
			}
			if (!(cfg->architecture = calloc(1, len)))
				return mt_error_oom();
			for (item = arch_node->data.sequence.items.start;
			     item < arch_node->data.sequence.items.top; item++) {
				if (item > arch_node->data.sequence.items.start)
					strcat(cfg->architecture, " ");
				strcat(cfg->architecture, cfg_scalar_text(cfg_node_at(ctx, *item)));
			}
		} else if (arch_node->type == YAML_SCALAR_NODE) {
			if (!(cfg->architecture = strdup(cfg_scalar_text(arch_node))))
				return mt_error_oom();
		} else {
			return cfg_err_type(ctx, arch_node, "model.architecture",
					    "a string or a list of layer strings");
		}
		if ((error = mt_arch_parse(&ctx->arch, cfg->architecture)) < 0)
			return mt_error_prefix("%s:%d: 'model.architecture': ", ctx->name,
					       ctx->arch_line);
	} else {
		if ((error = cfg_get_path(&cfg->torchscript, ctx, model, "model", "torchscript",
					  NULL)) < 0)
			return error;
	}

	names = mt_init_kind_names(&nnames);
	if ((error = cfg_get_enum(&init, ctx, model, "model", "init", names, nnames)) < 0)
		return error;
	cfg->init = (mt_init_kind)init;

	if ((shape = cfg_lookup(ctx, model, "input_shape"))) {
		const char *expected = "a list of 3 positive integers [channels, height, width]";
		int i = 0;
		yaml_node_item_t *item;
		if (shape->type != YAML_SEQUENCE_NODE ||
		    shape->data.sequence.items.top - shape->data.sequence.items.start != 3)
			return cfg_err_type(ctx, shape, "model.input_shape", expected);
		for (item = shape->data.sequence.items.start;
		     item < shape->data.sequence.items.top; item++, i++) {
			yaml_node_t *d = cfg_node_at(ctx, *item);
			int64_t v;
			if (d->type != YAML_SCALAR_NODE ||
			    cfg_parse_int64(&v, cfg_scalar_text(d)) < 0 || v < 1 || v > (1 << 30))
				return cfg_err_type(ctx, d, "model.input_shape", expected);
			cfg->input_shape[i] = v;
		}
		cfg->has_input_shape = 1;
	} else if (arch_node) {
		return cfg_err_at(ctx, model,
				  "missing required key 'model.input_shape' (the [channels, height, width] of one input, needed with 'model.architecture')");
	}

	return cfg_get_path(&cfg->output, ctx, model, "model", "output", "trained/model.pt");
}

/* ---- data --------------------------------------------------------------- */

static int push_path(mt_data_source *src, const char *path, const load_ctx *ctx)
{
	char **grown = realloc(src->paths, (src->npaths + 1) * sizeof(*grown));
	if (!grown)
		return mt_error_oom();
	src->paths = grown;
	if (!(src->paths[src->npaths] = mt_io_path_join(ctx->base_dir, path)))
		return mt_error_oom();
	src->npaths++;
	return 0;
}

static int load_source(mt_data_source *src, load_ctx *ctx, const yaml_node_t *data,
		       const char *which)
{
	static const char *const idx_keys[] = { "images", "labels" };
	static const char *const cifar_keys[] = { "files" };
	static const char *const npy_keys[] = { "x", "y" };
	static const char *const torch_keys[] = { "file" };
	const char *const *keys;
	size_t nkeys, i;
	char prefix[KEY_MAX], full[KEY_MAX], expected[256];
	yaml_node_t *map = cfg_lookup(ctx, data, which);
	int error;

	cfg_join_key(prefix, "data", which);
	if (!map)
		return cfg_err_missing(ctx, prefix);
	switch (ctx->cfg->format) {
	case MT_FORMAT_IDX: keys = idx_keys; nkeys = COUNT(idx_keys); break;
	case MT_FORMAT_CIFAR10: keys = cifar_keys; nkeys = COUNT(cifar_keys); break;
	case MT_FORMAT_NPY: keys = npy_keys; nkeys = COUNT(npy_keys); break;
	default: keys = torch_keys; nkeys = COUNT(torch_keys); break;
	}
	if (map->type != YAML_MAPPING_NODE) {
		char names[128];
		cfg_list_names(names, sizeof(names), keys, nkeys);
		snprintf(expected, sizeof(expected), "a mapping with keys %s (data.format %s)",
			 names, mt_data_format_name(ctx->cfg->format));
		return cfg_err_type(ctx, map, prefix, expected);
	}
	if ((error = cfg_check_keys(ctx, map, prefix, keys, nkeys)) < 0)
		return error;

	if (ctx->cfg->format == MT_FORMAT_CIFAR10) {
		yaml_node_t *files = cfg_lookup(ctx, map, "files");
		yaml_node_item_t *item;
		const char *what = "a file name or a non-empty list of file names";
		cfg_join_key(full, prefix, "files");
		if (!files)
			return cfg_err_missing(ctx, full);
		if (files->type == YAML_SCALAR_NODE && *cfg_scalar_text(files))
			return push_path(src, cfg_scalar_text(files), ctx);
		if (files->type != YAML_SEQUENCE_NODE ||
		    files->data.sequence.items.top == files->data.sequence.items.start)
			return cfg_err_type(ctx, files, full, what);
		for (item = files->data.sequence.items.start;
		     item < files->data.sequence.items.top; item++) {
			yaml_node_t *f = cfg_node_at(ctx, *item);
			if (f->type != YAML_SCALAR_NODE || !*cfg_scalar_text(f))
				return cfg_err_type(ctx, f, full, what);
			if ((error = push_path(src, cfg_scalar_text(f), ctx)) < 0)
				return error;
		}
		return 0;
	}
	for (i = 0; i < nkeys; i++) {
		char *path;
		cfg_join_key(full, prefix, keys[i]);
		if ((error = cfg_get_string(&path, NULL, ctx, map, prefix, keys[i])) < 0)
			return error;
		if (!path)
			return cfg_err_missing(ctx, full);
		error = push_path(src, path, ctx);
		free(path);
		if (error < 0)
			return error;
	}
	return 0;
}

/* A scalar or a list of 1..4 numbers; returns the count. */
static int get_channels(double *out, int *count, const load_ctx *ctx,
			const yaml_node_t *v, const char *key)
{
	const char *expected = "a positive number or a list of 1 to 4 positive numbers";
	range_kind r = RANGE_POSITIVE;
	yaml_node_item_t *item;
	int n = 0;

	if (!strcmp(key, "data.normalize.mean")) {
		expected = "a number or a list of 1 to 4 numbers";
		r = RANGE_ANY;
	}
	if (v->type == YAML_SCALAR_NODE) {
		if (cfg_parse_double_node(&out[0], v, r) < 0)
			return cfg_err_type(ctx, v, key, expected);
		*count = 1;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return cfg_err_type(ctx, v, key, expected);
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top; item++) {
		if (n == 4)
			return cfg_err_type(ctx, v, key, expected);
		if (cfg_parse_double_node(&out[n], cfg_node_at(ctx, *item), r) < 0)
			return cfg_err_type(ctx, cfg_node_at(ctx, *item), key, expected);
		n++;
	}
	if (n == 0)
		return cfg_err_type(ctx, v, key, expected);
	*count = n;
	return 0;
}

int cfg_load_data(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "format", "classes", "train", "test",
		"normalize", "validation_split", "train_limit", "test_limit" };
	static const char *const norm_keys[] = { "scale", "mean", "std" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *data, *norm;
	int error, format = (int)cfg->format;

	if ((error = cfg_get_mapping(&data, ctx, root, NULL, "data", keys, COUNT(keys))) < 0)
		return error;
	if (!data)
		return cfg_err_missing(ctx, "data");
	if ((error = cfg_get_enum(&format, ctx, data, "data", "format", format_names,
				  COUNT(format_names))) < 0)
		return error;
	cfg->format = (mt_data_format)format;
	if ((error = cfg_get_int(&cfg->num_classes, ctx, data, "data", "classes", 2)) < 0 ||
	    (error = load_source(&cfg->train, ctx, data, "train")) < 0 ||
	    (error = load_source(&cfg->test, ctx, data, "test")) < 0 ||
	    (error = cfg_get_double(&cfg->validation_split, ctx, data, "data",
				    "validation_split", RANGE_UNIT_OPEN)) < 0 ||
	    (ctx->external && cfg_lookup(ctx, data, "validation_split") &&
	     (error = cfg_err_at(ctx, cfg_lookup(ctx, data, "validation_split"),
				 "'data.validation_split' is for mutorch's built-in trainer, but 'training.command' runs your own program; expected it as 'training.hyperparameters.validation_split' when the program reads it")) < 0) ||
	    (error = cfg_get_int64(&cfg->train_limit, ctx, data, "data", "train_limit", 0,
				   INT64_MAX)) < 0 ||
	    (error = cfg_get_int64(&cfg->test_limit, ctx, data, "data", "test_limit", 0,
				   INT64_MAX)) < 0)
		return error;

	if ((error = cfg_get_mapping(&norm, ctx, data, "data", "normalize", norm_keys,
				     COUNT(norm_keys))) < 0)
		return error;
	if (norm) {
		yaml_node_t *mean = cfg_lookup(ctx, norm, "mean"), *std = cfg_lookup(ctx, norm, "std");
		int nmean = 0, nstd = 0, i;

		ctx->normalize_line = cfg_line_of(norm);
		if ((error = cfg_get_double(&cfg->norm_scale, ctx, norm, "data.normalize", "scale",
					    RANGE_POSITIVE)) < 0)
			return error;
		if (!mean != !std)
			return cfg_err_at(ctx, norm,
					  "'data.normalize' needs both 'mean' and 'std' (or neither), got only '%s'",
					  mean ? "mean" : "std");
		if (mean) {
			if ((error = get_channels(cfg->norm_mean, &nmean, ctx, mean,
						  "data.normalize.mean")) < 0 ||
			    (error = get_channels(cfg->norm_std, &nstd, ctx, std,
						  "data.normalize.std")) < 0)
				return error;
			if (nmean != nstd)
				return cfg_err_at(ctx, std,
						  "'data.normalize.std' has %d values but 'data.normalize.mean' has %d; expected the same number (one per channel)",
						  nstd, nmean);
			cfg->nnorm = nmean;
			for (i = nmean; i < 4; i++) {
				cfg->norm_mean[i] = 0;
				cfg->norm_std[i] = 0;
			}
		}
	}
	return 0;
}
