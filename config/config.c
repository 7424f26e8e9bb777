/* mutorch.yml (see include/mutorch/config.h and docs/config.md): loading
 * the document, checks across its sections, free and copy.
 *
 * libyaml loads the whole document into a node tree; we walk it section by
 * section (sections_model_data.c, sections_training_mutation.c), each read
 * with the node helpers and typed getters of yaml_get.c. */
#include "mutorch/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mutorch/arch.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/recipe.h"
#include "sections.h"
#include "yaml_get.h"

/* ---- checks across sections --------------------------------------------- */

static int cross_check(load_ctx *ctx)
{
	mt_config *cfg = ctx->cfg;
	int64_t (*shapes)[3] = NULL;
	int error = 0;

	if (ctx->arch) {
		const int64_t *s = cfg->input_shape;
		const int64_t *last;
		if (!(shapes = calloc(ctx->arch->nlayers, sizeof(*shapes))))
			return mt_error_oom();
		if ((error = mt_arch_check(ctx->arch, cfg->input_shape, shapes)) < 0) {
			mt_error_prefix("%s:%d: 'model.architecture' on input_shape [%lld, %lld, %lld]: ",
					ctx->name, ctx->arch_line, (long long)s[0],
					(long long)s[1], (long long)s[2]);
			goto cleanup;
		}
		last = shapes[ctx->arch->nlayers - 1];
		if (last[0] != 1 || last[1] != 1 || last[2] != cfg->num_classes) {
			error = mt_error_set(MT_EINVALID,
					     "%s:%d: 'model.architecture' outputs {%lld,%lld,%lld} per input, expected %d class scores {1,1,%d} (data.classes)",
					     ctx->name, ctx->arch_line, (long long)last[0],
					     (long long)last[1], (long long)last[2],
					     cfg->num_classes, cfg->num_classes);
			goto cleanup;
		}
	}
	if (cfg->nnorm > 1 && cfg->has_input_shape && cfg->nnorm != cfg->input_shape[0]) {
		error = mt_error_set(MT_EINVALID,
				     "%s:%d: 'data.normalize' has %d mean/std values but the input has %lld channels; expected one value or one per channel",
				     ctx->name, ctx->normalize_line, cfg->nnorm,
				     (long long)cfg->input_shape[0]);
		goto cleanup;
	}

cleanup:
	free(shapes);
	return error;
}

/* ---- limits on the text ------------------------------------------------- */

/* Refuse collections nested deeper than MT_CONFIG_MAX_DEPTH, counted on
 * libyaml's tokens before the loader builds the document: the scanner's
 * cost per token grows with the flow nesting depth (quadratic overall), so
 * scanning stops as soon as the limit is passed. A scanner error is left
 * to the loader, which reports it with its line. */
static int check_depth(const char *buf, size_t len, const char *name)
{
	yaml_parser_t parser;
	yaml_token_t token;
	int depth = 0, error = 0, done = 0;

	if (!yaml_parser_initialize(&parser))
		return mt_error_oom();
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && !error) {
		if (!yaml_parser_scan(&parser, &token))
			break;
		switch (token.type) {
		case YAML_FLOW_SEQUENCE_START_TOKEN:
		case YAML_FLOW_MAPPING_START_TOKEN:
		case YAML_BLOCK_SEQUENCE_START_TOKEN:
		case YAML_BLOCK_MAPPING_START_TOKEN:
			if (++depth > MT_CONFIG_MAX_DEPTH)
				error = mt_error_set(MT_EINVALID,
						     "%s:%d: lists and mappings nested more "
						     "than %d deep, expected at most %d "
						     "levels",
						     name, (int)token.start_mark.line + 1,
						     MT_CONFIG_MAX_DEPTH, MT_CONFIG_MAX_DEPTH);
			break;
		case YAML_FLOW_SEQUENCE_END_TOKEN:
		case YAML_FLOW_MAPPING_END_TOKEN:
		case YAML_BLOCK_END_TOKEN:
			depth--;
			break;
		case YAML_STREAM_END_TOKEN:
			done = 1;
			break;
		default:
			break;
		}
		yaml_token_delete(&token);
	}
	yaml_parser_delete(&parser);
	return error;
}

/* libyaml's message for a failed load, with its lines. */
static int yaml_syntax_error(const yaml_parser_t *parser, const char *name,
			     const char *where)
{
	if (parser->context)
		return mt_error_set(MT_EINVALID,
				    "%s:%d: YAML syntax error%s: %s (%s that starts at line %d)",
				    name, (int)parser->problem_mark.line + 1, where,
				    parser->problem ? parser->problem : "malformed document",
				    parser->context, (int)parser->context_mark.line + 1);
	return mt_error_set(MT_EINVALID, "%s:%d: YAML syntax error%s: %s", name,
			    (int)parser->problem_mark.line + 1, where,
			    parser->problem ? parser->problem : "malformed document");
}

/* ---- entry points --------------------------------------------------------- */

static void set_defaults(mt_config *cfg)
{
	cfg->init = MT_INIT_DEFAULT;
	cfg->format = MT_FORMAT_IDX;
	cfg->num_classes = 10;
	cfg->norm_scale = 1;
	cfg->nnorm = 0;
	cfg->validation_split = 0;
	mt_optim_config_defaults(&cfg->optim, MT_OPTIM_ADAM);
	cfg->loss = MT_LOSS_CROSS_ENTROPY;
	cfg->epochs = 10;
	cfg->batch_size = 64;
	cfg->eval_batch_size = 1000;
	cfg->seed = 42;
	cfg->threads = 1;
	cfg->mutation_seed = 1;
	cfg->accuracy_filter = 0.9;
	cfg->src_runs = 10;
	cfg->src_rule = MT_SRC_RULE_DEEPCRIME;
	cfg->src_alpha = 0.05;
	cfg->src_effect = 0.5;
	cfg->src_max_runs = 20;
	cfg->protocol = MT_PROTOCOL_VERSION;
}

int mt_config_load_buffer(mt_config **out, const char *buf, size_t len,
			  const char *name, const char *base_dir)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int parser_ok = 0, doc_ok = 0, error = 0;
	load_ctx ctx = { 0 };
	mt_config *cfg = NULL;
	yaml_node_t *root;
	static const char *const sections[] = { "model", "data", "training", "run",
		"mutation", "ci" };

	*out = NULL;
	if (!name)
		name = "mutorch.yml";
	if (!base_dir || !*base_dir)
		base_dir = ".";
	if (!(cfg = calloc(1, sizeof(*cfg))) || !(cfg->path = strdup(name)) ||
	    !(cfg->base_dir = strdup(base_dir))) {
		error = mt_error_oom();
		goto cleanup;
	}
	set_defaults(cfg);
	ctx.name = cfg->path;
	ctx.base_dir = cfg->base_dir;
	ctx.cfg = cfg;
	ctx.doc = &doc;

	if (!yaml_parser_initialize(&parser)) {
		error = mt_error_oom();
		goto cleanup;
	}
	parser_ok = 1;
	if (len > MT_CONFIG_MAX_BYTES) {
		error = mt_error_set(MT_EINVALID, "%s: %zu bytes, expected a config of "
				     "at most %zu bytes", name, len, MT_CONFIG_MAX_BYTES);
		goto cleanup;
	}
	if ((error = check_depth(buf, len, name)) < 0)
		goto cleanup;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		error = yaml_syntax_error(&parser, name, "");
		goto cleanup;
	}
	doc_ok = 1;
	/* A second document would otherwise be ignored without a word. */
	{
		yaml_document_t next;
		if (!yaml_parser_load(&parser, &next)) {
			error = yaml_syntax_error(&parser, name, " in a second YAML document");
			goto cleanup;
		}
		if (yaml_document_get_root_node(&next)) {
			error = mt_error_set(MT_EINVALID,
					     "%s:%d: a second YAML document starts here; "
					     "expected the config to be one document",
					     name, (int)next.start_mark.line + 1);
			yaml_document_delete(&next);
			goto cleanup;
		}
		yaml_document_delete(&next);
	}

	root = yaml_document_get_root_node(&doc);
	if (!root || cfg_is_null(root)) {
		error = mt_error_set(MT_EINVALID, "%s: the config is empty; missing required key 'model'",
				     name);
		goto cleanup;
	}
	if (root->type != YAML_MAPPING_NODE) {
		error = cfg_err_type(&ctx, root, "(top level)",
				     "a mapping of sections (model, data, training, run, mutation, ci)");
		goto cleanup;
	}
	ctx.external = cfg_has_command(&ctx, root);
	if ((error = cfg_check_keys(&ctx, root, NULL, sections, COUNT(sections))) < 0 ||
	    (error = cfg_load_model(&ctx, root)) < 0 ||
	    (error = cfg_load_data(&ctx, root)) < 0 ||
	    (error = cfg_load_training(&ctx, root)) < 0 ||
	    (error = cfg_load_run(&ctx, root)) < 0 ||
	    (error = cfg_load_mutation(&ctx, root)) < 0 ||
	    (error = cfg_load_ci(&ctx, root)) < 0 ||
	    (error = cross_check(&ctx)) < 0)
		goto cleanup;

	*out = cfg;
	cfg = NULL;

cleanup:
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	mt_arch_free(ctx.arch);
	mt_config_free(cfg);
	return error;
}

int mt_config_load(mt_config **out, const char *path)
{
	void *buf = NULL;
	size_t len = 0;
	char *dir = NULL;
	int error;

	*out = NULL;
	if ((error = mt_io_read_file(&buf, &len, path)) < 0)
		return error;
	if (!(dir = mt_io_dirname(path))) {
		free(buf);
		return mt_error_oom();
	}
	error = mt_config_load_buffer(out, buf, len, path, dir);
	free(dir);
	free(buf);
	return error;
}

static void free_mutations(mt_config_mutation *list, size_t n)
{
	size_t i, j;
	if (!list)
		return;
	for (i = 0; i < n; i++) {
		free(list[i].op);
		for (j = 0; j < list[i].nparams; j++) {
			free(list[i].params[j].key);
			free(list[i].params[j].value);
		}
		free(list[i].params);
	}
	free(list);
}

static void free_strings(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static void free_source(mt_data_source *src)
{
	size_t i;
	for (i = 0; i < src->npaths; i++)
		free(src->paths[i]);
	free(src->paths);
}

void mt_config_free(mt_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->base_dir);
	free(cfg->architecture);
	free(cfg->torchscript);
	free(cfg->output);
	free_source(&cfg->train);
	free_source(&cfg->test);
	free(cfg->run_dir);
	free_strings(cfg->command, cfg->ncommand);
	free_strings(cfg->program_files, cfg->nprogram_files);
	free_mutations(cfg->model_level, cfg->nmodel_level);
	free_mutations(cfg->source_level, cfg->nsource_level);
	free(cfg->ci_score);
	free(cfg->ci_base);
	free(cfg);
}

static int copy_str(char **dst, const char *src)
{
	*dst = NULL;
	return src && !(*dst = strdup(src)) ? -1 : 0;
}

static int copy_strings(char ***dst, size_t *ndst, char *const *src, size_t n)
{
	*dst = NULL;
	*ndst = 0;
	if (!n)
		return 0;
	if (!(*dst = calloc(n, sizeof(char *))))
		return -1;
	for (size_t i = 0; i < n; i++, (*ndst)++)
		if (copy_str(&(*dst)[i], src[i]) < 0)
			return -1;
	return 0;
}

static int copy_source(mt_data_source *dst, const mt_data_source *src)
{
	return copy_strings(&dst->paths, &dst->npaths, src->paths, src->npaths);
}

static int copy_mutations(mt_config_mutation **dst, size_t *ndst,
			  const mt_config_mutation *src, size_t n)
{
	*dst = NULL;
	*ndst = 0;
	if (!n)
		return 0;
	if (!(*dst = calloc(n, sizeof(**dst))))
		return -1;
	for (size_t i = 0; i < n; i++) {
		mt_config_mutation *m = &(*dst)[i];
		*ndst = i + 1;
		m->line = src[i].line;
		if (copy_str(&m->op, src[i].op) < 0)
			return -1;
		if (!src[i].nparams)
			continue;
		if (!(m->params = calloc(src[i].nparams, sizeof(*m->params))))
			return -1;
		for (size_t j = 0; j < src[i].nparams; j++) {
			m->nparams = j + 1;
			m->params[j].line = src[i].params[j].line;
			if (copy_str(&m->params[j].key, src[i].params[j].key) < 0 ||
			    copy_str(&m->params[j].value, src[i].params[j].value) < 0)
				return -1;
		}
	}
	return 0;
}

int mt_config_copy(mt_config **out, const mt_config *src)
{
	mt_config *cfg;

	*out = NULL;
	if (!(cfg = malloc(sizeof(*cfg))))
		return mt_error_oom();
	*cfg = *src;
	/* no pointer of src may survive in cfg: mt_config_free frees them */
	cfg->path = cfg->base_dir = cfg->architecture = cfg->torchscript = NULL;
	cfg->output = cfg->run_dir = cfg->ci_score = cfg->ci_base = NULL;
	cfg->train.paths = cfg->test.paths = NULL;
	cfg->train.npaths = cfg->test.npaths = 0;
	cfg->model_level = cfg->source_level = NULL;
	cfg->nmodel_level = cfg->nsource_level = 0;
	cfg->command = cfg->program_files = NULL;
	cfg->ncommand = cfg->nprogram_files = 0;
	if (copy_str(&cfg->path, src->path) < 0 || copy_str(&cfg->base_dir, src->base_dir) < 0 ||
	    copy_str(&cfg->architecture, src->architecture) < 0 ||
	    copy_str(&cfg->torchscript, src->torchscript) < 0 ||
	    copy_str(&cfg->output, src->output) < 0 || copy_str(&cfg->run_dir, src->run_dir) < 0 ||
	    copy_str(&cfg->ci_score, src->ci_score) < 0 ||
	    copy_str(&cfg->ci_base, src->ci_base) < 0 ||
	    copy_source(&cfg->train, &src->train) < 0 || copy_source(&cfg->test, &src->test) < 0 ||
	    copy_strings(&cfg->command, &cfg->ncommand, src->command, src->ncommand) < 0 ||
	    copy_strings(&cfg->program_files, &cfg->nprogram_files, src->program_files,
			 src->nprogram_files) < 0 ||
	    copy_mutations(&cfg->model_level, &cfg->nmodel_level, src->model_level,
			   src->nmodel_level) < 0 ||
	    copy_mutations(&cfg->source_level, &cfg->nsource_level, src->source_level,
			   src->nsource_level) < 0) {
		mt_config_free(cfg);
		return mt_error_oom();
	}
	*out = cfg;
	return 0;
}
