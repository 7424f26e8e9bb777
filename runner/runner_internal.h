/* Shared by the runner's sources; not a public header. */
#ifndef MUTORCH_RUNNER_RUNNER_INTERNAL_H
#define MUTORCH_RUNNER_RUNNER_INTERNAL_H

/* Test-only fault hooks (docs/cli.md): when the environment variable
 * MUTORCH_TEST_CRASH_ID names this mutant, the worker dies by SIGSEGV (also
 * under sanitizers, whose SEGV handler would turn it into an exit); when
 * MUTORCH_TEST_HANG_ID names it, the worker hangs. The tests use them to
 * check crash and timeout isolation. */
void mt_runner_test_fault_hooks(const char *mutant_id);

#endif
