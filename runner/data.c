/* The data a config names: read in its format, limited, and turned into
 * normalised model inputs. */
#include "mutorch/runner.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/shim.h"

#include <stdlib.h>
#include <string.h>

static int load_torch_dict(mt_dataset **out, const char *path, int num_classes)
{
	mt_tensor *x = NULL, *y = NULL;
	float *pixels = NULL;
	int64_t *labels = NULL, n, shape[3];
	int error;

	if ((error = mt_shim_load_tensor_dict(&x, &y, path)) < 0)
		return error;
	n = mt_tensor_dim(x, 0);
	shape[0] = mt_tensor_dim(x, 1);
	shape[1] = mt_tensor_dim(x, 2);
	shape[2] = mt_tensor_dim(x, 3);
	pixels = malloc(sizeof(float) * (size_t)(mt_tensor_numel(x) ? mt_tensor_numel(x) : 1));
	labels = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
	if (!pixels || !labels) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	if ((error = mt_tensor_copy_out(x, pixels, MT_DTYPE_FLOAT32, mt_tensor_numel(x))) < 0 ||
	    (error = mt_tensor_copy_out(y, labels, MT_DTYPE_INT64, n)) < 0)
		goto cleanup;
	error = mt_dataset_new(out, path, MT_PIXELS_F32, pixels, labels, n, shape,
			       num_classes);
cleanup:
	free(pixels);
	free(labels);
	mt_tensor_free(x);
	mt_tensor_free(y);
	return error;
}

int mt_runner_load_dataset(mt_dataset **out, const mt_config *cfg, mt_split which)
{
	const mt_data_source *src = which == MT_SPLIT_TRAIN ? &cfg->train : &cfg->test;
	int64_t limit = which == MT_SPLIT_TRAIN ? cfg->train_limit : cfg->test_limit;
	mt_dataset *ds = NULL, *limited = NULL;
	int64_t *idx = NULL;
	int error = 0;

	*out = NULL;
	switch (cfg->format) {
	case MT_FORMAT_IDX:
		error = mt_dataset_load_idx(&ds, src->paths[0], src->paths[1], cfg->num_classes);
		break;
	case MT_FORMAT_CIFAR10:
		error = mt_dataset_load_cifar10(&ds, (const char *const *)src->paths, src->npaths);
		break;
	case MT_FORMAT_NPY:
		error = mt_dataset_load_npy(&ds, src->paths[0], src->paths[1], cfg->num_classes);
		break;
	case MT_FORMAT_TORCH:
		error = load_torch_dict(&ds, src->paths[0], cfg->num_classes);
		break;
	default:
		error = mt_error_set(MT_EINVALID, "%s: unknown data format", cfg->path);
	}
	if (error < 0)
		goto cleanup;
	/* An empty set would run and report every mutant Survived. */
	if (mt_dataset_count(ds) == 0) {
		error = mt_error_set(MT_EINVALID, "%s: the %s set holds no samples, "
				     "expected at least one", mt_dataset_name(ds),
				     which == MT_SPLIT_TRAIN ? "training" : "test");
		goto cleanup;
	}
	if (cfg->has_input_shape && memcmp(mt_dataset_shape(ds), cfg->input_shape,
					   sizeof(cfg->input_shape)) != 0) {
		const int64_t *s = mt_dataset_shape(ds);
		error = mt_error_set(MT_EINVALID,
				     "%s: samples have shape [%lld, %lld, %lld] but "
				     "model.input_shape in %s is [%lld, %lld, %lld]",
				     mt_dataset_name(ds), (long long)s[0], (long long)s[1],
				     (long long)s[2], cfg->path, (long long)cfg->input_shape[0],
				     (long long)cfg->input_shape[1], (long long)cfg->input_shape[2]);
		goto cleanup;
	}
	if (limit > 0 && limit < mt_dataset_count(ds)) {
		if (!(idx = malloc(sizeof(int64_t) * (size_t)limit))) {
			error = mt_error_oom();
			goto cleanup;
		}
		for (int64_t i = 0; i < limit; i++)
			idx[i] = i;
		if ((error = mt_dataset_select(&limited, ds, idx, limit)) < 0)
			goto cleanup;
		mt_dataset_free(ds);
		ds = limited;
	}
	*out = ds;
	ds = NULL;
cleanup:
	free(idx);
	mt_dataset_free(ds);
	return error;
}

int mt_runner_tensors(mt_tensor **x, mt_tensor **y, const mt_config *cfg,
		      const mt_dataset *ds)
{
	int64_t n = mt_dataset_count(ds);
	int error;

	*x = *y = NULL;
	if ((error = mt_tensor_from_pixels(x, mt_dataset_pixels(ds),
					   mt_dataset_pixel_type(ds) == MT_PIXELS_F32, n,
					   mt_dataset_shape(ds), cfg->norm_scale,
					   cfg->norm_mean, cfg->norm_std, cfg->nnorm)) < 0)
		return error;
	if ((error = mt_tensor_from_data(y, mt_dataset_labels(ds), MT_DTYPE_INT64, &n, 1)) < 0) {
		mt_tensor_free(*x);
		*x = NULL;
	}
	return error;
}
