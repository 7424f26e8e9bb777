/* Shared by the model-level run's files; not a public header.
 *
 *   modelrun.c       the parent: plan, result log, workers, kill matrix,
 *                    reports, export
 *   modelrun_eval.c  the model and data a run needs, evaluating one mutant
 *                    (with cached prefixes of the forward), the worker
 *   cut_cache.c      the cached prefixes (cuts) within PARTIAL_BUDGET
 */
#ifndef MUTORCH_RUNNER_MODELRUN_INTERNAL_H
#define MUTORCH_RUNNER_MODELRUN_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/mutant.h"
#include "mutorch/operators.h"
#include "mutorch/plan.h"
#include "mutorch/shim.h"
#include "mutorch/shim_partial.h"
#include "cut_cache.h"

/* The data and model shared by planning, the workers and export. */
typedef struct {
	mt_dataset *test;
	mt_tensor *x, *y;
	mt_module *model;
	const char *model_name; /* the trained model's file */
	mt_mutator *mutator;
} model_setup;

/* Load the trained model (and, with_data, the test set and its tensors)
 * and a mutator over it. */
int mt_mr_setup_load(model_setup *s, const mt_config *cfg, int with_data);
void mt_mr_setup_dispose(model_setup *s);

/* Bytes of cached activations a worker's cuts (cut_cache.h) may hold. */
#define PARTIAL_BUDGET ((size_t)1 << 30)

/* Apply mutant d, predict every test input (pred: n, logits: n x classes
 * scratch) and return its result record (without "id"). */
json_t *mt_mr_evaluate_one(const mt_config *cfg, model_setup *s, mt_cut_cache *cc,
			   const mt_mutant_desc *d, const int64_t *original,
			   int64_t *pred, float *logits, int64_t n);

/* The expected cost of each mutant of plan, for the shards' deal
 * (shard_cost.c): 0.1 + the share of the forward it re-runs. */
int mt_mr_costs(double *cost, const mt_plan *plan, model_setup *s);

#endif
