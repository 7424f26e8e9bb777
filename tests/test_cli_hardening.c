/* Bad models end with a clear message and exit 3, never a crash, a hang or
 * a silently wrong result (issue 13): a model with more or fewer outputs
 * than data.classes, NaN outputs, a forward that never returns (in `eval`,
 * `run` and `train`'s final evaluation, under --eval-timeout), a forward
 * that raises, a wrong input width, a tuple output, TorchScript code that
 * does not compile. The models are tests/fixtures/bad_*.pt, made by
 * tests/fixtures/make_bad_models.py. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"

/* A config for fixture model `name` on the first 200 test images. */
static char *config_for(const char *dir, const char *name)
{
	char text[4096], file[300];
	snprintf(text, sizeof(text),
		 "model: {torchscript: %s/%s.pt, input_shape: [1, 28, 28], output: trained.pt}\n"
		 "data:\n"
		 "  train: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  train_limit: 64\n"
		 "  test_limit: 200\n"
		 "training: {threads: 1, epochs: 1, batch_size: 32}\n"
		 "run: {dir: out-%s}\n"
		 "mutation:\n"
		 "  model_level:\n"
		 "    - {op: GF, mutants: 2}\n",
		 MT_FIXTURES, name, name);
	snprintf(file, sizeof(file), "%s.yml", name);
	return th_write(dir, file, text, (size_t)-1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* `mutorch <cmd> CONFIG <extra>` must exit 3 and say every needle. */
static void expect_refused(const char *cmd, const char *model, const char *extra,
			   const char *const *needles)
{
	char *dir = th_tempdir("bad"), *err = NULL, *out = NULL;
	char *cfg = config_for(dir, model);
	int rc = th_run(&out, &err, "cd %s && %s %s %s %s", dir, MT_MUTORCH_EXE, cmd, cfg, extra);
	cr_assert_eq(rc, 3, "mutorch %s on %s: exit %d, expected 3\n%s", cmd, model, rc, err);
	for (size_t i = 0; needles[i]; i++)
		cr_assert(th_contains(err, needles[i]), "mutorch %s on %s: no '%s' in: %s", cmd, model,
			  needles[i], err);
	/* train evaluates the model it saved (model.output) */
	cr_assert(th_contains(err, model) || th_contains(err, "trained.pt"),
		  "the message does not name the model file: %s", err);
	cr_assert(!th_contains(err, "Traceback") && !th_contains(err, "libc++abi") &&
		  !th_contains(err, "terminate called") && !th_contains(err, "runtime error:") &&
		  !th_contains(err, "Sanitizer"), "%s", err);
	free(err);
	free(out);
	free(cfg);
	free(dir);
}

Test(hardening, more_outputs_than_classes, .timeout = 120)
{
	/* was an 80,000-byte write into a 3,200-byte buffer (SIGSEGV) */
	const char *n[] = {"784 outputs", "data.classes is 10", NULL};
	expect_refused("eval", "bad_wide", "", n);
	expect_refused("run", "bad_wide", "-q", n);
}

Test(hardening, fewer_outputs_than_classes, .timeout = 120)
{
	const char *n[] = {"5 outputs", "data.classes is 10", NULL};
	expect_refused("eval", "bad_narrow", "", n);
	expect_refused("run", "bad_narrow", "-q", n);
}

Test(hardening, nan_outputs_of_the_original, .timeout = 120)
{
	const char *n[] = {"NaN or infinite", "200 of the 200", NULL};
	expect_refused("eval", "bad_nan", "", n);
	expect_refused("run", "bad_nan", "-q", n);
}

Test(hardening, forward_that_raises, .timeout = 120)
{
	const char *n[] = {"the model's forward failed", "refuses every input", NULL};
	expect_refused("eval", "bad_raises", "", n);
	expect_refused("run", "bad_raises", "-q", n);
}

Test(hardening, wrong_input_width, .timeout = 120)
{
	const char *n[] = {"the model's forward failed", "784", NULL};
	expect_refused("eval", "bad_width", "", n);
	expect_refused("run", "bad_width", "-q", n);
}

Test(hardening, tuple_output, .timeout = 120)
{
	const char *n[] = {"returned Tuple", "expected one tensor", NULL};
	expect_refused("eval", "bad_tuple", "", n);
	expect_refused("run", "bad_tuple", "-q", n);
}

Test(hardening, code_that_does_not_compile, .timeout = 120)
{
	const char *n[] = {"does not compile", "no_such_function", NULL};
	expect_refused("eval", "bad_code", "", n);
	expect_refused("run", "bad_code", "-q", n);
}

/* A forward that never returns: eval, run's setup and train's final
 * evaluation end at --eval-timeout with exit 3 instead of hanging. */
Test(hardening, original_that_never_returns, .timeout = 240)
{
	const char *n[] = {"did not finish within 2 s", "--eval-timeout", NULL};
	double t0 = now_s();
	expect_refused("eval", "bad_hang", "--eval-timeout 2", n);
	expect_refused("run", "bad_hang", "-q --eval-timeout 2", n);
	expect_refused("train", "bad_hang_eval", "-q --eval-timeout 2", n);
	/* each ended by its limit, not by the test's own timeout */
	cr_assert_lt(now_s() - t0, 200);
}

Test(hardening, train_saves_the_model_before_its_final_evaluation, .timeout = 120)
{
	char *dir = th_tempdir("hang"), *err = NULL, path[4200];
	char *cfg = config_for(dir, "bad_hang_eval");
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s train %s -q --eval-timeout 1", dir, MT_MUTORCH_EXE, cfg), 3,
		     "%s", err);
	snprintf(path, sizeof(path), "%s/trained.pt", dir);
	free(th_read_all(path, NULL));
	free(err);
	free(cfg);
	free(dir);
}

Test(hardening, eval_timeout_is_checked, .timeout = 60)
{
	char *dir = th_tempdir("evt"), *err = NULL;
	char *cfg = config_for(dir, "bad_hang");
	const char *bad[] = {"-1", "abc", "", "nan"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(th_run(NULL, &err, "cd %s && %s eval %s --eval-timeout '%s'", dir, MT_MUTORCH_EXE, cfg,
				    bad[i]), 2, "--eval-timeout '%s': %s", bad[i], err);
		cr_assert(th_contains(err, "--eval-timeout"), "%s", err);
		free(err);
	}
	/* documented in every command's --help */
	const char *cmds[] = {"eval", "run", "train", "ci"};
	for (size_t i = 0; i < 4; i++) {
		char *out = NULL;
		cr_assert_eq(th_run(&out, NULL, "%s %s --help", MT_MUTORCH_EXE, cmds[i]), 0);
		cr_assert(th_contains(out, "--eval-timeout"), "mutorch %s --help: %s", cmds[i], out);
		free(out);
	}
	free(cfg);
	free(dir);
}

/* The control: a good model with the same options passes. */
Test(hardening, good_model_passes, .timeout = 120)
{
	char *dir = th_tempdir("good"), *err = NULL, *out = NULL, text[4096];
	snprintf(text, sizeof(text),
		 "model: {torchscript: %s/lenet5_pytorch.pt, input_shape: [1, 28, 28]}\n"
		 "data:\n"
		 "  train: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  test_limit: 200\n"
		 "training: {threads: 1}\n"
		 "mutation:\n"
		 "  model_level:\n"
		 "    - {op: GF, mutants: 2}\n", MT_FIXTURES);
	char *cfg = th_write(dir, "good.yml", text, (size_t)-1);
	cr_assert_eq(th_run(&out, &err, "cd %s && %s eval %s --eval-timeout 60", dir, MT_MUTORCH_EXE, cfg), 0, "%s", err);
	cr_assert(th_contains(out, "accuracy"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(th_run(&out, &err, "cd %s && %s run %s -q --eval-timeout 0", dir, MT_MUTORCH_EXE, cfg), 0, "%s", err);
	cr_assert(!th_contains(err, "Sanitizer"), "%s", err);
	free(out);
	free(err);
	free(cfg);
	free(dir);
}
