#include "helpers.h"

#include "mutorch/io.h"

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

static void put_be32(unsigned char *p, unsigned long v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void th_write_fashion_test_set(const char *dir, size_t n)
{
	const char *fashion = "/usr/share/datasets/fashion-mnist";
	char path[4200];
	void *img = NULL, *lab = NULL;
	size_t ilen, llen;
	unsigned char *buf = malloc(16 + n * 784);

	cr_assert(buf);
	snprintf(path, sizeof(path), "%s/t10k-images-idx3-ubyte.gz", fashion);
	cr_assert_eq(mt_io_read_maybe_gzip(&img, &ilen, path), 0, "%s: cannot read", path);
	snprintf(path, sizeof(path), "%s/t10k-labels-idx1-ubyte.gz", fashion);
	cr_assert_eq(mt_io_read_maybe_gzip(&lab, &llen, path), 0, "%s: cannot read", path);
	cr_assert(ilen >= 16 + n * 784 && llen >= 8 + n, "the test set has fewer than %zu images", n);
	put_be32(buf, 0x803);
	put_be32(buf + 4, n);
	put_be32(buf + 8, 28);
	put_be32(buf + 12, 28);
	memcpy(buf + 16, (unsigned char *)img + 16, n * 784);
	free(th_write(dir, "test-images", buf, 16 + n * 784));
	put_be32(buf, 0x801);
	put_be32(buf + 4, n);
	memcpy(buf + 8, (unsigned char *)lab + 8, n);
	free(th_write(dir, "test-labels", buf, 8 + n));
	free(buf);
	free(img);
	free(lab);
}
