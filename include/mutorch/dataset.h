/*
 * mutorch/dataset.h - labelled image/feature datasets held in memory.
 *
 * A dataset is n samples of one shape (channels, height, width; vectors
 * use 1 x 1 x d), stored as uint8 or float32 in row-major order, with one
 * int64 label per sample in [0, num_classes). Readers validate the header
 * against the size of the data and reject what does not fit; every error
 * message names the file (or display name) and the problem.
 *
 * Formats:
 *  - IDX (MNIST, Fashion-MNIST): images idx3 + labels idx1, gzip or plain;
 *  - CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes;
 *  - NumPy .npy (v1/v2/v3, C order, little endian): x as uint8 or float32
 *    (float64 is converted), y as uint8, int32 or int64;
 *  - a dict of tensors saved by PyTorch: see mt_shim_load_tensor_dict in
 *    shim.h, which hands the arrays to mt_dataset_new.
 */
#ifndef MUTORCH_DATASET_H
#define MUTORCH_DATASET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_dataset mt_dataset;

typedef enum {
	MT_PIXELS_U8 = 0,
	MT_PIXELS_F32 = 1
} mt_pixel_type;

/* Make a dataset by copying arrays. shape = {channels, height, width}.
 * num_classes 0 means max(label) + 1. Labels are checked against the range;
 * name is used in error messages. */
int mt_dataset_new(mt_dataset **out, const char *name, mt_pixel_type type,
		   const void *pixels, const int64_t *labels, int64_t n,
		   const int64_t shape[3], int num_classes);

void mt_dataset_free(mt_dataset *ds);

/* IDX images + labels, each gzip-compressed or plain. */
int mt_dataset_load_idx(mt_dataset **out, const char *images_path,
			const char *labels_path, int num_classes);
/* The same from memory (files read out of a git blob, ...). */
int mt_dataset_load_idx_buffer(mt_dataset **out, const void *images,
			       size_t images_len, const char *images_name,
			       const void *labels, size_t labels_len,
			       const char *labels_name, int num_classes);

/* One or more CIFAR-10 binary batch files, concatenated in order. */
int mt_dataset_load_cifar10(mt_dataset **out, const char *const *paths,
			    size_t npaths);
int mt_dataset_load_cifar10_buffer(mt_dataset **out, const void *buf,
				   size_t len, const char *name);

/* x.npy (n, ...) and y.npy (n,). A 2-D x is n x d (shape 1 x 1 x d), 3-D is
 * n x h x w (1 x h x w), 4-D is n x c x h x w. */
int mt_dataset_load_npy(mt_dataset **out, const char *x_path,
			const char *y_path, int num_classes);
int mt_dataset_load_npy_buffer(mt_dataset **out, const void *x, size_t x_len,
			       const char *x_name, const void *y, size_t y_len,
			       const char *y_name, int num_classes);

/* Accessors. */
int64_t mt_dataset_count(const mt_dataset *ds);
/* {channels, height, width} */
const int64_t *mt_dataset_shape(const mt_dataset *ds);
int64_t mt_dataset_sample_size(const mt_dataset *ds); /* c * h * w */
mt_pixel_type mt_dataset_pixel_type(const mt_dataset *ds);
const void *mt_dataset_pixels(const mt_dataset *ds);
const int64_t *mt_dataset_labels(const mt_dataset *ds);
int mt_dataset_num_classes(const mt_dataset *ds);
const char *mt_dataset_name(const mt_dataset *ds);

/* A new dataset holding samples idx[0..n) of src, in that order (an index
 * may repeat). Used for limits, validation splits and data mutations. */
int mt_dataset_select(mt_dataset **out, const mt_dataset *src,
		      const int64_t *idx, int64_t n);

/* Split off the last `fraction` of a seeded permutation as validation set.
 * fraction 0 gives *val == NULL and a copy in *train. */
int mt_dataset_split(mt_dataset **train, mt_dataset **val,
		     const mt_dataset *src, double fraction, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
