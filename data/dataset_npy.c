/* NumPy .npy arrays (format versions 1.0, 2.0 and 3.0): x (n, ...) and
 * y (n,). The header is a Python dict literal with exactly the keys
 * 'descr', 'fortran_order' and 'shape'; it is parsed, not pattern-matched,
 * so key order, quotes, spacing and trailing commas may vary as numpy's own
 * reader allows. Data must be C order and little endian. */
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/io.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAX_DIMS 32

typedef struct {
	char descr[32];
	char byte_order; /* '<', '>', '|' or '=' */
	char kind;       /* 'u', 'i', 'f', ... */
	int item_size;
	int fortran_order;
	int ndim;
	uint64_t shape[NPY_MAX_DIMS];
	uint64_t count; /* product of shape */
	const unsigned char *data;
	size_t data_len;
} npy_array;

typedef struct {
	const char *start, *p, *end;
	const char *name;
} npy_parser;

static int parse_fail(npy_parser *ps, const char *what)
{
	int header_len = (int)(ps->end - ps->start);
	/* Quote the header (without its padding) so the user sees it. */
	while (header_len > 0 && isspace((unsigned char)ps->start[header_len - 1]))
		header_len--;
	return mt_error_set(MT_EINVALID,
			    "%s: bad .npy header: %s at offset %d, expected a dict "
			    "{'descr': ..., 'fortran_order': ..., 'shape': (...)}; "
			    "header is: %.*s",
			    ps->name, what, (int)(ps->p - ps->start),
			    header_len > 300 ? 300 : header_len, ps->start);
}

static void skip_space(npy_parser *ps)
{
	while (ps->p < ps->end && isspace((unsigned char)*ps->p))
		ps->p++;
}

static int expect_char(npy_parser *ps, char c)
{
	char what[32];
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return 0;
	}
	snprintf(what, sizeof(what), "missing '%c'", c);
	return parse_fail(ps, what);
}

/* A Python string literal in single or double quotes, no escapes (numpy
 * never writes any in these fields). */
static int parse_string(npy_parser *ps, char *out, size_t out_size)
{
	char quote;
	size_t n = 0;

	skip_space(ps);
	if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
		return parse_fail(ps, "missing string");
	quote = *ps->p++;
	while (ps->p < ps->end && *ps->p != quote) {
		if (*ps->p == '\\' || n + 1 >= out_size)
			return parse_fail(ps, "unsupported or too long string");
		out[n++] = *ps->p++;
	}
	if (ps->p >= ps->end)
		return parse_fail(ps, "unterminated string");
	ps->p++;
	out[n] = '\0';
	return 0;
}

static int parse_bool(npy_parser *ps, int *out)
{
	skip_space(ps);
	if (ps->end - ps->p >= 4 && !strncmp(ps->p, "True", 4)) {
		ps->p += 4;
		*out = 1;
	} else if (ps->end - ps->p >= 5 && !strncmp(ps->p, "False", 5)) {
		ps->p += 5;
		*out = 0;
	} else {
		return parse_fail(ps, "fortran_order is not True or False");
	}
	return 0;
}

/* A tuple of non-negative integers: (), (5,), (5, 3), (5L, 3L). */
static int parse_shape(npy_parser *ps, npy_array *a)
{
	if (expect_char(ps, '(') < 0)
		return MT_EINVALID;
	a->ndim = 0;
	for (;;) {
		uint64_t v = 0;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ')') {
			ps->p++;
			break;
		}
		if (ps->p >= ps->end || !isdigit((unsigned char)*ps->p))
			return parse_fail(ps, "shape entry is not a non-negative integer");
		while (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
			if (v > (UINT64_MAX - 9) / 10)
				return parse_fail(ps, "shape entry overflows");
			v = v * 10 + (uint64_t)(*ps->p++ - '0');
		}
		if (ps->p < ps->end && *ps->p == 'L') /* written by Python 2 */
			ps->p++;
		if (a->ndim == NPY_MAX_DIMS)
			return parse_fail(ps, "too many dimensions");
		a->shape[a->ndim++] = v;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (expect_char(ps, ')') < 0)
			return MT_EINVALID;
		break;
	}
	return 0;
}

static int parse_header_dict(npy_parser *ps, npy_array *a)
{
	int have_descr = 0, have_fortran = 0, have_shape = 0;
	char key[32];

	if (expect_char(ps, '{') < 0)
		return MT_EINVALID;
	for (;;) {
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			break;
		}
		if (parse_string(ps, key, sizeof(key)) < 0 || expect_char(ps, ':') < 0)
			return MT_EINVALID;
		if (!strcmp(key, "descr") && !have_descr) {
			skip_space(ps);
			if (ps->p < ps->end && *ps->p == '[')
				return parse_fail(ps, "structured dtypes are not "
						  "supported");
			if (parse_string(ps, a->descr, sizeof(a->descr)) < 0)
				return MT_EINVALID;
			have_descr = 1;
		} else if (!strcmp(key, "fortran_order") && !have_fortran) {
			if (parse_bool(ps, &a->fortran_order) < 0)
				return MT_EINVALID;
			have_fortran = 1;
		} else if (!strcmp(key, "shape") && !have_shape) {
			if (parse_shape(ps, a) < 0)
				return MT_EINVALID;
			have_shape = 1;
		} else {
			char what[80];
			snprintf(what, sizeof(what), "key '%s' is unknown or repeated",
				 key);
			return parse_fail(ps, what);
		}
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (expect_char(ps, '}') < 0)
			return MT_EINVALID;
		break;
	}
	skip_space(ps);
	if (ps->p != ps->end)
		return parse_fail(ps, "text after the dict");
	if (!have_descr)
		return parse_fail(ps, "key 'descr' is missing");
	if (!have_fortran)
		return parse_fail(ps, "key 'fortran_order' is missing");
	if (!have_shape)
		return parse_fail(ps, "key 'shape' is missing");
	return 0;
}

static uint32_t read_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static uint64_t read_le64(const unsigned char *p)
{
	return (uint64_t)read_le32(p) | ((uint64_t)read_le32(p + 4) << 32);
}

/* Parse magic, version, header dict and dtype (buf may hold only the
 * preamble and header); *data_offset is where the data starts. */
static int parse_npy_header(npy_array *a, size_t *data_offset_out,
			    const unsigned char *buf, size_t len, const char *name)
{
	size_t header_len, data_offset;
	npy_parser ps;
	const char *d;
	char *endp;
	long size;
	int i;

	memset(a, 0, sizeof(*a));
	if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
		return mt_error_set(MT_EINVALID, "%s: not a .npy file: %s, expected "
				    "the magic \\x93NUMPY", name,
				    len < 10 ? "too short" : "wrong magic");
	if (buf[6] == 1) {
		header_len = (size_t)buf[8] | ((size_t)buf[9] << 8);
		data_offset = 10;
	} else if (buf[6] == 2 || buf[6] == 3) {
		if (len < 12)
			return mt_error_set(MT_EINVALID, "%s: truncated .npy header "
					    "(%zu bytes)", name, len);
		header_len = read_le32(buf + 8);
		data_offset = 12;
	} else {
		return mt_error_set(MT_EINVALID, "%s: .npy format version %u.%u is "
				    "not supported, expected 1.0, 2.0 or 3.0",
				    name, buf[6], buf[7]);
	}
	if (header_len > len - data_offset)
		return mt_error_set(MT_EINVALID, "%s: truncated .npy header: it "
				    "declares %zu bytes but the file has %zu after "
				    "the preamble", name, header_len, len - data_offset);
	ps.start = ps.p = (const char *)buf + data_offset;
	ps.end = ps.start + header_len;
	ps.name = name;
	if (parse_header_dict(&ps, a) < 0)
		return MT_EINVALID;
	data_offset += header_len;

	if (a->fortran_order)
		return mt_error_set(MT_EINVALID, "%s: fortran_order is True, expected "
				    "C order (save np.ascontiguousarray(a))", name);
	d = a->descr;
	if (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')
		a->byte_order = *d++;
	else
		a->byte_order = '=';
	a->kind = *d ? *d++ : '\0';
	size = strtol(d, &endp, 10);
	if (!a->kind || endp == d || *endp || size < 1 || size > 16)
		return mt_error_set(MT_EINVALID, "%s: dtype '%s' is not a plain "
				    "numeric type", name, a->descr);
	a->item_size = (int)size;
	/* '=' is native; mutorch runs on little-endian machines. */
	if (a->byte_order == '>' && a->item_size > 1)
		return mt_error_set(MT_EINVALID, "%s: dtype '%s' is big-endian, "
				    "expected little endian ('<')", name, a->descr);

	a->count = 1;
	for (i = 0; i < a->ndim; i++) {
		if (a->shape[i] != 0 && a->count > UINT64_MAX / a->shape[i])
			return mt_error_set(MT_EINVALID, "%s: shape overflows", name);
		a->count *= a->shape[i];
	}
	if (a->count > UINT64_MAX / (uint64_t)a->item_size)
		return mt_error_set(MT_EINVALID, "%s: shape overflows", name);
	*data_offset_out = data_offset;
	return 0;
}

/* parse_npy_header, and the payload size checked against the shape. */
static int parse_npy(npy_array *a, const unsigned char *buf, size_t len,
		     const char *name)
{
	size_t data_offset;
	int i, error;

	if ((error = parse_npy_header(a, &data_offset, buf, len, name)) < 0)
		return error;
	a->data = buf + data_offset;
	a->data_len = len - data_offset;
	{
		uint64_t expected = a->count * (uint64_t)a->item_size;
		char shape_text[256];
		size_t used = 0;
		shape_text[0] = '\0';
		for (i = 0; i < a->ndim && used < sizeof(shape_text) - 24; i++)
			used += (size_t)snprintf(shape_text + used,
						 sizeof(shape_text) - used, "%s%llu",
						 i ? ", " : "",
						 (unsigned long long)a->shape[i]);
		if (a->data_len < expected)
			return mt_error_set(MT_EINVALID,
					    "%s: truncated: header says shape (%s) of "
					    "'%s' (%llu bytes) but the file has %zu bytes "
					    "of data",
					    name, shape_text, a->descr,
					    (unsigned long long)expected, a->data_len);
		if (a->data_len > expected)
			return mt_error_set(MT_EINVALID,
					    "%s: %llu trailing bytes: header says shape "
					    "(%s) of '%s' (%llu bytes) but the file has "
					    "%zu bytes of data",
					    name,
					    (unsigned long long)(a->data_len - expected),
					    shape_text, a->descr,
					    (unsigned long long)expected, a->data_len);
	}
	return 0;
}

/* x as dataset pixels: uint8 points into the file, floats are converted
 * into *owned. */
static int npy_pixels(const npy_array *x, const char *name, mt_pixel_type *type,
		      const void **pixels, void **owned)
{
	size_t i, n = (size_t)x->count;

	*owned = NULL;
	if (x->kind == 'u' && x->item_size == 1) {
		*type = MT_PIXELS_U8;
		*pixels = x->data;
		return 0;
	}
	if (x->kind == 'f' && (x->item_size == 4 || x->item_size == 8)) {
		float *out = malloc(n * sizeof(float) + 1);
		if (!out)
			return mt_error_set(MT_ENOMEM, "%s: out of memory", name);
		for (i = 0; i < n; i++) {
			if (x->item_size == 4) {
				uint32_t bits = read_le32(x->data + 4 * i);
				memcpy(&out[i], &bits, sizeof(float));
			} else {
				uint64_t bits = read_le64(x->data + 8 * i);
				double v;
				memcpy(&v, &bits, sizeof(double));
				out[i] = (float)v;
			}
		}
		*type = MT_PIXELS_F32;
		*pixels = out;
		*owned = out;
		return 0;
	}
	return mt_error_set(MT_EINVALID, "%s: dtype '%s' is not supported for x, "
			    "expected '|u1', '<f4' or '<f8'", name, x->descr);
}

static int npy_labels(const npy_array *y, const char *name, int num_classes,
		      int64_t *labels)
{
	size_t i, n = (size_t)y->count;
	int size = y->item_size;

	if ((y->kind != 'i' && y->kind != 'u') ||
	    (size != 1 && size != 2 && size != 4 && size != 8))
		return mt_error_set(MT_EINVALID, "%s: dtype '%s' is not supported for "
				    "y, expected an integer type ('|u1', '<i4', "
				    "'<i8', ...)", name, y->descr);
	for (i = 0; i < n; i++) {
		const unsigned char *p = y->data + (size_t)size * i;
		uint64_t bits = size == 1 ? p[0]
			      : size == 2 ? (uint64_t)(p[0] | (p[1] << 8))
			      : size == 4 ? read_le32(p)
					  : read_le64(p);
		int64_t v;
		if (y->kind == 'u') {
			if (bits > (uint64_t)INT64_MAX)
				return mt_error_set(MT_EINVALID, "%s: label %llu at index "
						    "%zu is too large", name,
						    (unsigned long long)bits, i);
			v = (int64_t)bits;
		} else {
			/* sign-extend */
			int shift = 64 - 8 * size;
			v = (int64_t)(bits << shift) >> shift;
		}
		if (v < 0)
			return mt_error_set(MT_EINVALID, "%s: label %lld at index %zu is "
					    "negative", name, (long long)v, i);
		if (num_classes > 0 && v >= num_classes)
			return mt_error_set(MT_EINVALID, "%s: label %lld at index %zu is "
					    "outside the %d classes", name,
					    (long long)v, i, num_classes);
		labels[i] = v;
	}
	return 0;
}

static int load_npy_plain(mt_dataset **out, const unsigned char *xbuf,
			  size_t x_len, const char *x_name,
			  const unsigned char *ybuf, size_t y_len,
			  const char *y_name, int num_classes)
{
	npy_array x, y;
	mt_pixel_type type = MT_PIXELS_U8;
	const void *pixels = NULL;
	void *owned = NULL;
	int64_t *labels = NULL, shape[3];
	int i, error;

	if (num_classes < 0)
		return mt_error_set(MT_EINVALID, "%s: negative number of classes %d, "
				    "expected 0 (infer) or more", y_name, num_classes);
	if ((error = parse_npy(&x, xbuf, x_len, x_name)) < 0 ||
	    (error = parse_npy(&y, ybuf, y_len, y_name)) < 0)
		return error;
	if (x.ndim < 2 || x.ndim > 4)
		return mt_error_set(MT_EINVALID, "%s: x has %d dimensions, expected "
				    "2 (n, d), 3 (n, h, w) or 4 (n, c, h, w)",
				    x_name, x.ndim);
	for (i = 1; i < x.ndim; i++)
		if (x.shape[i] == 0 || x.shape[i] > INT32_MAX)
			return mt_error_set(MT_EINVALID, "%s: dimension %d of x is %llu, "
					    "expected 1..%d", x_name, i,
					    (unsigned long long)x.shape[i], INT32_MAX);
	if (x.shape[0] == 0)
		return mt_error_set(MT_EINVALID, "%s: x holds no samples, expected "
				    "at least one", x_name);
	if (y.ndim != 1)
		return mt_error_set(MT_EINVALID, "%s: y has %d dimensions, expected "
				    "1 (n,)", y_name, y.ndim);
	if (y.shape[0] != x.shape[0])
		return mt_error_set(MT_EINVALID, "%s: %llu labels, but %s has %llu "
				    "samples; expected one label per sample", y_name,
				    (unsigned long long)y.shape[0], x_name,
				    (unsigned long long)x.shape[0]);
	if ((error = npy_pixels(&x, x_name, &type, &pixels, &owned)) < 0)
		return error;
	if (!(labels = malloc((size_t)y.count * sizeof(int64_t)))) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory", y_name);
		goto cleanup;
	}
	if ((error = npy_labels(&y, y_name, num_classes, labels)) < 0)
		goto cleanup;
	shape[0] = x.ndim == 4 ? (int64_t)x.shape[1] : 1;
	shape[1] = x.ndim == 2 ? 1 : (int64_t)x.shape[x.ndim - 2];
	shape[2] = (int64_t)x.shape[x.ndim - 1];
	error = mt_dataset_new(out, x_name, type, pixels, labels,
			       (int64_t)x.shape[0], shape, num_classes);
cleanup:
	free(owned);
	free(labels);
	return error;
}

/* Inflated data may exceed what the header declares by this much (so a few
 * trailing bytes get the parser's exact message); .npy headers longer than
 * NPY_HEADER_PEEK are left to the hard cap. */
#define NPY_INFLATE_SLACK ((uint64_t)1 << 16)
#define NPY_HEADER_PEEK ((size_t)1 << 16)

/* Inflate a .npy file no further than its header declares. */
static int npy_gunzip(void **out, size_t *len, const void *gz, size_t gz_len,
		      const char *name)
{
	unsigned char *head = NULL;
	size_t got = 0, want, data_offset = 0;
	uint64_t limit = MT_IO_INFLATE_MAX;
	const char *why = "the limit on inflated data";
	npy_array a;
	int error;

	if (!(head = malloc(NPY_HEADER_PEEK)))
		return mt_error_oom();
	if ((error = mt_io_gunzip_prefix(head, &got, 12, gz, gz_len, name)) < 0)
		goto cleanup;
	if (got >= 10 && !memcmp(head, "\x93NUMPY", 6)) {
		want = head[6] == 1 ? 10 + ((size_t)head[8] | ((size_t)head[9] << 8))
		       : got == 12 ? 12 + (size_t)read_le32(head + 8) : 0;
		if (want > 0 && want <= NPY_HEADER_PEEK) {
			if ((error = mt_io_gunzip_prefix(head, &got, want, gz, gz_len,
							 name)) < 0)
				goto cleanup;
			/* A bad header gets its own message here; a good one
			 * gives the exact size. */
			if ((error = parse_npy_header(&a, &data_offset, head, got, name)) < 0)
				goto cleanup;
			if (a.count * (uint64_t)a.item_size <= MT_IO_INFLATE_MAX) {
				limit = data_offset + a.count * (uint64_t)a.item_size +
					NPY_INFLATE_SLACK;
				why = "the size its .npy header declares";
			}
		}
	} else if (got >= 10) {
		/* not a .npy file: the parser's message, no more inflating */
		error = parse_npy_header(&a, &data_offset, head, got, name);
		goto cleanup;
	}
	error = mt_io_gunzip_limit(out, len, gz, gz_len,
				   limit > MT_IO_INFLATE_MAX ? MT_IO_INFLATE_MAX : (size_t)limit,
				   why, name);
cleanup:
	free(head);
	return error;
}

int mt_dataset_load_npy_buffer(mt_dataset **out, const void *x, size_t x_len,
			       const char *x_name, const void *y, size_t y_len,
			       const char *y_name, int num_classes)
{
	void *x_raw = NULL, *y_raw = NULL;
	int error = 0;

	if (!out)
		return mt_error_set(MT_EINVALID, "mt_dataset_load_npy_buffer: out is NULL");
	*out = NULL;
	if (!x_name)
		x_name = "x.npy";
	if (!y_name)
		y_name = "y.npy";
	if ((!x && x_len) || (!y && y_len))
		return mt_error_set(MT_EINVALID, "%s: no data given", x ? y_name : x_name);
	if (mt_io_is_gzip(x, x_len)) {
		if ((error = npy_gunzip(&x_raw, &x_len, x, x_len, x_name)) < 0)
			goto cleanup;
		x = x_raw;
	}
	if (mt_io_is_gzip(y, y_len)) {
		if ((error = npy_gunzip(&y_raw, &y_len, y, y_len, y_name)) < 0)
			goto cleanup;
		y = y_raw;
	}
	error = load_npy_plain(out, x, x_len, x_name, y, y_len, y_name, num_classes);
cleanup:
	free(x_raw);
	free(y_raw);
	return error;
}

int mt_dataset_load_npy(mt_dataset **out, const char *x_path,
			const char *y_path, int num_classes)
{
	void *x = NULL, *y = NULL;
	size_t x_len = 0, y_len = 0;
	int error;

	if (!out)
		return mt_error_set(MT_EINVALID, "mt_dataset_load_npy: out is NULL");
	*out = NULL;
	if (!x_path || !y_path)
		return mt_error_set(MT_EINVALID, "npy dataset: %s path not given, "
				    "expected x and y", x_path ? "y" : "x");
	if ((error = mt_io_read_file(&x, &x_len, x_path)) < 0)
		goto cleanup;
	if ((error = mt_io_read_file(&y, &y_len, y_path)) < 0)
		goto cleanup;
	error = mt_dataset_load_npy_buffer(out, x, x_len, x_path, y, y_len, y_path,
					   num_classes);
cleanup:
	free(x);
	free(y);
	return error;
}
