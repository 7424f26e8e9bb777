/* The layer table of the architecture language, shared by its parser
 * (arch.c), the shape check (arch_check.c) and the table's own file
 * (arch_layers.c); not a public header.
 *
 * Every layer kind is one row: its arguments (type, whether required,
 * default, and where the value lives in mt_layer). The name of a kind is
 * mt_layer_kind_name's (recipe.h). */
#ifndef MUTORCH_CONFIG_ARCH_LAYERS_H
#define MUTORCH_CONFIG_ARCH_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/recipe.h"
#include "mutorch/strbuf.h"

/* Large enough for any real layer, small enough that shape arithmetic on
 * int64 cannot overflow. */
#define ARG_INT_MAX ((int64_t)1 << 30)
#define MAX_ARGS 8

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

/* Indexed by mt_layer_kind. */
extern const layer_spec arch_layer_specs[MT_LAYER__COUNT];

/* Where argument a lives in layer l. */
static inline int64_t *int_field(mt_layer *l, const arg_spec *a)
{
	return (int64_t *)((char *)l + a->offset);
}
static inline const int64_t *int_field_c(const mt_layer *l, const arg_spec *a)
{
	return (const int64_t *)((const char *)l + a->offset);
}
static inline double *float_field(mt_layer *l, const arg_spec *a)
{
	return (double *)((char *)l + a->offset);
}
static inline const double *float_field_c(const mt_layer *l, const arg_spec *a)
{
	return (const double *)((const char *)l + a->offset);
}
static inline int *bool_field(mt_layer *l, const arg_spec *a)
{
	return (int *)((char *)l + a->offset);
}
static inline const int *bool_field_c(const mt_layer *l, const arg_spec *a)
{
	return (const int *)((const char *)l + a->offset);
}

/* Canonical (every argument explicit) or short (only required arguments
 * and the ones that differ from their defaults: what a person writes). */
void arch_format_layer(mt_strbuf *sb, const mt_layer *l, int canonical);

/* "conv2d(in, out, kernel, stride=1, ...)" for error messages. */
void arch_format_signature(char *buf, size_t size, const layer_spec *spec);

/* Argument ranges (PyTorch's own checks, plus an upper bound on sizes). On
 * failure writes what is wrong into msg and returns -1. */
int arch_validate_layer(const mt_layer *l, char *msg, size_t size);

#endif
