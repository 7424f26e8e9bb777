#include "cli.h"

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/runner.h"
#include "mutorch/shim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The watchdog's exit status is the command line's "bad input". */
_Static_assert(MT_RUNNER_DEADLINE_EXIT == MT_EXIT_INPUT, "the deadline exits with 3");

int cli_exit_code(int error)
{
	switch (error) {
	case 0: return MT_EXIT_OK;
	case MT_EUSAGE: return MT_EXIT_USAGE;
	case MT_EINVALID:
	case MT_ENOTFOUND:
	case MT_EIO:
		return MT_EXIT_INPUT;
	default:
		return MT_EXIT_INTERNAL;
	}
}

int cli_fail(const char *cmd, int error)
{
	const char *msg = mt_error_last();
	fprintf(stderr, "mutorch %s: error: %s\n", cmd, msg && *msg ? msg : mt_error_code_name(error));
	return cli_exit_code(error);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "mutorch %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mutorch %s --help'.\n", cmd);
	return MT_EXIT_USAGE;
}

int cli_load_config(mt_config **out, const char *path)
{
	int error;
	if ((error = mt_config_load(out, path ? path : "mutorch.yml")) < 0)
		return error;
	if ((error = mt_shim_init((*out)->threads, (*out)->seed, 0)) < 0) {
		mt_config_free(*out);
		*out = NULL;
	}
	return error;
}

const char *cli_self_exe(void)
{
	static char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return "mutorch";
	buf[n] = '\0';
	return buf;
}

int cli_parse_eval_timeout(double *seconds, const char *cmd, const char *arg)
{
	char *end;
	double v = strtod(arg, &end);
	if (!*arg || *end || !(v >= 0) || v > 1e9) {
		cli_usage_error(cmd, "--eval-timeout must be a number of seconds >= 0 (0: no limit), got '%s'", arg);
		return -1;
	}
	*seconds = v;
	return 0;
}

int cli_parse_jobs(int *jobs, const char *cmd, const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);
	if (!*arg || *end || n < 1 || n > 256) {
		cli_usage_error(cmd, "--jobs must be an integer in [1, 256], got '%s'", arg);
		return -1;
	}
	*jobs = (int)n;
	return 0;
}

void cli_warn_oversubscription(int jobs, int threads)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (cores > 0 && (long)jobs * threads > cores)
		fprintf(stderr, "mutorch: warning: %d workers x %d threads (training.threads) is more "
			"than the %ld cores; libtorch's threads then wait on each other and the run "
			"is much slower: use --jobs %ld or fewer threads\n",
			jobs, threads, cores, cores / threads > 0 ? cores / threads : 1);
}
