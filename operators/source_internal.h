/* Shared between the source-level operator files; not a public header.
 * Calls go one way: source.c -> source_data.c, source_program.c ->
 * source_args.c (the arguments and the helpers below). */
#ifndef MUTORCH_SOURCE_INTERNAL_H
#define MUTORCH_SOURCE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/operators.h"
#include "mutorch/recipe.h"
#include "mutorch/source.h"
#include "mutorch/strbuf.h"

#define SRC_MAX_PARAMS 8

/* One parameter of the operator's registry spec, parsed. */
typedef struct {
	const mt_op_param_spec *spec;
	int given;          /* written in the entry */
	int has;            /* given, or from the default (or resolved by the op) */
	double num;         /* numbers; class/to: the class, -1 for all/random */
	int choice;         /* enums */
} src_value;

typedef struct {
	const mt_operator *op;
	const mt_config *cfg;
	const mt_dataset *train;
	uint64_t seed;
	int num_classes;
	src_value v[SRC_MAX_PARAMS];
	size_t nv;
} src_args;

/* ---- source_args.c ---- */

/* Parse an entry's parameters against op's registry spec: defaults first,
 * then every (key, value); "mutants" is skipped, "seed" overrides seed.
 * Classes are checked against train's classes (cfg's without train). */
int src_parse_args(src_args *a, const mt_operator *op, const mt_config *cfg,
		   const mt_dataset *train, const mt_config_param *params,
		   size_t nparams, uint64_t seed);
/* "ACH activation=tanh layer=3", then seed=... for data operators. */
int src_format_params(char **out, src_args *a, int with_seed);
/* Hand over sb's text as *out (malloc'd), or MT_ENOMEM when it failed. */
int src_sb_finish(char **out, mt_strbuf *sb, const char *op);

/* The parsed parameter `name` (always present for a name in the spec). */
src_value *src_arg(src_args *a, const char *name);

/* Mark the mutant not applicable; returns 0. */
int src_not_applicable(mt_source_mutant *mu, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* Set mu->description (printf); returns 0 or MT_ENOMEM. */
int src_describe(mt_source_mutant *mu, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Activation kinds in the order of the spec's choices. */
extern const mt_layer_kind mt_src_activation_kinds[7];

/* ---- source_knobs.c ---- */

/* With an external training program (cfg->command): refuse (mark mu not
 * applicable, *refused non-zero) an architecture operator, or one whose
 * knob the program does not declare. Returns 0 or MT_E*. */
int src_program_refusal(mt_source_mutant *mu, src_args *a, int *refused);

/* ---- the operators, called by mt_source_apply (source.c) ---- */

/* Data operators (source_data.c) fill order_map / labels / noise. */
int mt_src_data_apply(mt_source_mutant *mu, src_args *a);
/* Program operators (source_program.c) change mu->config. */
int mt_src_program_apply(mt_source_mutant *mu, src_args *a);

#endif
