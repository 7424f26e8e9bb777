/*
 * mutorch/scores.h - the scores of a model-level kill matrix: the mutation
 * score, DeepMutation's mutation score and average error rate, per
 * operator, per layer and in total, and how many mutants each input kills.
 *
 * Definitions of every score are in docs/scores.md. Scores are fractions in
 * [0, 1]; a score with an empty denominator is NaN (null in JSON, "-" in
 * tables).
 */
#ifndef MUTORCH_SCORES_H
#define MUTORCH_SCORES_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/killmatrix.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One row: all mutants, one operator or one layer. Every mutant falls in
 * exactly one count: mutants = filtered + killed + survived + timeouts +
 * errors + no_coverage + ignored + pending. */
typedef struct {
	char *name;              /* operator, layer, or "total" */
	size_t mutants;
	size_t filtered;         /* evaluated but too easy (accuracy filter) */
	size_t killed;           /* Killed, not filtered */
	size_t survived;         /* Survived, not filtered */
	size_t timeouts;
	size_t errors;           /* RuntimeError + CompileError */
	size_t no_coverage;
	size_t ignored;
	size_t pending;
	size_t valid;            /* killed + survived + timeouts + no_coverage */
	size_t deepmutation_mutants; /* |M'| = killed + survived */
	size_t killed_classes;   /* sum over M' of |KilledClasses(m)| */
	size_t kills;            /* sum over M' of the inputs that kill m */
	double mutation_score;       /* (killed + timeouts) / valid */
	double deepmutation_score;   /* killed_classes / (|M'| x num_classes) */
	double average_error_rate;   /* mean over M' of kills(m) / |T'|
				      = kills / (|M'| x |T'|) */
} mt_score_row;

typedef struct {
	size_t n_inputs;
	size_t n_correct;        /* |T'| */
	int num_classes;
	double original_accuracy;
	double accuracy_filter;
	mt_score_row total;
	mt_score_row *operators; /* sorted by name */
	size_t n_operators;
	mt_score_row *layers;    /* sorted by name */
	size_t n_layers;
	uint32_t *ks1;           /* per input: how many mutants of M' it kills */
	uint8_t *filtered;       /* per mutant: 1 when too easy */
} mt_scores;

int mt_killmatrix_scores(mt_scores **out, const mt_killmatrix *km);
void mt_scores_free(mt_scores *scores);

#ifdef __cplusplus
}
#endif
#endif
