/* IDX files (MNIST, Fashion-MNIST): images idx3 + labels idx1, gzip or
 * plain. The header is checked against the payload size exactly, so a
 * truncated download and a file with trailing bytes both fail. */
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDX_TYPE_UBYTE 0x08
#define IDX_TYPE_FLOAT 0x0D

static uint32_t read_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Inflated data may exceed what the header declares by this much before
 * inflating stops, so that a few trailing bytes get the parser's exact
 * message while a gzip bomb behind a small header stays small. */
#define IDX_INFLATE_SLACK ((uint64_t)1 << 16)

/* The payload must hold exactly `expected` bytes; what names the contents
 * ("60000 images of 28x28"). */
static int check_payload(const char *name, const char *what, uint64_t expected,
			 size_t have)
{
	if (have < expected)
		return mt_error_set(MT_EINVALID,
				    "%s: truncated: header says %s (%llu bytes) but "
				    "the file has %zu bytes of data",
				    name, what, (unsigned long long)expected, have);
	if (have > expected)
		return mt_error_set(MT_EINVALID,
				    "%s: %llu trailing bytes: header says %s (%llu "
				    "bytes) but the file has %zu bytes of data",
				    name, (unsigned long long)(have - expected), what,
				    (unsigned long long)expected, have);
	return 0;
}

/* Parse an idx3 images file; *pixels points into buf (uint8) or is a
 * malloc'd float array converted from big-endian float32. */
static int parse_images(const unsigned char *buf, size_t len, const char *name,
			uint32_t *count, uint32_t *rows, uint32_t *cols,
			mt_pixel_type *type, const void **pixels, float **owned)
{
	uint32_t magic;
	uint64_t sample, expected;
	size_t elem;
	char what[128];

	*owned = NULL;
	if (len < 4)
		return mt_error_set(MT_EINVALID,
				    "%s: truncated: %zu bytes, an IDX images header "
				    "needs 16 bytes",
				    name, len);
	magic = read_be32(buf);
	if (magic != 0x00000803 && magic != 0x00000D03)
		return mt_error_set(MT_EINVALID,
				    "%s: wrong magic 0x%08X, expected 0x00000803 (IDX "
				    "ubyte images, 3 dimensions) or 0x00000D03 (IDX "
				    "float32 images, 3 dimensions)",
				    name, (unsigned)magic);
	if (len < 16)
		return mt_error_set(MT_EINVALID,
				    "%s: truncated: %zu bytes, an IDX images header "
				    "needs 16 bytes",
				    name, len);
	*count = read_be32(buf + 4);
	*rows = read_be32(buf + 8);
	*cols = read_be32(buf + 12);
	if (*count == 0)
		return mt_error_set(MT_EINVALID, "%s: header says 0 images, expected "
				    "at least one", name);
	if (*rows == 0 || *cols == 0)
		return mt_error_set(MT_EINVALID, "%s: image size %ux%u has a zero "
				    "dimension", name, *rows, *cols);
	*type = buf[2] == IDX_TYPE_FLOAT ? MT_PIXELS_F32 : MT_PIXELS_U8;
	elem = *type == MT_PIXELS_F32 ? 4 : 1;
	/* rows * cols < 2^64; the product with count may not be. */
	sample = (uint64_t)*rows * *cols * elem;
	snprintf(what, sizeof(what), "%u %simages of %ux%u", *count,
		 *type == MT_PIXELS_F32 ? "float32 " : "", *rows, *cols);
	if (sample > UINT64_MAX / *count)
		return mt_error_set(MT_EINVALID, "%s: header says %s, which "
				    "overflows 64 bits", name, what);
	expected = sample * *count;
	if (check_payload(name, what, expected, len - 16) < 0)
		return MT_EINVALID;
	if (*type == MT_PIXELS_U8) {
		*pixels = buf + 16;
		return 0;
	}
	{
		size_t i, total = (size_t)(expected / 4);
		float *out = malloc(total * sizeof(float) + 1);
		if (!out)
			return mt_error_set(MT_ENOMEM, "%s: out of memory", name);
		for (i = 0; i < total; i++) {
			uint32_t bits = read_be32(buf + 16 + 4 * i);
			memcpy(&out[i], &bits, sizeof(float));
		}
		*owned = out;
		*pixels = out;
	}
	return 0;
}

static int parse_labels(const unsigned char *buf, size_t len, const char *name,
			uint32_t *count)
{
	uint32_t magic;
	char what[64];

	if (len < 4)
		return mt_error_set(MT_EINVALID,
				    "%s: truncated: %zu bytes, an IDX labels header "
				    "needs 8 bytes",
				    name, len);
	magic = read_be32(buf);
	if (magic != 0x00000801)
		return mt_error_set(MT_EINVALID,
				    "%s: wrong magic 0x%08X, expected 0x00000801 (IDX "
				    "ubyte labels, 1 dimension)",
				    name, (unsigned)magic);
	if (len < 8)
		return mt_error_set(MT_EINVALID,
				    "%s: truncated: %zu bytes, an IDX labels header "
				    "needs 8 bytes",
				    name, len);
	*count = read_be32(buf + 4);
	snprintf(what, sizeof(what), "%u labels", *count);
	return check_payload(name, what, *count, len - 8);
}

/* Both buffers already inflated. */
static int load_idx_plain(mt_dataset **out, const unsigned char *images,
			  size_t images_len, const char *images_name,
			  const unsigned char *labels, size_t labels_len,
			  const char *labels_name, int num_classes)
{
	uint32_t n_images = 0, n_labels = 0, rows = 0, cols = 0, i;
	mt_pixel_type type = MT_PIXELS_U8;
	const void *pixels = NULL;
	float *owned = NULL;
	int64_t *label_values = NULL;
	int64_t shape[3];
	int error;

	if (num_classes < 0)
		return mt_error_set(MT_EINVALID, "%s: negative number of classes %d, "
				    "expected 0 (infer) or more", labels_name,
				    num_classes);
	if ((error = parse_images(images, images_len, images_name, &n_images,
				  &rows, &cols, &type, &pixels, &owned)) < 0)
		return error;
	if ((error = parse_labels(labels, labels_len, labels_name, &n_labels)) < 0)
		goto cleanup;
	if (n_images != n_labels) {
		error = mt_error_set(MT_EINVALID,
				     "%s: %u labels, but %s has %u images; expected "
				     "one label per image",
				     labels_name, n_labels, images_name, n_images);
		goto cleanup;
	}
	if (!(label_values = malloc((size_t)n_labels * sizeof(int64_t)))) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory", labels_name);
		goto cleanup;
	}
	for (i = 0; i < n_labels; i++) {
		label_values[i] = labels[8 + i];
		if (num_classes > 0 && label_values[i] >= num_classes) {
			error = mt_error_set(MT_EINVALID,
					     "%s: label %lld at index %u is outside the "
					     "%d classes",
					     labels_name, (long long)label_values[i], i,
					     num_classes);
			goto cleanup;
		}
	}
	shape[0] = 1;
	shape[1] = rows;
	shape[2] = cols;
	error = mt_dataset_new(out, images_name, type, pixels, label_values,
			       n_images, shape, num_classes);
cleanup:
	free(owned);
	free(label_values);
	return error;
}

/* Inflate an IDX file no further than its header declares: its first
 * header bytes tell the exact payload size. A header that cannot be read
 * from the stream is reported by the parser on what was inflated. */
static int idx_gunzip(void **out, size_t *len, const void *gz, size_t gz_len,
		      const char *name, int images)
{
	unsigned char head[16];
	size_t got = 0, header = images ? 16 : 8;
	uint64_t declared, elem;
	int error;

	if ((error = mt_io_gunzip_prefix(head, &got, header, gz, gz_len, name)) < 0)
		return error;
	if (got < header || (images ? (read_be32(head) != 0x00000803 &&
				       read_be32(head) != 0x00000D03)
				    : read_be32(head) != 0x00000801)) {
		uint32_t dummy[3];
		mt_pixel_type type;
		const void *pixels;
		float *owned = NULL;
		/* wrong magic: the parser's message, without inflating more */
		if (got >= 4)
			return images ? parse_images(head, got, name, &dummy[0], &dummy[1],
						     &dummy[2], &type, &pixels, &owned)
				      : parse_labels(head, got, name, &dummy[0]);
		return mt_io_gunzip_limit(out, len, gz, gz_len, header + IDX_INFLATE_SLACK,
					  "more than an IDX header", name);
	}
	if (images) {
		/* count, rows, cols < 2^32 and elem <= 4: below 2^98, so
		 * check each step against the cap instead of 2^64 */
		elem = head[2] == IDX_TYPE_FLOAT ? 4 : 1;
		declared = (uint64_t)read_be32(head + 8) * read_be32(head + 12);
		if (declared > MT_IO_INFLATE_MAX)
			declared = UINT64_MAX;
		else
			declared *= elem * (uint64_t)read_be32(head + 4);
	} else {
		declared = read_be32(head + 4);
	}
	if (declared > MT_IO_INFLATE_MAX)
		return mt_io_gunzip_limit(out, len, gz, gz_len, MT_IO_INFLATE_MAX,
					  "the limit on inflated data", name);
	return mt_io_gunzip_limit(out, len, gz, gz_len,
				  (size_t)(header + declared + IDX_INFLATE_SLACK),
				  "the size its IDX header declares", name);
}

int mt_dataset_load_idx_buffer(mt_dataset **out, const void *images,
			       size_t images_len, const char *images_name,
			       const void *labels, size_t labels_len,
			       const char *labels_name, int num_classes)
{
	void *images_raw = NULL, *labels_raw = NULL;
	int error = 0;

	if (!out)
		return mt_error_set(MT_EINVALID, "mt_dataset_load_idx_buffer: out is NULL");
	*out = NULL;
	if (!images_name)
		images_name = "images";
	if (!labels_name)
		labels_name = "labels";
	if ((!images && images_len) || (!labels && labels_len))
		return mt_error_set(MT_EINVALID, "%s: no data given",
				    images ? labels_name : images_name);
	/* Files and blobs out of git keep their .gz compression. */
	if (mt_io_is_gzip(images, images_len)) {
		if ((error = idx_gunzip(&images_raw, &images_len, images, images_len,
					images_name, 1)) < 0)
			goto cleanup;
		images = images_raw;
	}
	if (mt_io_is_gzip(labels, labels_len)) {
		if ((error = idx_gunzip(&labels_raw, &labels_len, labels, labels_len,
					labels_name, 0)) < 0)
			goto cleanup;
		labels = labels_raw;
	}
	error = load_idx_plain(out, images, images_len, images_name, labels,
			       labels_len, labels_name, num_classes);
cleanup:
	free(images_raw);
	free(labels_raw);
	return error;
}

int mt_dataset_load_idx(mt_dataset **out, const char *images_path,
			const char *labels_path, int num_classes)
{
	void *images = NULL, *labels = NULL;
	size_t images_len = 0, labels_len = 0;
	int error;

	if (!out)
		return mt_error_set(MT_EINVALID, "mt_dataset_load_idx: out is NULL");
	*out = NULL;
	if (!images_path || !labels_path)
		return mt_error_set(MT_EINVALID, "IDX dataset: %s path not given, "
				    "expected images and labels",
				    images_path ? "labels" : "images");
	if ((error = mt_io_read_file(&images, &images_len, images_path)) < 0)
		goto cleanup;
	if ((error = mt_io_read_file(&labels, &labels_len, labels_path)) < 0)
		goto cleanup;
	error = mt_dataset_load_idx_buffer(out, images, images_len, images_path,
					   labels, labels_len, labels_path,
					   num_classes);
cleanup:
	free(images);
	free(labels);
	return error;
}
