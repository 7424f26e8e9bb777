/* core/zip.c: archives written by PyTorch pass; every structural fault the
 * check promises to catch is caught, with a message naming the archive;
 * no truncation or byte flip of a real archive makes it read outside the
 * buffer (AddressSanitizer in the build-asan run). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "helpers.h"
#include "mutorch/error.h"
#include "mutorch/zip.h"

typedef struct {
	unsigned char *p;
	size_t len, cap;
} zbuf;

static void put(zbuf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		cr_assert(b->p = realloc(b->p, b->cap));
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put16(zbuf *b, unsigned v)
{
	unsigned char x[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
	put(b, x, 2);
}

static void put32(zbuf *b, uint32_t v)
{
	put16(b, v & 0xFFFF);
	put16(b, v >> 16);
}

/* A stored archive of two members, as a minimal writer would make it:
 * local header, data, ..., central directory, end record. */
static zbuf make_zip_ex(const char *const names[2], const char *const datas[2],
			int second_points_at_first)
{
	uint32_t offsets[2], crcs[2], cd_off, cd_size;
	zbuf b = { 0 };
	int i;

	for (i = 0; i < 2; i++) {
		size_t n = strlen(datas[i]);
		offsets[i] = (uint32_t)b.len;
		crcs[i] = (uint32_t)crc32(0, (const Bytef *)datas[i], (uInt)n);
		put32(&b, 0x04034b50);
		put16(&b, 20); put16(&b, 0); put16(&b, 0); put16(&b, 0); put16(&b, 0);
		put32(&b, crcs[i]); put32(&b, (uint32_t)n); put32(&b, (uint32_t)n);
		put16(&b, (unsigned)strlen(names[i])); put16(&b, 0);
		put(&b, names[i], strlen(names[i]));
		put(&b, datas[i], n);
	}
	cd_off = (uint32_t)b.len;
	for (i = 0; i < 2; i++) {
		size_t n = strlen(datas[i]);
		put32(&b, 0x02014b50);
		put16(&b, 20); put16(&b, 20); put16(&b, 0); put16(&b, 0);
		put16(&b, 0); put16(&b, 0);
		put32(&b, crcs[i]); put32(&b, (uint32_t)n); put32(&b, (uint32_t)n);
		put16(&b, (unsigned)strlen(names[i])); put16(&b, 0); put16(&b, 0);
		put16(&b, 0); put16(&b, 0); put32(&b, 0);
		put32(&b, second_points_at_first ? offsets[0] : offsets[i]);
		put(&b, names[i], strlen(names[i]));
	}
	cd_size = (uint32_t)(b.len - cd_off);
	put32(&b, 0x06054b50);
	put16(&b, 0); put16(&b, 0); put16(&b, 2); put16(&b, 2);
	put32(&b, cd_size);
	put32(&b, cd_off);
	put16(&b, 0);
	return b;
}

static zbuf make_zip(void)
{
	static const char *const names[2] = { "archive/data.pkl", "archive/data/0" };
	static const char *const datas[2] = { "pickle bytes", "0123456789abcdef" };
	return make_zip_ex(names, datas, 0);
}

static void expect_bad(const zbuf *b, const char *what)
{
	cr_assert_eq(mt_zip_check(b->p, b->len, "t.zip", MT_ZIP_STORED_ONLY), MT_EINVALID,
		     "accepted, expected: %s", what);
	cr_assert(th_contains(mt_error_last(), "t.zip: corrupt zip archive: "), "%s",
		  mt_error_last());
	cr_assert(th_contains(mt_error_last(), what), "%s", mt_error_last());
}

Test(zip, minimal_archive_passes)
{
	zbuf b = make_zip();
	cr_assert_eq(mt_zip_check(b.p, b.len, "t.zip", MT_ZIP_STORED_ONLY), 0, "%s",
		     mt_error_last());
	free(b.p);
}

Test(zip, truncated_or_extended_end)
{
	zbuf b = make_zip();
	b.len--;
	expect_bad(&b, "no end of central directory record");
	b.len++;
	put(&b, "x", 1);
	expect_bad(&b, "no end of central directory record");
	free(b.p);
	expect_bad(&(zbuf){ (unsigned char *)"PK", 2, 2 }, "too short");
}

Test(zip, crc_mismatch)
{
	zbuf b = make_zip();
	b.p[30 + 16 + 3] ^= 1; /* a byte of the first member's data */
	expect_bad(&b, "member 'archive/data.pkl': CRC-32");
	free(b.p);
}

Test(zip, central_directory_out_of_place)
{
	zbuf b = make_zip();
	b.p[b.len - 6] ^= 4; /* the central directory's offset */
	expect_bad(&b, "do not lead to the end record");
	free(b.p);
}

Test(zip, local_header_disagrees)
{
	zbuf b = make_zip();
	b.p[30 + 2] = 'X'; /* the first local header's name */
	expect_bad(&b, "the local header names another member");
	free(b.p);
	b = make_zip();
	b.p[18] ^= 1; /* the first local header's compressed size */
	expect_bad(&b, "sizes or CRC differ");
	free(b.p);
}

Test(zip, method_and_sizes)
{
	zbuf b = make_zip();
	size_t cd = b.len - 22 - 2 * 46 - strlen("archive/data.pkl") - strlen("archive/data/0");
	b.p[8] = 8; /* local method */
	b.p[cd + 10] = 8; /* central method */
	expect_bad(&b, "compression method is not stored");
	free(b.p);
}

Test(zip, overlapping_and_repeated_members)
{
	static const char *const names[2] = { "a/b", "a/b" };
	static const char *const datas[2] = { "same", "same" };
	/* both central entries point at the first local header */
	zbuf b = make_zip_ex(names, datas, 1);
	expect_bad(&b, "member 'a/b': overlaps another member");
	free(b.p);
	b = make_zip_ex(names, datas, 0);
	expect_bad(&b, "member 'a/b': appears twice");
	free(b.p);
}

static unsigned char *fixture(const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", MT_FIXTURES, name);
	return (unsigned char *)th_read_all(path, len);
}

Test(zip, pytorch_archives_pass)
{
	size_t len;
	unsigned char *dict = fixture("shim_pixels.pt", &len);
	/* torch.save: stored members, data descriptors, zip64 end records */
	cr_assert_eq(mt_zip_check(dict, len, "shim_pixels.pt", MT_ZIP_STORED_ONLY), 0, "%s",
		     mt_error_last());
	free(dict);
	dict = fixture("shim_model.pt", &len);
	/* torch.jit.save deflates its code */
	cr_assert_eq(mt_zip_check(dict, len, "shim_model.pt", MT_ZIP_ALLOW_DEFLATE), 0, "%s",
		     mt_error_last());
	cr_assert_eq(mt_zip_check(dict, len, "shim_model.pt", MT_ZIP_STORED_ONLY), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "compression method is not stored"), "%s",
		  mt_error_last());
	free(dict);
}

/* Every truncation and every single-bit flip of two real archives: the
 * check must return (no crash, no read outside the buffer); every
 * truncation and every flip inside a member's data must be refused. */
static void mutate_all(const char *name, mt_zip_methods methods)
{
	size_t len, i, refused = 0;
	unsigned char *orig = fixture(name, &len), *copy = malloc(len);

	cr_assert(copy);
	for (i = 0; i < len; i++) {
		memcpy(copy, orig, i);
		cr_assert_eq(mt_zip_check(copy, i, name, methods), MT_EINVALID,
			     "%s cut to %zu bytes was accepted", name, i);
	}
	memcpy(copy, orig, len);
	for (i = 0; i < len; i++) {
		copy[i] ^= (unsigned char)(1u << (i % 8));
		refused += mt_zip_check(copy, len, name, methods) < 0;
		copy[i] = orig[i];
	}
	/* headers hold fields no reader checks (times, versions, padding);
	 * everything else is covered by a check */
	cr_assert_gt(refused, len / 2, "%zu of %zu flips refused", refused, len);
	free(orig);
	free(copy);
}

Test(zip, every_truncation_and_flip_of_a_dict, .timeout = 300)
{
	mutate_all("shim_pixels.pt", MT_ZIP_STORED_ONLY);
}

Test(zip, every_truncation_and_flip_of_a_model, .timeout = 300)
{
	mutate_all("shim_model.pt", MT_ZIP_ALLOW_DEFLATE);
}
