/*
 * mutorch/stats_inputs.h - source-level statistics on per-run predictions
 * of every test input: the per-input Fisher exact test and its verdict,
 * kill probabilities, triviality, McNemar's test and redundancy by
 * subsumption.
 *
 * Predictions are n_runs x n_inputs row-major: run i's predicted label of
 * input t at [i * n_inputs + t]; run i of the original and of the mutant
 * share a seed. Kill bits have the same layout. Definitions are in
 * docs/statistics.md.
 */
#ifndef MUTORCH_STATS_INPUTS_H
#define MUTORCH_STATS_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- */
/* Per-input Fisher exact test on per-run predictions.               */

/* One-sided Fisher exact test that the mutant is right less often on one
 * input: the 2x2 table (original right, original wrong / mutant right,
 * mutant wrong) over n_x and n_y runs; p = P(X >= correct_x) for X
 * hypergeometric with the table's margins. Returns the p-value (NaN for
 * counts above their n). */
double mt_stats_fisher_worse(size_t correct_x, size_t n_x, size_t correct_y,
			     size_t n_y);

typedef struct {
	size_t n_inputs, n_runs;
	double min_p;          /* smallest raw per-input p */
	double min_adjusted_p; /* smallest adjusted p: the mutant's p-value */
	size_t best_input;     /* the input with the smallest adjusted p */
	size_t n_significant;  /* inputs whose adjusted p < alpha */
	int killed;            /* n_significant > 0 */
} mt_stats_fisher_verdict;

/* predictions are n_runs x n_inputs row-major (run i's predicted label of
 * input t at [i * n_inputs + t]), labels the n_inputs true labels. For
 * every input, the one-sided Fisher test of the original's correct count
 * against the mutant's; the p-values are adjusted across the inputs with
 * `correction`, and the mutant is killed when some adjusted p < alpha.
 * p_inputs (n_inputs, may be NULL) receives the raw per-input p-values. */
int mt_stats_fisher_inputs(mt_stats_fisher_verdict *out, double *p_inputs,
			   const int64_t *original_pred,
			   const int64_t *mutant_pred, const int64_t *labels,
			   size_t n_runs, size_t n_inputs, double alpha,
			   mt_stats_correction correction);

/* ---------------------------------------------------------------- */
/* Per-input kill probabilities, triviality, redundancy.             */

/* kills[i * n_inputs + t] = 1 when original run i predicts labels[t] and
 * mutant run i does not (predictions as for mt_stats_fisher_inputs). */
int mt_stats_kills(uint8_t *kills, const int64_t *original_pred,
		   const int64_t *mutant_pred, const int64_t *labels,
		   size_t n_runs, size_t n_inputs);
/* p[t] = fraction of runs i with kills[i * n_inputs + t]; returns the mean
 * of p over the inputs (NaN for n_runs or n_inputs 0). */
double mt_stats_kill_probabilities(double *p, const uint8_t *kills,
				   size_t n_runs, size_t n_inputs);
/* Trivial: mean kill probability >= 0.9. */
#define MT_STATS_TRIVIAL_THRESHOLD 0.9
int mt_stats_is_trivial(double mean_kill_probability);

/* Exact two-sided McNemar test on paired binary outcomes: b pairs where
 * only the first is 1, c where only the second is: p = min(1, 2 P(X <=
 * min(b, c))), X ~ Binomial(b + c, 1/2); 1 when b + c = 0. */
double mt_stats_mcnemar(size_t b, size_t c);

/* Does mutant 1 subsume mutant 2? kills1/kills2 as from mt_stats_kills
 * over the same original runs. Input t "differs significantly" when the
 * exact McNemar test on the paired kill bits of runs i (run i of both
 * mutants shares original run i) gives p < alpha. m1 subsumes m2 when m1
 * is killed in some run on some input and p1(t) <= p2(t) on every input
 * that differs significantly. */
int mt_stats_subsumes(const uint8_t *kills1, const uint8_t *kills2,
		      size_t n_runs, size_t n_inputs, double alpha);

/* redundant[m] = 1 for each mutant subsumed by a kept one: mutants are
 * visited by ascending mean kill probability (then index), and each is kept
 * unless a mutant kept before it subsumes it. kills[m] is mutant m's kill
 * bits. *n_redundant (may be NULL) receives the count. */
int mt_stats_redundant(uint8_t *redundant, size_t *n_redundant,
		       const uint8_t *const *kills, size_t n_mutants,
		       size_t n_runs, size_t n_inputs, double alpha);

#ifdef __cplusplus
}
#endif
#endif
