/* The kill matrix file: a 40-byte header, then a zlib stream of the
 * payload. Every integer is written byte by byte, little-endian; the
 * layout is documented byte for byte in docs/killmatrix-format.md. */
#include "internal.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HEADER_SIZE 40
static const unsigned char magic[4] = {'M', 'T', 'K', 'M'};

static void put_u16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get_u16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t double_bits(double d)
{
	uint64_t bits;
	memcpy(&bits, &d, sizeof(bits));
	return bits;
}

static double bits_double(uint64_t bits)
{
	double d;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* CRC-32 in pieces: zlib's crc32 takes 32-bit lengths. */
static uint32_t crc_of(const unsigned char *p, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	while (len) {
		size_t piece = len > (1u << 30) ? (1u << 30) : len;
		crc = crc32(crc, p, (uInt)piece);
		p += piece;
		len -= piece;
	}
	return (uint32_t)crc;
}

/* ---- writing --------------------------------------------------------- */

typedef struct {
	unsigned char *data;
	size_t len, cap;
	int failed;
} out_buf;

static unsigned char *reserve(out_buf *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *grown;
		while (b->len + n > cap)
			cap *= 2;
		if (!(grown = realloc(b->data, cap))) {
			b->failed = 1;
			return NULL;
		}
		b->data = grown;
		b->cap = cap;
	}
	b->len += n;
	return b->data + b->len - n;
}

static void w_u8(out_buf *b, uint8_t v)
{
	unsigned char *p = reserve(b, 1);
	if (p)
		*p = v;
}

static void w_u16(out_buf *b, uint16_t v)
{
	unsigned char *p = reserve(b, 2);
	if (p)
		put_u16(p, v);
}

static void w_u32(out_buf *b, uint32_t v)
{
	unsigned char *p = reserve(b, 4);
	if (p)
		put_u32(p, v);
}

static void w_u64(out_buf *b, uint64_t v)
{
	unsigned char *p = reserve(b, 8);
	if (p)
		put_u64(p, v);
}

static void w_str(out_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	unsigned char *p;
	if (n > UINT32_MAX - 1) {
		b->failed = 1;
		return;
	}
	/* length + 1, so that 0 can mean "no string" (NULL) */
	w_u32(b, s ? (uint32_t)n + 1 : 0);
	if (n && (p = reserve(b, n)))
		memcpy(p, s, n);
}

static int build_payload(out_buf *b, const mt_killmatrix *km)
{
	size_t bitset_bytes = (km->n_inputs + 7) / 8;

	w_u32(b, (uint32_t)km->n_inputs);
	w_u32(b, (uint32_t)km->num_classes);
	w_u32(b, (uint32_t)km->n_mutants);
	w_u32(b, (uint32_t)km->n_meta);
	w_u64(b, double_bits(km->accuracy_filter));
	for (size_t t = 0; t < km->n_inputs; t++)
		w_u16(b, km->classes[t]);
	for (size_t t = 0; t < km->n_inputs; t++)
		w_u16(b, km->original[t]);
	for (size_t i = 0; i < km->n_meta; i++) {
		w_str(b, km->meta_keys[i]);
		w_str(b, km->meta_values[i]);
	}
	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		w_str(b, mu->id);
		w_str(b, mu->operator_name);
		w_str(b, mu->layer);
		w_str(b, mu->params);
		w_str(b, mu->status_reason);
		w_u64(b, mu->rec.seed);
		w_u8(b, (uint8_t)mu->rec.status);
		w_u8(b, mu->predictions ? 1 : 0);
		w_u16(b, 0);
		w_u64(b, double_bits(mu->rec.accuracy));
		w_u64(b, double_bits(mu->rec.seconds));
		if (!mu->predictions)
			continue;
		unsigned char *p = reserve(b, bitset_bytes);
		if (p) {
			memset(p, 0, bitset_bytes);
			for (size_t t = 0; t < km->n_inputs; t++)
				if (km_bit(mu->kills, t))
					p[t >> 3] |= (unsigned char)(1u << (t & 7));
		}
		for (size_t t = 0; t < km->n_inputs; t++)
			w_u16(b, mu->predictions[t]);
	}
	return b->failed ? mt_error_set(MT_ENOMEM, "kill matrix: out of memory "
					"serializing") : 0;
}

int mt_killmatrix_serialize(void **buf, size_t *len, const mt_killmatrix *km)
{
	out_buf payload = {0};
	unsigned char *file = NULL;
	uLongf zlen;
	int error;

	*buf = NULL;
	*len = 0;
	if ((error = build_payload(&payload, km)) < 0)
		goto cleanup;
	zlen = compressBound((uLong)payload.len);
	if (!(file = malloc(HEADER_SIZE + zlen))) {
		error = mt_error_set(MT_ENOMEM, "kill matrix: out of memory "
				     "compressing %zu bytes", payload.len);
		goto cleanup;
	}
	/* level 1: a 10000 x 1000 matrix saves 4.5x faster than at level 6
	 * for a file 25% larger */
	if (compress2(file + HEADER_SIZE, &zlen, payload.data ? payload.data :
		      (const Bytef *)"", (uLong)payload.len, 1) != Z_OK) {
		error = mt_error_set(MT_ERROR, "kill matrix: zlib compression failed");
		goto cleanup;
	}
	memcpy(file, magic, 4);
	put_u32(file + 4, MT_KILLMATRIX_FORMAT_VERSION);
	put_u32(file + 8, 0);
	put_u64(file + 12, payload.len);
	put_u64(file + 20, zlen);
	put_u32(file + 28, crc_of(payload.data, payload.len));
	put_u32(file + 32, crc_of(file + HEADER_SIZE, zlen));
	put_u32(file + 36, crc_of(file, 36));
	*buf = file;
	*len = HEADER_SIZE + zlen;
	file = NULL;
cleanup:
	free(payload.data);
	free(file);
	return error;
}

int mt_killmatrix_save(const mt_killmatrix *km, const char *path)
{
	void *buf;
	size_t len;
	int error;
	if ((error = mt_killmatrix_serialize(&buf, &len, km)) < 0)
		return mt_error_prefix("%s: ", path);
	error = mt_io_write_file_atomic(path, buf, len);
	free(buf);
	return error;
}

/* ---- reading --------------------------------------------------------- */

typedef struct {
	const unsigned char *data;
	size_t len, pos;
	const char *name;
} in_buf;

static int need(in_buf *b, size_t n, const char *what)
{
	if (b->len - b->pos < n)
		return mt_error_set(MT_EINVALID, "%s: payload truncated reading %s "
				    "at payload offset %zu, expected %zu more bytes",
				    b->name, what, b->pos, n);
	return 0;
}

static int r_u8(uint8_t *v, in_buf *b, const char *what)
{
	int error = need(b, 1, what);
	if (!error)
		*v = b->data[b->pos++];
	return error;
}

static int r_u16(uint16_t *v, in_buf *b, const char *what)
{
	int error = need(b, 2, what);
	if (!error) {
		*v = get_u16(b->data + b->pos);
		b->pos += 2;
	}
	return error;
}

static int r_u32(uint32_t *v, in_buf *b, const char *what)
{
	int error = need(b, 4, what);
	if (!error) {
		*v = get_u32(b->data + b->pos);
		b->pos += 4;
	}
	return error;
}

static int r_u64(uint64_t *v, in_buf *b, const char *what)
{
	int error = need(b, 8, what);
	if (!error) {
		*v = get_u64(b->data + b->pos);
		b->pos += 8;
	}
	return error;
}

/* A malloc'd string, or NULL for "no string" (stored length 0). */
static int r_str(char **out, in_buf *b, const char *what)
{
	uint32_t stored = 0;
	int error;
	*out = NULL;
	if ((error = r_u32(&stored, b, what)) < 0)
		return error;
	if (stored == 0)
		return 0;
	if ((error = need(b, stored - 1, what)) < 0)
		return error;
	if (memchr(b->data + b->pos, '\0', stored - 1))
		return mt_error_set(MT_EINVALID, "%s: %s at payload offset %zu holds "
				    "a NUL byte, expected text", b->name, what,
				    b->pos);
	if (!(*out = malloc(stored)))
		return mt_error_set(MT_ENOMEM, "%s: out of memory", b->name);
	memcpy(*out, b->data + b->pos, stored - 1);
	(*out)[stored - 1] = '\0';
	b->pos += stored - 1;
	return 0;
}

static int inflate_payload(unsigned char **out, const unsigned char *z,
			   size_t zlen, size_t plen, const char *name)
{
	z_stream zs;
	unsigned char *p;
	int zerr;

	*out = NULL;
	if (!(p = malloc(plen ? plen : 1)))
		return mt_error_set(MT_ENOMEM, "%s: out of memory (payload of %zu "
				    "bytes)", name, plen);
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK) {
		free(p);
		return mt_error_set(MT_ENOMEM, "%s: zlib init failed", name);
	}
	zs.next_in = (Bytef *)z;
	zs.next_out = p;
	/* feed in pieces: avail_in and avail_out are 32-bit */
	size_t in_left = zlen, out_left = plen;
	do {
		if (zs.avail_in == 0 && in_left) {
			zs.avail_in = (uInt)(in_left > (1u << 30) ? (1u << 30) : in_left);
			in_left -= zs.avail_in;
		}
		if (zs.avail_out == 0 && out_left) {
			zs.avail_out = (uInt)(out_left > (1u << 30) ? (1u << 30) : out_left);
			out_left -= zs.avail_out;
		}
		zerr = inflate(&zs, Z_NO_FLUSH);
	} while (zerr == Z_OK && (zs.avail_in || in_left) &&
		 (zs.avail_out || out_left));
	if (zerr == Z_OK && !zs.avail_in && !in_left && (zs.avail_out || out_left))
		zerr = Z_BUF_ERROR;
	size_t produced = (size_t)zs.total_out;
	size_t consumed = (size_t)zs.total_in;
	const char *zmsg = zs.msg ? zs.msg : "data error";
	inflateEnd(&zs);
	if (zerr != Z_STREAM_END) {
		free(p);
		if (zerr == Z_OK || zerr == Z_BUF_ERROR)
			return mt_error_set(MT_EINVALID, "%s: compressed payload does "
					    "not inflate to the %zu bytes the header "
					    "states (stream %s after %zu bytes)", name,
					    plen, produced < plen ? "ended early" :
					    "is longer", produced);
		return mt_error_set(MT_EINVALID, "%s: compressed payload is corrupt "
				    "(zlib: %s)", name, zmsg);
	}
	if (produced != plen || consumed != zlen) {
		free(p);
		return mt_error_set(MT_EINVALID, "%s: compressed payload inflates to "
				    "%zu bytes from %zu, expected %zu from %zu", name,
				    produced, consumed, plen, zlen);
	}
	*out = p;
	return 0;
}

static int parse_payload(mt_killmatrix **out, in_buf *b)
{
	mt_killmatrix *km = NULL;
	uint32_t n_inputs, num_classes, n_mutants, n_meta;
	uint64_t bits;
	int64_t *classes = NULL, *original = NULL, *preds = NULL;
	char *key = NULL, *value = NULL;
	char *strs[5] = {0};
	int error;

	*out = NULL;
	if ((error = r_u32(&n_inputs, b, "input count")) < 0 ||
	    (error = r_u32(&num_classes, b, "class count")) < 0 ||
	    (error = r_u32(&n_mutants, b, "mutant count")) < 0 ||
	    (error = r_u32(&n_meta, b, "metadata count")) < 0 ||
	    (error = r_u64(&bits, b, "accuracy filter")) < 0)
		goto cleanup;
	if (num_classes < 1 || num_classes > 65535) {
		error = mt_error_set(MT_EINVALID, "%s: class count is %u, expected 1 "
				     "to 65535", b->name, num_classes);
		goto cleanup;
	}
	/* Every count is checked against the bytes left before allocating,
	 * so a corrupt count cannot ask for gigabytes. */
	if ((uint64_t)n_inputs * 4 > b->len - b->pos) {
		error = mt_error_set(MT_EINVALID, "%s: %u inputs need %llu bytes of "
				     "classes and predictions, the payload has %zu "
				     "left", b->name, n_inputs,
				     (unsigned long long)n_inputs * 4, b->len - b->pos);
		goto cleanup;
	}
	classes = malloc(((size_t)n_inputs + 1) * sizeof(int64_t));
	original = malloc(((size_t)n_inputs + 1) * sizeof(int64_t));
	preds = malloc(((size_t)n_inputs + 1) * sizeof(int64_t));
	if (!classes || !original || !preds) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory", b->name);
		goto cleanup;
	}
	for (uint32_t t = 0; t < n_inputs; t++) {
		uint16_t v;
		r_u16(&v, b, "classes");
		classes[t] = v;
	}
	for (uint32_t t = 0; t < n_inputs; t++) {
		uint16_t v;
		r_u16(&v, b, "original predictions");
		original[t] = v;
	}
	if ((error = mt_killmatrix_new(&km, n_inputs, (int)num_classes, classes,
				       original)) < 0) {
		mt_error_prefix("%s: ", b->name);
		goto cleanup;
	}
	if ((error = mt_killmatrix_set_accuracy_filter(km, bits_double(bits))) < 0) {
		mt_error_prefix("%s: ", b->name);
		goto cleanup;
	}
	for (uint32_t i = 0; i < n_meta; i++) {
		if ((error = r_str(&key, b, "metadata key")) < 0 ||
		    (error = r_str(&value, b, "metadata value")) < 0)
			goto cleanup;
		if (!key || !value || mt_killmatrix_meta(km, key)) {
			error = mt_error_set(MT_EINVALID, "%s: metadata entry %u is "
					     "missing, empty or repeated ('%s'), "
					     "expected distinct keys", b->name, i,
					     key ? key : "");
			goto cleanup;
		}
		if ((error = mt_killmatrix_set_meta(km, key, value)) < 0) {
			mt_error_prefix("%s: ", b->name);
			goto cleanup;
		}
		free(key);
		free(value);
		key = value = NULL;
	}

	size_t bitset_bytes = ((size_t)n_inputs + 7) / 8;
	for (uint32_t m = 0; m < n_mutants; m++) {
		uint64_t seed = 0, acc_bits = 0, sec_bits = 0;
		uint8_t status = 0, has_pred = 0;
		uint16_t reserved = 0;
		const unsigned char *stored_bits = NULL;
		mt_mutant_record rec;

		static const char *const what[5] = {"mutant id", "mutant operator",
			"mutant layer", "mutant parameters", "mutant status reason"};
		for (int i = 0; i < 5; i++)
			if ((error = r_str(&strs[i], b, what[i])) < 0)
				goto cleanup;
		if ((error = r_u64(&seed, b, "mutant seed")) < 0 ||
		    (error = r_u8(&status, b, "mutant status")) < 0 ||
		    (error = r_u8(&has_pred, b, "mutant flags")) < 0 ||
		    (error = r_u16(&reserved, b, "mutant reserved bytes")) < 0 ||
		    (error = r_u64(&acc_bits, b, "mutant accuracy")) < 0 ||
		    (error = r_u64(&sec_bits, b, "mutant seconds")) < 0)
			goto cleanup;
		if (has_pred > 1 || reserved != 0 || status >= MT_MUTANT_STATUS_COUNT) {
			error = mt_error_set(MT_EINVALID, "%s: mutant %u ('%s') has "
					     "status %u, flags %u, reserved %u, expected "
					     "status < %d, flags 0 or 1, reserved 0",
					     b->name, m, strs[0] ? strs[0] : "",
					     status, has_pred, reserved,
					     MT_MUTANT_STATUS_COUNT);
			goto cleanup;
		}
		if (has_pred) {
			if ((error = need(b, bitset_bytes + (size_t)n_inputs * 2,
					  "mutant kills and predictions")) < 0)
				goto cleanup;
			stored_bits = b->data + b->pos;
			b->pos += bitset_bytes;
			for (uint32_t t = 0; t < n_inputs; t++) {
				uint16_t v;
				r_u16(&v, b, "mutant predictions");
				preds[t] = v;
			}
		}
		memset(&rec, 0, sizeof(rec));
		rec.id = strs[0];
		rec.operator_name = strs[1];
		rec.layer = strs[2];
		rec.params = strs[3];
		rec.status_reason = strs[4];
		rec.seed = seed;
		rec.status = (mt_mutant_status)status;
		rec.accuracy = bits_double(acc_bits);
		rec.seconds = bits_double(sec_bits);
		if ((error = mt_killmatrix_add_mutant(km, &rec, has_pred ? preds :
						      NULL)) < 0) {
			mt_error_prefix("%s: mutant %u: ", b->name, m);
			goto cleanup;
		}
		/* The stored status, accuracy and kill bits are redundant with
		 * the predictions: they must agree. */
		const mt_km_mutant *mu = km->mutants[km->n_mutants - 1];
		if (has_pred) {
			for (size_t t = 0; t < n_inputs; t++) {
				if (((stored_bits[t >> 3] >> (t & 7)) & 1) !=
				    km_bit(mu->kills, t)) {
					error = mt_error_set(MT_EINVALID, "%s: mutant %s: "
							     "kill bit of input %zu "
							     "disagrees with its "
							     "predictions", b->name,
							     mu->id, t);
					goto cleanup;
				}
			}
			for (size_t t = n_inputs; t < bitset_bytes * 8; t++) {
				if ((stored_bits[t >> 3] >> (t & 7)) & 1) {
					error = mt_error_set(MT_EINVALID, "%s: mutant %s: "
							     "padding bits of the kill "
							     "bitset are set, expected 0",
							     b->name, mu->id);
					goto cleanup;
				}
			}
			if (mu->rec.status != rec.status ||
			    double_bits(mu->rec.accuracy) != acc_bits) {
				error = mt_error_set(MT_EINVALID, "%s: mutant %s: stored "
						     "status %s and accuracy %.17g "
						     "disagree with its predictions "
						     "(%s, %.17g)", b->name, mu->id,
						     mt_mutant_status_name(rec.status),
						     rec.accuracy,
						     mt_mutant_status_name(mu->rec.status),
						     mu->rec.accuracy);
				goto cleanup;
			}
		}
		for (int i = 0; i < 5; i++) {
			free(strs[i]);
			strs[i] = NULL;
		}
	}
	if (b->pos != b->len) {
		error = mt_error_set(MT_EINVALID, "%s: %zu bytes left after the last "
				     "of %u mutants, expected none", b->name,
				     b->len - b->pos, n_mutants);
		goto cleanup;
	}
	*out = km;
	km = NULL;
cleanup:
	for (int i = 0; i < 5; i++)
		free(strs[i]);
	free(key);
	free(value);
	free(classes);
	free(original);
	free(preds);
	mt_killmatrix_free(km);
	return error;
}

int mt_killmatrix_deserialize(mt_killmatrix **out, const void *buf, size_t len,
			      const char *name)
{
	const unsigned char *p = buf;
	unsigned char *payload = NULL;
	uint32_t version, flags, crc, header_crc;
	uint64_t plen, zlen;
	int error;

	*out = NULL;
	if (!name)
		name = "kill matrix";
	if (len < 4 || memcmp(p, magic, 4) != 0)
		return mt_error_set(MT_EINVALID, "%s: not a kill matrix file (magic "
				    "bytes differ), expected \"MTKM\"", name);
	if (len < HEADER_SIZE)
		return mt_error_set(MT_EINVALID, "%s: truncated: %zu bytes, expected "
				    "a %d-byte header", name, len, HEADER_SIZE);
	header_crc = crc_of(p, 36);
	if (header_crc != get_u32(p + 36))
		return mt_error_set(MT_EINVALID, "%s: header checksum mismatch "
				    "(CRC-32 0x%08x, stored 0x%08x): the header is "
				    "corrupt", name, header_crc, get_u32(p + 36));
	version = get_u32(p + 4);
	flags = get_u32(p + 8);
	plen = get_u64(p + 12);
	zlen = get_u64(p + 20);
	crc = get_u32(p + 28);
	if (version != MT_KILLMATRIX_FORMAT_VERSION)
		return mt_error_set(MT_EINVALID, "%s: unsupported format version %u, "
				    "expected %d", name, version,
				    MT_KILLMATRIX_FORMAT_VERSION);
	if (flags != 0)
		return mt_error_set(MT_EINVALID, "%s: header flags are 0x%x, "
				    "expected 0", name, flags);
	if (zlen > len - HEADER_SIZE)
		return mt_error_set(MT_EINVALID, "%s: truncated: %zu bytes of "
				    "compressed payload, the header states %llu",
				    name, len - HEADER_SIZE,
				    (unsigned long long)zlen);
	if (zlen < len - HEADER_SIZE)
		return mt_error_set(MT_EINVALID, "%s: %llu bytes after the compressed "
				    "payload, expected none", name,
				    (unsigned long long)(len - HEADER_SIZE - zlen));
	/* A CRC of the compressed bytes too: some bit flips in a deflate
	 * stream decode to the same payload, and a corrupt file should be
	 * reported even then. */
	if (crc_of(p + HEADER_SIZE, (size_t)zlen) != get_u32(p + 32))
		return mt_error_set(MT_EINVALID, "%s: compressed payload checksum "
				    "mismatch (CRC-32 0x%08x, stored 0x%08x): the "
				    "file is corrupt", name,
				    crc_of(p + HEADER_SIZE, (size_t)zlen),
				    get_u32(p + 32));
	/* zlib's best ratio is about 1032:1; a larger claim is corrupt. */
	if (plen > zlen * 1040 + 64 || plen > SIZE_MAX / 2)
		return mt_error_set(MT_EINVALID, "%s: header states a %llu-byte "
				    "payload from %llu compressed bytes, which zlib "
				    "cannot produce", name, (unsigned long long)plen,
				    (unsigned long long)zlen);
	if ((error = inflate_payload(&payload, p + HEADER_SIZE, (size_t)zlen,
				     (size_t)plen, name)) < 0)
		return error;
	if (crc_of(payload, (size_t)plen) != crc) {
		error = mt_error_set(MT_EINVALID, "%s: payload checksum mismatch "
				     "(CRC-32 0x%08x, stored 0x%08x): the file is "
				     "corrupt", name, crc_of(payload, (size_t)plen),
				     crc);
		goto cleanup;
	}
	{
		in_buf in = {payload, (size_t)plen, 0, name};
		error = parse_payload(out, &in);
	}
cleanup:
	free(payload);
	return error;
}

int mt_killmatrix_load(mt_killmatrix **out, const char *path)
{
	void *buf;
	size_t len;
	int error;
	*out = NULL;
	if ((error = mt_io_read_file(&buf, &len, path)) < 0)
		return error;
	error = mt_killmatrix_deserialize(out, buf, len, path);
	free(buf);
	return error;
}
