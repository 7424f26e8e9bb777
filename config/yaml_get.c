/* The libyaml node helpers and typed getters of the config loader (see
 * yaml_get.h): the part of loading mutorch.yml that knows YAML but no
 * section, kept apart so that each section's file reads as a list of keys.
 *
 * Every mapping is first checked against its list of allowed keys (so a
 * misspelt key is an error naming its line, never silently ignored), then
 * each known key is read with a typed getter that names the dotted key and
 * the line of the offending value. */
#include "yaml_get.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mutorch/error.h"
#include "mutorch/io.h"

/* ---- node helpers ------------------------------------------------------- */

int cfg_line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

const char *cfg_scalar_text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* An empty value, "~" or "null" written plainly: treated as absent. */
int cfg_is_null(const yaml_node_t *n)
{
	const char *s;
	if (!n || n->type != YAML_SCALAR_NODE)
		return 0;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = cfg_scalar_text(n);
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
	if (cfg_is_null(n))
		return "nothing";
	snprintf(buf, size, "'%.200s'", cfg_scalar_text(n));
	return buf;
}

int cfg_err_at(const load_ctx *ctx, const yaml_node_t *n, const char *fmt, ...)
{
	char what[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (n)
		return mt_error_set(MT_EINVALID, "%s:%d: %s", ctx->name, cfg_line_of(n), what);
	return mt_error_set(MT_EINVALID, "%s: %s", ctx->name, what);
}

int cfg_err_type(const load_ctx *ctx, const yaml_node_t *n, const char *key,
		 const char *expected)
{
	char buf[256];
	return cfg_err_at(ctx, n, "'%s' must be %s, got %s", key, expected,
			  describe(n, buf, sizeof(buf)));
}

int cfg_err_missing(const load_ctx *ctx, const char *key)
{
	return mt_error_set(MT_EINVALID, "%s: missing required key '%s'", ctx->name, key);
}

void cfg_join_key(char *buf, const char *prefix, const char *key)
{
	if (prefix && *prefix)
		snprintf(buf, KEY_MAX, "%.150s.%.100s", prefix, key);
	else
		snprintf(buf, KEY_MAX, "%.200s", key);
}

yaml_node_t *cfg_node_at(const load_ctx *ctx, int id)
{
	return yaml_document_get_node(ctx->doc, id);
}

void cfg_list_names(char *buf, size_t size, const char *const *names, size_t n)
{
	size_t used = 0, i;
	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
					 names[i]);
}

/* Every key of a mapping must be a string from `allowed` and appear once. */
int cfg_check_keys(const load_ctx *ctx, const yaml_node_t *map, const char *prefix,
		   const char *const *allowed, size_t nallowed)
{
	yaml_node_pair_t *pair, *other;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = cfg_node_at(ctx, pair->key);
		char full[KEY_MAX], names[1024];
		size_t i;
		int known = 0;

		if (!k || k->type != YAML_SCALAR_NODE)
			return cfg_err_at(ctx, k, "keys under '%s' must be plain strings",
					  prefix && *prefix ? prefix : "(top level)");
		cfg_join_key(full, prefix, cfg_scalar_text(k));
		for (i = 0; i < nallowed; i++)
			if (!strcmp(allowed[i], cfg_scalar_text(k)))
				known = 1;
		if (!known) {
			cfg_list_names(names, sizeof(names), allowed, nallowed);
			return cfg_err_at(ctx, k, "unknown key '%s'; expected one of: %s", full, names);
		}
		for (other = map->data.mapping.pairs.start; other < pair; other++) {
			yaml_node_t *ok = cfg_node_at(ctx, other->key);
			if (!strcmp(cfg_scalar_text(ok), cfg_scalar_text(k)))
				return cfg_err_at(ctx, k, "duplicate key '%s' (first at line %d)",
						  full, cfg_line_of(ok));
		}
	}
	return 0;
}

/* The value of a key, or NULL when absent or null. */
yaml_node_t *cfg_lookup(const load_ctx *ctx, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = cfg_node_at(ctx, pair->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp(cfg_scalar_text(k), key)) {
			yaml_node_t *v = cfg_node_at(ctx, pair->value);
			return cfg_is_null(v) ? NULL : v;
		}
	}
	return NULL;
}

/* A section that must be a mapping (NULL when absent or null). */
int cfg_get_mapping(yaml_node_t **out, const load_ctx *ctx, const yaml_node_t *map,
		    const char *prefix, const char *key, const char *const *allowed,
		    size_t nallowed)
{
	char full[KEY_MAX];
	yaml_node_t *v = cfg_lookup(ctx, map, key);

	*out = NULL;
	cfg_join_key(full, prefix, key);
	if (!v)
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return cfg_err_type(ctx, v, full, "a mapping");
	*out = v;
	return cfg_check_keys(ctx, v, full, allowed, nallowed);
}

/* ---- typed getters: leave *out untouched when the key is absent --------- */

int cfg_parse_int64(int64_t *out, const char *s)
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

int cfg_get_int64(int64_t *out, const load_ctx *ctx, const yaml_node_t *map,
		  const char *prefix, const char *key, int64_t min, int64_t max)
{
	char full[KEY_MAX], expected[96];
	yaml_node_t *v = cfg_lookup(ctx, map, key);
	int64_t value;

	if (!v)
		return 0;
	cfg_join_key(full, prefix, key);
	if (min == 1)
		snprintf(expected, sizeof(expected), "a positive integer");
	else if (min == 0)
		snprintf(expected, sizeof(expected), "a non-negative integer");
	else
		snprintf(expected, sizeof(expected), "an integer >= %lld", (long long)min);
	if (v->type != YAML_SCALAR_NODE || cfg_parse_int64(&value, cfg_scalar_text(v)) < 0 ||
	    value < min)
		return cfg_err_type(ctx, v, full, expected);
	if (value > max) {
		char buf[256];
		return cfg_err_at(ctx, v, "'%s' must be at most %lld, got %s", full,
				  (long long)max, describe(v, buf, sizeof(buf)));
	}
	*out = value;
	return 0;
}

int cfg_get_int(int *out, const load_ctx *ctx, const yaml_node_t *map,
		const char *prefix, const char *key, int min)
{
	int64_t v = *out;
	int error = cfg_get_int64(&v, ctx, map, prefix, key, min, 1 << 30);
	if (error == 0)
		*out = (int)v;
	return error;
}

int cfg_get_uint64(uint64_t *out, const load_ctx *ctx, const yaml_node_t *map,
		   const char *prefix, const char *key)
{
	char full[KEY_MAX], *end;
	yaml_node_t *v = cfg_lookup(ctx, map, key);
	unsigned long long value;
	const char *s;

	if (!v)
		return 0;
	cfg_join_key(full, prefix, key);
	if (v->type != YAML_SCALAR_NODE)
		return cfg_err_type(ctx, v, full, "a non-negative integer");
	s = cfg_scalar_text(v);
	errno = 0;
	value = strtoull(s, &end, 10);
	if (!*s || *s == '-' || *s == ' ' || *end || errno)
		return cfg_err_type(ctx, v, full, "a non-negative integer");
	*out = (uint64_t)value;
	return 0;
}

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

int cfg_parse_double_node(double *out, const yaml_node_t *v, range_kind r)
{
	char *end;
	const char *s;
	double value;

	if (v->type != YAML_SCALAR_NODE)
		return -1;
	s = cfg_scalar_text(v);
	if (!*s)
		return -1;
	errno = 0;
	value = strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(value) || !in_range(value, r))
		return -1;
	*out = value;
	return 0;
}

int cfg_get_double(double *out, const load_ctx *ctx, const yaml_node_t *map,
		   const char *prefix, const char *key, range_kind r)
{
	char full[KEY_MAX];
	yaml_node_t *v = cfg_lookup(ctx, map, key);

	if (!v)
		return 0;
	cfg_join_key(full, prefix, key);
	if (cfg_parse_double_node(out, v, r) < 0)
		return cfg_err_type(ctx, v, full, range_text(r));
	return 0;
}

int cfg_get_bool(int *out, const load_ctx *ctx, const yaml_node_t *map,
		 const char *prefix, const char *key)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "on" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "off" };
	char full[KEY_MAX];
	yaml_node_t *v = cfg_lookup(ctx, map, key);
	size_t i;

	if (!v)
		return 0;
	cfg_join_key(full, prefix, key);
	if (v->type == YAML_SCALAR_NODE) {
		for (i = 0; i < COUNT(yes); i++) {
			if (!strcmp(cfg_scalar_text(v), yes[i])) {
				*out = 1;
				return 0;
			}
			if (!strcmp(cfg_scalar_text(v), no[i])) {
				*out = 0;
				return 0;
			}
		}
	}
	return cfg_err_type(ctx, v, full, "true or false");
}

/* A non-empty string; *out is malloc'd (NULL when absent). */
int cfg_get_string(char **out, yaml_node_t **node, const load_ctx *ctx,
		   const yaml_node_t *map, const char *prefix, const char *key)
{
	char full[KEY_MAX];
	yaml_node_t *v = cfg_lookup(ctx, map, key);

	*out = NULL;
	if (node)
		*node = v;
	if (!v)
		return 0;
	cfg_join_key(full, prefix, key);
	if (v->type != YAML_SCALAR_NODE || !*cfg_scalar_text(v))
		return cfg_err_type(ctx, v, full, "a string");
	if (!(*out = strdup(cfg_scalar_text(v))))
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
int cfg_get_path(char **out, const load_ctx *ctx, const yaml_node_t *map,
		 const char *prefix, const char *key, const char *def)
{
	int error = cfg_get_string(out, NULL, ctx, map, prefix, key);
	if (error < 0)
		return error;
	if (!*out && def && !(*out = strdup(def)))
		return mt_error_oom();
	return resolve(out, ctx);
}

int cfg_get_enum(int *out, const load_ctx *ctx, const yaml_node_t *map,
		 const char *prefix, const char *key, const char *const *names,
		 size_t n)
{
	char full[KEY_MAX], list[512], buf[256];
	yaml_node_t *v = cfg_lookup(ctx, map, key);
	size_t i;

	if (!v)
		return 0;
	cfg_join_key(full, prefix, key);
	if (v->type == YAML_SCALAR_NODE)
		for (i = 0; i < n; i++)
			if (!strcmp(cfg_scalar_text(v), names[i])) {
				*out = (int)i;
				return 0;
			}
	cfg_list_names(list, sizeof(list), names, n);
	return cfg_err_at(ctx, v, "'%s' must be one of: %s; got %s", full, list,
			  describe(v, buf, sizeof(buf)));
}
