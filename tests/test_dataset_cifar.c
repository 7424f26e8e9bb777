/* CIFAR-10 binary batches: values, concatenation, and what is rejected. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"

#define RECORD 3073

/* Record r (global index first + i) has label (first + i) % 10 and pixel
 * j = (7 * (first + i) + j) mod 256. */
static unsigned char *make_batch(int first, int n, size_t *len)
{
	unsigned char *buf = malloc((size_t)n * RECORD + 16);
	int i, j;
	for (i = 0; i < n; i++) {
		unsigned char *rec = buf + (size_t)i * RECORD;
		rec[0] = (unsigned char)((first + i) % 10);
		for (j = 0; j < 3072; j++)
			rec[1 + j] = (unsigned char)((7 * (first + i) + j) & 0xff);
	}
	*len = (size_t)n * RECORD;
	return buf;
}

static void check_records(const mt_dataset *ds, int n)
{
	const unsigned char *px = mt_dataset_pixels(ds);
	int i, j;

	cr_assert_eq(mt_dataset_count(ds), n);
	cr_assert_eq(mt_dataset_shape(ds)[0], 3);
	cr_assert_eq(mt_dataset_shape(ds)[1], 32);
	cr_assert_eq(mt_dataset_shape(ds)[2], 32);
	cr_assert_eq(mt_dataset_num_classes(ds), 10);
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_U8);
	for (i = 0; i < n; i++) {
		cr_assert_eq(mt_dataset_labels(ds)[i], i % 10);
		for (j = 0; j < 3072; j++)
			cr_assert_eq(px[(size_t)i * 3072 + j], (7 * i + j) & 0xff,
				     "record %d pixel %d", i, j);
	}
}

/* Remove a flat temporary directory and the files in it. */
static void remove_tempdir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4400];

	if (d) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

#define assert_message_has(s)                                                  \
	cr_assert(strstr(mt_error_last(), (s)), "message '%s' lacks '%s'",      \
		  mt_error_last(), (s))

Test(cifar, buffer_values)
{
	size_t len;
	unsigned char *buf = make_batch(0, 12, &len);
	mt_dataset *ds = NULL;

	cr_assert_eq(mt_dataset_load_cifar10_buffer(&ds, buf, len, "test_batch.bin"),
		     0, "%s", mt_error_last());
	check_records(ds, 12);
	cr_assert_str_eq(mt_dataset_name(ds), "test_batch.bin");
	mt_dataset_free(ds);
	free(buf);
}

Test(cifar, files_concatenate_in_order)
{
	size_t l1, l2;
	unsigned char *b1 = make_batch(0, 5, &l1), *b2 = make_batch(5, 8, &l2);
	char *dir = th_tempdir("cifar");
	char gz_path[4200];
	const char *paths[2];
	mt_dataset *ds = NULL;
	gzFile gz;

	paths[0] = th_write(dir, "data_batch_1.bin", b1, l1);
	/* the second batch gzip-compressed: read through zlib as well */
	snprintf(gz_path, sizeof(gz_path), "%s/data_batch_2.bin.gz", dir);
	cr_assert(gz = gzopen(gz_path, "wb"));
	cr_assert_eq(gzwrite(gz, b2, (unsigned)l2), (int)l2);
	cr_assert_eq(gzclose(gz), Z_OK);
	paths[1] = gz_path;
	cr_assert_eq(mt_dataset_load_cifar10(&ds, paths, 2), 0, "%s", mt_error_last());
	check_records(ds, 13);
	cr_assert(strstr(mt_dataset_name(ds), "data_batch_1.bin"));
	mt_dataset_free(ds);
	cr_assert_eq(mt_dataset_load_cifar10(&ds, paths, 1), 0);
	check_records(ds, 5);
	cr_assert_str_eq(mt_dataset_name(ds), paths[0]);
	mt_dataset_free(ds);
	free(b1);
	free(b2);
	free((char *)paths[0]);
	remove_tempdir(dir);
}

Test(cifar, size_not_a_multiple_of_the_record)
{
	size_t len;
	unsigned char *buf = make_batch(0, 3, &len);
	char *dir = th_tempdir("cifar");
	const char *paths[2];
	char msg[4400];
	mt_dataset *ds = NULL;

	paths[0] = th_write(dir, "ok.bin", buf, len);
	paths[1] = th_write(dir, "short.bin", buf, len - 100);
	cr_assert_eq(mt_dataset_load_cifar10(&ds, paths, 2), MT_EINVALID);
	/* 9219 - 100 = 9119 = 2 * 3073 + 2973 */
	snprintf(msg, sizeof(msg), "%s: size 9119 is not a multiple of the 3073-byte "
		 "CIFAR-10 record (1 label byte + 3x32x32 pixels): 2 whole records "
		 "and 2973 bytes left over", paths[1]);
	cr_assert_str_eq(mt_error_last(), msg);
	cr_assert_null(ds);
	cr_assert_eq(mt_dataset_load_cifar10_buffer(&ds, buf, len + 1, "mem.bin"),
		     MT_EINVALID);
	assert_message_has("mem.bin: size 9220 is not a multiple");
	cr_assert_eq(mt_dataset_load_cifar10_buffer(&ds, buf, 0, "empty.bin"),
		     MT_EINVALID);
	assert_message_has("empty.bin: empty file");
	free(buf);
	free((char *)paths[0]);
	free((char *)paths[1]);
	remove_tempdir(dir);
}

Test(cifar, label_out_of_range)
{
	size_t len;
	unsigned char *buf = make_batch(0, 4, &len);
	mt_dataset *ds = NULL;

	buf[2 * RECORD] = 10;
	cr_assert_eq(mt_dataset_load_cifar10_buffer(&ds, buf, len, "batch.bin"),
		     MT_EINVALID);
	cr_assert_str_eq(mt_error_last(), "batch.bin: label 10 at index 2 is "
					  "outside the 10 classes");
	cr_assert_null(ds);
	free(buf);
}

Test(cifar, missing_file_and_no_files)
{
	size_t len;
	unsigned char *buf = make_batch(0, 1, &len);
	char *dir = th_tempdir("cifar");
	char missing[4200];
	const char *paths[2];
	mt_dataset *ds = NULL;

	paths[0] = th_write(dir, "a.bin", buf, len);
	snprintf(missing, sizeof(missing), "%s/b.bin", dir);
	paths[1] = missing;
	cr_assert_eq(mt_dataset_load_cifar10(&ds, paths, 2), MT_ENOTFOUND);
	assert_message_has(missing);
	cr_assert_null(ds);
	cr_assert_eq(mt_dataset_load_cifar10(&ds, paths, 0), MT_EINVALID);
	assert_message_has("no files given");
	free(buf);
	free((char *)paths[0]);
	remove_tempdir(dir);
}
