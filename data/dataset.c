/* In-memory datasets: construction with label checks, accessors, subsets
 * and seeded train/validation splits. The file readers live in
 * dataset_idx.c, dataset_cifar.c and dataset_npy.c and all end in
 * mt_dataset_new, so every dataset passes the same checks. */
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/rng.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mt_dataset {
	char *name;
	mt_pixel_type type;
	int64_t n;
	int64_t shape[3];
	int64_t sample_size; /* elements per sample: c * h * w */
	void *pixels;
	int64_t *labels;
	int num_classes;
};

static size_t pixel_bytes(mt_pixel_type type)
{
	return type == MT_PIXELS_F32 ? sizeof(float) : 1;
}

/* Allocate the struct and its arrays for n samples; nothing is filled. */
static int dataset_alloc(mt_dataset **out, const char *name,
			 mt_pixel_type type, int64_t n, const int64_t shape[3])
{
	mt_dataset *ds;
	size_t elem = pixel_bytes(type), sample_bytes, total;
	int64_t sample = 1;
	int i;

	*out = NULL;
	for (i = 0; i < 3; i++) {
		if (shape[i] < 1 || shape[i] > INT32_MAX)
			return mt_error_set(MT_EINVALID,
					    "%s: shape [%lld, %lld, %lld] has a dimension "
					    "outside 1..%d",
					    name, (long long)shape[0], (long long)shape[1],
					    (long long)shape[2], INT32_MAX);
		if (sample > INT64_MAX / shape[i])
			return mt_error_set(MT_EINVALID, "%s: sample shape is too large",
					    name);
		sample *= shape[i];
	}
	if ((uint64_t)sample > SIZE_MAX / elem)
		return mt_error_set(MT_EINVALID, "%s: sample shape is too large", name);
	sample_bytes = (size_t)sample * elem;
	if (n > 0 && (uint64_t)n > SIZE_MAX / sample_bytes)
		return mt_error_set(MT_EINVALID,
				    "%s: %lld samples of %zu bytes do not fit in memory",
				    name, (long long)n, sample_bytes);
	if ((uint64_t)n > SIZE_MAX / sizeof(int64_t))
		return mt_error_set(MT_EINVALID, "%s: too many samples", name);
	total = (size_t)n * sample_bytes;

	if (!(ds = calloc(1, sizeof(*ds))))
		return mt_error_set(MT_ENOMEM, "%s: out of memory", name);
	ds->name = strdup(name);
	/* +1 so that an empty dataset still has non-NULL arrays */
	ds->pixels = malloc(total + 1);
	ds->labels = malloc((size_t)n * sizeof(int64_t) + 1);
	if (!ds->name || !ds->pixels || !ds->labels) {
		mt_dataset_free(ds);
		return mt_error_set(MT_ENOMEM, "%s: out of memory (%zu bytes of pixels)",
				    name, total);
	}
	ds->type = type;
	ds->n = n;
	memcpy(ds->shape, shape, sizeof(ds->shape));
	ds->sample_size = sample;
	*out = ds;
	return 0;
}

int mt_dataset_new(mt_dataset **out, const char *name, mt_pixel_type type,
		   const void *pixels, const int64_t *labels, int64_t n,
		   const int64_t shape[3], int num_classes)
{
	mt_dataset *ds = NULL;
	int64_t i, max_label = -1;
	int error;

	if (!out)
		return mt_error_set(MT_EINVALID, "mt_dataset_new: out is NULL");
	*out = NULL;
	if (!name)
		name = "dataset";
	if (type != MT_PIXELS_U8 && type != MT_PIXELS_F32)
		return mt_error_set(MT_EINVALID, "%s: pixel type %d is not known, "
				    "expected uint8 (0) or float32 (1)", name, (int)type);
	if (!shape)
		return mt_error_set(MT_EINVALID, "%s: no shape given", name);
	if (n < 0)
		return mt_error_set(MT_EINVALID, "%s: negative sample count %lld",
				    name, (long long)n);
	if (n > 0 && (!pixels || !labels))
		return mt_error_set(MT_EINVALID, "%s: %lld samples but no %s given",
				    name, (long long)n, pixels ? "labels" : "pixels");
	if (num_classes < 0)
		return mt_error_set(MT_EINVALID, "%s: negative number of classes %d, "
				    "expected 0 (infer) or more", name, num_classes);
	for (i = 0; i < n; i++) {
		if (labels[i] < 0)
			return mt_error_set(MT_EINVALID,
					    "%s: label %lld at index %lld is negative",
					    name, (long long)labels[i], (long long)i);
		if (num_classes > 0 && labels[i] >= num_classes)
			return mt_error_set(MT_EINVALID,
					    "%s: label %lld at index %lld is outside the %d classes",
					    name, (long long)labels[i], (long long)i,
					    num_classes);
		if (labels[i] > max_label)
			max_label = labels[i];
	}
	if (num_classes == 0) {
		if (max_label >= INT_MAX)
			return mt_error_set(MT_EINVALID, "%s: label %lld is too large "
					    "for a class index", name, (long long)max_label);
		num_classes = (int)(max_label + 1);
	}
	if ((error = dataset_alloc(&ds, name, type, n, shape)) < 0)
		return error;
	/* A NaN or infinite input makes every prediction on it meaningless
	 * (and NaN logits argmax to class 0), so no reader may let one in. */
	if (type == MT_PIXELS_F32 && n > 0) {
		const float *f = pixels;
		size_t k, total = (size_t)n * (size_t)ds->sample_size;
		for (k = 0; k < total; k++)
			if (!isfinite(f[k])) {
				error = mt_error_set(MT_EINVALID,
						     "%s: value %s at sample %lld, element "
						     "%lld: expected finite numbers",
						     name, isnan(f[k]) ? "NaN"
						     : f[k] > 0 ? "+inf" : "-inf",
						     (long long)(k / (size_t)ds->sample_size),
						     (long long)(k % (size_t)ds->sample_size));
				mt_dataset_free(ds);
				return error;
			}
	}
	if (n > 0) {
		memcpy(ds->pixels, pixels,
		       (size_t)n * (size_t)ds->sample_size * pixel_bytes(type));
		memcpy(ds->labels, labels, (size_t)n * sizeof(int64_t));
	}
	ds->num_classes = num_classes;
	*out = ds;
	return 0;
}

void mt_dataset_free(mt_dataset *ds)
{
	if (!ds)
		return;
	free(ds->name);
	free(ds->pixels);
	free(ds->labels);
	free(ds);
}

int64_t mt_dataset_count(const mt_dataset *ds) { return ds ? ds->n : 0; }
const int64_t *mt_dataset_shape(const mt_dataset *ds) { return ds->shape; }
int64_t mt_dataset_sample_size(const mt_dataset *ds) { return ds->sample_size; }
mt_pixel_type mt_dataset_pixel_type(const mt_dataset *ds) { return ds->type; }
const void *mt_dataset_pixels(const mt_dataset *ds) { return ds->pixels; }
const int64_t *mt_dataset_labels(const mt_dataset *ds) { return ds->labels; }
int mt_dataset_num_classes(const mt_dataset *ds) { return ds->num_classes; }
const char *mt_dataset_name(const mt_dataset *ds) { return ds->name; }

int mt_dataset_select(mt_dataset **out, const mt_dataset *src,
		      const int64_t *idx, int64_t n)
{
	mt_dataset *ds = NULL;
	size_t sample_bytes;
	int64_t i;
	int error;

	if (!out)
		return mt_error_set(MT_EINVALID, "mt_dataset_select: out is NULL");
	*out = NULL;
	if (!src)
		return mt_error_set(MT_EINVALID, "mt_dataset_select: no source dataset");
	if (n < 0)
		return mt_error_set(MT_EINVALID, "%s: negative selection size %lld",
				    src->name, (long long)n);
	if (n > 0 && !idx)
		return mt_error_set(MT_EINVALID, "%s: selection of %lld samples "
				    "without indexes", src->name, (long long)n);
	for (i = 0; i < n; i++)
		if (idx[i] < 0 || idx[i] >= src->n)
			return mt_error_set(MT_EINVALID,
					    "%s: index %lld at position %lld is outside "
					    "the %lld samples",
					    src->name, (long long)idx[i], (long long)i,
					    (long long)src->n);
	if ((error = dataset_alloc(&ds, src->name, src->type, n, src->shape)) < 0)
		return error;
	sample_bytes = (size_t)src->sample_size * pixel_bytes(src->type);
	for (i = 0; i < n; i++) {
		memcpy((char *)ds->pixels + (size_t)i * sample_bytes,
		       (const char *)src->pixels + (size_t)idx[i] * sample_bytes,
		       sample_bytes);
		ds->labels[i] = src->labels[idx[i]];
	}
	/* Keep the class count: a subset may lack the highest class. */
	ds->num_classes = src->num_classes;
	*out = ds;
	return 0;
}

/* All samples of src, in order, as a new dataset. */
static int select_all(mt_dataset **out, const mt_dataset *src)
{
	int64_t *idx, i;
	int error;

	if (!(idx = malloc((size_t)src->n * sizeof(int64_t) + 1)))
		return mt_error_set(MT_ENOMEM, "%s: out of memory", src->name);
	for (i = 0; i < src->n; i++)
		idx[i] = i;
	error = mt_dataset_select(out, src, idx, src->n);
	free(idx);
	return error;
}

int mt_dataset_split(mt_dataset **train, mt_dataset **val,
		     const mt_dataset *src, double fraction, uint64_t seed)
{
	int64_t *perm = NULL, *train_idx = NULL, *val_idx = NULL;
	unsigned char *in_val = NULL;
	int64_t i, n, n_val, nt = 0, nv = 0;
	mt_rng rng;
	int error = 0;

	if (!train || !val)
		return mt_error_set(MT_EINVALID, "mt_dataset_split: output is NULL");
	*train = *val = NULL;
	if (!src)
		return mt_error_set(MT_EINVALID, "mt_dataset_split: no source dataset");
	n = src->n;
	if (!(fraction >= 0.0 && fraction < 1.0))
		return mt_error_set(MT_EINVALID, "%s: validation fraction %g is "
				    "outside [0, 1)", src->name, fraction);
	if (fraction == 0.0)
		return select_all(train, src);

	/* Rounded to the nearest sample; both parts must be non-empty, since
	 * an empty validation or training set is always a configuration slip. */
	n_val = (int64_t)floor(fraction * (double)n + 0.5);
	if (n_val < 1 || n_val >= n)
		return mt_error_set(MT_EINVALID,
				    "%s: validation fraction %g of %lld samples gives "
				    "%lld validation samples, expected 1..%lld",
				    src->name, fraction, (long long)n, (long long)n_val,
				    (long long)(n - 1));

	perm = malloc((size_t)n * sizeof(int64_t));
	train_idx = malloc((size_t)(n - n_val) * sizeof(int64_t));
	val_idx = malloc((size_t)n_val * sizeof(int64_t));
	in_val = calloc((size_t)n, 1);
	if (!perm || !train_idx || !val_idx || !in_val) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory", src->name);
		goto cleanup;
	}
	/* The permutation is mt_rng_permutation's (rng.h), seeded with seed:
	 * reproducible from its description alone. */
	mt_rng_seed(&rng, seed);
	mt_rng_permutation(&rng, perm, n);
	for (i = n - n_val; i < n; i++)
		in_val[perm[i]] = 1;
	/* Each part in ascending original order: only membership depends on
	 * the permutation. */
	for (i = 0; i < n; i++) {
		if (in_val[i])
			val_idx[nv++] = i;
		else
			train_idx[nt++] = i;
	}
	if ((error = mt_dataset_select(train, src, train_idx, nt)) < 0)
		goto cleanup;
	if ((error = mt_dataset_select(val, src, val_idx, nv)) < 0) {
		mt_dataset_free(*train);
		*train = NULL;
		goto cleanup;
	}
cleanup:
	free(perm);
	free(train_idx);
	free(val_idx);
	free(in_val);
	return error;
}
