/*
 * Operator arguments (mt_op_args): defaults from the registry's parameter
 * specs (registry.c), parsing and checking each (key, value-string) of a
 * config entry, deep copy, and the canonical text that names a mutant's
 * parameters and keys its cache. Exact semantics: docs/operators.md.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/strbuf.h"
#include "mutorch/view.h"
#include "internal.h"

/* ---- arguments ---------------------------------------------------------- */

static void free_layers(mt_op_args *args)
{
	for (size_t i = 0; i < args->nlayers; i++)
		free(args->layers[i]);
	free(args->layers);
	args->layers = NULL;
	args->nlayers = 0;
}

void mt_op_args_dispose(mt_op_args *args)
{
	if (args)
		free_layers(args);
}

int mt_op_args_init(mt_op_args *args, const mt_operator *op)
{
	memset(args, 0, sizeof(*args));
	args->op = op;
	args->ratio = 0.01;
	args->sigma = 1.0;
	args->bits = 8;
	args->k = 1;
	args->digits = -1;
	args->bf_class = MT_BF_EXPONENT;
	snprintf(args->gate, sizeof(args->gate), "all");
	snprintf(args->state, sizeof(args->state), "auto");
	args->step_first = args->step_last = -1;
	args->depth = -1;
	args->direction = -1;
	if (!op)
		return mt_error_set(MT_EINVALID, "operator: none given, expected one of GF, WS, ...");
	for (size_t p = 0; p < op->nparams; p++) {
		const mt_op_param_spec *s = &op->params[p];
		if (s->default_value) {
			int rc = mt_op_args_set(args, s->name, s->default_value);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static const mt_op_param_spec *find_spec(const mt_operator *op, const char *key)
{
	for (size_t p = 0; p < op->nparams; p++)
		if (strcmp(op->params[p].name, key) == 0)
			return &op->params[p];
	return NULL;
}

static int known_keys(char *buf, size_t len, const mt_operator *op)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t p = 0; p < op->nparams; p++) {
		int n = snprintf(buf + used, len - used, "%s%s", p ? ", " : "", op->params[p].name);
		if (n < 0 || (size_t)n >= len - used)
			return 0;
		used += (size_t)n;
	}
	snprintf(buf + used, len - used, "%s%s", op->nparams ? ", " : "",
		 op->kind == MT_OP_KIND_WEIGHTS || op->kind == MT_OP_KIND_DYNAMIC
			 ? "layer, layers, seed" : "layer, seed");
	return 0;
}

/* The index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value)
{
	int idx = 0;
	size_t vlen = strlen(value);
	const char *p = choices;
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == vlen && strncmp(p, value, n) == 0)
			return idx;
		idx++;
		if (!bar)
			break;
		p = bar + 1;
	}
	return -1;
}

static char *trimmed(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

static int set_layers(mt_op_args *args, const char *value, const char *key)
{
	const char *opn = args->op->name;
	free_layers(args);
	char *v = trimmed(value);
	if (!v)
		return mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
	if (strcmp(v, "all") == 0 && strcmp(key, "layers") == 0) {
		free(v);
		return 0;
	}
	int rc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *name = trimmed(tok);
		if (!name) {
			rc = mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
			goto cleanup;
		}
		if (!*name || strlen(name) >= MT_VIEW_MAX_NAME) {
			free(name);
			rc = mt_error_set(MT_EINVALID,
					  "%s: parameter '%s' has an empty or overlong layer name in '%s', expected layer names separated by ','",
					  opn, key, value);
			goto cleanup;
		}
		char **grown = realloc(args->layers, (args->nlayers + 1) * sizeof(*grown));
		if (!grown) {
			free(name);
			rc = mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
			goto cleanup;
		}
		args->layers = grown;
		args->layers[args->nlayers++] = name;
	}
	if (args->nlayers == 0)
		rc = mt_error_set(MT_EINVALID, "%s: parameter '%s' is empty, expected %s",
				  opn, key, strcmp(key, "layers") == 0 ? "all or layer names" : "a layer name");
	if (strcmp(key, "layer") == 0 && args->nlayers > 1)
		rc = mt_error_set(MT_EINVALID,
				  "%s: parameter 'layer' is '%s', expected one layer name (use 'layers' for several)",
				  opn, value);
cleanup:
	if (rc < 0)
		free_layers(args);
	free(v);
	return rc;
}

int mt_op_parse_seed(uint64_t *out, const char *opname, const char *value)
{
	char *end;
	unsigned long long v;
	errno = 0;
	v = strtoull(value, &end, 0);
	if (errno || end == value || *end || value[0] == '-')
		return mt_error_set(MT_EINVALID,
				    "%s: parameter 'seed' is '%s', expected an unsigned 64-bit integer",
				    opname, value);
	*out = (uint64_t)v;
	return 0;
}

/* "t" or "first-last": non-negative integers, first <= last. */
static int parse_step(mt_op_args *args, const char *value)
{
	char *end;
	long long a, b;
	errno = 0;
	a = strtoll(value, &end, 10);
	b = a;
	if (!errno && end != value && *end == '-') {
		const char *rest = end + 1;
		b = strtoll(rest, &end, 10);
		if (end == rest)
			b = -1;
	}
	if (errno || end == value || *end || value[0] == '-' || a < 0 || b < a)
		return mt_error_set(MT_EINVALID,
				    "%s: parameter 'step' is '%s', expected a time step t (0, 1, ...) or a range first-last such as 5-9",
				    args->op->name, value);
	args->step_first = a;
	args->step_last = b;
	return 0;
}

static int parse_depth(mt_op_args *args, const char *value)
{
	char *end;
	long v;
	if (strcmp(value, "all") == 0) {
		args->depth = -1;
		return 0;
	}
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < 0 || v > 100000)
		return mt_error_set(MT_EINVALID,
				    "%s: parameter 'depth' is '%s', expected all or a stacked layer 0, 1, ...",
				    args->op->name, value);
	args->depth = (int)v;
	return 0;
}

int mt_op_args_set(mt_op_args *args, const char *key, const char *value)
{
	const mt_operator *op = args->op;
	if (!op)
		return mt_error_set(MT_EINVALID, "operator: arguments not initialised, expected mt_op_args_init first");
	if (!key || !value)
		return mt_error_set(MT_EINVALID, "%s: missing parameter name or value", op->name);
	char *end;

	if (strcmp(key, "seed") == 0)
		return mt_op_parse_seed(&args->seed, op->name, value);
	if ((op->kind == MT_OP_KIND_WEIGHTS || op->kind == MT_OP_KIND_DYNAMIC) &&
	    (strcmp(key, "layer") == 0 || strcmp(key, "layers") == 0))
		return set_layers(args, value, key);
	if (op->kind == MT_OP_KIND_GRAPH && (strcmp(key, "site") == 0 || strcmp(key, "layer") == 0)) {
		if (strlen(value) >= sizeof(args->site))
			return mt_error_set(MT_EINVALID, "%s: parameter '%s' is too long, expected a site name",
					    op->name, key);
		snprintf(args->site, sizeof(args->site), "%s", value);
		return 0;
	}

	const mt_op_param_spec *s = find_spec(op, key);
	if (!s) {
		char keys[256];
		known_keys(keys, sizeof(keys), op);
		return mt_error_set(MT_EINVALID, "%s: unknown parameter '%s', expected one of %s",
				    op->name, key, keys);
	}

	double num = 0;
	int choice = -1;
	switch (s->type) {
	case MT_PARAM_DOUBLE:
		errno = 0;
		num = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(num) ||
		    num < s->min || num > s->max || (s->min_exclusive && num == s->min))
			return mt_error_set(MT_EINVALID,
					    "%s: parameter '%s' is '%s', expected a number in %s%g, %g]",
					    op->name, key, value, s->min_exclusive ? "(" : "[",
					    s->min, s->max);
		break;
	case MT_PARAM_INT:
	case MT_PARAM_UINT64:
		errno = 0;
		num = (double)strtoll(value, &end, 10);
		if (errno || end == value || *end || num < s->min || num > s->max)
			return mt_error_set(MT_EINVALID,
					    "%s: parameter '%s' is '%s', expected an integer in [%g, %g]",
					    op->name, key, value, s->min, s->max);
		break;
	case MT_PARAM_ENUM:
		choice = choice_index(s->choices, value);
		if (choice < 0)
			return mt_error_set(MT_EINVALID, "%s: parameter '%s' is '%s', expected one of %s",
					    op->name, key, value, s->choices);
		break;
	case MT_PARAM_BIT:
		choice = choice_index("sign|exponent|mantissa|any", value);
		if (choice < 0) {
			errno = 0;
			long b = strtol(value, &end, 10);
			if (errno || end == value || *end || b < 0 || b > 31)
				return mt_error_set(MT_EINVALID,
						    "%s: parameter '%s' is '%s', expected one of %s",
						    op->name, key, value, s->choices);
			choice = 4;
			num = (double)b;
		}
		break;
	case MT_PARAM_STRING:
		break;
	}

	if (strcmp(key, "ratio") == 0)
		args->ratio = num;
	else if (strcmp(key, "sigma") == 0)
		args->sigma = num;
	else if (strcmp(key, "sigma_mode") == 0)
		args->sigma_mode = (mt_gf_sigma_mode)choice;
	else if (strcmp(key, "variant") == 0 && strcmp(op->name, "GF") == 0)
		args->gf_variant = (mt_gf_variant)choice;
	else if (strcmp(key, "variant") == 0)
		args->neb_variant = (mt_neb_variant)choice;
	else if (strcmp(key, "dtype") == 0) {
		if (args->wpr_mode != MT_WPR_DIGITS)
			args->wpr_mode = (mt_wpr_mode)choice;
	} else if (strcmp(key, "digits") == 0) {
		args->digits = (int)num;
		args->wpr_mode = MT_WPR_DIGITS;
	} else if (strcmp(key, "bits") == 0)
		args->bits = (int)num;
	else if (strcmp(key, "granularity") == 0)
		args->granularity = (mt_qnt_granularity)choice;
	else if (strcmp(key, "k") == 0)
		args->k = (int64_t)num;
	else if (strcmp(key, "bit") == 0) {
		args->bf_class = (mt_bf_class)choice;
		args->bf_index = choice == MT_BF_INDEX ? (int)num : 0;
	} else if (strcmp(key, "site") == 0)
		snprintf(args->site, sizeof(args->site), "%s", value);
	else if (strcmp(key, "gate") == 0)
		snprintf(args->gate, sizeof(args->gate), "%s", value);
	else if (strcmp(key, "state") == 0)
		snprintf(args->state, sizeof(args->state), "%s", value);
	else if (strcmp(key, "direction") == 0)
		args->direction = choice == 0 ? -1 : choice - 1;
	else if (strcmp(key, "from") == 0)
		args->reset_from = (int64_t)num;
	else if (strcmp(key, "step") == 0)
		return parse_step(args, value);
	else if (strcmp(key, "depth") == 0)
		return parse_depth(args, value);
	return 0;
}

int mt_op_args_from_config(mt_op_args *args, const mt_config_mutation *m,
			   const char *const *ignore)
{
	const mt_operator *op = mt_operator_find(m->op);
	if (!op) {
		size_t count;
		const mt_operator *registry = mt_operators(&count);
		char names[256] = "";
		size_t used = 0;
		for (size_t i = 0; i < count; i++) {
			int n = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
					 registry[i].name);
			if (n > 0 && (size_t)n < sizeof(names) - used)
				used += (size_t)n;
		}
		memset(args, 0, sizeof(*args));
		return mt_error_set(MT_EINVALID, "line %d: operator '%s' is not known, expected one of %s",
				    m->line, m->op ? m->op : "(none)", names);
	}
	int rc = mt_op_args_init(args, op);
	if (rc < 0)
		return rc;
	int have_digits = 0, have_dtype = 0, have_layer = 0, have_layers = 0;
	for (size_t i = 0; i < m->nparams; i++) {
		const mt_config_param *p = &m->params[i];
		int skip = 0;
		for (size_t j = 0; ignore && ignore[j]; j++)
			if (strcmp(ignore[j], p->key) == 0)
				skip = 1;
		if (skip)
			continue;
		if ((rc = mt_op_args_set(args, p->key, p->value)) < 0) {
			mt_error_prefix("line %d: ", p->line ? p->line : m->line);
			goto cleanup;
		}
		have_digits |= strcmp(p->key, "digits") == 0;
		have_dtype |= strcmp(p->key, "dtype") == 0;
		have_layer |= strcmp(p->key, "layer") == 0;
		have_layers |= strcmp(p->key, "layers") == 0;
	}
	if (have_digits && have_dtype) {
		rc = mt_error_set(MT_EINVALID,
				  "line %d: %s: parameters 'digits' and 'dtype' both given, expected one of them",
				  m->line, op->name);
		goto cleanup;
	}
	if (have_layer && have_layers) {
		rc = mt_error_set(MT_EINVALID,
				  "line %d: %s: parameters 'layer' and 'layers' both given, expected one of them",
				  m->line, op->name);
		goto cleanup;
	}
	return 0;
cleanup:
	mt_op_args_dispose(args);
	return rc;
}

int mt_op_args_copy(mt_op_args *dst, const mt_op_args *src)
{
	*dst = *src;
	dst->layers = NULL;
	dst->nlayers = 0;
	if (src->nlayers == 0)
		return 0;
	dst->layers = calloc(src->nlayers, sizeof(char *));
	if (!dst->layers)
		return mt_error_set(MT_ENOMEM, "%s: out of memory", src->op ? src->op->name : "operator");
	for (size_t i = 0; i < src->nlayers; i++) {
		dst->layers[i] = strdup(src->layers[i]);
		if (!dst->layers[i]) {
			dst->nlayers = i;
			mt_op_args_dispose(dst);
			return mt_error_set(MT_ENOMEM, "%s: out of memory", src->op->name);
		}
	}
	dst->nlayers = src->nlayers;
	return 0;
}

/* ---- canonical text ---------------------------------------------------- */

static const char *choice_name(const char *choices, int idx, char *buf, size_t len)
{
	const char *p = choices;
	for (int i = 0; i < idx && p; i++) {
		p = strchr(p, '|');
		if (p)
			p++;
	}
	if (!p)
		return "?";
	const char *bar = strchr(p, '|');
	size_t n = bar ? (size_t)(bar - p) : strlen(p);
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

int mt_op_args_format(char **out, const mt_op_args *args)
{
	const mt_operator *op = args->op;
	if (!op)
		return mt_error_set(MT_EINVALID, "operator: arguments not initialised");
	mt_strbuf sb = { 0 };
	char tmp[64];
	mt_strbuf_printf(&sb, "%s", op->name);
	if (op->kind == MT_OP_KIND_GRAPH) {
		mt_strbuf_printf(&sb, " site=%s", args->site[0] ? args->site : "*");
	} else {
		mt_strbuf_printf(&sb, " layers=");
		if (args->nlayers == 0)
			mt_strbuf_printf(&sb, "all");
		for (size_t i = 0; i < args->nlayers; i++)
			mt_strbuf_printf(&sb, "%s%s", i ? "," : "", args->layers[i]);
	}
	for (size_t p = 0; p < op->nparams; p++) {
		const mt_op_param_spec *s = &op->params[p];
		const char *k = s->name;
		if (strcmp(k, "ratio") == 0) {
			mt_strbuf_printf(&sb, " ratio=");
			mt_strbuf_double(&sb, args->ratio);
		} else if (strcmp(k, "sigma") == 0) {
			mt_strbuf_printf(&sb, " sigma=");
			mt_strbuf_double(&sb, args->sigma);
		} else if (strcmp(k, "sigma_mode") == 0) {
			mt_strbuf_printf(&sb, " sigma_mode=%s", choice_name(s->choices, (int)args->sigma_mode, tmp, sizeof(tmp)));
		} else if (strcmp(k, "variant") == 0) {
			int v = strcmp(op->name, "GF") == 0 ? (int)args->gf_variant : (int)args->neb_variant;
			mt_strbuf_printf(&sb, " variant=%s", choice_name(s->choices, v, tmp, sizeof(tmp)));
		} else if (strcmp(k, "dtype") == 0) {
			if (args->wpr_mode != MT_WPR_DIGITS)
				mt_strbuf_printf(&sb, " dtype=%s", choice_name(s->choices, (int)args->wpr_mode, tmp, sizeof(tmp)));
		} else if (strcmp(k, "digits") == 0) {
			if (args->wpr_mode == MT_WPR_DIGITS)
				mt_strbuf_printf(&sb, " digits=%d", args->digits);
		} else if (strcmp(k, "bits") == 0) {
			mt_strbuf_printf(&sb, " bits=%d", args->bits);
		} else if (strcmp(k, "granularity") == 0) {
			mt_strbuf_printf(&sb, " granularity=%s", choice_name(s->choices, (int)args->granularity, tmp, sizeof(tmp)));
		} else if (strcmp(k, "k") == 0) {
			mt_strbuf_printf(&sb, " k=%lld", (long long)args->k);
		} else if (strcmp(k, "gate") == 0) {
			mt_strbuf_printf(&sb, " gate=%s", args->gate);
		} else if (strcmp(k, "state") == 0) {
			mt_strbuf_printf(&sb, " state=%s", args->state);
		} else if (strcmp(k, "step") == 0) {
			if (args->step_first < 0)
				mt_strbuf_printf(&sb, " step=none");
			else if (args->step_first == args->step_last)
				mt_strbuf_printf(&sb, " step=%lld", (long long)args->step_first);
			else
				mt_strbuf_printf(&sb, " step=%lld-%lld", (long long)args->step_first,
						 (long long)args->step_last);
		} else if (strcmp(k, "from") == 0) {
			mt_strbuf_printf(&sb, " from=%lld", (long long)args->reset_from);
		} else if (strcmp(k, "depth") == 0) {
			if (args->depth < 0)
				mt_strbuf_printf(&sb, " depth=all");
			else
				mt_strbuf_printf(&sb, " depth=%d", args->depth);
		} else if (strcmp(k, "direction") == 0) {
			mt_strbuf_printf(&sb, " direction=%s", args->direction < 0 ? "all" :
					 args->direction == 0 ? "forward" : "reverse");
		} else if (strcmp(k, "bit") == 0) {
			if (args->bf_class == MT_BF_INDEX)
				mt_strbuf_printf(&sb, " bit=%d", args->bf_index);
			else
				mt_strbuf_printf(&sb, " bit=%s", choice_name("sign|exponent|mantissa|any",
								     (int)args->bf_class, tmp, sizeof(tmp)));
		}
	}
	mt_strbuf_printf(&sb, " seed=%llu", (unsigned long long)args->seed);
	if (sb.failed) {
		free(sb.buf);
		return mt_error_set(MT_ENOMEM, "%s: out of memory formatting arguments", op->name);
	}
	*out = sb.buf;
	return 0;
}
