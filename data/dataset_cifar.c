/* CIFAR-10 binary batches (data_batch_1.bin ... test_batch.bin): records of
 * one label byte and 3072 pixel bytes (3 x 32 x 32, channel-major, which is
 * already the layout a dataset sample uses). No header: the file size must
 * be a whole number of records. */
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CIFAR_CLASSES 10
#define CIFAR_PIXELS 3072 /* 3 * 32 * 32 */
#define CIFAR_RECORD (1 + CIFAR_PIXELS)

/* A batch must be whole records with every label below 10. */
static int check_batch(const unsigned char *buf, size_t len, const char *name,
		       size_t *records)
{
	size_t i;

	if (len == 0)
		return mt_error_set(MT_EINVALID, "%s: empty file, expected CIFAR-10 "
				    "records of %d bytes", name, CIFAR_RECORD);
	if (len % CIFAR_RECORD != 0)
		return mt_error_set(MT_EINVALID,
				    "%s: size %zu is not a multiple of the %d-byte "
				    "CIFAR-10 record (1 label byte + 3x32x32 pixels): "
				    "%zu whole records and %zu bytes left over",
				    name, len, CIFAR_RECORD, len / CIFAR_RECORD,
				    len % CIFAR_RECORD);
	*records = len / CIFAR_RECORD;
	for (i = 0; i < *records; i++)
		if (buf[i * CIFAR_RECORD] >= CIFAR_CLASSES)
			return mt_error_set(MT_EINVALID,
					    "%s: label %u at index %zu is outside the "
					    "%d classes",
					    name, buf[i * CIFAR_RECORD], i, CIFAR_CLASSES);
	return 0;
}

static void unpack_batch(const unsigned char *buf, size_t records,
			 unsigned char *pixels, int64_t *labels)
{
	size_t i;
	for (i = 0; i < records; i++) {
		labels[i] = buf[i * CIFAR_RECORD];
		memcpy(pixels + i * CIFAR_PIXELS, buf + i * CIFAR_RECORD + 1,
		       CIFAR_PIXELS);
	}
}

static const int64_t cifar_shape[3] = {3, 32, 32};

int mt_dataset_load_cifar10_buffer(mt_dataset **out, const void *buf,
				   size_t len, const char *name)
{
	unsigned char *pixels = NULL;
	int64_t *labels = NULL;
	size_t records = 0;
	int error;

	if (!out)
		return mt_error_set(MT_EINVALID,
				    "mt_dataset_load_cifar10_buffer: out is NULL");
	*out = NULL;
	if (!name)
		name = "CIFAR-10 batch";
	if (!buf && len)
		return mt_error_set(MT_EINVALID, "%s: no data given", name);
	if ((error = check_batch(buf, len, name, &records)) < 0)
		return error;
	pixels = malloc(records * CIFAR_PIXELS);
	labels = malloc(records * sizeof(int64_t));
	if (!pixels || !labels) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory", name);
		goto cleanup;
	}
	unpack_batch(buf, records, pixels, labels);
	error = mt_dataset_new(out, name, MT_PIXELS_U8, pixels, labels,
			       (int64_t)records, cifar_shape, CIFAR_CLASSES);
cleanup:
	free(pixels);
	free(labels);
	return error;
}

int mt_dataset_load_cifar10(mt_dataset **out, const char *const *paths,
			    size_t npaths)
{
	unsigned char *pixels = NULL, *grown_pixels;
	int64_t *labels = NULL, *grown_labels;
	size_t total = 0, i;
	void *buf = NULL;
	size_t len = 0, records;
	char *name = NULL;
	int error = 0;

	if (!out)
		return mt_error_set(MT_EINVALID, "mt_dataset_load_cifar10: out is NULL");
	*out = NULL;
	if (!paths || npaths == 0)
		return mt_error_set(MT_EINVALID, "CIFAR-10 dataset: no files given, "
				    "expected at least one batch file");
	for (i = 0; i < npaths; i++) {
		if (!paths[i]) {
			error = mt_error_set(MT_EINVALID, "CIFAR-10 dataset: file %zu "
					     "has no path", i);
			goto cleanup;
		}
		/* Plain .bin as shipped; gzip is accepted for free. */
		if ((error = mt_io_read_maybe_gzip(&buf, &len, paths[i])) < 0)
			goto cleanup;
		if ((error = check_batch(buf, len, paths[i], &records)) < 0)
			goto cleanup;
		grown_pixels = realloc(pixels, (total + records) * CIFAR_PIXELS);
		if (grown_pixels)
			pixels = grown_pixels;
		grown_labels = realloc(labels, (total + records) * sizeof(int64_t));
		if (grown_labels)
			labels = grown_labels;
		if (!grown_pixels || !grown_labels) {
			error = mt_error_set(MT_ENOMEM, "%s: out of memory", paths[i]);
			goto cleanup;
		}
		unpack_batch(buf, records, pixels + total * CIFAR_PIXELS,
			     labels + total);
		total += records;
		free(buf);
		buf = NULL;
	}
	/* The dataset's name stands for all its files. */
	if (npaths == 1) {
		name = strdup(paths[0]);
	} else {
		size_t n = strlen(paths[0]) + 64;
		if ((name = malloc(n)))
			snprintf(name, n, "%s (+%zu more files)", paths[0], npaths - 1);
	}
	if (!name) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory", paths[0]);
		goto cleanup;
	}
	error = mt_dataset_new(out, name, MT_PIXELS_U8, pixels, labels,
			       (int64_t)total, cifar_shape, CIFAR_CLASSES);
cleanup:
	free(buf);
	free(pixels);
	free(labels);
	free(name);
	return error;
}
