/* Small helpers shared by the runner's sources (runner/internal.h). */
#include "runner_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


void mt_runner_test_fault_hooks(const char *mutant_id)
{
	const char *crash = getenv("MUTORCH_TEST_CRASH_ID");
	const char *hang = getenv("MUTORCH_TEST_HANG_ID");

	if (crash && !strcmp(crash, mutant_id)) {
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
	if (hang && !strcmp(hang, mutant_id))
		for (;;)
			sleep(1);
}
