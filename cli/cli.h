/* Shared pieces of the mutorch command line. */
#ifndef MUTORCH_CLI_H
#define MUTORCH_CLI_H

#include <stddef.h>

#include "mutorch/config.h"

/* Documented exit codes (docs/cli.md). */
enum {
	MT_EXIT_OK = 0,
	MT_EXIT_INTERNAL = 1,  /* a bug, libtorch failure, out of memory */
	MT_EXIT_USAGE = 2,     /* bad command line */
	MT_EXIT_INPUT = 3,     /* bad or missing config, data or model file */
	MT_EXIT_THRESHOLD = 4, /* a score is below its threshold (ci) */
	MT_EXIT_BUSY = 5       /* another run holds the repository's lock (ci) */
};

/* Exit code for a negative mt_error code. */
int cli_exit_code(int error);
/* Print "mutorch <cmd>: error: <last error>" to stderr and return the exit
 * code for `error`. */
int cli_fail(const char *cmd, int error);
/* Print a usage error and the hint to use --help; returns MT_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* Load the config (default ./mutorch.yml) and initialise the shim with its
 * thread count and seed. */
int cli_load_config(mt_config **out, const char *path);
/* --eval-timeout S: seconds >= 0 (0: no limit) for the original model's
 * evaluation; a usage message otherwise (returns -1). */
int cli_parse_eval_timeout(double *seconds, const char *cmd, const char *arg);
/* --jobs N: an integer in [1, 256]; a usage message otherwise (returns -1). */
int cli_parse_jobs(int *jobs, const char *cmd, const char *arg);
/* Warn when jobs workers of `threads` threads each oversubscribe the cores
 * (OpenMP's spinning threads then slow everything down a lot). */
void cli_warn_oversubscription(int jobs, int threads);
/* The path of the running mutorch binary (workers run it again). */
const char *cli_self_exe(void);

/* The HTML report of a run directory (cmd_report.c), for `mutorch
 * report` and `mutorch run --html`. run_dir may be NULL with history. */
typedef struct {
	int history;          /* add the score per commit */
	const char *repo;     /* NULL: the current directory's repository */
	const char *rev;      /* NULL: HEAD */
	size_t max_commits;   /* 0: all */
	const char *viewer;   /* mutation-testing-elements' bundle, or NULL */
	unsigned long long seed; /* prioritisation's random orders */
	int quiet;
} cli_report_options;
int cli_write_html_report(const char *run_dir, const char *output, const cli_report_options *o);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_mutants(int argc, char **argv);
int cmd_sites(int argc, char **argv);
int cmd_operators(int argc, char **argv);
int cmd_export_mutant(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_false_kill(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_ci(int argc, char **argv);
int cmd_hook(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_analyse(int argc, char **argv);

#endif
