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
 *   source-report.json, source-runs.csv, source-kill-probabilities.csv,
 *   source-stryker.json    the reports
 */
#ifndef MUTORCH_SOURCERUN_H
#define MUTORCH_SOURCERUN_H

#include <stdio.h>

#include "mutorch/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	const char *config_path; /* handed to the workers */
	const char *run_dir;     /* NULL: cfg->run_dir */
	const char *self_exe;
	int jobs;
	double timeout;          /* seconds per training; <= 0: none */
	int force;               /* drop the plan and the log (the cache stays) */
	FILE *progress;
	int progress_tty;
	int json;                /* print the JSON report instead of the table */
	FILE *out;               /* where the report goes (stdout) */
	char **json_out;         /* when set: receives the JSON report
				  * (malloc'd) and nothing is printed */
} mt_source_run_options;

/* The source-level mutants of cfg's mutation.source_level section on its
 * training set: every entry expanded into its concrete variants
 * (mt_source_plan_targets), `mutants: K` seeds for data operators, ids
 * "<OP>-<target>[-<k>]", seeds derived from mutation.seed and the id; a
 * mutant reached twice is planned once. */
struct mt_plan;
struct mt_dataset;
int mt_source_plan(struct mt_plan **out, const mt_config *cfg, const struct mt_dataset *train);

/* Plan, train what is missing, decide, write the reports. */
int mt_source_run(const mt_config *cfg, const mt_source_run_options *o);

/* The measured false-kill rate of the configured rule: `trials` times, n
 * runs of the original against n independent runs of itself (fresh seeds),
 * each pair decided by the rule; prints the rate and its 95% Wilson
 * interval (and, with mutation.source.sequential, the sequential design's).
 * Trains 2 x trials x n runs in RUN_DIR/false-kill (cached). */
int mt_source_false_kill(const mt_config *cfg, const mt_source_run_options *o, int trials);

/* DeepCrime's bisection search for the weakest killing value of a numeric
 * parameter of a source operator, between `weak` (closest to the original)
 * and `strong`, to within `precision`; each value tried is retrained n
 * times and decided by the configured fixed rule. Work in
 * RUN_DIR/search-OP-PARAM (cached). */
int mt_source_search(const mt_config *cfg, const mt_source_run_options *o, const char *op,
		     const char *param, double weak, double strong, double precision, int integer);

/* The worker side: task numbers on stdin (slot * MT_SOURCE_RUN_STRIDE +
 * run; slot 0 is the original, slot k the plan's mutant k - 1). */
int mt_source_worker(const mt_config *cfg, const char *run_dir);

#define MT_SOURCE_RUN_STRIDE 1000

#ifdef __cplusplus
}
#endif
#endif
