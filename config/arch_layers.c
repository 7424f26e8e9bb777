/* The layer table of the architecture language (see arch_layers.h) and
 * everything driven by it but the parser: the canonical and short formats,
 * the signature shown in errors and the argument checks shared by the
 * parser (arch.c) and the shape check (arch_check.c). One table row per
 * layer kind, so that these cannot disagree. */
#include "arch_layers.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/recipe.h"
#include "mutorch/strbuf.h"

#define OFF(field) offsetof(mt_layer, field)
#define REQ_INT(n, f) { n, ARG_INT, 1, 0, 0, OFF(f) }
#define OPT_INT(n, f, d) { n, ARG_INT, 0, d, 0, OFF(f) }
#define OPT_FLOAT(n, f, d) { n, ARG_FLOAT, 0, d, 0, OFF(f) }
#define OPT_BOOL(n, f, d) { n, ARG_BOOL, 0, d, 0, OFF(f) }
#define POOL_STRIDE { "stride", ARG_INT, 0, 0, 1, OFF(stride) }

/* Indexed by mt_layer_kind. */
const layer_spec arch_layer_specs[MT_LAYER__COUNT] = {
	[MT_LAYER_LINEAR] = { 3, {
		REQ_INT("in", in), REQ_INT("out", out), OPT_BOOL("bias", bias, 1) } },
	[MT_LAYER_CONV2D] = { 8, {
		REQ_INT("in", in), REQ_INT("out", out), REQ_INT("kernel", kernel),
		OPT_INT("stride", stride, 1), OPT_INT("padding", padding, 0),
		OPT_INT("dilation", dilation, 1), OPT_INT("groups", groups, 1),
		OPT_BOOL("bias", bias, 1) } },
	[MT_LAYER_MAXPOOL2D] = { 3, {
		REQ_INT("kernel", kernel), POOL_STRIDE, OPT_INT("padding", padding, 0) } },
	[MT_LAYER_AVGPOOL2D] = { 3, {
		REQ_INT("kernel", kernel), POOL_STRIDE, OPT_INT("padding", padding, 0) } },
	[MT_LAYER_FLATTEN] = { 0, { { 0 } } },
	[MT_LAYER_DROPOUT] = { 1, { OPT_FLOAT("p", p, 0.5) } },
	[MT_LAYER_BATCHNORM1D] = { 3, {
		REQ_INT("features", in), OPT_FLOAT("eps", eps, 1e-5),
		OPT_FLOAT("momentum", momentum, 0.1) } },
	[MT_LAYER_BATCHNORM2D] = { 3, {
		REQ_INT("features", in), OPT_FLOAT("eps", eps, 1e-5),
		OPT_FLOAT("momentum", momentum, 0.1) } },
	[MT_LAYER_RELU] = { 0, { { 0 } } },
	[MT_LAYER_LEAKY_RELU] = { 1, {
		OPT_FLOAT("negative_slope", alpha, 0.01) } },
	[MT_LAYER_ELU] = { 1, { OPT_FLOAT("alpha", alpha, 1.0) } },
	[MT_LAYER_GELU] = { 0, { { 0 } } },
	[MT_LAYER_TANH] = { 0, { { 0 } } },
	[MT_LAYER_SIGMOID] = { 0, { { 0 } } },
	[MT_LAYER_SOFTMAX] = { 1, { OPT_INT("dim", dim, 1) } },
};

static const char *spec_name(const layer_spec *spec)
{
	return mt_layer_kind_name((mt_layer_kind)(spec - arch_layer_specs));
}

/* The shortest %g form that reads back as the same double, so the
 * canonical string is both exact and readable ("0.1", not
 * "0.10000000000000001"). */
static void format_double(char *buf, size_t size, double v)
{
	int prec;
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void format_value(mt_strbuf *sb, const mt_layer *l, const arg_spec *a)
{
	char num[40];
	switch (a->type) {
	case ARG_INT:
		mt_strbuf_printf(sb, "%lld", (long long)*int_field_c(l, a));
		break;
	case ARG_FLOAT:
		format_double(num, sizeof(num), *float_field_c(l, a));
		mt_strbuf_printf(sb, "%s", num);
		break;
	case ARG_BOOL:
		mt_strbuf_printf(sb, "%s", *bool_field_c(l, a) ? "true" : "false");
		break;
	}
}

static int is_default(const mt_layer *l, const arg_spec *a)
{
	switch (a->type) {
	case ARG_INT:
		if (a->def_is_kernel)
			return *int_field_c(l, a) == l->kernel;
		return *int_field_c(l, a) == (int64_t)a->def;
	case ARG_FLOAT:
		return *float_field_c(l, a) == a->def;
	case ARG_BOOL:
		return *bool_field_c(l, a) == (int)a->def;
	}
	return 0;
}

/* Canonical (every argument explicit) or short (only required arguments
 * and the ones that differ from their defaults: what a person writes). */
void arch_format_layer(mt_strbuf *sb, const mt_layer *l, int canonical)
{
	const layer_spec *spec;
	int i, first = 1;

	if ((int)l->kind < 0 || l->kind >= MT_LAYER__COUNT) {
		mt_strbuf_printf(sb, "unknown(%d)", (int)l->kind);
		return;
	}
	spec = &arch_layer_specs[l->kind];
	mt_strbuf_puts(sb, spec_name(spec));
	for (i = 0; i < spec->nargs; i++) {
		const arg_spec *a = &spec->args[i];
		if (!a->required && !canonical && is_default(l, a))
			continue;
		mt_strbuf_printf(sb, "%s", first ? "(" : ",");
		first = 0;
		if (!a->required)
			mt_strbuf_printf(sb, "%s=", a->name);
		format_value(sb, l, a);
	}
	if (!first)
		mt_strbuf_printf(sb, ")");
}

/* "conv2d(in, out, kernel, stride=1, ...)" for error messages. */
void arch_format_signature(char *buf, size_t size, const layer_spec *spec)
{
	size_t n = 0;
	int i;

	n += (size_t)snprintf(buf + n, size - n, "%s", spec_name(spec));
	if (spec->nargs == 0) {
		snprintf(buf + n, size - n, " takes no arguments");
		return;
	}
	for (i = 0; i < spec->nargs && n < size; i++) {
		const arg_spec *a = &spec->args[i];
		char def[40];
		if (a->required)
			snprintf(def, sizeof(def), "%s", "");
		else if (a->def_is_kernel)
			snprintf(def, sizeof(def), "=kernel");
		else if (a->type == ARG_BOOL)
			snprintf(def, sizeof(def), "=%s", a->def ? "true" : "false");
		else if (a->type == ARG_INT)
			snprintf(def, sizeof(def), "=%lld", (long long)a->def);
		else {
			def[0] = '=';
			format_double(def + 1, sizeof(def) - 1, a->def);
		}
		n += (size_t)snprintf(buf + n, size - n, "%s%s%s", i ? ", " : "(",
				      a->name, def);
	}
	if (n < size)
		snprintf(buf + n, size - n, ")");
}

/* ---- validation shared by the parser and the shape check --------------- */

/* Argument ranges (PyTorch's own checks, plus an upper bound on sizes). On
 * failure writes what is wrong into msg and returns -1. */
int arch_validate_layer(const mt_layer *l, char *msg, size_t size)
{
	const layer_spec *spec;
	int i;

	if ((int)l->kind < 0 || l->kind >= MT_LAYER__COUNT) {
		snprintf(msg, size, "unknown layer kind %d", (int)l->kind);
		return -1;
	}
	spec = &arch_layer_specs[l->kind];
	for (i = 0; i < spec->nargs; i++) {
		const arg_spec *a = &spec->args[i];
		if (a->type == ARG_INT && a->offset != OFF(dim)) {
			int64_t v = *int_field_c(l, a);
			int64_t lo = a->offset == OFF(padding) ? 0 : 1;
			if (v < lo || v > ARG_INT_MAX) {
				snprintf(msg, size,
					 "argument '%s' must be %s integer at most %lld, got %lld",
					 a->name, lo ? "a positive" : "a non-negative",
					 (long long)ARG_INT_MAX, (long long)v);
				return -1;
			}
		} else if (a->type == ARG_FLOAT) {
			double v = *float_field_c(l, a);
			char num[40];
			format_double(num, sizeof(num), v);
			if (!isfinite(v)) {
				snprintf(msg, size, "argument '%s' must be a finite number, got %s",
					 a->name, num);
				return -1;
			}
			if ((a->offset == OFF(p) || a->offset == OFF(momentum)) &&
			    (v < 0 || v > 1)) {
				snprintf(msg, size, "argument '%s' must be in [0, 1], got %s",
					 a->name, num);
				return -1;
			}
			if (a->offset == OFF(eps) && !(v > 0)) {
				snprintf(msg, size, "argument 'eps' must be positive, got %s", num);
				return -1;
			}
		}
	}
	switch (l->kind) {
	case MT_LAYER_SOFTMAX:
		if (l->dim < -4 || l->dim > 3) {
			snprintf(msg, size, "argument 'dim' must be in [-4, 3], got %lld",
				 (long long)l->dim);
			return -1;
		}
		break;
	case MT_LAYER_CONV2D:
		if (l->in % l->groups || l->out % l->groups) {
			snprintf(msg, size,
				 "in (%lld) and out (%lld) must both be divisible by groups (%lld)",
				 (long long)l->in, (long long)l->out, (long long)l->groups);
			return -1;
		}
		break;
	case MT_LAYER_MAXPOOL2D:
	case MT_LAYER_AVGPOOL2D:
		if (l->padding * 2 > l->kernel) {
			snprintf(msg, size,
				 "padding (%lld) must be at most half the kernel (%lld)",
				 (long long)l->padding, (long long)l->kernel);
			return -1;
		}
		break;
	case MT_LAYER_BATCHNORM1D:
	case MT_LAYER_BATCHNORM2D:
		if (l->out != l->in) {
			snprintf(msg, size, "in (%lld) and out (%lld) must be equal",
				 (long long)l->in, (long long)l->out);
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}
