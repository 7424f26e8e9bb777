/* The real Fashion-MNIST from Debian's dataset-fashion-mnist package: the
 * IDX reader on the files users have, cross-checked byte for byte against
 * an independent read through zlib's gzread. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "mutorch/dataset.h"
#include "mutorch/error.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"

/* The whole inflated file, read with gzread rather than mutorch's reader. */
static unsigned char *gz_slurp(const char *path, size_t *len)
{
	gzFile gz = gzopen(path, "rb");
	size_t cap = 1 << 20, used = 0;
	unsigned char *buf = malloc(cap);
	int n;

	cr_assert(gz, "%s: cannot open", path);
	while ((n = gzread(gz, buf + used, (unsigned)(cap - used))) > 0) {
		used += (size_t)n;
		if (used == cap)
			cr_assert(buf = realloc(buf, cap *= 2));
	}
	cr_assert_geq(n, 0);
	gzclose(gz);
	*len = used;
	return buf;
}

static void check_fashion(const char *images, const char *labels, int64_t n)
{
	mt_dataset *ds = NULL;
	unsigned char *raw_images, *raw_labels;
	size_t images_len, labels_len;
	int64_t per_class[10] = {0}, i;

	cr_assert_eq(mt_dataset_load_idx(&ds, images, labels, 10), 0, "%s",
		     mt_error_last());
	cr_assert_eq(mt_dataset_count(ds), n);
	cr_assert_eq(mt_dataset_shape(ds)[0], 1);
	cr_assert_eq(mt_dataset_shape(ds)[1], 28);
	cr_assert_eq(mt_dataset_shape(ds)[2], 28);
	cr_assert_eq(mt_dataset_sample_size(ds), 784);
	cr_assert_eq(mt_dataset_pixel_type(ds), MT_PIXELS_U8);
	cr_assert_eq(mt_dataset_num_classes(ds), 10);
	/* both sets start with an ankle boot */
	cr_assert_eq(mt_dataset_labels(ds)[0], 9);
	for (i = 0; i < n; i++) {
		cr_assert(mt_dataset_labels(ds)[i] >= 0 && mt_dataset_labels(ds)[i] < 10);
		per_class[mt_dataset_labels(ds)[i]]++;
	}
	for (i = 0; i < 10; i++)
		cr_assert_eq(per_class[i], n / 10, "class %lld has %lld samples",
			     (long long)i, (long long)per_class[i]);

	raw_images = gz_slurp(images, &images_len);
	raw_labels = gz_slurp(labels, &labels_len);
	cr_assert_eq(images_len, 16 + (size_t)n * 784);
	cr_assert_eq(labels_len, 8 + (size_t)n);
	cr_assert_eq(memcmp(mt_dataset_pixels(ds), raw_images + 16, (size_t)n * 784),
		     0);
	for (i = 0; i < n; i++)
		cr_assert_eq(mt_dataset_labels(ds)[i], raw_labels[8 + i]);
	free(raw_images);
	free(raw_labels);
	mt_dataset_free(ds);
}

Test(fashion_mnist, test_set)
{
	check_fashion(FASHION_DIR "t10k-images-idx3-ubyte.gz",
		      FASHION_DIR "t10k-labels-idx1-ubyte.gz", 10000);
}

Test(fashion_mnist, training_set)
{
	check_fashion(FASHION_DIR "train-images-idx3-ubyte.gz",
		      FASHION_DIR "train-labels-idx1-ubyte.gz", 60000);
}

Test(fashion_mnist, inferred_classes_and_split)
{
	mt_dataset *ds = NULL, *train = NULL, *val = NULL;
	int64_t i, per_class[10] = {0};

	cr_assert_eq(mt_dataset_load_idx(&ds, FASHION_DIR "t10k-images-idx3-ubyte.gz",
					 FASHION_DIR "t10k-labels-idx1-ubyte.gz", 0),
		     0, "%s", mt_error_last());
	cr_assert_eq(mt_dataset_num_classes(ds), 10);
	cr_assert_eq(mt_dataset_split(&train, &val, ds, 0.1, 42), 0);
	cr_assert_eq(mt_dataset_count(train), 9000);
	cr_assert_eq(mt_dataset_count(val), 1000);
	for (i = 0; i < 1000; i++)
		per_class[mt_dataset_labels(val)[i]]++;
	/* a random 10% keeps every class present */
	for (i = 0; i < 10; i++)
		cr_assert_gt(per_class[i], 0);
	mt_dataset_free(train);
	mt_dataset_free(val);
	mt_dataset_free(ds);
}

Test(fashion_mnist, labels_file_as_images_is_rejected)
{
	mt_dataset *ds = NULL;

	cr_assert_eq(mt_dataset_load_idx(&ds, FASHION_DIR "t10k-labels-idx1-ubyte.gz",
					 FASHION_DIR "t10k-labels-idx1-ubyte.gz", 10),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "t10k-labels-idx1-ubyte.gz: wrong magic "
					  "0x00000801, expected 0x00000803"),
		  "%s", mt_error_last());
	cr_assert_eq(mt_dataset_load_idx(&ds, FASHION_DIR "t10k-images-idx3-ubyte.gz",
					 FASHION_DIR "train-labels-idx1-ubyte.gz", 10),
		     MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "60000 labels, but"), "%s", mt_error_last());
	cr_assert(strstr(mt_error_last(), "has 10000 images"), "%s", mt_error_last());
}
