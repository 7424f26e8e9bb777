/*
 * mutorch/source_plan.h - planning the source-level mutants: every
 * mutation.source_level entry of the config becomes the concrete mutants
 * it stands for on this recipe and training set, with stable ids and
 * seeds.
 *
 * Ids are "<OP>-<target>[-<k>]": the expanded target keys (or the entry's
 * own parameters) joined by ',', then the seed index k (3 digits) for data
 * operators, which draw at random and can have `mutants: K` seeds; an
 * operator used by several entries is "<OP>#<entry>". A mutant's seed is
 * mt_rng_seed_for_id(mutation.seed, id). A mutant reached by two entries
 * is planned once.
 */
#ifndef MUTORCH_SOURCE_PLAN_H
#define MUTORCH_SOURCE_PLAN_H

#include <stddef.h>

#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/plan.h"
#include "mutorch/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The source-level mutants of cfg's mutation.source_level section on its
 * training set `train`. No entries: MT_EINVALID. An entry that makes no
 * mutant here is reported on stderr and planned as nothing. */
int mt_source_plan(mt_plan **out, const mt_config *cfg, const mt_dataset *train);

/* The mutant a plan entry describes, rebuilt from its canonical
 * parameters (d->params) and seed; a plan that no longer applies to this
 * recipe gives MT_EINVALID naming the mutant. */
int mt_source_plan_mutant(mt_source_mutant **out, const mt_config *cfg,
			  const mt_dataset *train, const mt_mutant_desc *d);

/* One concrete parameter set for an operator. */
typedef struct {
	mt_config_param *params; /* the entry's parameters + the expanded ones */
	size_t nparams;
	char *target;            /* the expanded keys, "layer=3 activation=tanh";
				  * "" when nothing was expanded */
} mt_source_variant;

/* Expand a source_level entry into the concrete parameter sets it stands
 * for on this recipe: the target keys the entry leaves out are filled with
 * every value that makes a mutant (layer: the layers of the right kind;
 * activation / init / loss / optimizer / penalty / what: every choice;
 * class: each for data operators, one variant per class with samples).
 * Every variant is checked with mt_source_apply: none is not applicable
 * and no two give the same recipe. count 0 is no error: reason (may be
 * NULL, MT_OP_REASON_MAX bytes) then says why. Parameter errors as in
 * mt_source_apply. */
int mt_source_plan_targets(mt_source_variant **out, size_t *count,
			   const mt_config *original, const mt_dataset *train,
			   const char *op, const mt_config_param *params,
			   size_t nparams, char *reason);
void mt_source_variants_free(mt_source_variant *variants, size_t count);

#ifdef __cplusplus
}
#endif
#endif
