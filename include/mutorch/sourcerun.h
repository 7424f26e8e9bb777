/*
 * mutorch/sourcerun.h - the source-level mutation run: retrain the original
 * and every mutant of the training data or recipe n times, decide with
 * statistics whether the test set kills each mutant.
 *
 * Run i of the original and of every mutant uses the same seed
 * (mt_rng_derive(training.seed, i)): the same initial weights where the
 * architecture allows, the same data order, the same thread count. The
 * original's runs are trained once and shared by every mutant. Every
 * trained model is cached in RUN_DIR/cache under a content key (data bytes,
 * recipe, operator and parameters, seed, thread count, libtorch and mutorch
 * versions): running the same command again trains nothing.
 *
 * Files in the run directory (docs/run-directory.md):
 *   source-plan.json       the source-level mutants
 *   source-setup.json      the data digest the cache keys use
 *   source-results.jsonl   append-only log of every training
 *   cache/TRAIN_KEY.pt|.train.json   a trained model and its training
 *                          summary (keyed on the training data and recipe)
 *   cache/EVAL_KEY.json|.pred        its accuracy and test predictions
 *                          (keyed on TRAIN_KEY and the test set)
 *   source-report.json, source-mutants.csv, source-runs.csv,
 *   source-kill-probabilities.csv, source-stryker.json   the reports
 *                          (source_results.h)
 * and with the user's own training program (training.command,
 * docs/training-programs.md), which the workers run instead of the
 * built-in trainer:
 *   cache/data/DIGEST/{x,y}.npy    a training set it reads
 *   training/ID/run-R/             each run's spec and the program's
 *                                  stdout and stderr
 */
#ifndef MUTORCH_SOURCERUN_H
#define MUTORCH_SOURCERUN_H

#include <stddef.h>

#include "mutorch/config.h"
#include "mutorch/run.h"
#include "mutorch/source_results.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Plan, train what is missing, decide, write the reports; *out receives
 * the results (free with mt_source_results_free). */
int mt_source_run(mt_source_results **out, const mt_config *cfg, const mt_run_options *o);

/* The measured false-kill rate of the configured rule. */
typedef struct {
	char rule[16];
	int trials, runs_per_group, trainings;
	size_t false_kills;
	double rate, ci95_low, ci95_high; /* 95% Wilson interval */
	double alpha, effect;
	/* with mutation.source.sequential: the sequential design's */
	int sequential;
	size_t sequential_false_kills;
	double sequential_rate, sequential_ci95_high, sequential_mean_runs;
} mt_false_kill_result;

/* `trials` times, n runs of the original against n independent runs of
 * itself (fresh seeds), each pair decided by the rule (and, with
 * mutation.source.sequential, by the sequential design). Trains
 * 2 x trials x n runs in RUN_DIR/false-kill (cached). */
int mt_source_false_kill(mt_false_kill_result *out, const mt_config *cfg,
			 const mt_run_options *o, int trials);

/* One value tried by the search. */
typedef struct {
	double value;
	int killed;
	double p_value, effect_size;
} mt_search_step;

typedef struct {
	char op[32], param[64];
	double from, to, precision;
	int integer, runs;
	int killable;            /* some value in the range killed */
	double weakest;          /* killable: the weakest killing value */
	double weak, strong;     /* the final interval */
	mt_search_step *steps;   /* in the order tried */
	size_t nsteps;
} mt_search_result;

/* DeepCrime's bisection search for the weakest killing value of a numeric
 * parameter of a source operator, between `weak` (closest to the original)
 * and `strong`, to within `precision`; each value tried is retrained n
 * times and decided by the configured fixed rule (progress lines go to
 * o->progress). Work in RUN_DIR/search-OP-PARAM (cached). Free
 * out->steps with mt_search_result_dispose. */
int mt_source_search(mt_search_result *out, const mt_config *cfg, const mt_run_options *o,
		     const char *op, const char *param, double weak, double strong,
		     double precision, int integer);
void mt_search_result_dispose(mt_search_result *res);

/* The worker side: task numbers on stdin (slot * MT_SOURCE_RUN_STRIDE +
 * run; slot 0 is the original, slot k the plan's mutant k - 1). */
int mt_source_worker(const mt_config *cfg, const char *run_dir);

#define MT_SOURCE_RUN_STRIDE 1000

#ifdef __cplusplus
}
#endif
#endif
