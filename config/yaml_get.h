/* The libyaml node helpers and typed getters of the config loader, shared by
 * config.c and the section files (sections_*.c); not a public header.
 *
 * A load_ctx carries what every message needs (the file name) and what the
 * checks across sections need (the parsed architecture, lines). Getters
 * leave *out untouched when the key is absent or null, and fail with
 * MT_EINVALID naming the file, the line and the dotted key ("data.classes"):
 * prefix is the dotted path of the mapping, NULL at the top level. */
#ifndef MUTORCH_CONFIG_YAML_GET_H
#define MUTORCH_CONFIG_YAML_GET_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "mutorch/config.h"
#include "mutorch/recipe.h"

#define KEY_MAX 256

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
	const char *name;      /* file name for messages */
	const char *base_dir;  /* relative paths resolve against this */
	yaml_document_t *doc;
	mt_config *cfg;
	mt_arch *arch;         /* parsed model.architecture, for cross checks */
	int arch_line, normalize_line;
	int external;          /* training.command is set (sections_program.c) */
} load_ctx;

typedef enum {
	RANGE_ANY,
	RANGE_POSITIVE,  /* > 0 */
	RANGE_NONNEG,    /* >= 0 */
	RANGE_UNIT,      /* [0, 1] */
	RANGE_UNIT_OPEN  /* [0, 1) */
} range_kind;

/* ---- node helpers ------------------------------------------------------- */

int cfg_line_of(const yaml_node_t *n);
const char *cfg_scalar_text(const yaml_node_t *n);
/* An empty value, "~" or "null" written plainly: treated as absent. */
int cfg_is_null(const yaml_node_t *n);

/* MT_EINVALID with "<file>:<line>: <message>" (no line when n is NULL). */
int cfg_err_at(const load_ctx *ctx, const yaml_node_t *n, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;
/* "'<key>' must be <expected>, got <what n is>". */
int cfg_err_type(const load_ctx *ctx, const yaml_node_t *n, const char *key,
		 const char *expected);
int cfg_err_missing(const load_ctx *ctx, const char *key);

/* buf (KEY_MAX bytes) = "prefix.key", or "key" without a prefix. */
void cfg_join_key(char *buf, const char *prefix, const char *key);
yaml_node_t *cfg_node_at(const load_ctx *ctx, int id);
/* "a, b, c" into buf. */
void cfg_list_names(char *buf, size_t size, const char *const *names, size_t n);

/* Every key of a mapping must be a string from `allowed` and appear once. */
int cfg_check_keys(const load_ctx *ctx, const yaml_node_t *map, const char *prefix,
		   const char *const *allowed, size_t nallowed);
/* The value of a key, or NULL when absent or null. */
yaml_node_t *cfg_lookup(const load_ctx *ctx, const yaml_node_t *map, const char *key);
/* A section that must be a mapping (NULL when absent or null). */
int cfg_get_mapping(yaml_node_t **out, const load_ctx *ctx, const yaml_node_t *map,
		    const char *prefix, const char *key, const char *const *allowed,
		    size_t nallowed);

/* ---- typed getters -------------------------------------------------------- */

/* A whole decimal string; -1 when it is not one. */
int cfg_parse_int64(int64_t *out, const char *s);
int cfg_get_int64(int64_t *out, const load_ctx *ctx, const yaml_node_t *map,
		  const char *prefix, const char *key, int64_t min, int64_t max);
/* At most 2^30. */
int cfg_get_int(int *out, const load_ctx *ctx, const yaml_node_t *map,
		const char *prefix, const char *key, int min);
int cfg_get_uint64(uint64_t *out, const load_ctx *ctx, const yaml_node_t *map,
		   const char *prefix, const char *key);
/* A finite number in range r; -1 when v is not one. */
int cfg_parse_double_node(double *out, const yaml_node_t *v, range_kind r);
int cfg_get_double(double *out, const load_ctx *ctx, const yaml_node_t *map,
		   const char *prefix, const char *key, range_kind r);
int cfg_get_bool(int *out, const load_ctx *ctx, const yaml_node_t *map,
		 const char *prefix, const char *key);
/* A non-empty string; *out is malloc'd (NULL when absent). */
int cfg_get_string(char **out, yaml_node_t **node, const load_ctx *ctx,
		   const yaml_node_t *map, const char *prefix, const char *key);
/* A path, resolved against the config's directory; def when absent. */
int cfg_get_path(char **out, const load_ctx *ctx, const yaml_node_t *map,
		 const char *prefix, const char *key, const char *def);
/* One of names[0..n); *out is its index. */
int cfg_get_enum(int *out, const load_ctx *ctx, const yaml_node_t *map,
		 const char *prefix, const char *key, const char *const *names,
		 size_t n);

#endif
