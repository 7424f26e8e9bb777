/*
 * mutorch/run.h - how a mutation run is carried out, for both levels.
 *
 * One options struct serves the model-level run (modelrun.h), the
 * source-level run, the false-kill measurement and the search
 * (sourcerun.h): the command line fills it once.
 */
#ifndef MUTORCH_RUN_H
#define MUTORCH_RUN_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	const char *config_path; /* handed to the workers */
	const char *run_dir;     /* NULL: the config's run.dir */
	const char *self_exe;    /* the mutorch binary the workers run */
	int jobs;                /* worker processes (>= 1) */
	/* Seconds per task (a mutant's evaluation, or one training);
	 * <= 0: automatic at model level (50x the original's evaluation,
	 * at least 60 s), none at source level. */
	double timeout;
	int force;               /* start over: drop the recorded results (the
				  * source level's training cache stays) */
	FILE *progress;          /* NULL: silent */
	int progress_tty;        /* redraw one line */
	/* Seconds the original model's evaluation may take at model level
	 * (mt_runner_deadline_set: past it the process ends with exit status
	 * 3); <= 0: no limit. The command line's default is
	 * MT_EVAL_TIMEOUT_DEFAULT (runner.h). */
	double eval_timeout;
	/* Model level: evaluate the mutants one after another in this
	 * process instead of in workers, without crash or time-limit
	 * isolation (tests, debugging). */
	int in_process;
	/* Shards (docs/scale-out.md): evaluate only part shard_index of
	 * shard_count (1-based), balanced by expected cost; 0: the whole
	 * plan. */
	int shard_index, shard_count;
	/* `mutorch merge`: everything must be recorded (or cached) already;
	 * nothing is evaluated or trained, and what is missing is an error
	 * that names it. */
	int merge_only;
	/* Source level: the training cache lives here (RUN_DIR/cache becomes
	 * a link to it), shared by shards on one or several machines;
	 * NULL: RUN_DIR/cache. */
	const char *cache_dir;
	/* Hand the tasks to the workers largest expected cost first (the
	 * dynamic schedule of --mpi: the long ones do not come last). */
	int largest_first;
} mt_run_options;

#ifdef __cplusplus
}
#endif
#endif
