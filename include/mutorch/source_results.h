/*
 * mutorch/source_results.h - the results of a source-level run and their
 * reports.
 *
 * The runner fills one mt_source_results: the original's runs and, for
 * every planned mutant, its runs, statistics and verdict (runner/
 * source_run.c decides; this module only records and writes). The writers
 * produce the files of docs/run-directory.md and the command line's
 * output:
 *   source-report.json            mt_source_results_write_json
 *   source-mutants.csv            one row per mutant: verdict, statistics
 *   source-runs.csv               every accuracy the verdicts used
 *   source-kill-probabilities.csv one row per mutant, one column per input
 *   source-stryker.json           the Stryker schema (the recipe is the
 *                                 mutated artefact)
 * and the terminal table. Numbers that are not finite are null in JSON and
 * empty in CSV.
 */
#ifndef MUTORCH_SOURCE_RESULTS_H
#define MUTORCH_SOURCE_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mutorch/hash.h"
#include "mutorch/killmatrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	char *id, *op, *target, *params;
	mt_mutant_status status; /* Killed, Survived, Timeout or RuntimeError */
	char *reason;            /* why training failed (Timeout, RuntimeError) */
	int runs;                /* runs used for the verdict (a prefix) */
	double *accuracy;        /* runs entries: each run's test accuracy */
	char (*keys)[MT_HASH_HEX]; /* runs entries: each run's cache key */
	/* over the first `runs` runs of both; NaN where undefined */
	double original_mean, original_sd, mutant_mean, mutant_sd;
	/* the verdict's statistics; NaN when training failed */
	double p_value, p_adjusted, effect_size;
	double mean_kill_probability;
	double *kill_probability; /* n_inputs entries; NULL when failed */
	int trivial;             /* mean kill probability >= 0.9 */
	int redundant;           /* -1: not assessed (training failed) */
} mt_source_mutant_result;

typedef struct {
	/* how verdicts were reached */
	char rule[16];           /* deepcrime | welch | mannwhitney | fisher */
	char correction[8];      /* none | holm | bh */
	int sequential;
	double alpha, effect;
	int max_runs;            /* runs per group of the design */
	double power_at_effect_size; /* NaN: not reported (Fisher rule) */
	/* provenance */
	char *config_path;       /* the Stryker report's file key */
	uint64_t seed;
	int threads;
	char torch_version[32], mutorch_version[32];
	/* the original's runs */
	int original_runs;
	double *original_accuracy;
	char (*original_keys)[MT_HASH_HEX];
	/* trainings */
	size_t trainings_used, trainings_fixed_design;
	size_t trainings_this_invocation, reevaluations_this_invocation;
	/* the mutants, in plan order */
	size_t n_inputs;
	mt_source_mutant_result *mutants;
	size_t nmutants;
	size_t killed, survived, errors;
} mt_source_results;

/* An empty result (no mutants) with the given number of mutant slots,
 * zeroed; the runner fills them. */
int mt_source_results_new(mt_source_results **out, size_t nmutants, size_t n_inputs);
void mt_source_results_free(mt_source_results *res);

/* Read the results back from a run directory: source-report.json (every
 * mutant's statistics and verdict) and source-runs.csv (the accuracies
 * the verdicts used); kill probabilities and cache keys are not read.
 * MT_EINVALID names the file, the field and what was expected. */
int mt_source_results_load(mt_source_results **out, const char *dir);

/* The same from the two files' contents (report_len and runs_len bytes;
 * runs may be NULL when the report has no mutants); the names are for
 * errors. The fuzz target tests/fuzz/fuzz_source_results.c calls it. */
int mt_source_results_parse(mt_source_results **out, const char *report, size_t report_len,
			    const char *runs, size_t runs_len, const char *report_name,
			    const char *runs_name);

/* The most runs (trainings) a loaded report may list in all, the
 * original's and every mutant's: each is a whole training, so a real run
 * has thousands; the bound keeps a damaged report from making mutorch
 * allocate without end. */
#define MT_SOURCE_MAX_TOTAL_RUNS 10000000

/* The most bytes a run-directory text file (JSON, CSV, the viewer's
 * script) that the report reads back may have: 256 MiB, far above what a
 * run writes, so a damaged or hostile file cannot make mutorch allocate
 * without bound (docs/security.md). */
#define MT_RUN_FILE_MAX_BYTES ((size_t)256 << 20)

/* Read a regular file of at most max bytes (mt_io_open_regular: a FIFO or
 * directory is refused at once) as NUL-terminated text; a larger one is
 * MT_EINVALID naming the file, its size and the limit. */
int mt_run_file_read(char **out, size_t *len, const char *path, size_t max);

/* killed / (killed + survived); NaN when both are 0. */
double mt_source_results_score(const mt_source_results *res);

/* The JSON report (docs/run-directory.md lists every key): compact into a
 * malloc'd string, or indented into a file (atomically). */
int mt_source_results_json_string(char **out, const mt_source_results *res);
int mt_source_results_write_json(const mt_source_results *res, const char *path);
/* The three CSV files and the Stryker report, into dir. */
int mt_source_results_write_files(const mt_source_results *res, const char *dir);
/* The terminal table: counts, trainings, the original, one row per
 * mutant, the score. */
int mt_source_results_write_table(FILE *f, const mt_source_results *res);

#ifdef __cplusplus
}
#endif
#endif
