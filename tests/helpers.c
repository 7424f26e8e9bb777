#include "helpers.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *th_tempdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path = malloc(4096);
	cr_assert(path);
	snprintf(path, 4096, "%s/mutorch-test-%s-XXXXXX", base ? base : "/tmp", tag);
	cr_assert(mkdtemp(path), "mkdtemp %s failed", path);
	return path;
}

char *th_write(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = malloc(4096);
	FILE *f;
	cr_assert(path);
	snprintf(path, 4096, "%s/%s", dir, name);
	if (len == (size_t)-1)
		len = strlen(data);
	f = fopen(path, "wb");
	cr_assert(f, "cannot create %s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int th_run(char **out, char **err, const char *fmt, ...)
{
	char cmd[8192], full[9000];
	char *dir = th_tempdir("run");
	char outp[4200], errp[4200];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(outp, sizeof(outp), "%s/stdout", dir);
	snprintf(errp, sizeof(errp), "%s/stderr", dir);
	if (snprintf(full, sizeof(full), "( %s ) >'%s' 2>'%s' </dev/null", cmd, outp, errp) >=
	    (int)sizeof(full))
		cr_assert_fail("command too long: %s", cmd);
	status = system(full);
	if (out)
		*out = slurp(outp);
	if (err)
		*err = slurp(errp);
	unlink(outp);
	unlink(errp);
	rmdir(dir);
	free(dir);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

char *th_read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	cr_assert(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n, "short read of %s", path);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

int th_contains(const char *haystack, const char *needle)
{
	return haystack && needle && strstr(haystack, needle) != NULL;
}

const char *th_external_fixtures(void)
{
	static char dir[4096];
	char tmp[4200];

	snprintf(dir, sizeof(dir), "%s/external-fixtures", MT_BINARY_DIR);
	snprintf(tmp, sizeof(tmp), "%s/nan.pt", dir);
	if (access(tmp, F_OK) == 0)
		return dir;
	/* made aside and renamed: test binaries run in parallel */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", dir, (long)getpid());
	cr_assert_eq(th_run(NULL, NULL, "/usr/bin/python3 '%s/make_external_fixture.py' '%s' && "
			    "mv -T '%s' '%s' 2>/dev/null || rm -rf '%s'", MT_FIXTURES, tmp, tmp, dir, tmp),
		     0, "make_external_fixture.py failed");
	snprintf(tmp, sizeof(tmp), "%s/nan.pt", dir);
	cr_assert_eq(access(tmp, F_OK), 0, "tests/fixtures/make_external_fixture.py made no %s", tmp);
	return dir;
}
