/*
 * mutorch/operators.h - the mutation operator registry and the model-level
 * weight operators (pure C, no torch).
 *
 * Every operator is one row of a registry table: its name ("GF"), level
 * ("model" or "source"), kind (weights: applied by this module to a model
 * view; graph: applied by the shim to the module's forward graph, see
 * mutorch/shim_graph.h), a one-line description and its parameters
 * (type, default, valid range). docs/operators.md gives the exact semantics
 * of each operator and the order of its random draws.
 *
 * Using a weight operator (the runner's side):
 *
 *   mt_op_args args;
 *   mt_op_args_from_config(&args, &cfg->model_level[i], NULL);  // or _init
 *   args.seed = <the mutant's seed>;
 *   mt_model_view_from_module(&view, infos, ninfos, hints, nhints);
 *                        // layer skeleton; hints: class names (shim_rnn.h)
 *   for each layer, each part: mt_module_read_tensor(m, part->name,
 *       (part->is_bias ? l->bias : l->weight) + part->offset, part->numel)
 *   mt_model_view_copy(&mutant, view);
 *   mt_operator_apply(&result, mutant, &args);
 *   if (result.not_applicable) -> record result.reason, no mutant
 *   for each layer with weight_changed / bias_changed: write its parts
 *   (mt_module_write_tensor) ... evaluate ... then
 *   mt_model_view_restore(mutant, view), write them again (now the
 *   originals), mt_model_view_clear_changed.
 *
 * Dynamic RNN operators change no weight: mt_rnn_op_prepare makes the
 * mutation that mt_rnn_site_predict (shim_rnn.h) steps the layer under.
 *
 * Determinism: the same (operator, parameters, target, seed) on the same
 * view gives the same bytes. Randomness comes only from mt_rng (splitmix64
 * seeding xoshiro256**), never rand() or torch's generator.
 *
 * The model view that weight operators mutate is in mutorch/view.h, the
 * float conversions they share (fp16, bf16, rounding) in mutorch/floats.h.
 */
#ifndef MUTORCH_OPERATORS_H
#define MUTORCH_OPERATORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mutorch/config.h"
#include "mutorch/shim_rnn.h"
#include "mutorch/view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Random draws come from mutorch/rng.h (mt_rng: xoshiro256** seeded by
 * splitmix64; mt_rng_below, mt_rng_normal (Box-Muller), mt_rng_sample
 * (partial Fisher-Yates), mt_rng_shuffle_floats), documented there. */

/* ---- operators ---------------------------------------------------------- */

typedef enum {
	MT_OP_LEVEL_MODEL = 0,
	MT_OP_LEVEL_SOURCE
} mt_op_level;

typedef enum {
	MT_OP_KIND_WEIGHTS = 0, /* mt_operator_apply on a model view */
	MT_OP_KIND_GRAPH,       /* mt_graph_mutate (shim_graph.h) on the module */
	MT_OP_KIND_SOURCE,      /* the training recipe (not in this module) */
	MT_OP_KIND_DYNAMIC      /* mt_rnn_op_prepare: a recurrent layer's state
				 * or gates while it runs (shim_rnn.h) */
} mt_op_kind;

/* The layers an operator takes (docs/operators.md, "Layer kinds"). */
typedef enum {
	MT_OP_TARGET_ANY = 0,   /* any layer with weights (element-wise) */
	MT_OP_TARGET_NEURONS,   /* layers with neurons: linear, convolutions,
				 * transposed convolutions, recurrent */
	MT_OP_TARGET_RECURRENT, /* LSTM, GRU, RNN */
	MT_OP_TARGET_GATED      /* LSTM, GRU */
} mt_op_target;

typedef enum {
	MT_PARAM_DOUBLE = 0,
	MT_PARAM_INT,
	MT_PARAM_ENUM,    /* one of `choices` ("relative|absolute") */
	MT_PARAM_STRING,
	MT_PARAM_BIT,     /* sign|exponent|mantissa|any|0..31 */
	MT_PARAM_UINT64
} mt_param_type;

typedef struct {
	const char *name;
	mt_param_type type;
	const char *default_value; /* as written in a config; NULL: none */
	double min, max;           /* numeric range (inclusive) */
	int min_exclusive;         /* min itself is not allowed */
	const char *choices;       /* MT_PARAM_ENUM */
	const char *description;
} mt_op_param_spec;

typedef enum { MT_GF_SIGMA_RELATIVE = 0, MT_GF_SIGMA_ABSOLUTE } mt_gf_sigma_mode;
typedef enum { MT_GF_ADDITIVE = 0, MT_GF_MULTIPLICATIVE } mt_gf_variant;
typedef enum { MT_NEB_OUTGOING = 0, MT_NEB_INCOMING } mt_neb_variant;
typedef enum { MT_WPR_FP16 = 0, MT_WPR_BF16, MT_WPR_DIGITS } mt_wpr_mode;
typedef enum { MT_QNT_TENSOR = 0, MT_QNT_CHANNEL } mt_qnt_granularity;
typedef enum {
	MT_BF_SIGN = 0,     /* bit 31 */
	MT_BF_EXPONENT,     /* one of bits 23..30, drawn per weight */
	MT_BF_MANTISSA,     /* one of bits 0..22, drawn per weight */
	MT_BF_ANY,          /* one of bits 0..31, drawn per weight */
	MT_BF_INDEX         /* the fixed bit bf_index */
} mt_bf_class;

typedef struct mt_op_args mt_op_args;
typedef struct mt_op_result mt_op_result;
typedef struct mt_operator mt_operator;

struct mt_operator {
	const char *name;        /* "GF" */
	mt_op_level level;
	mt_op_kind kind;
	const char *description; /* one line */
	const mt_op_param_spec *params;
	size_t nparams;
	/* weight operators; NULL for graph and source operators */
	int (*apply)(mt_op_result *res, mt_model_view *view,
		     const mt_op_args *args);
	mt_op_target targets;    /* weight and dynamic operators */
	int deterministic;       /* draws nothing at random */
};

/* Parsed parameters: the fields an operator does not use keep defaults. */
struct mt_op_args {
	const mt_operator *op;
	uint64_t seed;            /* key "seed" (the planner usually sets it) */
	/* target (weight operators): "layer: conv1" (one layer), or
	 * "layers: all" / "layers: [conv1, fc1]" (a global ratio over those
	 * layers). Neither: every layer with neurons the operator takes.
	 * Dynamic operators: one recurrent layer. For graph operators,
	 * "site" (alias "layer") names the site;
	 * "" means every applicable site (the planner expands it). */
	char **layers;            /* NULL: all */
	size_t nlayers;
	char site[MT_VIEW_MAX_NAME];
	double ratio;             /* GF WS NEB NAI NS PRN */
	double sigma;             /* GF */
	mt_gf_sigma_mode sigma_mode;
	mt_gf_variant gf_variant;
	mt_neb_variant neb_variant;
	mt_wpr_mode wpr_mode;
	int digits;               /* WPR with MT_WPR_DIGITS */
	int bits;                 /* QNT */
	mt_qnt_granularity granularity;
	int64_t k;                /* BF */
	mt_bf_class bf_class;
	int bf_index;             /* MT_BF_INDEX */
	/* RNN operators (docs/operators.md, "Recurrent layers") */
	char gate[16];            /* all|input|forget|cell|output|reset|update|new */
	char state[8];            /* auto|hidden|cell|both */
	int64_t step_first;       /* "step": t or first-last; -1 not given */
	int64_t step_last;
	int64_t reset_from;       /* SR "from" */
	int depth;                /* stacked layer, -1 all */
	int direction;            /* 0 forward, 1 reverse, -1 all */
};

#define MT_OP_REASON_MAX 256

struct mt_op_result {
	int not_applicable;             /* nothing could be mutated; see reason */
	char reason[MT_OP_REASON_MAX];  /* why, or notes (layers skipped) */
	int64_t weights_changed;        /* elements whose value changed */
	int64_t units;                  /* weights / neurons / pairs chosen */
	int layers_changed;
};

/* The registry, in display order. */
const mt_operator *mt_operators(size_t *count);
/* By name (case-sensitive, as in the papers: "GF", "LAm"); NULL if none. */
const mt_operator *mt_operator_find(const char *name);
/* The table for `mutorch operators`: name, level, parameters = defaults,
 * one-line semantics. */
int mt_operators_print(FILE *out);

/* Defaults of `op` (seed 0, all layers). */
int mt_op_args_init(mt_op_args *args, const mt_operator *op);
/* Set one parameter from its config string; the error names the operator,
 * the parameter and what was expected. */
int mt_op_args_set(mt_op_args *args, const char *key, const char *value);
/* Look the operator up by m->op, apply defaults then every (key, value);
 * keys listed in `ignore` (NULL-terminated, may be NULL) are skipped (the
 * planner's own keys). Errors are prefixed with "line N: ". Checks the
 * combination (e.g. WPR digits with dtype). */
int mt_op_args_from_config(mt_op_args *args, const mt_config_mutation *m,
			   const char *const *ignore);
/* Canonical "GF layers=all ratio=0.01 sigma=1 sigma_mode=relative
 * variant=additive seed=7" (malloc'd): equal args give equal strings. */
int mt_op_args_format(char **out, const mt_op_args *args);
void mt_op_args_dispose(mt_op_args *args);
/* Deep copy (layers list). */
int mt_op_args_copy(mt_op_args *dst, const mt_op_args *src);

/* Apply a weight operator to `view` in place: sets weight_changed /
 * bias_changed on the layers it touched and fills *res. A target that
 * cannot take the mutation (NEB on the last layer) gives 0 with
 * res->not_applicable = 1 and a reason; bad arguments (unknown layer,
 * a graph operator) give MT_EINVALID / MT_ENOTFOUND. */
int mt_operator_apply(mt_op_result *res, mt_model_view *view,
		      const mt_op_args *args);

/* Can the operator of args take the layer called `layer` of view: its kind,
 * and the parameters that depend on it (gate, state, depth, direction)?
 * 0, or MT_ENOTFOUND / MT_EINVALID with an error naming the layer, its kind
 * and what would be valid. */
int mt_op_check_layer(const mt_model_view *view, const mt_op_args *args,
		      const char *layer);
/* Does op take l when no layer is named (layers: each or all): a layer
 * with neurons that the operator takes. Normalisation and embedding layers
 * are targets only when named. */
int mt_op_default_layer(const mt_operator *op, const mt_view_layer *l);

/* A dynamic RNN operator (SC, SR, SGF, SPR, GC, GGF, GPR) on recurrent
 * layer l of a model that feeds it seq_len time steps: the checked
 * mutation for mt_rnn_site_predict, with its random factors drawn from
 * args->seed (*factors malloc'd, or NULL; mut->factors points to it).
 * A step past the sequence, a gate or state the layer lacks, a depth or
 * direction it does not have: MT_EINVALID naming the layer and what would
 * be valid. */
int mt_rnn_op_prepare(mt_rnn_mutation *mut, float **factors, const mt_op_args *args,
		      const mt_view_layer *l, int64_t seq_len);

#ifdef __cplusplus
}
#endif
#endif
