/*
 * mutorch/mutant.h - turning a planned mutant into a model to evaluate.
 *
 * Weight operators change copies of the affected tensors and write them into
 * the trained module in place (no model copy per mutant); restore writes the
 * originals back. Graph operators (LD, LAm, AFRm) give a new module.
 * Dynamic RNN operators change no tensor: the recurrent layer is stepped
 * under the mutation (mutorch/shim_rnn.h).
 */
#ifndef MUTORCH_MUTANT_H
#define MUTORCH_MUTANT_H

#include <stddef.h>

#include "mutorch/config.h"
#include "mutorch/operators.h"
#include "mutorch/plan.h"
#include "mutorch/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_mutator mt_mutator;

/* `trained` is borrowed and must outlive the mutator; input_shape is one
 * sample's {c, h, w}. */
int mt_mutator_new(mt_mutator **out, mt_module *trained, const int64_t input_shape[3]);
void mt_mutator_free(mt_mutator *mu);

/* What the planner needs: mutable layers in forward order and the sites of
 * each graph operator. */
void mt_mutator_plan_model(mt_plan_model *pm, mt_mutator *mu);

/* Apply mutant d (its arguments rebuilt from cfg's entry d->entry, which
 * must give d->params again: otherwise the plan is stale). On success
 * *model is the module to evaluate (borrowed until restore), res says what
 * changed, and changed[0..*nchanged) names the tensors written (empty for
 * graph mutants). res->not_applicable: nothing to evaluate. */
int mt_mutator_apply(mt_module **model, mt_op_result *res, mt_mutator *mu,
		     const mt_config *cfg, const mt_mutant_desc *d);
/* Names of the tensors the last apply wrote ("conv1.weight"), for a
 * partial forward from the first node that reads them; none (count 0)
 * when a recurrent layer was written (its op reads the weights through a
 * list attribute, which a cut does not see): evaluate with a full forward. */
const char *const *mt_mutator_changed(const mt_mutator *mu, size_t *count);
/* Is the last applied mutant a graph mutant (a new module)? */
int mt_mutator_is_graph(const mt_mutator *mu);
/* Is it a dynamic RNN mutant (SC ... GPR)? Then no module computes it:
 * predict with mt_mutator_predict_dynamic, and there is nothing to export. */
int mt_mutator_is_dynamic(const mt_mutator *mu);
/* Predictions of the applied dynamic mutant on inputs (batches of
 * batch_size, as mt_module_predict): the part of the forward before the
 * recurrent layer runs once per inputs tensor and is cached. */
int mt_mutator_predict_dynamic(int64_t *labels, float *logits, int64_t *nout,
			       mt_mutator *mu, const mt_tensor *inputs, int64_t batch_size);
/* Undo the last apply. */
int mt_mutator_restore(mt_mutator *mu);

#ifdef __cplusplus
}
#endif
#endif
