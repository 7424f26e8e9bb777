/* Shared helpers for the Criterion tests: temporary directories, writing
 * files, running the mutorch binary and capturing its output. */
#ifndef MUTORCH_TESTS_HELPERS_H
#define MUTORCH_TESTS_HELPERS_H

#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp); malloc'd path. */
char *th_tempdir(const char *tag);
/* Write len bytes (or strlen when len == (size_t)-1) to dir/name; returns
 * the malloc'd full path. Aborts the test on failure. */
char *th_write(const char *dir, const char *name, const void *data, size_t len);
/* Run a shell command; capture stdout and stderr (malloc'd, may be NULL
 * args to discard); return the exit status (or -1 when it did not exit). */
int th_run(char **out, char **err, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;
/* A whole file, NUL-terminated; *len (may be NULL) gets its size. Aborts
 * the test when the file cannot be read. */
char *th_read_all(const char *path, size_t *len);
/* Does haystack contain needle? */
int th_contains(const char *haystack, const char *needle);
/* The models the fake training programs of the external-program tests
 * copy (tests/fixtures/make_external_fixture.py: good0..3.pt, bad.pt,
 * nan.pt), made once in the build directory; the directory's path. */
const char *th_external_fixtures(void);

#endif
