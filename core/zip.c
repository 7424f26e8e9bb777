/* A structural check of untrusted zip archives before libtorch's reader
 * sees them (see zip.h for the list). Every offset and size is checked
 * against the file before it is used, in 64-bit arithmetic that cannot
 * overflow (every value is below 2^64 and each sum is checked). */
#include "mutorch/zip.h"
#include "mutorch/error.h"
#include "mutorch/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define SIG_DESCRIPTOR 0x08074b50u

#define EOCD_SIZE 22
#define LOCATOR64_SIZE 20
#define EOCD64_MIN 56
#define CENTRAL_SIZE 46
#define LOCAL_SIZE 30

#define FLAG_ENCRYPTED 0x0001u
#define FLAG_DESCRIPTOR 0x0008u
#define FLAG_STRONG_ENCRYPTION 0x0040u

typedef struct {
	const unsigned char *p;
	uint64_t len;
	const char *name;
} archive;

typedef struct {
	const unsigned char *fname;
	uint16_t fname_len;
	uint16_t flags, method;
	uint32_t crc;
	uint64_t csize, usize, offset;
	int zip64;
	uint64_t start, end; /* local header to the end of its descriptor */
} entry;

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}

static int bad(const archive *a, const char *what)
{
	return mt_error_set(MT_EINVALID, "%s: corrupt zip archive: %s", a->name, what);
}

static int bad_entry(const archive *a, const entry *e, const char *what)
{
	return mt_error_set(MT_EINVALID, "%s: corrupt zip archive: member '%.*s': %s",
			    a->name, e->fname_len > 200 ? 200 : (int)e->fname_len,
			    (const char *)e->fname, what);
}

/* Does [off, off + n) lie inside [0, limit)? */
static int fits(uint64_t off, uint64_t n, uint64_t limit)
{
	return off <= limit && n <= limit - off;
}

/* The end of central directory record: the last signature whose comment
 * runs exactly to the end of the file. */
static int find_eocd(const archive *a, uint64_t *pos)
{
	uint64_t i, lowest;

	if (a->len < EOCD_SIZE)
		return bad(a, "too short for an end of central directory record "
			   "(22 bytes)");
	lowest = a->len - EOCD_SIZE > 0xFFFF ? a->len - EOCD_SIZE - 0xFFFF : 0;
	for (i = a->len - EOCD_SIZE + 1; i-- > lowest;)
		if (le32(a->p + i) == SIG_EOCD &&
		    i + EOCD_SIZE + le16(a->p + i + 20) == a->len) {
			*pos = i;
			return 0;
		}
	return bad(a, "no end of central directory record at the end of the "
		   "file (truncated, or bytes appended)");
}

/* Where the central directory is and how many entries it has, from the
 * end records (zip64 when present; the plain record must agree with it). */
static int read_end(const archive *a, uint64_t *cd_off, uint64_t *cd_size,
		    uint64_t *count, uint64_t *cd_end)
{
	const unsigned char *r;
	uint64_t eocd = 0, loc, rec, rec_size;
	uint16_t n16, total16;
	uint32_t size32, off32;
	int error;

	if ((error = find_eocd(a, &eocd)) < 0)
		return error;
	r = a->p + eocd;
	n16 = le16(r + 8);
	total16 = le16(r + 10);
	size32 = le32(r + 12);
	off32 = le32(r + 16);
	if (le16(r + 4) != 0 || le16(r + 6) != 0 || n16 != total16)
		return bad(a, "a multi-disk archive, expected one file");
	*count = total16;
	*cd_size = size32;
	*cd_off = off32;
	*cd_end = eocd;
	if (eocd < LOCATOR64_SIZE || le32(a->p + eocd - LOCATOR64_SIZE) != SIG_LOCATOR64) {
		if (total16 == 0xFFFF || size32 == 0xFFFFFFFFu || off32 == 0xFFFFFFFFu)
			return bad(a, "the end record needs a zip64 record, which is "
				   "missing");
		return 0;
	}
	loc = eocd - LOCATOR64_SIZE;
	r = a->p + loc;
	rec = le64(r + 8);
	if (le32(r + 4) != 0 || le32(r + 16) != 1)
		return bad(a, "a multi-disk zip64 archive, expected one file");
	if (!fits(rec, EOCD64_MIN, loc) || le32(a->p + rec) != SIG_EOCD64)
		return bad(a, "the zip64 locator does not point at a zip64 end "
			   "record");
	r = a->p + rec;
	rec_size = le64(r + 4);
	/* the record runs exactly up to the locator */
	if (rec_size < EOCD64_MIN - 12 || rec_size != loc - rec - 12)
		return bad(a, "the zip64 end record's size does not reach the "
			   "locator");
	if (le32(r + 16) != 0 || le32(r + 20) != 0 || le64(r + 24) != le64(r + 32))
		return bad(a, "a multi-disk zip64 archive, expected one file");
	if ((total16 != 0xFFFF && total16 != le64(r + 32)) ||
	    (size32 != 0xFFFFFFFFu && size32 != le64(r + 40)) ||
	    (off32 != 0xFFFFFFFFu && off32 != le64(r + 48)))
		return bad(a, "the end record and the zip64 end record disagree");
	*count = le64(r + 32);
	*cd_size = le64(r + 40);
	*cd_off = le64(r + 48);
	*cd_end = rec;
	return 0;
}

/* Sizes or the offset of 0xFFFFFFFF are in the zip64 extra field (id 1),
 * in this order, only those that are 0xFFFFFFFF. */
static int read_zip64_extra(const archive *a, entry *e, const unsigned char *x,
			    uint16_t xlen, int need_u, int need_c, int need_o)
{
	uint32_t i = 0;

	while (i + 4 <= xlen) {
		uint16_t id = le16(x + i), n = le16(x + i + 2);
		const unsigned char *d = x + i + 4;
		uint32_t want = 8u * (uint32_t)(need_u + need_c + need_o);
		if ((uint32_t)n > (uint32_t)xlen - i - 4)
			return bad_entry(a, e, "an extra field runs past its header");
		if (id == 1) {
			if (n < want)
				return bad_entry(a, e, "the zip64 extra field is too short");
			if (need_u)
				e->usize = le64(d), d += 8;
			if (need_c)
				e->csize = le64(d), d += 8;
			if (need_o)
				e->offset = le64(d);
			e->zip64 = 1;
			return 0;
		}
		i += 4u + n;
	}
	if (i != xlen)
		return bad_entry(a, e, "the extra fields do not add up to their length");
	if (need_u || need_c || need_o)
		return bad_entry(a, e, "a size or offset needs a zip64 extra field, "
				 "which is missing");
	return 0;
}

/* One central directory entry at *pos (advanced past it). */
static int read_central(const archive *a, entry *e, uint64_t *pos, uint64_t cd_end,
			mt_zip_methods methods)
{
	const unsigned char *r = a->p + *pos;
	uint16_t xlen, clen;
	uint32_t c32, u32, o32;
	int error;

	memset(e, 0, sizeof(*e));
	if (!fits(*pos, CENTRAL_SIZE, cd_end) || le32(r) != SIG_CENTRAL)
		return bad(a, "the central directory holds fewer entries than the "
			   "end record declares");
	e->flags = le16(r + 8);
	e->method = le16(r + 10);
	e->crc = le32(r + 16);
	c32 = le32(r + 20);
	u32 = le32(r + 24);
	e->fname_len = le16(r + 28);
	xlen = le16(r + 30);
	clen = le16(r + 32);
	o32 = le32(r + 42);
	e->fname = r + CENTRAL_SIZE;
	if (!fits(*pos, (uint64_t)CENTRAL_SIZE + e->fname_len + xlen + clen, cd_end))
		return bad(a, "a central directory entry runs past the central "
			   "directory");
	if (e->fname_len == 0 || memchr(e->fname, 0, e->fname_len))
		return bad(a, "a member has an empty name or one with a NUL byte");
	e->csize = c32;
	e->usize = u32;
	e->offset = o32;
	if ((error = read_zip64_extra(a, e, e->fname + e->fname_len, xlen,
				      u32 == 0xFFFFFFFFu, c32 == 0xFFFFFFFFu,
				      o32 == 0xFFFFFFFFu)) < 0)
		return error;
	if (le16(r + 34) != 0 && le16(r + 34) != 0xFFFF)
		return bad_entry(a, e, "lies on another disk");
	if (e->flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION))
		return bad_entry(a, e, "is encrypted");
	if (e->method == 8 && methods == MT_ZIP_ALLOW_DEFLATE) {
		/* deflate */
	} else if (e->method != 0) {
		return bad_entry(a, e, methods == MT_ZIP_ALLOW_DEFLATE
				 ? "compression method is neither stored (0) nor deflate (8)"
				 : "compression method is not stored (0), as torch.save "
				   "writes");
	} else if (e->csize != e->usize) {
		return bad_entry(a, e, "stored, but its compressed and uncompressed "
				 "sizes differ");
	}
	*pos += (uint64_t)CENTRAL_SIZE + e->fname_len + xlen + clen;
	return 0;
}

/* The local header and data descriptor of e must agree with its central
 * entry and lie before the central directory; sets e->start and e->end. */
static int check_local(const archive *a, entry *e, uint64_t cd_off)
{
	const unsigned char *r, *d;
	uint64_t data, data_end, end;
	uint16_t nlen, xlen;
	uint32_t crc, c32, u32;

	if (!fits(e->offset, LOCAL_SIZE, cd_off))
		return bad_entry(a, e, "its local header lies outside the data area");
	r = a->p + e->offset;
	if (le32(r) != SIG_LOCAL)
		return bad_entry(a, e, "no local header signature at its offset");
	nlen = le16(r + 26);
	xlen = le16(r + 28);
	if (!fits(e->offset, (uint64_t)LOCAL_SIZE + nlen + xlen, cd_off))
		return bad_entry(a, e, "its local header runs into the central "
				 "directory");
	if (nlen != e->fname_len || memcmp(r + LOCAL_SIZE, e->fname, nlen) != 0)
		return bad_entry(a, e, "the local header names another member");
	if (le16(r + 6) != e->flags || le16(r + 8) != e->method)
		return bad_entry(a, e, "the local header's flags or method differ "
				 "from the central directory's");
	data = e->offset + LOCAL_SIZE + nlen + xlen;
	if (!fits(data, e->csize, cd_off))
		return bad_entry(a, e, "its data runs past the data area (truncated)");
	data_end = data + e->csize;
	end = data_end;
	crc = le32(r + 14);
	c32 = le32(r + 18);
	u32 = le32(r + 22);
	if (e->flags & FLAG_DESCRIPTOR) {
		/* sizes and CRC follow the data: [signature] crc csize usize,
		 * 32-bit, or 64-bit for a zip64 entry */
		uint64_t n = e->zip64 ? 20 : 12;
		if (fits(end, 4, cd_off) && le32(a->p + end) == SIG_DESCRIPTOR)
			end += 4;
		if (!fits(end, n, cd_off))
			return bad_entry(a, e, "its data descriptor runs past the data "
					 "area");
		d = a->p + end;
		if (le32(d) != e->crc ||
		    (e->zip64 ? le64(d + 4) != e->csize || le64(d + 12) != e->usize
			      : le32(d + 4) != e->csize || le32(d + 8) != e->usize))
			return bad_entry(a, e, "its data descriptor disagrees with the "
					 "central directory");
		end += n;
	} else if (crc != e->crc ||
		   (c32 != e->csize && !(e->zip64 && c32 == 0xFFFFFFFFu)) ||
		   (u32 != e->usize && !(e->zip64 && u32 == 0xFFFFFFFFu))) {
		return bad_entry(a, e, "the local header's sizes or CRC differ from "
				 "the central directory's");
	}
	e->start = e->offset;
	e->end = end;
	return 0;
}

/* CRC-32 of the member's data; deflated data must inflate to exactly its
 * declared size from exactly its compressed bytes. */
static int check_data(const archive *a, const entry *e, uint64_t *inflated)
{
	const unsigned char *r = a->p + e->offset;
	const unsigned char *data = r + LOCAL_SIZE + le16(r + 26) + le16(r + 28);
	uLong crc = crc32(0L, Z_NULL, 0);
	char msg[160];

	if (e->method == 0) {
		uint64_t done = 0;
		while (done < e->csize) {
			uInt n = e->csize - done > 0x40000000 ? 0x40000000
							      : (uInt)(e->csize - done);
			crc = crc32(crc, data + done, n);
			done += n;
		}
	} else {
		unsigned char chunk[16384];
		z_stream zs;
		uint64_t out = 0;
		int zerr = Z_OK;

		if (e->usize > MT_IO_INFLATE_MAX - *inflated)
			return bad_entry(a, e, "deflated members inflate to more than "
					 "the limit on inflated data (1 GiB)");
		*inflated += e->usize;
		if (e->csize > UINT32_MAX)
			return bad_entry(a, e, "deflated data over 4 GiB");
		memset(&zs, 0, sizeof(zs));
		if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
			return mt_error_oom();
		zs.next_in = (Bytef *)data;
		zs.avail_in = (uInt)e->csize;
		while (zerr == Z_OK) {
			zs.next_out = chunk;
			zs.avail_out = sizeof(chunk);
			zerr = inflate(&zs, Z_NO_FLUSH);
			out += sizeof(chunk) - zs.avail_out;
			if (out > e->usize)
				break;
			crc = crc32(crc, chunk, (uInt)(sizeof(chunk) - zs.avail_out));
		}
		inflateEnd(&zs);
		if (zerr != Z_STREAM_END || out != e->usize || zs.avail_in != 0)
			return bad_entry(a, e, "its deflated data does not inflate to "
					 "exactly its declared size");
	}
	if ((uint32_t)crc != e->crc) {
		snprintf(msg, sizeof(msg), "CRC-32 0x%08x of its data differs from "
			 "the stored 0x%08x", (unsigned)crc, (unsigned)e->crc);
		return bad_entry(a, e, msg);
	}
	return 0;
}

static int by_start(const void *x, const void *y)
{
	const entry *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start;
}

static int by_name(const void *x, const void *y)
{
	const entry *a = x, *b = y;
	int c = memcmp(a->fname, b->fname,
		       a->fname_len < b->fname_len ? a->fname_len : b->fname_len);
	return c ? c : (int)a->fname_len - (int)b->fname_len;
}

int mt_zip_check(const void *buf, size_t len, const char *name,
		 mt_zip_methods methods)
{
	archive a = { buf, len, name ? name : "<archive>" };
	uint64_t cd_off = 0, cd_size = 0, count = 0, cd_end = 0, pos, i, inflated = 0;
	entry *entries = NULL;
	int error = 0;

	if (!buf && len)
		return bad(&a, "no data");
	if ((error = read_end(&a, &cd_off, &cd_size, &count, &cd_end)) < 0)
		return error;
	/* The central directory ends exactly where the end records begin. */
	if (!fits(cd_off, cd_size, cd_end) || cd_off + cd_size != cd_end)
		return bad(&a, "the central directory's offset and size do not lead "
			   "to the end record");
	if (count == 0)
		return bad(&a, "the archive has no members");
	if (count > MT_ZIP_MAX_ENTRIES || count > cd_size / CENTRAL_SIZE)
		return bad(&a, "the end record declares more entries than the "
			   "central directory can hold");
	if (!(entries = calloc((size_t)count, sizeof(*entries))))
		return mt_error_oom();
	pos = cd_off;
	for (i = 0; i < count; i++)
		if ((error = read_central(&a, &entries[i], &pos, cd_end, methods)) < 0 ||
		    (error = check_local(&a, &entries[i], cd_off)) < 0)
			goto cleanup;
	if (pos != cd_end) {
		error = bad(&a, "the central directory holds more than the entries "
			    "the end record declares");
		goto cleanup;
	}
	qsort(entries, (size_t)count, sizeof(*entries), by_start);
	for (i = 0; i + 1 < count; i++)
		if (entries[i].end > entries[i + 1].start) {
			error = bad_entry(&a, &entries[i + 1], "overlaps another member");
			goto cleanup;
		}
	for (i = 0; i < count; i++)
		if ((error = check_data(&a, &entries[i], &inflated)) < 0)
			goto cleanup;
	qsort(entries, (size_t)count, sizeof(*entries), by_name);
	for (i = 0; i + 1 < count; i++)
		if (!by_name(&entries[i], &entries[i + 1])) {
			error = bad_entry(&a, &entries[i], "appears twice");
			goto cleanup;
		}
cleanup:
	free(entries);
	return error;
}
