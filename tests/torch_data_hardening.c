/* torch.save dicts and TorchScript models on hostile bytes: a storage
 * shorter than its tensor, a storage offset past the end, truncated and
 * mutated archives (which crashed inside libtorch's zip reader before the
 * zip check), an empty and a NaN test set. The bad files are made by
 * tests/fixtures/make_bad_torch.py at test time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "mutorch/error.h"
#include "mutorch/rng.h"
#include "mutorch/shim.h"

/* The directory of bad files, made once per build tree. */
static const char *bad_dir(void)
{
	static char dir[4096];
	char stamp[4200];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/bad-torch-shim", MT_BINARY_DIR);
	snprintf(stamp, sizeof(stamp), "%s/nan.pt", dir);
	if (stat(stamp, &st) != 0) {
		char *err = NULL;
		int rc = th_run(NULL, &err, "mkdir -p '%s' && /usr/bin/python3 '%s/make_bad_torch.py' '%s'",
				dir, MT_FIXTURES, dir);
		cr_assert_eq(rc, 0, "make_bad_torch.py failed: %s", err ? err : "");
		free(err);
	}
	return dir;
}

static char *bad_file(const char *name)
{
	char *path = malloc(4200);
	snprintf(path, 4200, "%s/%s", bad_dir(), name);
	return path;
}

static void dict_fails(const char *name, const char *needle)
{
	char *path = bad_file(name);
	mt_tensor *x = NULL, *y = NULL;
	cr_assert_eq(mt_shim_load_tensor_dict(&x, &y, path), MT_EINVALID, "%s: %s", name,
		     mt_error_last());
	cr_assert_null(x);
	cr_assert_null(y);
	cr_assert(th_contains(mt_error_last(), path), "%s", mt_error_last());
	cr_assert(th_contains(mt_error_last(), needle), "%s", mt_error_last());
	free(path);
}

Test(torch_hardening, good_dict_loads)
{
	char *path = bad_file("good.pt");
	mt_tensor *x = NULL, *y = NULL;
	cr_assert_eq(mt_shim_load_tensor_dict(&x, &y, path), 0, "%s", mt_error_last());
	cr_assert_eq(mt_tensor_numel(x), 4 * 28 * 28);
	mt_tensor_free(x);
	mt_tensor_free(y);
	free(path);
}

Test(torch_hardening, storage_shorter_than_tensor)
{
	dict_fails("short_storage.pt", "key 'x' addresses 3136 bytes (offset 0, shape [4, 1, 28, 28]) "
		   "but its storage in the archive holds 100 bytes");
}

Test(torch_hardening, storage_offset_past_end)
{
	dict_fails("offset_past_end.pt", "key 'x' addresses 1003136 bytes (offset 1000000");
}

Test(torch_hardening, empty_dict_loads_as_zero_samples)
{
	/* The shim reads it; runner/data.c refuses an empty set (see
	 * test_cli_hardening.c for the exit code). */
	char *path = bad_file("empty.pt");
	mt_tensor *x = NULL, *y = NULL;
	cr_assert_eq(mt_shim_load_tensor_dict(&x, &y, path), 0, "%s", mt_error_last());
	cr_assert_eq(mt_tensor_numel(x), 0);
	mt_tensor_free(x);
	mt_tensor_free(y);
	free(path);
}

/* Truncations at every 7th byte and 120 seeded random mutations (1-8 byte
 * overwrites, inserted or deleted runs) of a good dict: each must load or
 * fail with MT_EINVALID; none may crash or read outside a buffer (the
 * build-asan run checks that). */
Test(torch_hardening, truncated_and_mutated_dicts, .timeout = 600)
{
	char *path = bad_file("good.pt");
	size_t len, i, refused = 0;
	unsigned char *orig = (unsigned char *)th_read_all(path, &len), *buf = malloc(len + 64);
	mt_tensor *x = NULL, *y = NULL;
	mt_rng rng;
	int rc;

	cr_assert(buf);
	for (i = 0; i < len; i += 7) {
		rc = mt_shim_load_tensor_dict_buffer(&x, &y, orig, i, "cut.pt");
		cr_assert_eq(rc, MT_EINVALID, "cut to %zu bytes: %d %s", i, rc, mt_error_last());
	}
	mt_rng_seed(&rng, 13);
	for (i = 0; i < 120; i++) {
		size_t n = len, k, at = (size_t)(mt_rng_uniform(&rng) * (double)len);
		int kind = (int)(mt_rng_uniform(&rng) * 3);
		memcpy(buf, orig, len);
		if (kind == 0) {
			for (k = 0; k < 1 + i % 8 && at + k < n; k++)
				buf[at + k] = (unsigned char)(mt_rng_uniform(&rng) * 256);
		} else if (kind == 1 && at + 16 < n) {
			memmove(buf + at, buf + at + 16, n - at - 16);
			n -= 16;
		} else {
			memmove(buf + at + 16, buf + at, n - at);
			memset(buf + at, 0x50, 16);
			n += 16;
		}
		rc = mt_shim_load_tensor_dict_buffer(&x, &y, buf, n, "mutated.pt");
		cr_assert(rc == 0 || rc == MT_EINVALID, "mutation %zu: %d %s", i, rc, mt_error_last());
		refused += rc < 0;
		mt_tensor_free(x);
		mt_tensor_free(y);
		x = y = NULL;
	}
	cr_log_info("%zu of 120 mutated dicts refused", refused);
	cr_assert_gt(refused, 60);
	free(orig);
	free(buf);
	free(path);
}

Test(torch_hardening, truncated_model_refused_before_libtorch, .timeout = 600)
{
	size_t len, i;
	char *orig = th_read_all(MT_FIXTURES "/shim_model.pt", &len);
	mt_module *m = NULL;

	for (i = 0; i < len; i += 11) {
		cr_assert_eq(mt_module_load_buffer(&m, orig, i, "model.pt"), MT_EINVALID,
			     "cut to %zu bytes", i);
		cr_assert(th_contains(mt_error_last(), "model.pt: "), "%s", mt_error_last());
	}
	cr_assert_eq(mt_module_load_buffer(&m, orig, len, "model.pt"), 0, "%s", mt_error_last());
	mt_module_free(m);
	free(orig);
}
