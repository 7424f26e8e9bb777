/* Shared by tests/test_cli_report*.c: a finished model-level run of the
 * LeNet-5 fixture on 1000 Fashion-MNIST test images, made with
 * `mutorch run --html`. */
#ifndef MUTORCH_TEST_REPORT_RUN_H
#define MUTORCH_TEST_REPORT_RUN_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"

/* A finished model-level run in dir/out (with --html). */
static inline char *make_run(const char *tag)
{
	char *dir = th_tempdir(tag), text[4096], *err = NULL;
	int rc;
	snprintf(text, sizeof(text),
		 "model:\n"
		 "  torchscript: %s/lenet5_pytorch.pt\n"
		 "  input_shape: [1, 28, 28]\n"
		 "data:\n"
		 "  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  test_limit: 1000\n"
		 "training: {threads: 1, eval_batch_size: 1000}\n"
		 "run: {dir: out}\n"
		 "mutation:\n"
		 "  seed: 5\n"
		 "  model_level:\n"
		 "    - {op: GF, ratio: 0.2, sigma: 1.0, mutants: 2}\n"
		 "    - {op: NAI, ratio: 0.05, mutants: 2, layers: all}\n"
		 "    - {op: WPR, dtype: bf16}\n"
		 "    - {op: BF, k: 1, bit: mantissa, mutants: 1}\n"
		 "    - {op: AFRm}\n",
		 MT_FIXTURES);
	free(th_write(dir, "mutorch.yml", text, (size_t)-1));
	rc = th_run(NULL, &err, "cd '%s' && %s run mutorch.yml -q --jobs 2 --html", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "mutorch run failed (%d): %s", rc, err);
	cr_assert(th_contains(err, "report.html"), "run --html did not say where: %s", err);
	free(err);
	return dir;
}

#endif
