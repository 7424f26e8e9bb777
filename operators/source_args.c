/*
 * Source-level operator arguments: parsing an entry's parameters against
 * the registry's specs (defaults, ranges, classes), their canonical text,
 * and the small helpers every source operator uses to read its arguments
 * and to report (not applicable, description). Split from source.c so that
 * calls go one way: source.c -> source_data.c, source_program.c ->
 * source_args.c. Exact semantics: docs/operators.md, "Source level".
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/recipe.h"
#include "mutorch/source.h"
#include "mutorch/strbuf.h"
#include "internal.h"
#include "source_internal.h"

/* ---- growable string ---------------------------------------------------- */

int src_sb_finish(char **out, mt_strbuf *sb, const char *op)
{
	if (sb->failed || !sb->buf) {
		free(sb->buf);
		return mt_error_oom();
	}
	*out = sb->buf;
	return 0;
}

/* ---- small helpers shared with the operator files ------------------------ */

const mt_layer_kind mt_src_activation_kinds[7] = {
	MT_LAYER_RELU, MT_LAYER_LEAKY_RELU, MT_LAYER_ELU, MT_LAYER_GELU,
	MT_LAYER_TANH, MT_LAYER_SIGMOID, MT_LAYER_SOFTMAX
};

src_value *src_arg(src_args *a, const char *name)
{
	for (size_t i = 0; i < a->nv; i++)
		if (strcmp(a->v[i].spec->name, name) == 0)
			return &a->v[i];
	return NULL;
}

int src_not_applicable(mt_source_mutant *mu, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(mu->reason, sizeof(mu->reason), "%s: not applicable: ",
			 mu->op->name);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(mu->reason))
		vsnprintf(mu->reason + n, sizeof(mu->reason) - (size_t)n, fmt, ap);
	va_end(ap);
	mu->not_applicable = 1;
	return 0;
}

int src_describe(mt_source_mutant *mu, const char *fmt, ...)
{
	va_list ap;
	char line[512];
	int n = snprintf(line, sizeof(line), "%s: ", mu->op->name);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	free(mu->description);
	if (!(mu->description = strdup(line)))
		return mt_error_oom();
	return 0;
}

/* ---- parameters ------------------------------------------------------------ */

/* The index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value)
{
	int idx = 0;
	size_t vlen = strlen(value);
	const char *p = choices;
	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == vlen && strncmp(p, value, n) == 0)
			return idx;
		idx++;
		p = bar ? bar + 1 : NULL;
	}
	return -1;
}

static void choice_name(char *buf, size_t len, const char *choices, int idx)
{
	const char *p = choices;
	for (int i = 0; i < idx && p; i++) {
		p = strchr(p, '|');
		if (p)
			p++;
	}
	if (!p) {
		snprintf(buf, len, "?");
		return;
	}
	const char *bar = strchr(p, '|');
	size_t n = bar ? (size_t)(bar - p) : strlen(p);
	snprintf(buf, len, "%.*s", (int)n, p);
}

static int is_class_param(const mt_op_param_spec *s)
{
	return strcmp(s->name, "class") == 0 || strcmp(s->name, "to") == 0;
}

static int parse_value(src_value *v, const char *opn, const char *value,
		       int num_classes)
{
	const mt_op_param_spec *s = v->spec;
	char *end;
	double num;

	if (is_class_param(s)) {
		const char *word = strcmp(s->name, "class") == 0 ? "all" : "random";
		if (strcmp(value, word) == 0) {
			v->num = -1;
			return 0;
		}
		errno = 0;
		long long c = strtoll(value, &end, 10);
		if (errno || end == value || *end || c < 0 || c >= num_classes)
			return mt_error_set(MT_EINVALID,
					    "%s: parameter '%s' is '%s', expected %s or a class in [0, %d]",
					    opn, s->name, value, word, num_classes - 1);
		v->num = (double)c;
		return 0;
	}
	switch (s->type) {
	case MT_PARAM_DOUBLE:
		errno = 0;
		num = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(num) || num < s->min ||
		    num > s->max || (s->min_exclusive && num == s->min))
			return mt_error_set(MT_EINVALID,
					    "%s: parameter '%s' is '%s', expected a number in %s%g, %g]",
					    opn, s->name, value, s->min_exclusive ? "(" : "[",
					    s->min, s->max);
		v->num = num;
		return 0;
	case MT_PARAM_INT:
	case MT_PARAM_UINT64:
		errno = 0;
		num = (double)strtoll(value, &end, 10);
		if (errno || end == value || *end || num < s->min || num > s->max)
			return mt_error_set(MT_EINVALID,
					    "%s: parameter '%s' is '%s', expected an integer in [%g, %g]",
					    opn, s->name, value, s->min, s->max);
		v->num = num;
		return 0;
	case MT_PARAM_ENUM:
		v->choice = choice_index(s->choices, value);
		if (v->choice < 0)
			return mt_error_set(MT_EINVALID,
					    "%s: parameter '%s' is '%s', expected one of %s",
					    opn, s->name, value, s->choices);
		return 0;
	default:
		return mt_error_set(MT_ERROR, "%s: parameter '%s' has an unsupported type",
				    opn, s->name);
	}
}

int src_parse_args(src_args *a, const mt_operator *op, const mt_config *cfg,
		   const mt_dataset *train, const mt_config_param *params,
		   size_t nparams, uint64_t seed)
{
	int error;

	memset(a, 0, sizeof(*a));
	a->op = op;
	a->cfg = cfg;
	a->train = train;
	a->seed = seed;
	a->num_classes = train ? mt_dataset_num_classes(train) : cfg->num_classes;
	if (op->nparams > SRC_MAX_PARAMS)
		return mt_error_set(MT_ERROR, "%s: too many parameters in the registry", op->name);
	a->nv = op->nparams;
	for (size_t i = 0; i < op->nparams; i++) {
		a->v[i].spec = &op->params[i];
		if (op->params[i].default_value) {
			if ((error = parse_value(&a->v[i], op->name, op->params[i].default_value,
						 a->num_classes)) < 0)
				return error;
			a->v[i].has = 1;
		}
	}
	for (size_t p = 0; p < nparams; p++) {
		const char *key = params[p].key, *value = params[p].value;
		if (!key || !value)
			return mt_error_set(MT_EINVALID, "%s: missing parameter name or value", op->name);
		if (strcmp(key, "mutants") == 0)
			continue;
		if (strcmp(key, "seed") == 0) {
			int rc = mt_op_parse_seed(&a->seed, op->name, value);
			if (rc < 0)
				return rc;
			continue;
		}
		src_value *v = src_arg(a, key);
		if (!v) {
			char keys[256] = "";
			size_t used = 0;
			for (size_t i = 0; i < op->nparams; i++) {
				int n = snprintf(keys + used, sizeof(keys) - used, "%s, ",
						 op->params[i].name);
				if (n > 0 && (size_t)n < sizeof(keys) - used)
					used += (size_t)n;
			}
			return mt_error_set(MT_EINVALID, "%s: unknown parameter '%s', expected %sseed",
					    op->name, key, op->nparams ? keys : "only ");
		}
		if (v->given)
			return mt_error_set(MT_EINVALID, "%s: parameter '%s' given twice, expected it once",
					    op->name, key);
		if ((error = parse_value(v, op->name, value, a->num_classes)) < 0)
			return error;
		v->given = v->has = 1;
	}
	/* value and factor are alternatives: an explicit value wins. */
	src_value *value = src_arg(a, "value"), *factor = src_arg(a, "factor");
	if (value && factor && value->given) {
		if (factor->given)
			return mt_error_set(MT_EINVALID,
					    "%s: parameters 'value' and 'factor' both given, expected one of them",
					    op->name);
		factor->has = 0;
	}
	return 0;
}

/* "ACH activation=tanh layer=3", then seed=... for data operators. */
int src_format_params(char **out, src_args *a, int with_seed)
{
	mt_strbuf sb = { 0 };
	char tmp[64];
	mt_strbuf_printf(&sb, "%s", a->op->name);
	for (size_t i = 0; i < a->nv; i++) {
		const src_value *v = &a->v[i];
		const mt_op_param_spec *s = v->spec;
		if (!v->has)
			continue;
		mt_strbuf_printf(&sb, " %s=", s->name);
		if (is_class_param(s)) {
			if (v->num < 0)
				mt_strbuf_printf(&sb, "%s", strcmp(s->name, "class") == 0 ? "all" : "random");
			else
				mt_strbuf_printf(&sb, "%lld", (long long)v->num);
		} else if (s->type == MT_PARAM_ENUM) {
			choice_name(tmp, sizeof(tmp), s->choices, v->choice);
			mt_strbuf_printf(&sb, "%s", tmp);
		} else if (s->type == MT_PARAM_DOUBLE) {
			mt_strbuf_double(&sb, v->num);
		} else {
			mt_strbuf_printf(&sb, "%lld", (long long)v->num);
		}
	}
	if (with_seed)
		mt_strbuf_printf(&sb, " seed=%llu", (unsigned long long)a->seed);
	return src_sb_finish(out, &sb, a->op->name);
}
