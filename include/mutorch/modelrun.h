/*
 * mutorch/modelrun.h - the model-level mutation run: plan, evaluate every
 * mutant in worker processes, record results, build the kill matrix.
 *
 * The run directory (run.dir of the config, or --run-dir) holds:
 *   plan.json        the mutant plan (plan.h)
 *   results.jsonl    the append-only result log (resultlog.h), one record
 *                    per evaluated mutant: {"id", "status", "accuracy",
 *                    "seconds", "diff": [[input, predicted], ...] (inputs
 *                    whose prediction differs from the original's),
 *                    "reason"}
 *   killmatrix.mtkm  the kill matrix (docs/killmatrix-format.md)
 *   report.json, kills.csv, predictions.csv, inputs.csv, stryker.json
 * docs/run-directory.md describes every file.
 */
#ifndef MUTORCH_MODELRUN_H
#define MUTORCH_MODELRUN_H

#include <stddef.h>
#include <stdio.h>

#include "mutorch/config.h"
#include "mutorch/killmatrix.h"
#include "mutorch/plan.h"
#include "mutorch/run.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Run (or resume) the model-level analysis; *km receives the kill matrix,
 * also saved with the reports in the run directory. */
int mt_model_run(mt_killmatrix **km, const mt_config *cfg, const mt_run_options *o);

/* Plan the config's model-level mutants on its trained model. */
int mt_model_plan(mt_plan **plan, const mt_config *cfg);

/* The worker side (`mutorch worker`): read task numbers (plan indexes)
 * from stdin, answer each with one result line on stdout (pool.h). */
int mt_model_worker(const mt_config *cfg, const char *run_dir);

/* Write one mutant of the plan as a TorchScript file. */
int mt_model_export_mutant(const mt_config *cfg, const char *id, const char *path);

/* Reports from a kill matrix into dir: report.json, kills.csv,
 * predictions.csv, inputs.csv, stryker.json. */
int mt_model_write_reports(const mt_killmatrix *km, const mt_config *cfg, const char *dir);

#ifdef __cplusplus
}
#endif
#endif
