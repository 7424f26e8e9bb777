/*
 * mutorch/report.h - the reports written from a model-level kill matrix:
 * the terminal table, JSON, CSV (kills, predictions, inputs) and the
 * Stryker mutation-testing-report-schema.
 *
 * Every score they show is mutorch/scores.h's (docs/scores.md lists the
 * JSON keys). Files are written atomically.
 */
#ifndef MUTORCH_REPORT_H
#define MUTORCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "mutorch/killmatrix.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A human summary: totals, then the per-operator and per-layer tables. */
int mt_killmatrix_write_table(FILE *f, const mt_killmatrix *km);

/* The JSON report (docs/scores.md lists every key). */
int mt_killmatrix_write_json(const mt_killmatrix *km, const char *path);
/* The same as a malloc'd NUL-terminated string. */
int mt_killmatrix_json_string(char **out, const mt_killmatrix *km);

/* CSV kill matrix: "id,operator,status,t0,t1,...", one row per mutant with
 * one 0/1 column per input. */
int mt_killmatrix_write_kills_csv(const mt_killmatrix *km, const char *path);
/* CSV predictions: same header; a row "@class" with the true classes, a row
 * "@original" with the original's predictions, then one row per mutant with
 * its predicted labels (empty cells for mutants without predictions). */
int mt_killmatrix_write_predictions_csv(const mt_killmatrix *km, const char *path);
/* CSV per input: "input,class,original_prediction,in_t_prime,ks1". */
int mt_killmatrix_write_inputs_csv(const mt_killmatrix *km, const char *path);

/* Stryker mutation-testing-report-schema (schemaVersion "1"). */
typedef struct {
	const char *file_name;      /* key of the mutated artefact in "files"; default "model" */
	const char *language;       /* default "text" */
	const char *source;         /* text shown for the artefact; NULL: one line per layer */
	const char *test_file_name; /* key in "testFiles"; default "test-set" */
	int threshold_high;         /* percent; default 80 */
	int threshold_low;          /* percent; default 60 */
	size_t max_killed_by;       /* at most this many ids in killedBy; 0: all */
	int covered_by;             /* 1: emit coveredBy (the ids of T') */
	size_t max_covered_by;      /* at most this many ids in coveredBy; 0: all */
} mt_stryker_options;

/* Fill with the defaults above. */
void mt_stryker_options_init(mt_stryker_options *opts);

/* opts NULL means the defaults. */
int mt_killmatrix_write_stryker(const mt_killmatrix *km, const char *path,
				const mt_stryker_options *opts);
int mt_killmatrix_stryker_string(char **out, const mt_killmatrix *km,
				 const mt_stryker_options *opts);

#ifdef __cplusplus
}
#endif
#endif
