/*
 * mutorch/pool.h - worker processes with crash isolation and time limits.
 *
 * Workers are started fresh with posix_spawn (never forked from a process
 * that may have run libtorch work: forking after OpenMP can hang the child),
 * each takes many tasks, and a task that crashes its worker or passes its
 * time limit is reported through on_failure while the run goes on with a
 * new worker.
 *
 * Line protocol (text, one line each way per task):
 *   worker -> pool   "ready\n" once it has started up
 *   pool -> worker   "<task>\n"  (a task number)
 *   worker -> pool   "<task>\t<payload>\n"  the result of that task
 * The worker exits when its stdin closes. Its stderr is the pool's stderr.
 */
#ifndef MUTORCH_POOL_H
#define MUTORCH_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	MT_POOL_CRASHED = 1, /* the worker died (signal or exit) during the task */
	MT_POOL_TIMEOUT = 2  /* the task passed its time limit; the worker was killed */
} mt_pool_failure;

typedef struct {
	char *const *argv;      /* the worker command; argv[0] is a path */
	int jobs;               /* workers at once (>= 1) */
	double task_timeout;    /* seconds per task; <= 0: none */
	double startup_timeout; /* seconds until "ready"; <= 0: none */
	/* A result line arrived for task (payload without the task number).
	 * Return < 0 to stop the run with that error. */
	int (*on_result)(void *ctx, size_t task, const char *payload);
	/* A task failed; reason says how ("killed by signal 11", ...). */
	int (*on_failure)(void *ctx, size_t task, mt_pool_failure kind,
			  const char *reason);
	/* Optional: asked before a task is sent; non-zero skips it (counted
	 * as done, no callback). Lets the caller drop the remaining tasks of
	 * something that already failed. */
	int (*skip)(void *ctx, size_t task);
	void *ctx;
} mt_pool_options;

/* Run every task of tasks[0..ntasks) on the workers; returns when all are
 * reported, or on the first error (a callback's, or a worker that fails
 * during startup twice in a row, which means the setup is broken). */
int mt_pool_run(const mt_pool_options *o, const size_t *tasks, size_t ntasks);

/* The worker side of the protocol, for every kind of worker: announce
 * "ready", then for each task number read from stdin call serve and
 * write "<task>\t<payload>\n" (payload: one line, malloc'd, freed here),
 * until stdin closes. A negative return of serve ends the loop with that
 * error; the pool then records the task as crashed. */
typedef int (*mt_pool_serve_fn)(char **payload, void *ctx, size_t task);
int mt_pool_serve(mt_pool_serve_fn serve, void *ctx);

/* Another way to reach the workers (MPI's ranks: mpi.h): when set, every
 * mt_pool_run and mt_pool_serve of this process go through it instead of
 * worker processes and pipes. NULL: the processes again. */
typedef struct {
	int (*run)(const mt_pool_options *o, const size_t *tasks, size_t ntasks);
	int (*serve)(mt_pool_serve_fn serve, void *ctx);
} mt_pool_transport;
void mt_pool_set_transport(const mt_pool_transport *t);

#ifdef __cplusplus
}
#endif
#endif
