/*
 * mutorch/mpi.h - `mutorch run --mpi`: MPI's ranks as the workers
 * (docs/scale-out.md). Built when CMake finds MPI (MUTORCH_MPI); the
 * functions exist only then.
 *
 * Rank 0 plans, records and decides as a local run does; the worker pool
 * (pool.h) reaches the other ranks through MPI instead of pipes. Each
 * mt_pool_run sends every other rank the worker's command line; the rank
 * sets the worker up in-process (no fork: it has run libtorch work) and
 * asks for tasks; rank 0 hands out the tasks one at a time, in the order
 * given (the runs order them largest expected cost first), to whichever
 * rank asks, and hands the results to the run, which logs them as it
 * logs a local worker's. Per-task time limits do not apply (the job's
 * does), and a mutant that crashes its rank ends the job: run again
 * (with or without --mpi) and it resumes from the log.
 */
#ifndef MUTORCH_MPI_H
#define MUTORCH_MPI_H

#ifdef __cplusplus
extern "C" {
#endif

/* MPI_Init; *rank and *size of MPI_COMM_WORLD. Rank 0 routes the pool
 * through MPI (mt_pool_set_transport); the others serve through it. */
int mt_mpi_init(int *argc, char ***argv, int *rank, int *size);

/* Ranks other than 0: run each worker command line rank 0 sends through
 * run_worker (argv[0] is "worker") until rank 0 calls mt_mpi_finish. */
int mt_mpi_serve_jobs(int (*run_worker)(int argc, char **argv));

/* Rank 0: release the other ranks; every rank: MPI_Finalize. */
void mt_mpi_finish(void);

/* The MPI library's version, for `mutorch --version`. */
const char *mt_mpi_library(void);

#ifdef __cplusplus
}
#endif
#endif
