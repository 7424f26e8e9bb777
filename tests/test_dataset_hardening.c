/* Dataset readers on hostile files: NaN and infinite values, gzip with
 * trailing bytes or a second member, gzip bombs behind small headers,
 * paths that are directories or FIFOs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* IDX labels file of n zeros. */
static unsigned char *labels_idx(uint32_t n, size_t *len)
{
	unsigned char *b = calloc(8 + n, 1);
	put_be32(b, 0x00000801);
	put_be32(b + 4, n);
	*len = 8 + n;
	return b;
}

/* gzip (level 1) of data, streamed so that big inputs need no copy. */
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

/* float32 IDX images (magic 0x00000D03), 2 images of 1x2. */
static size_t float_images(unsigned char *b, const float v[4])
{
	int i;
	put_be32(b, 0x00000D03);
	put_be32(b + 4, 2);
	put_be32(b + 8, 1);
	put_be32(b + 12, 2);
	for (i = 0; i < 4; i++) {
		uint32_t bits;
		memcpy(&bits, &v[i], 4);
		put_be32(b + 16 + 4 * i, bits);
	}
	return 32;
}

Test(hardening, idx_float_nan_and_inf_refused)
{
	unsigned char img[32], *lab;
	size_t llen, ilen;
	mt_dataset *ds = NULL;
	float good[4] = { 0, 1, 2, 3 }, nan4[4] = { 0, 1, NAN, 3 }, inf4[4] = { 0, 1, 2, -INFINITY };

	lab = labels_idx(2, &llen);
	ilen = float_images(img, good);
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, img, ilen, "img", lab, llen, "lab", 10), 0,
		     "%s", mt_error_last());
	mt_dataset_free(ds);
	float_images(img, nan4);
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, img, ilen, "img", lab, llen, "lab", 10),
		     MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "img: value NaN at sample 1, element 0: "
			      "expected finite numbers"), "%s", mt_error_last());
	float_images(img, inf4);
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, img, ilen, "img", lab, llen, "lab", 10),
		     MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "value -inf at sample 1, element 1"), "%s",
		  mt_error_last());
	free(lab);
}

/* A .npy file (format 1.0, header padded to 64 bytes like numpy's). */
static size_t npy_write(unsigned char *b, const char *descr, const char *shape,
			const void *data, size_t data_len)
{
	char header[160];
	int hl = snprintf(header, sizeof(header),
			  "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
			  shape);
	size_t total = (10 + (size_t)hl + 1 + 63) / 64 * 64;
	memcpy(b, "\x93NUMPY\x01\x00", 8);
	b[8] = (unsigned char)((total - 10) & 0xFF);
	b[9] = (unsigned char)((total - 10) >> 8);
	memset(b + 10, ' ', total - 10);
	memcpy(b + 10, header, (size_t)hl);
	b[total - 1] = '\n';
	memcpy(b + total, data, data_len);
	return total + data_len;
}

/* n float64 values, shape (n, 1). */
static size_t npy_f8(unsigned char *b, const double *v, int n)
{
	char shape[32];
	snprintf(shape, sizeof(shape), "(%d, 1)", n);
	return npy_write(b, "<f8", shape, v, sizeof(double) * (size_t)n);
}

/* n zero labels. */
static size_t npy_u1_labels(unsigned char *b, int n)
{
	static const unsigned char zeros[16];
	char shape[32];
	snprintf(shape, sizeof(shape), "(%d,)", n);
	return npy_write(b, "|u1", shape, zeros, (size_t)n);
}

Test(hardening, npy_nan_and_huge_doubles_refused)
{
	unsigned char x[512], y[512];
	double nan3[3] = { 0.5, NAN, 1 }, big3[3] = { 0.5, 1, 1e300 };
	size_t xl, yl = npy_u1_labels(y, 3);
	mt_dataset *ds = NULL;

	xl = npy_f8(x, nan3, 3);
	cr_assert_eq(mt_dataset_load_npy_buffer(&ds, x, xl, "x.npy", y, yl, "y.npy", 10),
		     MT_EINVALID, "%s", mt_error_last());
	cr_assert(th_contains(mt_error_last(), "x.npy: value NaN at sample 1"), "%s",
		  mt_error_last());
	/* 1e300 does not fit a float32: +inf after conversion */
	xl = npy_f8(x, big3, 3);
	cr_assert_eq(mt_dataset_load_npy_buffer(&ds, x, xl, "x.npy", y, yl, "y.npy", 10),
		     MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "value +inf at sample 2"), "%s", mt_error_last());
}

Test(hardening, idx_gzip_trailing_and_second_member_refused)
{
	unsigned char img[32], *lab, *z, *zz;
	float good[4] = { 0, 1, 2, 3 };
	size_t llen, ilen = float_images(img, good), zlen;
	mt_dataset *ds = NULL;

	lab = labels_idx(2, &llen);
	z = gzip_mem(img, ilen, &zlen);
	zz = malloc(2 * zlen);
	memcpy(zz, z, zlen);
	memcpy(zz + zlen, z, zlen); /* a second member: was silently dropped */
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, z, zlen, "img.gz", lab, llen, "lab", 10), 0,
		     "%s", mt_error_last());
	mt_dataset_free(ds);
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, zz, 2 * zlen, "img.gz", lab, llen, "lab", 10),
		     MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "img.gz: ") &&
		  th_contains(mt_error_last(), "a second gzip member or trailing garbage"),
		  "%s", mt_error_last());
	zz[zlen] = 'J'; /* garbage after the first member */
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, zz, zlen + 1, "img.gz", lab, llen, "lab", 10),
		     MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "1 bytes after the end of the gzip stream"), "%s",
		  mt_error_last());
	free(z);
	free(zz);
	free(lab);
}

/* A gzip bomb behind an IDX header that declares 2 images of 1x2 bytes:
 * 256 MiB of zeros are refused after inflating what the header declares
 * (plus a small slack), not the whole. */
Test(hardening, idx_gzip_bomb_stops_at_declared_size)
{
	size_t big = (size_t)256 << 20, zlen, llen;
	unsigned char *raw = calloc(big, 1), *z, *lab;
	struct rusage before, after;
	mt_dataset *ds = NULL;

	cr_assert(raw);
	put_be32(raw, 0x00000803);
	put_be32(raw + 4, 2);
	put_be32(raw + 8, 1);
	put_be32(raw + 12, 2);
	z = gzip_mem(raw, big, &zlen);
	free(raw);
	lab = labels_idx(2, &llen);
	cr_assert_eq(getrusage(RUSAGE_SELF, &before), 0);
	cr_assert_eq(mt_dataset_load_idx_buffer(&ds, z, zlen, "bomb.gz", lab, llen, "lab", 10),
		     MT_EINVALID);
	cr_assert_eq(getrusage(RUSAGE_SELF, &after), 0);
	cr_assert(th_contains(mt_error_last(), "bomb.gz: gzip data inflates to more than") &&
		  th_contains(mt_error_last(), "the size its IDX header declares"),
		  "%s", mt_error_last());
	cr_assert_lt(after.ru_maxrss - before.ru_maxrss, 64 * 1024, "grew by %ld KiB",
		     after.ru_maxrss - before.ru_maxrss);
	free(z);
	free(lab);
}

Test(hardening, npy_gzip_bomb_stops_at_declared_size)
{
	size_t big = (size_t)64 << 20, zlen, yl;
	unsigned char *raw = calloc(big, 1), *z, y[512];
	double v[3] = { 0, 0, 0 };
	mt_dataset *ds = NULL;

	cr_assert(raw);
	npy_f8(raw, v, 3); /* header of 3 doubles, then 64 MiB of zeros */
	z = gzip_mem(raw, big, &zlen);
	free(raw);
	yl = npy_u1_labels(y, 3);
	cr_assert_eq(mt_dataset_load_npy_buffer(&ds, z, zlen, "x.npy.gz", y, yl, "y.npy", 10),
		     MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "x.npy.gz: gzip data inflates to more than") &&
		  th_contains(mt_error_last(), "the size its .npy header declares"),
		  "%s", mt_error_last());
	free(z);
}

Test(hardening, directory_and_fifo_as_data, .timeout = 20)
{
	char *dir = th_tempdir("data-dir"), fifo[4200];
	mt_dataset *ds = NULL;
	const char *paths[1];

	cr_assert_eq(mt_dataset_load_idx(&ds, dir, dir, 10), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "is a directory, expected a regular file"), "%s",
		  mt_error_last());
	snprintf(fifo, sizeof(fifo), "%s/x.npy", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(mt_dataset_load_npy(&ds, fifo, fifo, 10), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "x.npy: is a FIFO"), "%s", mt_error_last());
	paths[0] = fifo;
	cr_assert_eq(mt_dataset_load_cifar10(&ds, paths, 1), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "is a FIFO"), "%s", mt_error_last());
	unlink(fifo);
	rmdir(dir);
	free(dir);
}
