/* core/io.c on hostile inputs: paths that are not regular files (a FIFO
 * must not block), gzip streams with trailing bytes or a second member,
 * and inflate limits. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"
#include "mutorch/error.h"
#include "mutorch/io.h"

/* gzip of data into a malloc'd buffer (one member). */
static unsigned char *gzip_mem(const void *data, size_t len, size_t *out_len)
{
	z_stream zs;
	size_t cap = compressBound((uLong)len) + 64;
	unsigned char *out = malloc(cap);

	cr_assert(out);
	memset(&zs, 0, sizeof(zs));
	cr_assert_eq(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
				  Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

static void expect_not_regular(const char *path, const char *kind)
{
	void *buf = NULL;
	size_t len = 1;

	cr_assert_eq(mt_io_read_file(&buf, &len, path), MT_EINVALID, "%s: %s", path,
		     mt_error_last());
	cr_assert_null(buf);
	cr_assert_eq(len, 0);
	cr_assert(th_contains(mt_error_last(), path), "%s", mt_error_last());
	cr_assert(th_contains(mt_error_last(), kind), "%s", mt_error_last());
	cr_assert(th_contains(mt_error_last(), "expected a regular file"), "%s",
		  mt_error_last());
}

Test(io, directory_is_refused_not_out_of_memory)
{
	char *dir = th_tempdir("io-dir");
	expect_not_regular(dir, "is a directory");
	/* the gzip-aware reader goes through the same check */
	cr_assert_eq(mt_io_read_maybe_gzip(&(void *){NULL}, &(size_t){0}, dir), MT_EINVALID);
	rmdir(dir);
	free(dir);
}

/* Criterion's per-test timeout turns a FIFO that blocks into a failure. */
Test(io, fifo_does_not_block, .timeout = 20)
{
	char *dir = th_tempdir("io-fifo"), path[4200];
	snprintf(path, sizeof(path), "%s/config.yml", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	expect_not_regular(path, "is a FIFO");
	unlink(path);
	rmdir(dir);
	free(dir);
}

Test(io, character_device_is_refused)
{
	expect_not_regular("/dev/null", "is a character device");
}

Test(io, regular_file_reads_whole)
{
	char *dir = th_tempdir("io-reg"), *path = th_write(dir, "f", "abc\0def", 7);
	void *buf = NULL;
	size_t len = 0;
	cr_assert_eq(mt_io_read_file(&buf, &len, path), 0, "%s", mt_error_last());
	cr_assert_eq(len, 7);
	cr_assert_eq(memcmp(buf, "abc\0def", 8), 0);
	free(buf);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

Test(io, missing_file_is_not_found)
{
	void *buf = NULL;
	size_t len = 0;
	cr_assert_eq(mt_io_read_file(&buf, &len, "/nonexistent/x"), MT_ENOTFOUND);
	cr_assert(th_contains(mt_error_last(), "/nonexistent/x"));
}

Test(io, gzip_round_trip)
{
	size_t zlen, len = 0;
	unsigned char *z = gzip_mem("hello, world", 12, &zlen);
	void *out = NULL;
	cr_assert_eq(mt_io_gunzip(&out, &len, z, zlen, "x.gz"), 0, "%s", mt_error_last());
	cr_assert_eq(len, 12);
	cr_assert_eq(memcmp(out, "hello, world", 12), 0);
	free(out);
	free(z);
}

Test(io, gzip_trailing_garbage_is_refused)
{
	size_t zlen, len = 0;
	unsigned char *z = gzip_mem("hello", 5, &zlen), *zz = malloc(zlen + 3);
	void *out = NULL;
	memcpy(zz, z, zlen);
	memcpy(zz + zlen, "xyz", 3);
	cr_assert_eq(mt_io_gunzip(&out, &len, zz, zlen + 3, "t.gz"), MT_EINVALID);
	cr_assert_null(out);
	cr_assert(th_contains(mt_error_last(), "t.gz: 3 bytes after the end of the gzip "
			      "stream"), "%s", mt_error_last());
	free(z);
	free(zz);
}

Test(io, gzip_second_member_is_refused)
{
	size_t z1len, z2len, len = 0;
	unsigned char *z1 = gzip_mem("first", 5, &z1len), *z2 = gzip_mem("second", 6, &z2len);
	unsigned char *both = malloc(z1len + z2len);
	void *out = NULL;
	memcpy(both, z1, z1len);
	memcpy(both + z1len, z2, z2len);
	cr_assert_eq(mt_io_gunzip(&out, &len, both, z1len + z2len, "two.gz"), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "a second gzip member"), "%s", mt_error_last());
	free(z1);
	free(z2);
	free(both);
}

Test(io, gzip_limit_stops_a_bomb_early)
{
	/* 256 MiB of zeros in about 256 KB of gzip, refused at a 1 MiB limit
	 * without the memory of the whole: the high-water mark of this
	 * (fresh) test process grows far less than the inflated size. */
	size_t big = (size_t)256 << 20, zlen, len = 0;
	unsigned char *zeros = calloc(big, 1), *z;
	struct rusage before, after;
	void *out = NULL;

	cr_assert(zeros);
	z = gzip_mem(zeros, big, &zlen);
	free(zeros);
	cr_assert_lt(zlen, (size_t)4 << 20);
	cr_assert_eq(getrusage(RUSAGE_SELF, &before), 0);
	cr_assert_eq(mt_io_gunzip_limit(&out, &len, z, zlen, (size_t)1 << 20,
					"a test limit", "bomb.gz"), MT_EINVALID);
	cr_assert_eq(getrusage(RUSAGE_SELF, &after), 0);
	cr_assert(th_contains(mt_error_last(), "bomb.gz: gzip data inflates to more than "
			      "1048576 bytes (a test limit)"), "%s", mt_error_last());
	cr_assert_lt(after.ru_maxrss - before.ru_maxrss, 64 * 1024, "grew by %ld KiB",
		     after.ru_maxrss - before.ru_maxrss);
	/* at the limit exactly it is accepted */
	cr_assert_eq(mt_io_gunzip_limit(&out, &len, z, zlen, big, "a test limit",
					"bomb.gz"), 0, "%s", mt_error_last());
	cr_assert_eq(len, big);
	free(out);
	free(z);
}

Test(io, gzip_prefix_reads_a_header)
{
	size_t zlen, got = 0;
	unsigned char *z = gzip_mem("0123456789", 10, &zlen), head[16];
	cr_assert_eq(mt_io_gunzip_prefix(head, &got, 4, z, zlen, "p.gz"), 0);
	cr_assert_eq(got, 4);
	cr_assert_eq(memcmp(head, "0123", 4), 0);
	cr_assert_eq(mt_io_gunzip_prefix(head, &got, 16, z, zlen, "p.gz"), 0);
	cr_assert_eq(got, 10);
	free(z);
}
