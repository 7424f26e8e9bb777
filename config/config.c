/* mutorch.yml (see include/mutorch/config.h and docs/config.md).
 *
 * libyaml loads the whole document into a node tree; we walk it section by
 * section. Every mapping is first checked against its list of allowed keys
 * (so a misspelt key is an error naming its line, never silently ignored),
 * then each known key is read with a typed getter that names the dotted key
 * and the line of the offending value. */
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/io.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define KEY_MAX 256

typedef struct {
	const char *name;      /* file name for messages */
	const char *base_dir;  /* relative paths resolve against this */
	yaml_document_t *doc;
	mt_config *cfg;
	mt_arch *arch;         /* parsed model.architecture, for cross checks */
	int arch_line, normalize_line;
} load_ctx;

/* ---- names ------------------------------------------------------------- */

static const char *const format_names[] = { "idx", "cifar10", "npy", "torch" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *mt_data_format_name(mt_data_format fmt)
{
	return (int)fmt >= 0 && (size_t)fmt < COUNT(format_names) ? format_names[fmt] : "unknown";
}

/* ---- node helpers ------------------------------------------------------- */

static int line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static const char *scalar_text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* An empty value, "~" or "null" written plainly: treated as absent. */
static int is_null(const yaml_node_t *n)
{
	const char *s;
	if (!n || n->type != YAML_SCALAR_NODE)
		return 0;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = scalar_text(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* "'ten'", "a list", "a mapping" for "got ..." in messages. */
static const char *describe(const yaml_node_t *n, char *buf, size_t size)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (is_null(n))
		return "nothing";
	snprintf(buf, size, "'%.200s'", scalar_text(n));
	return buf;
}

static int err_at(const load_ctx *ctx, const yaml_node_t *n, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

static int err_at(const load_ctx *ctx, const yaml_node_t *n, const char *fmt, ...)
{
	char what[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (n)
		return mt_error_set(MT_EINVALID, "%s:%d: %s", ctx->name, line_of(n), what);
	return mt_error_set(MT_EINVALID, "%s: %s", ctx->name, what);
}

static int err_type(const load_ctx *ctx, const yaml_node_t *n, const char *key,
		    const char *expected)
{
	char buf[256];
	return err_at(ctx, n, "'%s' must be %s, got %s", key, expected,
		      describe(n, buf, sizeof(buf)));
}

static int err_missing(const load_ctx *ctx, const char *key)
{
	return mt_error_set(MT_EINVALID, "%s: missing required key '%s'", ctx->name, key);
}

static void join_key(char *buf, const char *prefix, const char *key)
{
	if (prefix && *prefix)
		snprintf(buf, KEY_MAX, "%.150s.%.100s", prefix, key);
	else
		snprintf(buf, KEY_MAX, "%.200s", key);
}

static yaml_node_t *node_at(const load_ctx *ctx, int id)
{
	return yaml_document_get_node(ctx->doc, id);
}

static void list_names(char *buf, size_t size, const char *const *names, size_t n)
{
	size_t used = 0, i;
	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
					 names[i]);
}

/* Every key of a mapping must be a string from `allowed` and appear once. */
static int check_keys(const load_ctx *ctx, const yaml_node_t *map, const char *prefix,
		      const char *const *allowed, size_t nallowed)
{
	yaml_node_pair_t *pair, *other;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(ctx, pair->key);
		char full[KEY_MAX], names[1024];
		size_t i;
		int known = 0;

		if (!k || k->type != YAML_SCALAR_NODE)
			return err_at(ctx, k, "keys under '%s' must be plain strings",
				      prefix && *prefix ? prefix : "(top level)");
		join_key(full, prefix, scalar_text(k));
		for (i = 0; i < nallowed; i++)
			if (!strcmp(allowed[i], scalar_text(k)))
				known = 1;
		if (!known) {
			list_names(names, sizeof(names), allowed, nallowed);
			return err_at(ctx, k, "unknown key '%s'; expected one of: %s", full, names);
		}
		for (other = map->data.mapping.pairs.start; other < pair; other++) {
			yaml_node_t *ok = node_at(ctx, other->key);
			if (!strcmp(scalar_text(ok), scalar_text(k)))
				return err_at(ctx, k, "duplicate key '%s' (first at line %d)",
					      full, line_of(ok));
		}
	}
	return 0;
}

/* The value of a key, or NULL when absent or null. */
static yaml_node_t *lookup(const load_ctx *ctx, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(ctx, pair->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp(scalar_text(k), key)) {
			yaml_node_t *v = node_at(ctx, pair->value);
			return is_null(v) ? NULL : v;
		}
	}
	return NULL;
}

/* A section that must be a mapping (NULL when absent or null). */
static int get_mapping(yaml_node_t **out, const load_ctx *ctx, const yaml_node_t *map,
		       const char *prefix, const char *key, const char *const *allowed,
		       size_t nallowed)
{
	char full[KEY_MAX];
	yaml_node_t *v = lookup(ctx, map, key);

	*out = NULL;
	join_key(full, prefix, key);
	if (!v)
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return err_type(ctx, v, full, "a mapping");
	*out = v;
	return check_keys(ctx, v, full, allowed, nallowed);
}

/* ---- typed getters: leave *out untouched when the key is absent --------- */

static int parse_int64(int64_t *out, const char *s)
{
	char *end;
	long long v;
	if (!*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end || errno)
		return -1;
	*out = v;
	return 0;
}

static int get_int64(int64_t *out, const load_ctx *ctx, const yaml_node_t *map,
		     const char *prefix, const char *key, int64_t min, int64_t max)
{
	char full[KEY_MAX], expected[96];
	yaml_node_t *v = lookup(ctx, map, key);
	int64_t value;

	if (!v)
		return 0;
	join_key(full, prefix, key);
	if (min == 1)
		snprintf(expected, sizeof(expected), "a positive integer");
	else if (min == 0)
		snprintf(expected, sizeof(expected), "a non-negative integer");
	else
		snprintf(expected, sizeof(expected), "an integer >= %lld", (long long)min);
	if (v->type != YAML_SCALAR_NODE || parse_int64(&value, scalar_text(v)) < 0 ||
	    value < min)
		return err_type(ctx, v, full, expected);
	if (value > max) {
		char buf[256];
		return err_at(ctx, v, "'%s' must be at most %lld, got %s", full,
			      (long long)max, describe(v, buf, sizeof(buf)));
	}
	*out = value;
	return 0;
}

static int get_int(int *out, const load_ctx *ctx, const yaml_node_t *map,
		   const char *prefix, const char *key, int min)
{
	int64_t v = *out;
	int error = get_int64(&v, ctx, map, prefix, key, min, 1 << 30);
	if (error == 0)
		*out = (int)v;
	return error;
}

static int get_uint64(uint64_t *out, const load_ctx *ctx, const yaml_node_t *map,
		      const char *prefix, const char *key)
{
	char full[KEY_MAX], *end;
	yaml_node_t *v = lookup(ctx, map, key);
	unsigned long long value;
	const char *s;

	if (!v)
		return 0;
	join_key(full, prefix, key);
	if (v->type != YAML_SCALAR_NODE)
		return err_type(ctx, v, full, "a non-negative integer");
	s = scalar_text(v);
	errno = 0;
	value = strtoull(s, &end, 10);
	if (!*s || *s == '-' || *s == ' ' || *end || errno)
		return err_type(ctx, v, full, "a non-negative integer");
	*out = (uint64_t)value;
	return 0;
}

typedef enum {
	RANGE_ANY,
	RANGE_POSITIVE,  /* > 0 */
	RANGE_NONNEG,    /* >= 0 */
	RANGE_UNIT,      /* [0, 1] */
	RANGE_UNIT_OPEN  /* [0, 1) */
} range_kind;

static const char *range_text(range_kind r)
{
	switch (r) {
	case RANGE_POSITIVE: return "a positive number";
	case RANGE_NONNEG: return "a non-negative number";
	case RANGE_UNIT: return "a number in [0, 1]";
	case RANGE_UNIT_OPEN: return "a number in [0, 1)";
	default: return "a number";
	}
}

static int in_range(double v, range_kind r)
{
	switch (r) {
	case RANGE_POSITIVE: return v > 0;
	case RANGE_NONNEG: return v >= 0;
	case RANGE_UNIT: return v >= 0 && v <= 1;
	case RANGE_UNIT_OPEN: return v >= 0 && v < 1;
	default: return 1;
	}
}

static int parse_double_node(double *out, const yaml_node_t *v, range_kind r)
{
	char *end;
	const char *s;
	double value;

	if (v->type != YAML_SCALAR_NODE)
		return -1;
	s = scalar_text(v);
	if (!*s)
		return -1;
	errno = 0;
	value = strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(value) || !in_range(value, r))
		return -1;
	*out = value;
	return 0;
}

static int get_double(double *out, const load_ctx *ctx, const yaml_node_t *map,
		      const char *prefix, const char *key, range_kind r)
{
	char full[KEY_MAX];
	yaml_node_t *v = lookup(ctx, map, key);

	if (!v)
		return 0;
	join_key(full, prefix, key);
	if (parse_double_node(out, v, r) < 0)
		return err_type(ctx, v, full, range_text(r));
	return 0;
}

static int get_bool(int *out, const load_ctx *ctx, const yaml_node_t *map,
		    const char *prefix, const char *key)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "on" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "off" };
	char full[KEY_MAX];
	yaml_node_t *v = lookup(ctx, map, key);
	size_t i;

	if (!v)
		return 0;
	join_key(full, prefix, key);
	if (v->type == YAML_SCALAR_NODE) {
		for (i = 0; i < COUNT(yes); i++) {
			if (!strcmp(scalar_text(v), yes[i])) {
				*out = 1;
				return 0;
			}
			if (!strcmp(scalar_text(v), no[i])) {
				*out = 0;
				return 0;
			}
		}
	}
	return err_type(ctx, v, full, "true or false");
}

/* A non-empty string; *out is malloc'd (NULL when absent). */
static int get_string(char **out, yaml_node_t **node, const load_ctx *ctx,
		      const yaml_node_t *map, const char *prefix, const char *key)
{
	char full[KEY_MAX];
	yaml_node_t *v = lookup(ctx, map, key);

	*out = NULL;
	if (node)
		*node = v;
	if (!v)
		return 0;
	join_key(full, prefix, key);
	if (v->type != YAML_SCALAR_NODE || !*scalar_text(v))
		return err_type(ctx, v, full, "a string");
	if (!(*out = strdup(scalar_text(v))))
		return mt_error_oom();
	return 0;
}

static int resolve(char **path, const load_ctx *ctx)
{
	char *joined;
	if (!*path)
		return 0;
	if (!(joined = mt_io_path_join(ctx->base_dir, *path)))
		return mt_error_oom();
	free(*path);
	*path = joined;
	return 0;
}

/* A path, resolved against the config's directory; def when absent. */
static int get_path(char **out, const load_ctx *ctx, const yaml_node_t *map,
		    const char *prefix, const char *key, const char *def)
{
	int error = get_string(out, NULL, ctx, map, prefix, key);
	if (error < 0)
		return error;
	if (!*out && def && !(*out = strdup(def)))
		return mt_error_oom();
	return resolve(out, ctx);
}

static int get_enum(int *out, const load_ctx *ctx, const yaml_node_t *map,
		    const char *prefix, const char *key, const char *const *names,
		    size_t n)
{
	char full[KEY_MAX], list[512], buf[256];
	yaml_node_t *v = lookup(ctx, map, key);
	size_t i;

	if (!v)
		return 0;
	join_key(full, prefix, key);
	if (v->type == YAML_SCALAR_NODE)
		for (i = 0; i < n; i++)
			if (!strcmp(scalar_text(v), names[i])) {
				*out = (int)i;
				return 0;
			}
	list_names(list, sizeof(list), names, n);
	return err_at(ctx, v, "'%s' must be one of: %s; got %s", full, list,
		      describe(v, buf, sizeof(buf)));
}

/* ---- model ------------------------------------------------------------- */

static int load_model(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "architecture", "torchscript", "init",
		"input_shape", "output" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *model, *arch_node, *ts_node, *shape;
	const char *const *names;
	size_t nnames;
	int error, init = (int)cfg->init;

	if ((error = get_mapping(&model, ctx, root, NULL, "model", keys, COUNT(keys))) < 0)
		return error;
	if (!model)
		return err_missing(ctx, "model");

	arch_node = lookup(ctx, model, "architecture");
	ts_node = lookup(ctx, model, "torchscript");
	if (!arch_node == !ts_node)
		return err_at(ctx, model,
			      "'model' needs exactly one of 'architecture' (a layer description) or 'torchscript' (a saved model), got %s",
			      arch_node ? "both" : "neither");

	if (arch_node) {
		ctx->arch_line = line_of(arch_node);
		if (arch_node->type == YAML_SEQUENCE_NODE) {
			/* A list of layers reads better for long models. */
			yaml_node_item_t *item;
			size_t len = 1;
			for (item = arch_node->data.sequence.items.start;
			     item < arch_node->data.sequence.items.top; item++) {
				yaml_node_t *l = node_at(ctx, *item);
				if (l->type != YAML_SCALAR_NODE)
					return err_type(ctx, l, "model.architecture",
							"a string or a list of layer strings");
				len += strlen(scalar_text(l)) + 1;
			}
			if (!(cfg->architecture = calloc(1, len)))
				return mt_error_oom();
			for (item = arch_node->data.sequence.items.start;
			     item < arch_node->data.sequence.items.top; item++) {
				if (item > arch_node->data.sequence.items.start)
					strcat(cfg->architecture, " ");
				strcat(cfg->architecture, scalar_text(node_at(ctx, *item)));
			}
		} else if (arch_node->type == YAML_SCALAR_NODE) {
			if (!(cfg->architecture = strdup(scalar_text(arch_node))))
				return mt_error_oom();
		} else {
			return err_type(ctx, arch_node, "model.architecture",
					"a string or a list of layer strings");
		}
		if ((error = mt_arch_parse(&ctx->arch, cfg->architecture)) < 0)
			return mt_error_prefix("%s:%d: 'model.architecture': ", ctx->name,
					       ctx->arch_line);
	} else {
		if ((error = get_path(&cfg->torchscript, ctx, model, "model", "torchscript",
				      NULL)) < 0)
			return error;
	}

	names = mt_init_kind_names(&nnames);
	if ((error = get_enum(&init, ctx, model, "model", "init", names, nnames)) < 0)
		return error;
	cfg->init = (mt_init_kind)init;

	if ((shape = lookup(ctx, model, "input_shape"))) {
		const char *expected = "a list of 3 positive integers [channels, height, width]";
		int i = 0;
		yaml_node_item_t *item;
		if (shape->type != YAML_SEQUENCE_NODE ||
		    shape->data.sequence.items.top - shape->data.sequence.items.start != 3)
			return err_type(ctx, shape, "model.input_shape", expected);
		for (item = shape->data.sequence.items.start;
		     item < shape->data.sequence.items.top; item++, i++) {
			yaml_node_t *d = node_at(ctx, *item);
			int64_t v;
			if (d->type != YAML_SCALAR_NODE ||
			    parse_int64(&v, scalar_text(d)) < 0 || v < 1 || v > (1 << 30))
				return err_type(ctx, d, "model.input_shape", expected);
			cfg->input_shape[i] = v;
		}
		cfg->has_input_shape = 1;
	} else if (arch_node) {
		return err_at(ctx, model,
			      "missing required key 'model.input_shape' (the [channels, height, width] of one input, needed with 'model.architecture')");
	}

	return get_path(&cfg->output, ctx, model, "model", "output", "trained/model.pt");
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
	yaml_node_t *map = lookup(ctx, data, which);
	int error;

	join_key(prefix, "data", which);
	if (!map)
		return err_missing(ctx, prefix);
	switch (ctx->cfg->format) {
	case MT_FORMAT_IDX: keys = idx_keys; nkeys = COUNT(idx_keys); break;
	case MT_FORMAT_CIFAR10: keys = cifar_keys; nkeys = COUNT(cifar_keys); break;
	case MT_FORMAT_NPY: keys = npy_keys; nkeys = COUNT(npy_keys); break;
	default: keys = torch_keys; nkeys = COUNT(torch_keys); break;
	}
	if (map->type != YAML_MAPPING_NODE) {
		char names[128];
		list_names(names, sizeof(names), keys, nkeys);
		snprintf(expected, sizeof(expected), "a mapping with keys %s (data.format %s)",
			 names, mt_data_format_name(ctx->cfg->format));
		return err_type(ctx, map, prefix, expected);
	}
	if ((error = check_keys(ctx, map, prefix, keys, nkeys)) < 0)
		return error;

	if (ctx->cfg->format == MT_FORMAT_CIFAR10) {
		yaml_node_t *files = lookup(ctx, map, "files");
		yaml_node_item_t *item;
		const char *what = "a file name or a non-empty list of file names";
		join_key(full, prefix, "files");
		if (!files)
			return err_missing(ctx, full);
		if (files->type == YAML_SCALAR_NODE && *scalar_text(files))
			return push_path(src, scalar_text(files), ctx);
		if (files->type != YAML_SEQUENCE_NODE ||
		    files->data.sequence.items.top == files->data.sequence.items.start)
			return err_type(ctx, files, full, what);
		for (item = files->data.sequence.items.start;
		     item < files->data.sequence.items.top; item++) {
			yaml_node_t *f = node_at(ctx, *item);
			if (f->type != YAML_SCALAR_NODE || !*scalar_text(f))
				return err_type(ctx, f, full, what);
			if ((error = push_path(src, scalar_text(f), ctx)) < 0)
				return error;
		}
		return 0;
	}
	for (i = 0; i < nkeys; i++) {
		char *path;
		join_key(full, prefix, keys[i]);
		if ((error = get_string(&path, NULL, ctx, map, prefix, keys[i])) < 0)
			return error;
		if (!path)
			return err_missing(ctx, full);
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
		if (parse_double_node(&out[0], v, r) < 0)
			return err_type(ctx, v, key, expected);
		*count = 1;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return err_type(ctx, v, key, expected);
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top; item++) {
		if (n == 4)
			return err_type(ctx, v, key, expected);
		if (parse_double_node(&out[n], node_at(ctx, *item), r) < 0)
			return err_type(ctx, node_at(ctx, *item), key, expected);
		n++;
	}
	if (n == 0)
		return err_type(ctx, v, key, expected);
	*count = n;
	return 0;
}

static int load_data(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "format", "classes", "train", "test",
		"normalize", "validation_split", "train_limit", "test_limit" };
	static const char *const norm_keys[] = { "scale", "mean", "std" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *data, *norm;
	int error, format = (int)cfg->format;

	if ((error = get_mapping(&data, ctx, root, NULL, "data", keys, COUNT(keys))) < 0)
		return error;
	if (!data)
		return err_missing(ctx, "data");
	if ((error = get_enum(&format, ctx, data, "data", "format", format_names,
			      COUNT(format_names))) < 0)
		return error;
	cfg->format = (mt_data_format)format;
	if ((error = get_int(&cfg->num_classes, ctx, data, "data", "classes", 2)) < 0 ||
	    (error = load_source(&cfg->train, ctx, data, "train")) < 0 ||
	    (error = load_source(&cfg->test, ctx, data, "test")) < 0 ||
	    (error = get_double(&cfg->validation_split, ctx, data, "data",
				"validation_split", RANGE_UNIT_OPEN)) < 0 ||
	    (error = get_int64(&cfg->train_limit, ctx, data, "data", "train_limit", 0,
			       INT64_MAX)) < 0 ||
	    (error = get_int64(&cfg->test_limit, ctx, data, "data", "test_limit", 0,
			       INT64_MAX)) < 0)
		return error;

	if ((error = get_mapping(&norm, ctx, data, "data", "normalize", norm_keys,
				 COUNT(norm_keys))) < 0)
		return error;
	if (norm) {
		yaml_node_t *mean = lookup(ctx, norm, "mean"), *std = lookup(ctx, norm, "std");
		int nmean = 0, nstd = 0, i;

		ctx->normalize_line = line_of(norm);
		if ((error = get_double(&cfg->norm_scale, ctx, norm, "data.normalize", "scale",
					RANGE_POSITIVE)) < 0)
			return error;
		if (!mean != !std)
			return err_at(ctx, norm,
				      "'data.normalize' needs both 'mean' and 'std' (or neither), got only '%s'",
				      mean ? "mean" : "std");
		if (mean) {
			if ((error = get_channels(cfg->norm_mean, &nmean, ctx, mean,
						  "data.normalize.mean")) < 0 ||
			    (error = get_channels(cfg->norm_std, &nstd, ctx, std,
						  "data.normalize.std")) < 0)
				return error;
			if (nmean != nstd)
				return err_at(ctx, std,
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

/* ---- training ------------------------------------------------------------ */

static int load_optimizer(load_ctx *ctx, const yaml_node_t *training)
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
	const char *P = "training.optimizer";
	mt_optim_config *o = &ctx->cfg->optim;
	size_t noptim;
	const char *const *optim_names = mt_optim_kind_names(&noptim);
	yaml_node_t *v = lookup(ctx, training, "optimizer"), *betas;
	yaml_node_pair_t *pair;
	int error, kind = MT_OPTIM_ADAM;

	if (!v)
		return 0;
	if (v->type == YAML_SCALAR_NODE) {
		/* Shorthand: `optimizer: sgd` takes all of PyTorch's defaults. */
		if ((error = get_enum(&kind, ctx, training, "training", "optimizer",
				      optim_names, noptim)) < 0)
			return error;
		mt_optim_config_defaults(o, (mt_optim_kind)kind);
		return 0;
	}
	if (v->type != YAML_MAPPING_NODE)
		return err_type(ctx, v, P, "an optimizer name or a mapping {name: ..., lr: ...}");
	if ((error = check_keys(ctx, v, P, all_keys, COUNT(all_keys))) < 0)
		return error;
	if (!lookup(ctx, v, "name"))
		return err_missing(ctx, "training.optimizer.name");
	if ((error = get_enum(&kind, ctx, v, P, "name", optim_names, noptim)) < 0)
		return error;
	mt_optim_config_defaults(o, (mt_optim_kind)kind);

	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(ctx, pair->key);
		size_t i;
		int ok = 0;
		char list[256] = "";
		size_t used = 0;
		for (i = 0; i < 9 && applies[kind][i]; i++) {
			if (!strcmp(applies[kind][i], scalar_text(k)))
				ok = 1;
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 i ? ", " : "", applies[kind][i]);
		}
		if (!ok)
			return err_at(ctx, k,
				      "'training.optimizer.%s' does not apply to %s; expected one of: %s",
				      scalar_text(k), optim_names[kind], list);
	}

	if ((error = get_double(&o->lr, ctx, v, P, "lr", RANGE_POSITIVE)) < 0 ||
	    (error = get_double(&o->momentum, ctx, v, P, "momentum", RANGE_NONNEG)) < 0 ||
	    (error = get_double(&o->dampening, ctx, v, P, "dampening", RANGE_NONNEG)) < 0 ||
	    (error = get_bool(&o->nesterov, ctx, v, P, "nesterov")) < 0 ||
	    (error = get_double(&o->weight_decay, ctx, v, P, "weight_decay", RANGE_NONNEG)) < 0 ||
	    (error = get_double(&o->beta1, ctx, v, P, "beta1", RANGE_UNIT_OPEN)) < 0 ||
	    (error = get_double(&o->beta2, ctx, v, P, "beta2", RANGE_UNIT_OPEN)) < 0 ||
	    (error = get_double(&o->eps, ctx, v, P, "eps", RANGE_NONNEG)) < 0 ||
	    (error = get_double(&o->alpha, ctx, v, P, "alpha", RANGE_NONNEG)) < 0 ||
	    (error = get_bool(&o->amsgrad, ctx, v, P, "amsgrad")) < 0 ||
	    (error = get_double(&o->lr_decay, ctx, v, P, "lr_decay", RANGE_NONNEG)) < 0)
		return error;

	if ((betas = lookup(ctx, v, "betas"))) {
		const char *expected = "a list of two numbers in [0, 1), [beta1, beta2]";
		if (lookup(ctx, v, "beta1") || lookup(ctx, v, "beta2"))
			return err_at(ctx, betas,
				      "'training.optimizer.betas' and 'beta1'/'beta2' set the same thing; expected only one of them");
		if (betas->type != YAML_SEQUENCE_NODE ||
		    betas->data.sequence.items.top - betas->data.sequence.items.start != 2 ||
		    parse_double_node(&o->beta1, node_at(ctx, betas->data.sequence.items.start[0]),
				      RANGE_UNIT_OPEN) < 0 ||
		    parse_double_node(&o->beta2, node_at(ctx, betas->data.sequence.items.start[1]),
				      RANGE_UNIT_OPEN) < 0)
			return err_type(ctx, betas, "training.optimizer.betas", expected);
	}
	if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
		return err_at(ctx, lookup(ctx, v, "nesterov"),
			      "'training.optimizer.nesterov' requires momentum > 0 and dampening 0 (as in PyTorch), got momentum %g, dampening %g",
			      o->momentum, o->dampening);
	return 0;
}

static int load_training(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "optimizer", "loss", "epochs", "batch_size",
		"eval_batch_size", "seed", "threads", "grad_clip", "l1", "l2", "patience" };
	const char *P = "training";
	mt_config *cfg = ctx->cfg;
	yaml_node_t *t;
	size_t nloss;
	const char *const *loss_names = mt_loss_kind_names(&nloss);
	int error, loss = (int)cfg->loss;

	if ((error = get_mapping(&t, ctx, root, NULL, "training", keys, COUNT(keys))) < 0)
		return error;
	if (!t)
		return 0;
	if ((error = load_optimizer(ctx, t)) < 0 ||
	    (error = get_enum(&loss, ctx, t, P, "loss", loss_names, nloss)) < 0 ||
	    (error = get_int(&cfg->epochs, ctx, t, P, "epochs", 1)) < 0 ||
	    (error = get_int64(&cfg->batch_size, ctx, t, P, "batch_size", 1, INT64_MAX)) < 0 ||
	    (error = get_int64(&cfg->eval_batch_size, ctx, t, P, "eval_batch_size", 1,
			       INT64_MAX)) < 0 ||
	    (error = get_uint64(&cfg->seed, ctx, t, P, "seed")) < 0 ||
	    (error = get_int(&cfg->threads, ctx, t, P, "threads", 1)) < 0 ||
	    (error = get_double(&cfg->grad_clip, ctx, t, P, "grad_clip", RANGE_NONNEG)) < 0 ||
	    (error = get_double(&cfg->l1, ctx, t, P, "l1", RANGE_NONNEG)) < 0 ||
	    (error = get_double(&cfg->l2, ctx, t, P, "l2", RANGE_NONNEG)) < 0 ||
	    (error = get_int(&cfg->patience, ctx, t, P, "patience", 0)) < 0)
		return error;
	cfg->loss = (mt_loss_kind)loss;
	return 0;
}

/* ---- run ---------------------------------------------------------------- */

static int load_run(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "dir" };
	yaml_node_t *run;
	int error;

	if ((error = get_mapping(&run, ctx, root, NULL, "run", keys, COUNT(keys))) < 0)
		return error;
	return get_path(&ctx->cfg->run_dir, ctx, run, "run", "dir", "mutorch.out");
}

/* ---- mutation ------------------------------------------------------------ */

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

/* A parameter value as written; a list of scalars joined with ','. */
static int param_value(char **out, const load_ctx *ctx, const yaml_node_t *v,
		       const char *key)
{
	yaml_node_item_t *item;
	size_t len = 1;

	if (v->type == YAML_SCALAR_NODE)
		return (*out = strdup(is_null(v) ? "" : scalar_text(v))) ? 0 : mt_error_oom();
	if (v->type != YAML_SEQUENCE_NODE)
		return err_type(ctx, v, key, "a value or a list of values");
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top; item++) {
		yaml_node_t *e = node_at(ctx, *item);
		if (e->type != YAML_SCALAR_NODE)
			return err_type(ctx, e, key, "a value or a list of values");
		len += strlen(scalar_text(e)) + 1;
	}
	if (!(*out = calloc(1, len)))
		return mt_error_oom();
	for (item = v->data.sequence.items.start; item < v->data.sequence.items.top; item++) {
		if (item > v->data.sequence.items.start)
			strcat(*out, ",");
		strcat(*out, scalar_text(node_at(ctx, *item)));
	}
	return 0;
}

static int load_mutation_list(mt_config_mutation **out, size_t *count, load_ctx *ctx,
			      const yaml_node_t *section, const char *name)
{
	char prefix[KEY_MAX];
	yaml_node_t *list = lookup(ctx, section, name);
	yaml_node_item_t *item;
	mt_config_mutation *entries;
	size_t n, i;
	int error;

	join_key(prefix, "mutation", name);
	if (!list)
		return 0;
	if (list->type != YAML_SEQUENCE_NODE)
		return err_type(ctx, list, prefix, "a list of {op: NAME, ...} entries");
	n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	if (n == 0)
		return 0;
	if (!(entries = calloc(n, sizeof(*entries))))
		return mt_error_oom();
	*out = entries;
	*count = n;

	for (i = 0, item = list->data.sequence.items.start; i < n; i++, item++) {
		yaml_node_t *e = node_at(ctx, *item), *op;
		mt_config_mutation *m = &entries[i];
		yaml_node_pair_t *pair, *other;
		char entry[KEY_MAX], full[KEY_MAX];
		size_t np;

		snprintf(entry, sizeof(entry), "%.200s[%zu]", prefix, i);
		m->line = line_of(e);
		if (e->type != YAML_MAPPING_NODE)
			return err_type(ctx, e, entry, "a mapping {op: NAME, ...}");
		join_key(full, entry, "op");
		op = lookup(ctx, e, "op");
		if (!op)
			return err_at(ctx, e, "missing required key '%s' (the operator name)", full);
		if (op->type != YAML_SCALAR_NODE)
			return err_type(ctx, op, full, "an operator name");
		if (!(m->op = strdup(scalar_text(op))))
			return mt_error_oom();

		np = (size_t)(e->data.mapping.pairs.top - e->data.mapping.pairs.start) - 1;
		if (np && !(m->params = calloc(np, sizeof(*m->params))))
			return mt_error_oom();
		for (pair = e->data.mapping.pairs.start; pair < e->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = node_at(ctx, pair->key);
			mt_config_param *p;
			if (k->type != YAML_SCALAR_NODE)
				return err_at(ctx, k, "keys under '%s' must be plain strings", entry);
			join_key(full, entry, scalar_text(k));
			for (other = e->data.mapping.pairs.start; other < pair; other++)
				if (!strcmp(scalar_text(node_at(ctx, other->key)), scalar_text(k)))
					return err_at(ctx, k, "duplicate key '%s' (first at line %d)",
						      full, line_of(node_at(ctx, other->key)));
			if (!strcmp(scalar_text(k), "op"))
				continue;
			p = &m->params[m->nparams];
			p->line = line_of(k);
			if (!(p->key = strdup(scalar_text(k))))
				return mt_error_oom();
			m->nparams++;
			if ((error = param_value(&p->value, ctx, node_at(ctx, pair->value),
						 full)) < 0)
				return error;
		}
	}
	return 0;
}

static int load_mutation_source(load_ctx *ctx, const yaml_node_t *mutation)
{
	static const char *const keys[] = { "runs", "rule", "alpha", "effect_size",
		"correction", "sequential", "max_runs" };
	static const char *const rules[] = { "deepcrime", "welch", "mannwhitney", "fisher" };
	static const char *const corrections[] = { "none", "holm", "bh" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *s;
	int error;

	if ((error = get_mapping(&s, ctx, mutation, "mutation", "source", keys, COUNT(keys))) < 0)
		return error;
	if (!s)
		return 0;
	if ((error = get_int(&cfg->src_runs, ctx, s, "mutation.source", "runs", 2)) < 0 ||
	    (error = get_enum(&cfg->src_rule, ctx, s, "mutation.source", "rule", rules,
			      COUNT(rules))) < 0 ||
	    (error = get_double(&cfg->src_alpha, ctx, s, "mutation.source", "alpha",
				RANGE_UNIT_OPEN)) < 0 ||
	    (error = get_double(&cfg->src_effect, ctx, s, "mutation.source", "effect_size",
				RANGE_NONNEG)) < 0 ||
	    (error = get_enum(&cfg->src_correction, ctx, s, "mutation.source", "correction",
			      corrections, COUNT(corrections))) < 0 ||
	    (error = get_bool(&cfg->src_sequential, ctx, s, "mutation.source", "sequential")) < 0 ||
	    (error = get_int(&cfg->src_max_runs, ctx, s, "mutation.source", "max_runs", 4)) < 0)
		return error;
	if (cfg->src_alpha <= 0)
		return err_at(ctx, lookup(ctx, s, "alpha"), "'mutation.source.alpha' must be in (0, 1), got 0");
	return 0;
}

static int load_mutation(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "seed", "accuracy_filter", "model_level",
		"source_level", "source" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *m;
	int error;

	if ((error = get_mapping(&m, ctx, root, NULL, "mutation", keys, COUNT(keys))) < 0)
		return error;
	if (!m)
		return 0;
	if ((error = get_uint64(&cfg->mutation_seed, ctx, m, "mutation", "seed")) < 0 ||
	    (error = get_double(&cfg->accuracy_filter, ctx, m, "mutation", "accuracy_filter",
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

static int load_ci(load_ctx *ctx, const yaml_node_t *root)
{
	static const char *const keys[] = { "score", "threshold", "tolerance", "base" };
	static const char *const scores[] = { "mutation_score", "deepmutation_score",
		"average_error_rate", "source_mutation_score" };
	mt_config *cfg = ctx->cfg;
	yaml_node_t *ci, *node;
	char list[256];
	size_t i;
	int error;

	if ((error = get_mapping(&ci, ctx, root, NULL, "ci", keys, COUNT(keys))) < 0)
		return error;
	if (!ci)
		return 0;
	if ((error = get_string(&cfg->ci_score, &node, ctx, ci, "ci", "score")) < 0 ||
	    (error = get_double(&cfg->ci_threshold, ctx, ci, "ci", "threshold", RANGE_UNIT)) < 0 ||
	    (error = get_double(&cfg->ci_tolerance, ctx, ci, "ci", "tolerance", RANGE_UNIT)) < 0 ||
	    (error = get_string(&cfg->ci_base, NULL, ctx, ci, "ci", "base")) < 0)
		return error;
	if (cfg->ci_score) {
		for (i = 0; i < COUNT(scores); i++)
			if (!strcmp(cfg->ci_score, scores[i]))
				return 0;
		list_names(list, sizeof(list), scores, COUNT(scores));
		return err_at(ctx, node, "'ci.score' is '%s'; expected one of: %s", cfg->ci_score, list);
	}
	return 0;
}

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
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		if (parser.context)
			error = mt_error_set(MT_EINVALID,
					     "%s:%d: YAML syntax error: %s (%s that starts at line %d)",
					     name, (int)parser.problem_mark.line + 1,
					     parser.problem ? parser.problem : "malformed document",
					     parser.context, (int)parser.context_mark.line + 1);
		else
			error = mt_error_set(MT_EINVALID, "%s:%d: YAML syntax error: %s", name,
					     (int)parser.problem_mark.line + 1,
					     parser.problem ? parser.problem : "malformed document");
		goto cleanup;
	}
	doc_ok = 1;

	root = yaml_document_get_root_node(&doc);
	if (!root || is_null(root)) {
		error = mt_error_set(MT_EINVALID, "%s: the config is empty; missing required key 'model'",
				     name);
		goto cleanup;
	}
	if (root->type != YAML_MAPPING_NODE) {
		error = err_type(&ctx, root, "(top level)",
				 "a mapping of sections (model, data, training, run, mutation, ci)");
		goto cleanup;
	}
	if ((error = check_keys(&ctx, root, NULL, sections, COUNT(sections))) < 0 ||
	    (error = load_model(&ctx, root)) < 0 ||
	    (error = load_data(&ctx, root)) < 0 ||
	    (error = load_training(&ctx, root)) < 0 ||
	    (error = load_run(&ctx, root)) < 0 ||
	    (error = load_mutation(&ctx, root)) < 0 ||
	    (error = load_ci(&ctx, root)) < 0 ||
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

static int copy_source(mt_data_source *dst, const mt_data_source *src)
{
	dst->paths = NULL;
	dst->npaths = 0;
	if (!src->npaths)
		return 0;
	if (!(dst->paths = calloc(src->npaths, sizeof(char *))))
		return -1;
	for (size_t i = 0; i < src->npaths; i++, dst->npaths++)
		if (copy_str(&dst->paths[i], src->paths[i]) < 0)
			return -1;
	return 0;
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
	if (copy_str(&cfg->path, src->path) < 0 || copy_str(&cfg->base_dir, src->base_dir) < 0 ||
	    copy_str(&cfg->architecture, src->architecture) < 0 ||
	    copy_str(&cfg->torchscript, src->torchscript) < 0 ||
	    copy_str(&cfg->output, src->output) < 0 || copy_str(&cfg->run_dir, src->run_dir) < 0 ||
	    copy_str(&cfg->ci_score, src->ci_score) < 0 ||
	    copy_str(&cfg->ci_base, src->ci_base) < 0 ||
	    copy_source(&cfg->train, &src->train) < 0 || copy_source(&cfg->test, &src->test) < 0 ||
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
