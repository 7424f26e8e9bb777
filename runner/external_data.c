/* The data side of training with the user's own program (see external.h):
 * the training set as .npy files the program reads, and the checks on the
 * model it wrote when mutorch evaluates it on the test set. */
#include "external.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mutorch/clock.h"
#include "mutorch/error.h"
#include "mutorch/hash.h"
#include "mutorch/io.h"
#include "mutorch/runner.h"
#include "mutorch/shim.h"
#include "source_internal.h"

/* ---- the training set as .npy files ------------------------------------------ */

/* A .npy (version 1.0) header for a C-order array, padded with spaces to a
 * multiple of 64 bytes as numpy writes it; returns its length. */
static size_t npy_header(char *buf, size_t size, const char *descr, const int64_t *shape, int ndim)
{
	char dict[256];
	int len = snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
	for (int i = 0; i < ndim; i++)
		len += snprintf(dict + len, sizeof(dict) - (size_t)len, "%lld,%s", (long long)shape[i],
				i + 1 < ndim ? " " : "");
	len += snprintf(dict + len, sizeof(dict) - (size_t)len, "), }");
	size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64;
	if (total > size)
		return 0;
	memcpy(buf, "\x93NUMPY\x01\x00", 8);
	buf[8] = (char)((total - 10) & 0xff);
	buf[9] = (char)((total - 10) >> 8);
	memcpy(buf + 10, dict, (size_t)len);
	memset(buf + 10 + len, ' ', total - 10 - (size_t)len - 1);
	buf[total - 1] = '\n';
	return total;
}

/* path, written atomically unless it exists (the caller holds the lock). */
static int write_once(const char *path, const void *buf, size_t len)
{
	return access(path, F_OK) == 0 ? 0 : mt_io_write_file_atomic(path, buf, len);
}

int mt_ext_data_write(mt_ext_data *out, double *seconds, const mt_config *cfg,
		      const mt_dataset *train, const char *run_dir)
{
	int64_t n = mt_dataset_count(train), size = mt_dataset_sample_size(train);
	const int64_t *shape = mt_dataset_shape(train);
	int64_t xshape[4] = { n, shape[0], shape[1], shape[2] };
	char xh[256], yh[256], dx[MT_HASH_HEX], dy[MT_HASH_HEX], both[2 * MT_HASH_HEX + 8];
	size_t xhl = npy_header(xh, sizeof(xh), "<f4", xshape, 4);
	size_t yhl = npy_header(yh, sizeof(yh), "<i8", &n, 1);
	size_t xlen = (size_t)(n * size) * sizeof(float), ylen = (size_t)n * sizeof(int64_t);
	mt_tensor *x = NULL, *y = NULL;
	char *xbuf = NULL, *ybuf = NULL, *data_dir = NULL, *dir = NULL, *lock = NULL;
	char real[PATH_MAX];
	double t0 = mt_clock_now();
	int lock_fd = -1, error;

	memset(out, 0, sizeof(*out));
	if (!xhl || !yhl)
		return mt_error_set(MT_ERROR, "a .npy header for %lld samples does not fit", (long long)n);
	if (!(xbuf = malloc(xhl + xlen + 1)) || !(ybuf = malloc(yhl + ylen + 1))) {
		error = mt_error_oom();
		goto cleanup;
	}
	/* the model's own inputs: the same normalisation as the test set */
	if ((error = mt_runner_tensors(&x, &y, cfg, train)) < 0 ||
	    (error = mt_tensor_copy_out(x, xbuf + xhl, MT_DTYPE_FLOAT32, n * size)) < 0)
		goto cleanup;
	memcpy(xbuf, xh, xhl);
	memcpy(ybuf, yh, yhl);
	memcpy(ybuf + yhl, mt_dataset_labels(train), ylen); /* little-endian hosts only */
	if ((error = mt_hash_blob(dx, xbuf, xhl + xlen)) < 0 ||
	    (error = mt_hash_blob(dy, ybuf, yhl + ylen)) < 0)
		goto cleanup;
	snprintf(both, sizeof(both), "%s %s", dx, dy);
	if ((error = mt_hash_blob(out->digest, both, strlen(both))) < 0)
		goto cleanup;
	if (!(data_dir = mt_io_path_join(run_dir, "cache/data")) ||
	    !(dir = mt_io_path_join(data_dir, out->digest)) || !(lock = malloc(strlen(dir) + 8))) {
		error = mt_error_oom();
		goto cleanup;
	}
	snprintf(lock, strlen(dir) + 8, "%s.lock", dir);
	if ((error = mt_io_mkdirs(dir)) < 0 || (error = mt_src_lock(&lock_fd, lock)) < 0)
		goto cleanup;
	if (!realpath(dir, real)) {
		error = mt_error_set(MT_EIO, "%s: %s", dir, strerror(errno));
		goto cleanup;
	}
	if (!(out->x = mt_io_path_join(real, "x.npy")) || !(out->y = mt_io_path_join(real, "y.npy"))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = write_once(out->x, xbuf, xhl + xlen)) < 0 ||
	    (error = write_once(out->y, ybuf, yhl + ylen)) < 0)
		goto cleanup;
	out->count = n;
	memcpy(out->shape, shape, sizeof(out->shape));
cleanup:
	mt_src_unlock(lock_fd, lock);
	if (error < 0)
		mt_ext_data_dispose(out);
	*seconds = mt_clock_now() - t0;
	mt_tensor_free(x);
	mt_tensor_free(y);
	free(xbuf);
	free(ybuf);
	free(data_dir);
	free(dir);
	free(lock);
	return error;
}

void mt_ext_data_dispose(mt_ext_data *d)
{
	free(d->x);
	free(d->y);
	d->x = d->y = NULL;
}

/* ---- evaluation --------------------------------------------------------------- */

int mt_ext_evaluate(int64_t **pred, double *accuracy, char *why, size_t size, mt_module *model,
		    const mt_tensor *x, const int64_t *labels, int64_t n, int num_classes,
		    int64_t batch_size)
{
	int64_t numel = mt_tensor_numel(x), width = 0, shape[4];
	float *inputs = NULL, *logits = NULL;
	mt_tensor *one = NULL, *probe = NULL;
	int64_t correct = 0, bad = 0;
	int error;

	*pred = NULL;
	why[0] = '\0';
	if (n == 0)
		return mt_error_set(MT_EINVALID, "the test set is empty");
	/* One input first: the width of the output decides the buffer, and a
	 * model of the wrong shape is a result, not a crash. */
	for (int d = 0; d < 4; d++)
		shape[d] = d ? mt_tensor_dim(x, d) : 1;
	if (!(inputs = malloc(sizeof(float) * (size_t)numel))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_tensor_copy_out(x, inputs, MT_DTYPE_FLOAT32, numel)) < 0 ||
	    (error = mt_tensor_from_data(&one, inputs, MT_DTYPE_FLOAT32, shape, 4)) < 0 ||
	    (error = mt_module_set_training(model, 0)) < 0)
		goto cleanup;
	if (mt_module_forward(&probe, model, one) < 0 || mt_tensor_ndim(probe) != 2 ||
	    mt_tensor_dim(probe, 0) != 1) {
		snprintf(why, size, "the model does not map a batch of inputs [N, %lld, %lld, %lld] to scores [N, %d]%s%.300s",
			 (long long)shape[1], (long long)shape[2], (long long)shape[3], num_classes,
			 probe ? "" : ": ", probe ? "" : mt_error_last());
		mt_error_clear();
		goto cleanup;
	}
	width = mt_tensor_dim(probe, 1);
	if (width != num_classes) {
		snprintf(why, size, "the model gives %lld scores per input, expected %d (data.classes)",
			 (long long)width, num_classes);
		goto cleanup;
	}
	if (!(*pred = malloc(sizeof(int64_t) * (size_t)n)) ||
	    !(logits = malloc(sizeof(float) * (size_t)(n * width)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_module_predict(*pred, logits, &width, model, x, batch_size)) < 0)
		goto cleanup;
	for (int64_t i = 0; i < n * width; i++)
		bad += !isfinite(logits[i]);
	if (bad) {
		snprintf(why, size, "the model's outputs hold %lld NaN or infinite scores on the %lld test inputs",
			 (long long)bad, (long long)n);
		goto cleanup;
	}
	for (int64_t i = 0; i < n; i++)
		correct += (*pred)[i] == labels[i];
	*accuracy = (double)correct / (double)n;
cleanup:
	if (error < 0 || why[0]) {
		free(*pred);
		*pred = NULL;
	}
	free(inputs);
	free(logits);
	mt_tensor_free(one);
	mt_tensor_free(probe);
	return error;
}
