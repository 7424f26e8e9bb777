/* The architecture description language (see include/mutorch/arch.h).
 *
 * Every layer kind is described by one table row: its name and its
 * arguments (type, whether required, default, and where the value lives in
 * mt_layer). Parsing, the canonical format, the short form used in messages
 * and the signature shown in errors are all driven by that table, so they
 * cannot disagree. */
#include "mutorch/arch.h"
#include "mutorch/error.h"
#include "mutorch/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Large enough for any real layer, small enough that shape arithmetic on
 * int64 cannot overflow. */
#define ARG_INT_MAX ((int64_t)1 << 30)
#define MAX_ARGS 8
#define TEXT_MAX 96 /* layer text quoted in messages */

typedef enum { ARG_INT, ARG_FLOAT, ARG_BOOL } arg_type;

typedef struct {
	const char *name;
	arg_type type;
	int required;
	double def;         /* default (ints and bools stored exactly) */
	int def_is_kernel;  /* pool stride: defaults to the kernel */
	size_t offset;      /* into mt_layer */
} arg_spec;

/* The name of a kind is mt_layer_kind_name's (recipe.h). */
typedef struct {
	int nargs;
	arg_spec args[MAX_ARGS];
} layer_spec;

#define OFF(field) offsetof(mt_layer, field)
#define REQ_INT(n, f) { n, ARG_INT, 1, 0, 0, OFF(f) }
#define OPT_INT(n, f, d) { n, ARG_INT, 0, d, 0, OFF(f) }
#define OPT_FLOAT(n, f, d) { n, ARG_FLOAT, 0, d, 0, OFF(f) }
#define OPT_BOOL(n, f, d) { n, ARG_BOOL, 0, d, 0, OFF(f) }
#define POOL_STRIDE { "stride", ARG_INT, 0, 0, 1, OFF(stride) }

/* Indexed by mt_layer_kind. */
static const layer_spec layer_specs[MT_LAYER__COUNT] = {
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
	return mt_layer_kind_name((mt_layer_kind)(spec - layer_specs));
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

static int64_t *int_field(mt_layer *l, const arg_spec *a)
{
	return (int64_t *)((char *)l + a->offset);
}
static const int64_t *int_field_c(const mt_layer *l, const arg_spec *a)
{
	return (const int64_t *)((const char *)l + a->offset);
}
static double *float_field(mt_layer *l, const arg_spec *a)
{
	return (double *)((char *)l + a->offset);
}
static const double *float_field_c(const mt_layer *l, const arg_spec *a)
{
	return (const double *)((const char *)l + a->offset);
}
static int *bool_field(mt_layer *l, const arg_spec *a)
{
	return (int *)((char *)l + a->offset);
}
static const int *bool_field_c(const mt_layer *l, const arg_spec *a)
{
	return (const int *)((const char *)l + a->offset);
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
static void format_layer(mt_strbuf *sb, const mt_layer *l, int canonical)
{
	const layer_spec *spec;
	int i, first = 1;

	if ((int)l->kind < 0 || l->kind >= MT_LAYER__COUNT) {
		mt_strbuf_printf(sb, "unknown(%d)", (int)l->kind);
		return;
	}
	spec = &layer_specs[l->kind];
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
static void format_signature(char *buf, size_t size, const layer_spec *spec)
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
static int validate_layer(const mt_layer *l, char *msg, size_t size)
{
	const layer_spec *spec;
	int i;

	if ((int)l->kind < 0 || l->kind >= MT_LAYER__COUNT) {
		snprintf(msg, size, "unknown layer kind %d", (int)l->kind);
		return -1;
	}
	spec = &layer_specs[l->kind];
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

/* ---- parser ------------------------------------------------------------- */

typedef struct {
	size_t index;      /* 0-based, as in the module names ("linear_7") */
	char text[TEXT_MAX + 4];
} layer_ctx;

static void set_text(layer_ctx *ctx, const char *start, size_t len)
{
	if (len > TEXT_MAX) {
		memcpy(ctx->text, start, TEXT_MAX);
		memcpy(ctx->text + TEXT_MAX, "...", 4);
	} else {
		memcpy(ctx->text, start, len);
		ctx->text[len] = '\0';
	}
}

static int layer_error(const layer_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static int layer_error(const layer_ctx *ctx, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mt_error_set(MT_EINVALID, "layer %zu '%s': %s", ctx->index,
			    ctx->text, what);
}

static int parse_value(mt_layer *l, const arg_spec *a, const char *text,
		       const layer_ctx *ctx, const layer_spec *spec)
{
	char *end;

	if (!*text) {
		char sig[256];
		format_signature(sig, sizeof(sig), spec);
		return layer_error(ctx, "argument '%s' has no value (%s)", a->name, sig);
	}
	switch (a->type) {
	case ARG_INT: {
		long long v;
		errno = 0;
		v = strtoll(text, &end, 10);
		if (*end || errno)
			return layer_error(ctx, "argument '%s' must be an integer, got '%s'",
					   a->name, text);
		*int_field(l, a) = v;
		break;
	}
	case ARG_FLOAT: {
		double v;
		errno = 0;
		v = strtod(text, &end);
		if (*end || errno || !isfinite(v) || isalpha((unsigned char)text[0]))
			return layer_error(ctx, "argument '%s' must be a number, got '%s'",
					   a->name, text);
		*float_field(l, a) = v;
		break;
	}
	case ARG_BOOL:
		if (!strcmp(text, "true") || !strcmp(text, "True"))
			*bool_field(l, a) = 1;
		else if (!strcmp(text, "false") || !strcmp(text, "False"))
			*bool_field(l, a) = 0;
		else
			return layer_error(ctx, "argument '%s' must be true or false, got '%s'",
					   a->name, text);
		break;
	}
	return 0;
}

static void trim(char **s)
{
	char *p = *s, *e;
	while (isspace((unsigned char)*p))
		p++;
	e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	*s = p;
}

/* Fill l from the argument list between the parentheses (args is a
 * writable copy, NULL when the layer has no parentheses). */
static int parse_args(mt_layer *l, const layer_spec *spec, char *args,
		      const layer_ctx *ctx)
{
	int seen[MAX_ARGS] = { 0 };
	int npositional = 0, keyword_seen = 0, i, error;
	char sig[256];
	char *item, *next;

	format_signature(sig, sizeof(sig), spec);

	/* Defaults first; the pool stride follows the kernel afterwards. */
	for (i = 0; i < spec->nargs; i++) {
		const arg_spec *a = &spec->args[i];
		if (a->required || a->def_is_kernel)
			continue;
		if (a->type == ARG_INT)
			*int_field(l, a) = (int64_t)a->def;
		else if (a->type == ARG_FLOAT)
			*float_field(l, a) = a->def;
		else
			*bool_field(l, a) = (int)a->def;
	}

	if (args) {
		trim(&args);
		if (!*args)
			args = NULL; /* "relu()" */
	}
	for (item = args; item; item = next) {
		char *eq, *value;
		int argno = -1;

		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		trim(&item);
		if (!*item)
			return layer_error(ctx, "empty argument (%s)", sig);
		eq = strchr(item, '=');
		if (eq) {
			char *key = item;
			*eq = '\0';
			value = eq + 1;
			trim(&key);
			trim(&value);
			for (i = 0; i < spec->nargs; i++)
				if (!strcmp(spec->args[i].name, key))
					argno = i;
			if (argno < 0)
				return layer_error(ctx, "unknown argument '%s' (%s)", key, sig);
			if (seen[argno])
				return layer_error(ctx, "argument '%s' given twice (%s)", key, sig);
			keyword_seen = 1;
		} else {
			value = item;
			if (keyword_seen)
				return layer_error(ctx,
						   "positional argument '%s' after a keyword argument (%s)",
						   item, sig);
			if (npositional >= spec->nargs) {
				if (spec->nargs == 0)
					return layer_error(ctx, "unexpected argument '%s' (%s)",
							   item, sig);
				return layer_error(ctx, "too many arguments at '%s' (%s)", item, sig);
			}
			argno = npositional++;
		}
		seen[argno] = 1;
		if ((error = parse_value(l, &spec->args[argno], value, ctx, spec)) < 0)
			return error;
	}

	for (i = 0; i < spec->nargs; i++) {
		const arg_spec *a = &spec->args[i];
		if (a->required && !seen[i])
			return layer_error(ctx, "missing argument '%s' (%s)", a->name, sig);
		if (a->def_is_kernel && !seen[i])
			*int_field(l, a) = l->kernel;
	}
	if (l->kind == MT_LAYER_BATCHNORM1D || l->kind == MT_LAYER_BATCHNORM2D)
		l->out = l->in;
	if (l->kind == MT_LAYER_MAXPOOL2D || l->kind == MT_LAYER_AVGPOOL2D)
		l->dilation = 1; /* fixed for pools; keeps one output-size formula */
	return 0;
}

static int push_layer(mt_arch *arch, size_t *cap, const mt_layer *l)
{
	if (arch->nlayers == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		mt_layer *grown = realloc(arch->layers, ncap * sizeof(*grown));
		if (!grown)
			return mt_error_oom();
		arch->layers = grown;
		*cap = ncap;
	}
	arch->layers[arch->nlayers++] = *l;
	return 0;
}

static int is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

int mt_arch_parse(mt_arch **out, const char *text)
{
	mt_arch *arch = NULL;
	size_t cap = 0;
	const char *p = text;
	char *args = NULL;
	int error = 0;

	*out = NULL;
	if (!text)
		return mt_error_set(MT_EINVALID, "architecture: no description given");
	if (!(arch = calloc(1, sizeof(*arch))))
		return mt_error_oom();

	for (;;) {
		const char *start, *name_end, *open = NULL, *close = NULL, *end;
		layer_ctx ctx;
		mt_layer layer;
		const layer_spec *spec = NULL;
		int k;
		char msg[512];

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		memset(&layer, 0, sizeof(layer));
		ctx.index = arch->nlayers;
		start = p;
		while (is_name_char(*p))
			p++;
		name_end = p;

		if (name_end == start) {
			/* Not a name: quote up to the next space. */
			end = start;
			while (*end && !isspace((unsigned char)*end))
				end++;
			set_text(&ctx, start, (size_t)(end - start));
			if (*start == ')')
				error = layer_error(&ctx, "unbalanced parentheses: ')' without '('");
			else
				error = layer_error(&ctx, "expected a layer name, got '%c'", *start);
			goto cleanup;
		}

		/* Optional argument list; a space before '(' is tolerated. */
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '(') {
			open = p;
			for (p = open + 1; *p && *p != ')'; p++) {
				if (*p == '(') {
					const char *e = p;
					while (*e && *e != ')')
						e++;
					set_text(&ctx, start, (size_t)(e - start) + (*e ? 1 : 0));
					error = layer_error(&ctx, "unbalanced parentheses: nested '('");
					goto cleanup;
				}
			}
			if (!*p) {
				set_text(&ctx, start, strlen(start));
				while (ctx.text[0] && isspace((unsigned char)ctx.text[strlen(ctx.text) - 1]))
					ctx.text[strlen(ctx.text) - 1] = '\0';
				error = layer_error(&ctx, "unbalanced parentheses: missing ')'");
				goto cleanup;
			}
			close = p++;
			end = p;
		} else {
			p = name_end;
			end = name_end;
		}

		/* What follows a layer must be whitespace or the end. */
		if (*p && !isspace((unsigned char)*p)) {
			const char *g = p;
			while (*g && !isspace((unsigned char)*g))
				g++;
			set_text(&ctx, start, (size_t)(g - start));
			if (*p == ')')
				error = layer_error(&ctx, "unbalanced parentheses: ')' without '('");
			else
				error = layer_error(&ctx, "unexpected '%.*s' after the layer",
						    (int)(g - p), p);
			goto cleanup;
		}
		set_text(&ctx, start, (size_t)(end - start));

		for (k = 0; k < MT_LAYER__COUNT; k++) {
			if (strlen(mt_layer_kind_name((mt_layer_kind)k)) == (size_t)(name_end - start) &&
			    !strncmp(mt_layer_kind_name((mt_layer_kind)k), start, (size_t)(name_end - start))) {
				spec = &layer_specs[k];
				layer.kind = (mt_layer_kind)k;
			}
		}
		if (!spec) {
			char names[512];
			size_t n = 0;
			for (k = 0; k < MT_LAYER__COUNT && n < sizeof(names); k++)
				n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
						      k ? ", " : "", mt_layer_kind_name((mt_layer_kind)k));
			error = layer_error(&ctx, "unknown layer '%.*s'; expected one of: %s",
					    (int)(name_end - start), start, names);
			goto cleanup;
		}

		if (open) {
			size_t n = (size_t)(close - open - 1);
			if (!(args = malloc(n + 1))) {
				error = mt_error_oom();
				goto cleanup;
			}
			memcpy(args, open + 1, n);
			args[n] = '\0';
		}
		if ((error = parse_args(&layer, spec, args, &ctx)) < 0)
			goto cleanup;
		free(args);
		args = NULL;
		if (validate_layer(&layer, msg, sizeof(msg)) < 0) {
			error = layer_error(&ctx, "%s", msg);
			goto cleanup;
		}
		if ((error = push_layer(arch, &cap, &layer)) < 0)
			goto cleanup;
	}

	if (arch->nlayers == 0) {
		error = mt_error_set(MT_EINVALID,
				     "architecture: no layers; expected e.g. 'flatten linear(784,10)'");
		goto cleanup;
	}
	*out = arch;
	arch = NULL;

cleanup:
	free(args);
	mt_arch_free(arch);
	return error;
}

/* ---- canonical format ---------------------------------------------------- */

int mt_arch_format(char **out, const mt_arch *arch)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	size_t i;

	for (i = 0; i < arch->nlayers; i++) {
		if (i)
			mt_strbuf_puts(&sb, " ");
		format_layer(&sb, &arch->layers[i], 1);
	}
	return mt_strbuf_detach(out, &sb);
}

/* ---- shape check --------------------------------------------------------- */

/* The layer as a person would write it, for messages. */
static void short_text(char *buf, size_t size, const mt_layer *l)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	format_layer(&sb, l, 0);
	snprintf(buf, size, "%s", sb.buf && !sb.failed ? sb.buf : "?");
	mt_strbuf_dispose(&sb);
}

static int shape_error(size_t index, const mt_layer *l, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

static int shape_error(size_t index, const mt_layer *l, const char *fmt, ...)
{
	char what[1024], text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	short_text(text, sizeof(text), l);
	return mt_error_set(MT_EINVALID, "layer %zu '%s': %s", index, text, what);
}

/* PyTorch's floor-mode output size; 0 or less means the input is too small. */
static int64_t window_out(int64_t size, const mt_layer *l)
{
	int64_t num = size + 2 * l->padding - l->dilation * (l->kernel - 1) - 1;
	if (num < 0)
		return 0;
	return num / l->stride + 1;
}

int mt_arch_check(const mt_arch *arch, const int64_t input_shape[3],
		  int64_t (*out_shapes)[3])
{
	int64_t c = input_shape[0], h = input_shape[1], w = input_shape[2];
	int flat = 0; /* after flatten the tensor is {N, d}, shown as {1,1,d} */
	size_t i;
	char msg[512];

	if (!arch || arch->nlayers == 0)
		return mt_error_set(MT_EINVALID, "architecture: no layers");
	if (c < 1 || h < 1 || w < 1 || c > ARG_INT_MAX || h > ARG_INT_MAX ||
	    w > ARG_INT_MAX)
		return mt_error_set(MT_EINVALID,
				    "input shape {%lld,%lld,%lld}: expected three positive sizes {c,h,w}",
				    (long long)c, (long long)h, (long long)w);

	for (i = 0; i < arch->nlayers; i++) {
		const mt_layer *l = &arch->layers[i];
		size_t pos = i; /* 0-based, like the module names */

		if (validate_layer(l, msg, sizeof(msg)) < 0)
			return shape_error(pos, l, "%s", msg);

		switch (l->kind) {
		case MT_LAYER_CONV2D:
		case MT_LAYER_MAXPOOL2D:
		case MT_LAYER_AVGPOOL2D:
		case MT_LAYER_BATCHNORM2D: {
			int64_t oh, ow;
			if (flat)
				return shape_error(pos, l,
						   "input is flattened ({1,1,%lld}), expected an image {c,h,w}",
						   (long long)w);
			if (l->kind == MT_LAYER_BATCHNORM2D) {
				if (c != l->in)
					return shape_error(pos, l,
							   "input has %lld channels, expected %lld (input shape {%lld,%lld,%lld})",
							   (long long)c, (long long)l->in,
							   (long long)c, (long long)h, (long long)w);
				break;
			}
			if (l->kind == MT_LAYER_CONV2D && c != l->in)
				return shape_error(pos, l,
						   "input has %lld channels, expected %lld (input shape {%lld,%lld,%lld})",
						   (long long)c, (long long)l->in,
						   (long long)c, (long long)h, (long long)w);
			oh = window_out(h, l);
			ow = window_out(w, l);
			if (oh < 1 || ow < 1)
				return shape_error(pos, l,
						   "input {%lld,%lld,%lld} is too small for kernel %lld (padding %lld, dilation %lld): the output would be empty",
						   (long long)c, (long long)h, (long long)w,
						   (long long)l->kernel, (long long)l->padding,
						   (long long)l->dilation);
			if (l->kind == MT_LAYER_CONV2D)
				c = l->out;
			h = oh;
			w = ow;
			break;
		}
		case MT_LAYER_FLATTEN:
			if (!flat) {
				/* Each factor is at most 2^32, the product must fit. */
				if (h > INT64_MAX / w || c > INT64_MAX / (h * w))
					return shape_error(pos, l, "flattened size overflows");
				w = c * h * w;
				c = h = 1;
				flat = 1;
			}
			break;
		case MT_LAYER_LINEAR:
			if (!flat)
				return shape_error(pos, l,
						   "input {%lld,%lld,%lld} is not flattened; expected {1,1,%lld} (put 'flatten' before it)",
						   (long long)c, (long long)h, (long long)w,
						   (long long)l->in);
			if (w != l->in)
				return shape_error(pos, l, "input has %lld features, expected %lld",
						   (long long)w, (long long)l->in);
			w = l->out;
			break;
		case MT_LAYER_BATCHNORM1D:
			if (!flat)
				return shape_error(pos, l,
						   "input {%lld,%lld,%lld} is not flattened; expected {1,1,%lld} (use batchnorm2d on images)",
						   (long long)c, (long long)h, (long long)w,
						   (long long)l->in);
			if (w != l->in)
				return shape_error(pos, l, "input has %lld features, expected %lld",
						   (long long)w, (long long)l->in);
			break;
		case MT_LAYER_SOFTMAX: {
			int rank = flat ? 2 : 4;
			if (l->dim < -rank || l->dim >= rank)
				return shape_error(pos, l,
						   "dim %lld is out of range for a %s input of rank %d (batch included)",
						   (long long)l->dim, flat ? "flattened" : "image", rank);
			break;
		}
		default: /* element-wise: shape unchanged */
			break;
		}
		if (out_shapes) {
			out_shapes[i][0] = c;
			out_shapes[i][1] = h;
			out_shapes[i][2] = w;
		}
	}
	return 0;
}

/* ---- copy and free ----------------------------------------------------- */

int mt_arch_copy(mt_arch **out, const mt_arch *src)
{
	mt_arch *arch;

	*out = NULL;
	if (!(arch = calloc(1, sizeof(*arch))))
		return mt_error_oom();
	if (src->nlayers) {
		if (!(arch->layers = malloc(src->nlayers * sizeof(*arch->layers)))) {
			free(arch);
			return mt_error_oom();
		}
		memcpy(arch->layers, src->layers, src->nlayers * sizeof(*arch->layers));
	}
	arch->nlayers = src->nlayers;
	*out = arch;
	return 0;
}

void mt_arch_free(mt_arch *arch)
{
	if (!arch)
		return;
	free(arch->layers);
	free(arch);
}
