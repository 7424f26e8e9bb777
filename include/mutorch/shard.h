/*
 * mutorch/shard.h - a run split into shards and merged again
 * (docs/scale-out.md).
 *
 * `mutorch run --shard k/n` evaluates the part of the plan that
 * mt_shard_assign gives shard k, in its own run directory, and records
 * which part that was in shard.json (model level) or source-shard.json
 * (source level):
 *
 *   {"format": 1, "level": "model", "shard": k, "of": n,
 *    "plan_digest": "...", "mutants": ["GF-conv1-000", ...],
 *    "expected_cost": [1.1, ...]}
 *
 * (expected_cost: every mutant's of the plan, in plan order, the figures
 * the deal used; bench/scaling_model.py reads them).
 *
 * `mutorch merge OUT DIR...` checks that the directories are the n shards
 * of one plan, each once, copies their results into OUT and builds the
 * kill matrix and the reports there as an unsharded run would (the same
 * code, in plan order), so the results are the same byte for byte.
 */
#ifndef MUTORCH_SHARD_H
#define MUTORCH_SHARD_H

#include <stddef.h>

#include "mutorch/config.h"
#include "mutorch/killmatrix.h"
#include "mutorch/plan.h"
#include "mutorch/run.h"
#include "mutorch/source_results.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_SHARD_MAX 100000

/* Parse "k/n" (1 <= k <= n <= MT_SHARD_MAX); MT_EINVALID otherwise. */
int mt_shard_parse(int *k, int *n, const char *text);

/* Deal count items with expected costs cost[] to nshards shards, the most
 * expensive first, each to the shard with the least cost so far (ties:
 * the lower item index, the lower shard): owner[i] in [0, nshards).
 * Deterministic: the same costs give the same deal. */
int mt_shard_assign(int *owner, const double *cost, size_t count, int nshards);

/* The shard file `name` of dir for part k of n of plan (the mutants whose
 * owner is k - 1): written on the first run, checked on a resumed one (a
 * directory of another shard or plan is refused). */
int mt_shard_record(const char *dir, const char *name, const char *level, int k, int n,
		    const mt_plan *plan, const int *owner, const double *cost);

/* Merge the shard directories dirs[0..ndirs) into out: the model level
 * when they hold shard.json, the source level when they hold
 * source-shard.json (both when both). *km and *sres receive the results
 * of each level merged (NULL for a level not there). */
int mt_shard_merge(mt_killmatrix **km, mt_source_results **sres, const mt_config *cfg,
		   const char *out, char *const *dirs, size_t ndirs, const mt_run_options *o);

#ifdef __cplusplus
}
#endif
#endif
