/* End-to-end tests of the mutorch command line: help, exit codes, error
 * messages for bad input, PyTorch-equivalent evaluation and deterministic
 * training. They run the mutorch binary, so this test binary itself does
 * not link libtorch. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"

/* A small config: an MLP on the first 2000/500 Fashion-MNIST images. */
static char *write_small_config(const char *dir, const char *extra_training)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "model:\n"
		 "  architecture: flatten linear(784,32) relu linear(32,10)\n"
		 "  input_shape: [1, 28, 28]\n"
		 "  output: out/model.pt\n"
		 "data:\n"
		 "  format: idx\n"
		 "  classes: 10\n"
		 "  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  train_limit: 2000\n"
		 "  test_limit: 500\n"
		 "training:\n"
		 "  optimizer: {name: sgd, lr: 0.05, momentum: 0.9}\n"
		 "  epochs: 2\n"
		 "  batch_size: 32\n"
		 "  seed: 3\n"
		 "  threads: 1\n"
		 "%s",
		 extra_training ? extra_training : "");
	return th_write(dir, "mutorch.yml", text, (size_t)-1);
}

Test(cli, help_and_version)
{
	char *out = NULL, *err = NULL;
	cr_assert_eq(th_run(&out, &err, "%s --help", MT_MUTORCH_EXE), 0);
	cr_assert(th_contains(out, "train") && th_contains(out, "eval"), "%s", out);
	free(out);
	cr_assert_eq(th_run(&out, &err, "%s train --help", MT_MUTORCH_EXE), 0);
	cr_assert(th_contains(out, "usage: mutorch train"), "%s", out);
	free(out);
	cr_assert_eq(th_run(&out, &err, "%s eval --help", MT_MUTORCH_EXE), 0);
	cr_assert(th_contains(out, "--model"), "%s", out);
	free(out);
	cr_assert_eq(th_run(&out, &err, "%s --version", MT_MUTORCH_EXE), 0);
	cr_assert(th_contains(out, "libtorch 1."), "%s", out);
	free(out);
	free(err);
}

Test(cli, usage_errors_exit_2)
{
	char *err = NULL;
	cr_assert_eq(th_run(NULL, &err, "%s frobnicate", MT_MUTORCH_EXE), 2);
	cr_assert(th_contains(err, "frobnicate"), "%s", err);
	free(err);
	cr_assert_eq(th_run(NULL, &err, "%s eval --bogus-option", MT_MUTORCH_EXE), 2);
	free(err);
	cr_assert_eq(th_run(NULL, &err, "%s", MT_MUTORCH_EXE), 2);
	free(err);
}

Test(cli, missing_config_names_file)
{
	char *err = NULL;
	cr_assert_eq(th_run(NULL, &err, "%s eval /nonexistent/dir/mutorch.yml", MT_MUTORCH_EXE), 3);
	cr_assert(th_contains(err, "/nonexistent/dir/mutorch.yml"), "%s", err);
	free(err);
}

Test(cli, misspelt_key_names_key_and_line)
{
	char *dir = th_tempdir("cli"), *err = NULL;
	char *cfg = write_small_config(dir, "  optimiser: sgd\n");
	cr_assert_eq(th_run(NULL, &err, "%s train %s", MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "optimiser"), "%s", err);
	cr_assert(th_contains(err, ":19"), "message lacks the line number: %s", err);
	free(err);
}

Test(cli, model_that_is_not_torchscript)
{
	char *dir = th_tempdir("cli"), *err = NULL;
	char *cfg = write_small_config(dir, NULL);
	char *bad = th_write(dir, "notamodel.pt", "this is not a zip archive\n", (size_t)-1);
	cr_assert_eq(th_run(NULL, &err, "%s eval %s --model %s", MT_MUTORCH_EXE, cfg, bad), 3);
	cr_assert(th_contains(err, "notamodel.pt"), "%s", err);
	free(err);
	cr_assert_eq(th_run(NULL, &err, "%s eval %s --model %s/missing.pt", MT_MUTORCH_EXE, cfg, dir), 3);
	cr_assert(th_contains(err, "missing.pt"), "%s", err);
	free(err);
}

Test(cli, truncated_data_file_names_file)
{
	char *dir = th_tempdir("cli"), *err = NULL, text[2048];
	/* A labels file whose header promises 100 labels but holds 10. */
	unsigned char idx[8 + 10] = {0, 0, 8, 1, 0, 0, 0, 100};
	char *labels = th_write(dir, "short-labels.idx", idx, sizeof(idx));
	snprintf(text, sizeof(text),
		 "model: {architecture: \"flatten linear(784,10)\", input_shape: [1, 28, 28]}\n"
		 "data:\n"
		 "  train: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: %s}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: %s}\n",
		 labels, labels);
	char *cfg = th_write(dir, "bad.yml", text, (size_t)-1);
	cr_assert_eq(th_run(NULL, &err, "%s train %s", MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "short-labels.idx"), "%s", err);
	free(err);
}

/* A LeNet-5 trained and saved by PyTorch (tests/fixtures/make_lenet_fixture.py)
 * gets exactly PyTorch's predictions, accuracy and per-class accuracy. */
Test(cli, eval_matches_pytorch)
{
	char *dir = th_tempdir("cli"), *out = NULL, *err = NULL, pred_path[4200];
	json_error_t jerr;
	json_t *got, *want;
	size_t n_expected;
	char *expected = th_read_all(MT_FIXTURES "/lenet5_pytorch.pred", &n_expected);
	char *want_text = th_read_all(MT_FIXTURES "/lenet5_pytorch.json", NULL);

	snprintf(pred_path, sizeof(pred_path), "%s/pred.txt", dir);
	cr_assert_eq(th_run(&out, &err, "%s eval %s/lenet5_pytorch.yml --model %s/lenet5_pytorch.pt --json --predictions %s",
			    MT_MUTORCH_EXE, MT_FIXTURES, MT_FIXTURES, pred_path), 0, "%s", err);
	got = json_loads(out, 0, &jerr);
	want = json_loads(want_text, 0, &jerr);
	cr_assert(got && want, "bad JSON: %s", out);
	cr_assert_eq(json_integer_value(json_object_get(got, "n")), 10000);
	cr_assert_eq(json_integer_value(json_object_get(got, "correct")),
		     json_integer_value(json_object_get(want, "correct")));
	cr_assert_float_eq(json_real_value(json_object_get(got, "accuracy")),
			   json_real_value(json_object_get(want, "accuracy")), 1e-6);
	for (size_t c = 0; c < 10; c++)
		cr_assert_float_eq(json_real_value(json_array_get(json_object_get(got, "per_class"), c)),
				   json_real_value(json_array_get(json_object_get(want, "per_class"), c)),
				   1e-6, "class %zu", c);

	FILE *f = fopen(pred_path, "r");
	cr_assert(f);
	size_t i = 0;
	int label, mismatches = 0;
	while (fscanf(f, "%d", &label) == 1) {
		cr_assert_lt(i, n_expected);
		if (label != (unsigned char)expected[i])
			mismatches++;
		i++;
	}
	fclose(f);
	cr_assert_eq(i, n_expected);
	cr_assert_eq(mismatches, 0, "%d of %zu predictions differ from PyTorch's", mismatches, i);
	json_decref(got);
	json_decref(want);
	free(out);
	free(err);
}

/* --json names the file that was evaluated: without --model and without
 * a trained model.output, the config's model.torchscript. */
Test(cli, eval_json_names_the_model_evaluated)
{
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	json_t *got;

	cr_assert_eq(th_run(&out, &err, "%s eval %s/lenet5_pytorch.yml --json", MT_MUTORCH_EXE, MT_FIXTURES), 0,
		     "%s", err);
	got = json_loads(out, 0, &jerr);
	cr_assert(got, "bad JSON: %s", out);
	cr_assert_str_eq(json_string_value(json_object_get(got, "model")), MT_FIXTURES "/lenet5_pytorch.pt");
	json_decref(got);
	free(out);
	free(err);
}

/* Same config, seed and thread count: bit-identical trained weights. */
Test(cli, training_is_deterministic)
{
	char *dir = th_tempdir("cli"), *out = NULL, *err = NULL, a[4200], b[4200];
	char *cfg = write_small_config(dir, NULL);
	size_t la, lb;
	json_error_t jerr;

	snprintf(a, sizeof(a), "%s/a.pt", dir);
	snprintf(b, sizeof(b), "%s/b.pt", dir);
	cr_assert_eq(th_run(&out, &err, "%s train %s -o %s --json", MT_MUTORCH_EXE, cfg, a), 0, "%s", err);
	json_t *res = json_loads(out, 0, &jerr);
	cr_assert(res, "bad JSON: %s", out);
	cr_assert_gt(json_real_value(json_object_get(res, "accuracy")), 0.6, "%s", out);
	json_decref(res);
	free(out);
	free(err);
	cr_assert_eq(th_run(&out, &err, "%s train %s -o %s --json -q", MT_MUTORCH_EXE, cfg, b), 0, "%s", err);
	free(out);
	free(err);
	char *da = th_read_all(a, &la), *db = th_read_all(b, &lb);
	cr_assert_eq(la, lb);
	cr_assert(memcmp(da, db, la) == 0, "two trainings with the same seed differ");

	/* And the saved model evaluates to what train reported. */
	cr_assert_eq(th_run(&out, &err, "%s eval %s --model %s --json", MT_MUTORCH_EXE, cfg, a), 0, "%s", err);
	cr_assert(th_contains(out, "\"accuracy\""), "%s", out);
	free(out);
	free(err);
}
