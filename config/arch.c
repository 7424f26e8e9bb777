/* The architecture description language (see include/mutorch/arch.h): the
 * parser, the canonical format, copy and free.
 *
 * Every layer kind is described by one row of the layer table
 * (arch_layers.c): its name and its arguments (type, whether required,
 * default, and where the value lives in mt_layer). Parsing, the canonical
 * format, the short form used in messages and the signature shown in errors
 * are all driven by that table, so they cannot disagree. */
#include "mutorch/arch.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch_layers.h"
#include "mutorch/error.h"
#include "mutorch/recipe.h"
#include "mutorch/strbuf.h"

#define TEXT_MAX 96 /* layer text quoted in messages */

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
		arch_format_signature(sig, sizeof(sig), spec);
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

	arch_format_signature(sig, sizeof(sig), spec);

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
				spec = &arch_layer_specs[k];
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
		if (arch_validate_layer(&layer, msg, sizeof(msg)) < 0) {
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
		arch_format_layer(&sb, &arch->layers[i], 1);
	}
	return mt_strbuf_detach(out, &sb);
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
