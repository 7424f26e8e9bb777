/* Every hardening finding of issue 13 (part A) end to end: `mutorch eval`
 * on a bad input exits 3 with a message naming the file and what is wrong,
 * and never hangs (Criterion's timeout), crashes or prints a result. The
 * model is the PyTorch-made LeNet-5 fixture; the bad torch files come from
 * tests/fixtures/make_bad_torch.py. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define IDX_TEST \
	"  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
#define IDX_TRAIN \
	"  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"

/* A config in dir: the LeNet-5 fixture, the given data section lines and
 * training section lines. */
static char *config(const char *dir, const char *data, const char *training)
{
	char text[40000];
	snprintf(text, sizeof(text),
		 "model:\n"
		 "  torchscript: %s/lenet5_pytorch.pt\n"
		 "  input_shape: [1, 28, 28]\n"
		 "data:\n"
		 "  classes: 10\n"
		 "  normalize: {scale: 255, mean: 0.286, std: 0.353}\n"
		 "%s"
		 "training:\n"
		 "  eval_batch_size: 1000\n"
		 "%s",
		 MT_FIXTURES, data, training ? training : "  threads: 1\n");
	return th_write(dir, "mutorch.yml", text, (size_t)-1);
}

/* mutorch eval CONFIG must exit 3 and name needle1 and needle2 on stderr. */
static void eval_fails(const char *cfg, const char *extra, const char *needle1,
		       const char *needle2)
{
	char *out = NULL, *err = NULL;
	int rc = th_run(&out, &err, "%s eval '%s' %s", MT_MUTORCH_EXE, cfg, extra ? extra : "");
	cr_assert_eq(rc, 3, "exit %d, stdout: %s\nstderr: %s", rc, out, err);
	cr_assert(th_contains(err, needle1), "stderr lacks '%s': %s", needle1, err);
	if (needle2)
		cr_assert(th_contains(err, needle2), "stderr lacks '%s': %s", needle2, err);
	cr_assert(!th_contains(out, "accuracy"), "printed a result: %s", out);
	free(out);
	free(err);
}

static const char *bad_torch_dir(void)
{
	static char dir[4096];
	char stamp[4200];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/bad-torch-cli", MT_BINARY_DIR);
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

/* A config whose test set is the torch file `name` from bad_torch_dir. */
static char *torch_config(const char *dir, const char *name)
{
	char data[16384];
	snprintf(data, sizeof(data),
		 "  format: torch\n"
		 "  train: {file: %s/%s}\n"
		 "  test: {file: %s/%s}\n",
		 bad_torch_dir(), name, bad_torch_dir(), name);
	return config(dir, data, NULL);
}

Test(cli_inputs, good_config_evaluates)
{
	/* the baseline the failures below differ from */
	char *dir = th_tempdir("cli-h-good"), *cfg = config(dir, "  format: idx\n" IDX_TRAIN IDX_TEST, NULL);
	char *out = NULL, *err = NULL;
	cr_assert_eq(th_run(&out, &err, "%s eval '%s'", MT_MUTORCH_EXE, cfg), 0, "%s", err);
	cr_assert(th_contains(out, "accuracy"), "%s", out);
	free(out);
	free(err);
	free(cfg);
	free(dir);
}

Test(cli_inputs, torch_storage_shorter_than_tensor)
{
	char *dir = th_tempdir("cli-h-short"), *cfg = torch_config(dir, "short_storage.pt");
	eval_fails(cfg, NULL, "short_storage.pt: key 'x' addresses 3136 bytes",
		   "its storage in the archive holds 100 bytes");
	free(cfg);
	free(dir);
}

Test(cli_inputs, torch_storage_offset_past_end)
{
	char *dir = th_tempdir("cli-h-off"), *cfg = torch_config(dir, "offset_past_end.pt");
	eval_fails(cfg, NULL, "offset_past_end.pt: key 'x' addresses", "offset 1000000");
	free(cfg);
	free(dir);
}

Test(cli_inputs, torch_truncated_zip)
{
	char *dir = th_tempdir("cli-h-trunc"), src[4200], *data, *cut, *cfg, text[8192];
	size_t len;
	snprintf(src, sizeof(src), "%s/good.pt", bad_torch_dir());
	data = th_read_all(src, &len);
	cut = th_write(dir, "cut.pt", data, len - 30);
	snprintf(text, sizeof(text), "  format: torch\n  train: {file: %s}\n  test: {file: %s}\n",
		 cut, cut);
	cfg = config(dir, text, NULL);
	eval_fails(cfg, NULL, "cut.pt: corrupt zip archive", NULL);
	free(cfg);
	free(cut);
	free(data);
	free(dir);
}

Test(cli_inputs, empty_test_set)
{
	char *dir = th_tempdir("cli-h-empty"), *cfg = torch_config(dir, "empty.pt");
	eval_fails(cfg, NULL, "empty.pt: the test set holds no samples", NULL);
	free(cfg);
	free(dir);
}

Test(cli_inputs, nan_test_data)
{
	char *dir = th_tempdir("cli-h-nan"), *cfg = torch_config(dir, "nan.pt");
	eval_fails(cfg, NULL, "nan.pt: value NaN at sample 1", "expected finite numbers");
	free(cfg);
	free(dir);
}

Test(cli_inputs, directory_as_data_model_and_config)
{
	char *dir = th_tempdir("cli-h-dir"), data[8192], *cfg;
	snprintf(data, sizeof(data),
		 "  format: idx\n" IDX_TRAIN
		 "  test: {images: %s, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n", dir);
	cfg = config(dir, data, NULL);
	eval_fails(cfg, NULL, "is a directory, expected a regular file", dir);
	free(cfg);
	cfg = config(dir, "  format: idx\n" IDX_TRAIN IDX_TEST, NULL);
	eval_fails(cfg, "--model /tmp", "/tmp: is a directory, expected a regular file", NULL);
	free(cfg);
	eval_fails(dir, NULL, "is a directory, expected a regular file", NULL);
	free(dir);
}

Test(cli_inputs, fifo_as_config_model_data, .timeout = 120)
{
	char *dir = th_tempdir("cli-h-fifo"), fifo[4200], data[8192], *cfg;
	snprintf(fifo, sizeof(fifo), "%s/pipe", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	eval_fails(fifo, NULL, "pipe: is a FIFO (named pipe), expected a regular file", NULL);
	cfg = config(dir, "  format: idx\n" IDX_TRAIN IDX_TEST, NULL);
	{
		char opt[4300];
		snprintf(opt, sizeof(opt), "--model '%s'", fifo);
		eval_fails(cfg, opt, "pipe: is a FIFO", NULL);
	}
	free(cfg);
	snprintf(data, sizeof(data),
		 "  format: idx\n" IDX_TRAIN
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: %s}\n", fifo);
	cfg = config(dir, data, NULL);
	eval_fails(cfg, NULL, "pipe: is a FIFO", NULL);
	free(cfg);
	unlink(fifo);
	free(dir);
}

Test(cli_inputs, fifo_as_result_log, .timeout = 120)
{
	char *dir = th_tempdir("cli-h-log"), path[4200], *cfg, *out = NULL, *err = NULL;
	int rc;
	cfg = config(dir, "  format: idx\n" IDX_TRAIN IDX_TEST "  test_limit: 100\n",
		     "  threads: 1\n"
		     "run:\n  dir: run\n"
		     "mutation:\n  model_level:\n    - {op: NEB, ratio: 0.1, layers: [fc1]}\n");
	snprintf(path, sizeof(path), "%s/run", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/run/results.jsonl", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	rc = th_run(&out, &err, "%s run '%s' --jobs 1", MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 3, "exit %d: %s", rc, err);
	cr_assert(th_contains(err, "results.jsonl: is a FIFO"), "%s", err);
	unlink(path);
	free(out);
	free(err);
	free(cfg);
	free(dir);
}

Test(cli_inputs, config_limits)
{
	char *dir = th_tempdir("cli-h-cfg"), *cfg, *deep;
	size_t i, n = 100000;

	cfg = config(dir, "  format: idx\n" IDX_TRAIN IDX_TEST, "  threads: 4096\n");
	eval_fails(cfg, NULL, "mutorch.yml:12: 'training.threads' is 4096, expected at most", NULL);
	free(cfg);
	cfg = config(dir, "  format: idx\n" IDX_TRAIN IDX_TEST, "  threads: 1\n---\n[unclosed\n");
	eval_fails(cfg, NULL, "YAML syntax error in a second YAML document", NULL);
	free(cfg);
	deep = malloc(2 * n + 16);
	memcpy(deep, "x: ", 3);
	for (i = 0; i < n; i++)
		deep[3 + i] = '[';
	deep[3 + n] = '\0';
	cfg = th_write(dir, "deep.yml", deep, (size_t)-1);
	eval_fails(cfg, NULL, "deep.yml:1: lists and mappings nested more than 64 deep", NULL);
	free(cfg);
	free(deep);
	free(dir);
}

Test(cli_inputs, gzip_trailing_garbage_in_idx)
{
	char *dir = th_tempdir("cli-h-gz"), *raw, *bad, data[8192], *cfg;
	size_t len;
	raw = th_read_all(FASHION "/t10k-labels-idx1-ubyte.gz", &len);
	raw = realloc(raw, len + 4);
	memcpy(raw + len, "JUNK", 4);
	bad = th_write(dir, "labels.gz", raw, len + 4);
	snprintf(data, sizeof(data),
		 "  format: idx\n" IDX_TRAIN
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: %s}\n", bad);
	cfg = config(dir, data, NULL);
	eval_fails(cfg, NULL, "labels.gz: 4 bytes after the end of the gzip stream", NULL);
	free(cfg);
	free(bad);
	free(raw);
	free(dir);
}

Test(cli_inputs, gzip_bomb_as_labels)
{
	/* An IDX labels header declaring 10000 labels, then 64 MiB of zeros,
	 * gzip-compressed to about 64 KB: refused once inflating passes what
	 * the header declares (it was inflated whole before). */
	size_t big = (size_t)64 << 20;
	unsigned char *raw = calloc(big, 1);
	char *dir = th_tempdir("cli-h-bomb"), path[4200], data[16384], *cfg;
	gzFile gz;

	cr_assert(raw);
	raw[2] = 0x08;
	raw[3] = 0x01;
	raw[6] = 10000 >> 8;
	raw[7] = 10000 & 0xFF;
	snprintf(path, sizeof(path), "%s/labels.gz", dir);
	cr_assert(gz = gzopen(path, "wb9"));
	cr_assert_eq(gzwrite(gz, raw, (unsigned)big), (int)big);
	cr_assert_eq(gzclose(gz), Z_OK);
	free(raw);
	snprintf(data, sizeof(data),
		 "  format: idx\n" IDX_TRAIN
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: %s}\n", path);
	cfg = config(dir, data, NULL);
	eval_fails(cfg, NULL, "labels.gz: gzip data inflates to more than",
		   "the size its IDX header declares");
	free(cfg);
	free(dir);
}
