/*
 * mutorch/plan.h - mutant planning: the config's mutation section becomes a
 * list of mutant descriptors with stable ids and seeds.
 *
 * Config (mutation.model_level, one entry per operator configuration):
 *
 *   mutation:
 *     seed: 1
 *     model_level:
 *       - {op: GF, ratio: 0.01, sigma: 1, mutants: 5}          # 5 per layer
 *       - {op: NAI, ratio: 0.05, mutants: 20, layers: all}     # global ratio
 *       - {op: PRN, ratio: 0.5, mutants: 1, layers: [fc1, fc2]}
 *       - {op: AFRm}                                           # every site
 *
 * Planner keys (the rest are the operator's parameters):
 *   mutants  mutants per target (default 10; graph operators: ignored,
 *            each applicable site is one mutant: they are deterministic)
 *   layers   weight operators: "each" (default: every layer with neurons
 *            the operator takes is a target, per-layer analysis), "all"
 *            (one target, the whole model with a global ratio) or a list of
 *            layer names (each a target; any kind the operator takes).
 *            Dynamic RNN operators: "each" (every recurrent layer) or a
 *            list
 *   sites    graph operators: a list of site names (default: every site
 *            where the operator applies, anywhere in the module tree;
 *            `mutorch sites` lists them)
 *
 * Ids are "<OP>-<target>-<k>" (k from 0, 3 digits; target "all" for the
 * whole model), with "#<entry>" after the operator when an operator appears
 * in several entries ("GF#3-conv1-000"). The seed of a mutant is
 * mt_rng_seed_for_id(mutation.seed, id): adding or removing other
 * entries changes neither the ids nor the seeds of the rest.
 */
#ifndef MUTORCH_PLAN_H
#define MUTORCH_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/config.h"
#include "mutorch/operators.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	char *id;
	char *op;
	char *target;   /* layer name, "all", or graph site */
	char *params;   /* canonical operator arguments (mt_op_args_format) */
	uint64_t seed;
	size_t entry;   /* index into cfg->model_level */
} mt_mutant_desc;

typedef struct mt_plan mt_plan;

/* What the model offers: its mutable layers (parameter prefixes of the
 * layers with neurons, in forward order) and, for each graph operator, the
 * sites where it applies. */
typedef struct {
	const char *const *layers;
	size_t nlayers;
	/* Sites where graph operator `op` applies: *sites (borrowed, valid
	 * while the model is) and *count; 0 or a negative error code (the
	 * model's sites could not be found). */
	int (*graph_sites)(void *ctx, const char *op, const char *const **sites, size_t *count);
	/* Why `op` does not apply at `site`, into buf (shim_graph.h's
	 * mt_graph_site_explain): MT_ENOTFOUND, MT_EINVALID, or 0 when it
	 * applies. May be NULL. */
	int (*explain_site)(void *ctx, const char *op, const char *site, char *buf, size_t len);
	void *ctx;
	/* Weight and dynamic operators (NULL: `layers` and no check): the
	 * layers args->op takes when none are named (layers: each), in
	 * forward order (borrowed until the next call), and a check of one
	 * planned mutant's args (its layer's kind, gate, state, time steps):
	 * 0, or an error naming the layer and what would be valid. */
	size_t (*op_layers)(void *ctx, const mt_op_args *args, const char *const **layers);
	int (*check)(void *ctx, const mt_op_args *args);
} mt_plan_model;

int mt_plan_model_level(mt_plan **out, const mt_config *cfg, const mt_plan_model *model);

/* Build a plan by hand (source-level planning): new, append in order,
 * then finish (computes the digest). */
int mt_plan_new(mt_plan **out);
int mt_plan_append(mt_plan *plan, const char *id, const char *op, const char *target,
		   const char *params, uint64_t seed, size_t entry);
void mt_plan_finish(mt_plan *plan);
void mt_plan_free(mt_plan *plan);

size_t mt_plan_count(const mt_plan *plan);
const mt_mutant_desc *mt_plan_at(const mt_plan *plan, size_t i);
/* Index of the mutant with this id; MT_ENOTFOUND when none. */
int mt_plan_find(size_t *index, const mt_plan *plan, const char *id);
/* A digest of the whole plan (ids, params, seeds): 16 hex digits. */
const char *mt_plan_digest(const mt_plan *plan);

/* JSON (array of {id, op, target, params, seed, entry}); save is atomic. */
int mt_plan_save(const mt_plan *plan, const char *path);
int mt_plan_load(mt_plan **out, const char *path);

#ifdef __cplusplus
}
#endif
#endif
