/* End-to-end tests of `mutorch ci`, `mutorch run --rev` and `mutorch hook`
 * in scratch git repositories (made with the git CLI) that hold a config,
 * the LeNet-5 trained by PyTorch (tests/fixtures/lenet5_pytorch.pt) and the
 * first Fashion-MNIST test images as IDX files: the full run and its note,
 * a README-only commit that runs nothing, a halved test set that lowers the
 * score and fails the gate, --rev reproducing an old kill matrix, and one
 * test per edge case (not a repository, dirty tree, detached HEAD, shallow
 * clone, base without a note, concurrent runs, hooks). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "mutorch/io.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define GIT "git -c user.name=mutorch-test -c user.email=test@example.com"

/* Mutants that some inputs of the second thousand alone kill, so halving
 * the test set lowers the mutation score. */
static const char big_mutation[] =
	"mutation:\n"
	"  seed: 5\n"
	"  model_level:\n"
	"    - {op: GF, ratio: 0.01, sigma: 0.1, mutants: 4}\n"
	"    - {op: NAI, ratio: 0.01, mutants: 3}\n"
	"    - {op: NEB, ratio: 0.02, mutants: 2}\n"
	"    - {op: WPR, dtype: bf16, layers: [fc1]}\n";

static const char small_mutation[] =
	"mutation:\n"
	"  seed: 3\n"
	"  model_level:\n"
	"    - {op: GF, ratio: 0.01, sigma: 0.1, mutants: 1}\n"
	"    - {op: NAI, ratio: 0.01, mutants: 1, layers: [fc1, fc2]}\n";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The first n Fashion-MNIST test images and labels as IDX files in dir/data. */
static void write_test_set(const char *dir, size_t n)
{
	void *img = NULL, *lab = NULL;
	size_t ilen, llen;
	char data[4200];
	unsigned char *buf;

	cr_assert_eq(mt_io_read_maybe_gzip(&img, &ilen, FASHION "/t10k-images-idx3-ubyte.gz"), 0);
	cr_assert_eq(mt_io_read_maybe_gzip(&lab, &llen, FASHION "/t10k-labels-idx1-ubyte.gz"), 0);
	cr_assert(ilen >= 16 + n * 784 && llen >= 8 + n);
	snprintf(data, sizeof(data), "%s/data", dir);
	mkdir(data, 0755);
	buf = malloc(16 + n * 784);
	put_be32(buf, 0x803);
	put_be32(buf + 4, (uint32_t)n);
	put_be32(buf + 8, 28);
	put_be32(buf + 12, 28);
	memcpy(buf + 16, (unsigned char *)img + 16, n * 784);
	free(th_write(data, "test-images", buf, 16 + n * 784));
	put_be32(buf, 0x801);
	put_be32(buf + 4, (uint32_t)n);
	memcpy(buf + 8, (unsigned char *)lab + 8, n);
	free(th_write(data, "test-labels", buf, 8 + n));
	free(buf);
	free(img);
	free(lab);
}

static void write_config(const char *dir, const char *mutation, const char *ci)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "model:\n"
		 "  torchscript: model.pt\n"
		 "  input_shape: [1, 28, 28]\n"
		 "data:\n"
		 "  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
		 "  test: {images: data/test-images, labels: data/test-labels}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "training: {threads: 1, eval_batch_size: 1000}\n"
		 "%s%s",
		 mutation, ci ? ci : "");
	free(th_write(dir, "mutorch.yml", text, (size_t)-1));
}

static void git(const char *dir, const char *fmt_args)
{
	char *err = NULL;
	int rc = th_run(NULL, &err, "cd '%s' && " GIT " %s", dir, fmt_args);
	cr_assert_eq(rc, 0, "git %s failed (%d): %s", fmt_args, rc, err);
	free(err);
}

static char *git_out(const char *dir, const char *args)
{
	char *out = NULL, *err = NULL;
	int rc = th_run(&out, &err, "cd '%s' && " GIT " %s", dir, args);
	cr_assert_eq(rc, 0, "git %s failed (%d): %s", args, rc, err);
	free(err);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

/* A scratch repository with the config, the model and n test images,
 * committed once. */
static char *make_repo(const char *tag, size_t n, const char *mutation, const char *ci)
{
	char *dir = th_tempdir(tag), cmd[4400];
	snprintf(cmd, sizeof(cmd), "init -q -b main '%s'", dir);
	git(".", cmd);
	snprintf(cmd, sizeof(cmd), "cp '%s/lenet5_pytorch.pt' '%s/model.pt'", MT_FIXTURES, dir);
	cr_assert_eq(system(cmd), 0);
	write_test_set(dir, n);
	write_config(dir, mutation, ci);
	free(th_write(dir, "README.md", "# Fashion-MNIST example\n", (size_t)-1));
	git(dir, "add -A");
	git(dir, "commit -q -m 'commit 1: model, test set, config'");
	return dir;
}

/* mutorch ci in dir; returns the exit code. */
static int ci(char **out, char **err, const char *dir, const char *extra)
{
	return th_run(out, err, "cd '%s' && %s ci %s", dir, MT_MUTORCH_EXE, extra ? extra : "");
}

static json_t *note_of(const char *dir, const char *rev)
{
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	json_t *j;
	int rc = th_run(&out, &err, "cd '%s' && git notes --ref=mutorch show %s", dir, rev);
	cr_assert_eq(rc, 0, "git notes show %s failed (%d): %s", rev, rc, err);
	j = json_loads(out, 0, &jerr);
	cr_assert(j, "the note is not JSON: %s", out);
	free(out);
	free(err);
	return j;
}

static json_int_t mutants(json_t *note, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(note, "mutants"), key));
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	cr_assert(s, "no string '%s' in the note", key);
	return s;
}

Test(ci, four_commits_scenario, .timeout = 300)
{
	char *dir = make_repo("ci", 2000, big_mutation, "ci: {tolerance: 0.01}\n");
	char *out = NULL, *err = NULL, *c1, *c3, path[4400], path2[4400], cmd[4400];
	json_t *n1, *n2, *n3;
	double t0, t_commit2;
	int rc;

	/* commit 1: the full analysis, and a note git prints */
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 0, "ci on commit 1 failed (%d): %s", rc, err);
	cr_assert(th_contains(err, "first commit"), "%s", err);
	c1 = git_out(dir, "rev-parse HEAD");
	n1 = note_of(dir, "HEAD");
	cr_assert_str_eq(str(n1, "commit"), c1);
	cr_assert(json_is_null(json_object_get(n1, "base")));
	cr_assert_gt(mutants(n1, "total"), 20);
	cr_assert_eq(mutants(n1, "run"), mutants(n1, "total"));
	cr_assert_eq(mutants(n1, "reused"), 0);
	cr_assert(json_is_number(json_object_get(json_object_get(n1, "scores"), "mutation_score")));
	cr_assert_eq(json_array_size(json_object_get(n1, "operators")), 4);
	cr_assert_eq(strlen(str(n1, "killmatrix_digest")), 40);
	cr_assert_eq(strlen(str(n1, "config_digest")), 40);
	cr_assert(json_is_integer(json_object_get(n1, "threads")));
	cr_assert(json_is_integer(json_object_get(n1, "seed")));
	cr_assert(json_is_string(json_object_get(json_object_get(n1, "versions"), "torch")));
	free(out);
	free(err);

	/* commit 2 changes only the README: nothing runs, a note is written */
	free(th_write(dir, "README.md", "# Fashion-MNIST example\n\nMore words.\n", (size_t)-1));
	git(dir, "commit -q -a -m 'commit 2: README'");
	t0 = now_s();
	rc = ci(&out, &err, dir, NULL);
	t_commit2 = now_s() - t0;
	cr_assert_eq(rc, 0, "ci on commit 2 failed (%d): %s", rc, err);
	cr_log_info("mutorch ci on the README-only commit took %.2f s", t_commit2);
	fprintf(stderr, "[test_cli_git] README-only commit: mutorch ci took %.2f s\n", t_commit2);
	cr_assert(th_contains(err, "0 mutants run"), "%s", err);
	n2 = note_of(dir, "HEAD");
	cr_assert_eq(mutants(n2, "run"), 0);
	cr_assert_eq(mutants(n2, "reused"), mutants(n1, "total"));
	cr_assert_str_eq(str(n2, "base"), c1);
	cr_assert_str_eq(str(n2, "killmatrix_digest"), str(n1, "killmatrix_digest"));
	cr_assert_eq(json_array_size(json_object_get(n2, "changed_inputs")), 0);
	free(out);
	free(err);

	/* commit 3 removes half of the test set: re-evaluated, not retrained,
	 * the score falls, exit 4, the note records the drop */
	write_test_set(dir, 1000);
	git(dir, "commit -q -a -m 'commit 3: half of the test set'");
	c3 = git_out(dir, "rev-parse HEAD");
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 4, "ci on commit 3 should fail the gate with 4, got %d: %s\n%s", rc, out, err);
	cr_assert(th_contains(err, "only the test set changed"), "%s", err);
	cr_assert(th_contains(out, "FAILED: mutation_score fell by"), "%s", out);
	cr_assert(th_contains(out, "mutation_score"), "%s", out);
	n3 = note_of(dir, "HEAD");
	cr_assert_str_eq(str(n3, "commit"), c3);
	cr_assert_eq(mutants(n3, "run"), mutants(n1, "total"));
	cr_assert_eq(mutants(n3, "reused"), 0);
	cr_assert_eq(mutants(n3, "retrained"), 0);
	cr_assert_str_eq(str(n3, "plan_digest"), str(n1, "plan_digest"));
	cr_assert_eq(json_array_size(json_object_get(n3, "changed_inputs")), 2);
	{
		json_t *gate = json_object_get(n3, "gate");
		cr_assert(json_is_false(json_object_get(gate, "passed")));
		cr_assert_lt(json_number_value(json_object_get(gate, "value")),
			     json_number_value(json_object_get(gate, "base_value")));
		cr_assert_float_eq(json_number_value(json_object_get(gate, "base_value")),
				   json_number_value(json_object_get(json_object_get(n1, "scores"), "mutation_score")), 1e-12);
	}
	/* nothing was trained: the config's default output was never written */
	snprintf(path, sizeof(path), "%s/trained", dir);
	cr_assert_neq(access(path, F_OK), 0);
	free(out);
	free(err);

	/* run --rev <commit 1> while HEAD is at commit 3 reproduces commit 1's
	 * kill matrix exactly, and leaves the working tree as it was */
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s run --rev %s --run-dir '%s/rev1' --json", dir, MT_MUTORCH_EXE, c1, dir);
	rc = th_run(&out, &err, "%s", cmd);
	cr_assert_eq(rc, 0, "run --rev failed (%d): %s", rc, err);
	snprintf(path, sizeof(path), "kill-matrix digest %s", str(n1, "killmatrix_digest"));
	cr_assert(th_contains(err, path), "expected '%s' in: %s", path, err);
	{
		size_t la, lb;
		char *a, *b;
		snprintf(path, sizeof(path), "%s/rev1/kills.csv", dir);
		snprintf(path2, sizeof(path2), "%s/.git/mutorch/runs/%s/kills.csv", dir, str(n1, "model_key"));
		a = th_read_all(path, &la);
		b = th_read_all(path2, &lb);
		cr_assert(la == lb && !memcmp(a, b, la), "kills.csv of run --rev differs from commit 1's");
		free(a);
		free(b);
		snprintf(path, sizeof(path), "%s/rev1/predictions.csv", dir);
		snprintf(path2, sizeof(path2), "%s/.git/mutorch/runs/%s/predictions.csv", dir, str(n1, "model_key"));
		a = th_read_all(path, &la);
		b = th_read_all(path2, &lb);
		cr_assert(la == lb && !memcmp(a, b, la), "predictions.csv of run --rev differs from commit 1's");
		free(a);
		free(b);
	}
	{
		struct stat st;
		snprintf(path, sizeof(path), "%s/data/test-labels", dir);
		cr_assert_eq(stat(path, &st), 0);
		cr_assert_eq(st.st_size, 8 + 1000, "the working tree was touched");
		free(out);
		out = git_out(dir, "status --porcelain --untracked-files=no");
		cr_assert_str_eq(out, "", "the working tree was touched: %s", out);
		free(c3);
		c3 = git_out(dir, "rev-parse HEAD");
		cr_assert_str_eq(str(n3, "commit"), c3, "HEAD moved");
	}
	free(out);
	free(err);
	json_decref(n1);
	json_decref(n2);
	json_decref(n3);
	free(c1);
	free(c3);
	free(dir);
}

Test(ci, not_a_git_repository, .timeout = 60)
{
	char *dir = th_tempdir("nogit"), *out = NULL, *err = NULL;
	int rc;
	write_config(dir, small_mutation, NULL);
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 3, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "is not in a git repository"), "%s", err);
	free(out);
	free(err);
	rc = th_run(&out, &err, "cd '%s' && %s run --rev HEAD", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 3, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "is not in a git repository"), "%s", err);
	free(out);
	free(err);
	free(dir);
}

Test(ci, dirty_working_tree_analyses_head, .timeout = 120)
{
	char *dir = make_repo("dirty", 300, small_mutation, NULL), *out = NULL, *err = NULL, *blob;
	json_t *note, *in;
	size_t i;
	int rc;

	/* uncommitted changes, one of them to the test set */
	free(th_write(dir, "README.md", "changed, not committed\n", (size_t)-1));
	write_test_set(dir, 100);
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "uncommitted changes"), "%s", err);
	cr_assert(th_contains(err, "analysing HEAD"), "%s", err);
	note = note_of(dir, "HEAD");
	cr_assert(json_is_true(json_object_get(note, "working_tree_dirty")));
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(note, "scores"), "inputs")), 300,
		     "the committed test set (300) was not the one analysed");
	blob = git_out(dir, "rev-parse HEAD:data/test-labels");
	json_array_foreach(json_object_get(note, "inputs"), i, in)
		if (!strcmp(str(in, "path"), "data/test-labels"))
			cr_assert_str_eq(str(in, "blob"), blob);
	free(blob);
	json_decref(note);
	free(out);
	free(err);
	free(dir);
}

Test(ci, detached_head, .timeout = 120)
{
	char *dir = make_repo("detached", 300, small_mutation, NULL), *out = NULL, *err = NULL, *head;
	json_t *note;
	int rc;

	git(dir, "checkout -q --detach HEAD");
	head = git_out(dir, "rev-parse HEAD");
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "HEAD is detached at"), "%s", err);
	note = note_of(dir, head);
	cr_assert_str_eq(str(note, "commit"), head);
	cr_assert(json_is_true(json_object_get(note, "detached_head")));
	json_decref(note);
	free(head);
	free(out);
	free(err);
	free(dir);
}

Test(ci, shallow_clone_without_the_base, .timeout = 120)
{
	char *dir = make_repo("shallow", 300, small_mutation, NULL), *clone = th_tempdir("clone");
	char *out = NULL, *err = NULL, cmd[9000];
	int rc;

	free(th_write(dir, "README.md", "second\n", (size_t)-1));
	git(dir, "commit -q -a -m second");
	snprintf(cmd, sizeof(cmd), "clone -q --depth 1 'file://%s' '%s/repo'", dir, clone);
	git(".", cmd);
	snprintf(cmd, sizeof(cmd), "%s/repo", clone);
	rc = ci(&out, &err, cmd, NULL);
	cr_assert_eq(rc, 3, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "shallow clone"), "%s", err);
	cr_assert(th_contains(err, "fetch"), "%s", err);
	free(out);
	free(err);
	rc = ci(&out, &err, cmd, "--base main~1");
	cr_assert_eq(rc, 3, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "not in this shallow clone"), "%s", err);
	free(out);
	free(err);
	free(clone);
	free(dir);
}

Test(ci, base_without_note_runs_in_full_then_config_change_reuses, .timeout = 120)
{
	char *dir = make_repo("nonote", 300, small_mutation, NULL), *out = NULL, *err = NULL, *c1;
	json_t *n2, *n3;
	int rc;

	c1 = git_out(dir, "rev-parse HEAD");
	free(th_write(dir, "README.md", "second\n", (size_t)-1));
	git(dir, "commit -q -a -m second");
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "has no mutorch note"), "%s", err);
	cr_assert(th_contains(err, "running the full analysis"), "%s", err);
	n2 = note_of(dir, "HEAD");
	cr_assert_str_eq(str(n2, "base"), c1);
	cr_assert_gt(mutants(n2, "run"), 0);
	free(out);
	free(err);

	/* A threshold added to the config changes no result: the results
	 * are reused and the threshold fails the gate. */
	write_config(dir, small_mutation, "ci: {threshold: 0.999}\n");
	git(dir, "commit -q -a -m threshold");
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 4, "got %d: %s\n%s", rc, out, err);
	cr_assert(th_contains(out, "below the threshold"), "%s", out);
	n3 = note_of(dir, "HEAD");
	cr_assert_eq(mutants(n3, "run"), 0);
	cr_assert_str_eq(str(n3, "killmatrix_digest"), str(n2, "killmatrix_digest"));
	cr_assert_eq(json_array_size(json_object_get(n3, "changed_inputs")), 1); /* mutorch.yml */
	free(out);
	free(err);

	/* a bad ci section is an input error naming the key */
	write_config(dir, small_mutation, "ci: {score: accuracy}\n");
	git(dir, "commit -q -a -m bad");
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 3, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "'ci.score'"), "%s", err);
	json_decref(n2);
	json_decref(n3);
	free(c1);
	free(out);
	free(err);
	free(dir);
}

Test(ci, unborn_head_uncommitted_config_and_paths_into_the_worktree, .timeout = 60)
{
	char *dir = th_tempdir("unborn"), *out = NULL, *err = NULL, cmd[4400], text[4400];
	int rc;

	snprintf(cmd, sizeof(cmd), "init -q -b main '%s'", dir);
	git(".", cmd);
	write_config(dir, small_mutation, NULL);
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 3, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "HEAD has no commit yet"), "%s", err);
	free(out);
	free(err);

	free(th_write(dir, "README.md", "only docs\n", (size_t)-1));
	git(dir, "add README.md");
	git(dir, "commit -q -m docs");
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 3, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "mutorch.yml is not in the tree of commit"), "%s", err);
	free(out);
	free(err);

	/* an absolute path into the working tree would be read from it, not
	 * from the commit */
	snprintf(text, sizeof(text), "model:\n  torchscript: %s/model.pt\n  input_shape: [1, 28, 28]\n"
		 "data:\n  train: {images: a, labels: b}\n  test: {images: c, labels: d}\n%s", dir, small_mutation);
	free(th_write(dir, "mutorch.yml", text, (size_t)-1));
	git(dir, "add mutorch.yml");
	git(dir, "commit -q -m config");
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 3, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "absolute path into the working tree"), "%s", err);
	free(out);
	free(err);
	free(dir);
}

Test(ci, source_level_results_in_the_note_and_reused, .timeout = 240)
{
	char *dir = th_tempdir("source"), *out = NULL, *err = NULL, cmd[4400];
	json_t *n1, *n2, *src;
	int rc;

	snprintf(cmd, sizeof(cmd), "init -q -b main '%s'", dir);
	git(".", cmd);
	write_test_set(dir, 500);
	free(th_write(dir, "README.md", "# source level\n", (size_t)-1));
	free(th_write(dir, "mutorch.yml",
		      "model:\n"
		      "  architecture: flatten linear(784,32) relu linear(32,10)\n"
		      "  input_shape: [1, 28, 28]\n"
		      "data:\n"
		      "  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
		      "  test: {images: data/test-images, labels: data/test-labels}\n"
		      "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		      "  train_limit: 600\n"
		      "training: {epochs: 1, batch_size: 64, threads: 1, seed: 7}\n"
		      "mutation:\n"
		      "  seed: 1\n"
		      "  source: {runs: 2, rule: welch}\n"
		      "  source_level:\n"
		      "    - {op: HLR, factor: 0.001}\n"
		      "ci: {tolerance: 1}\n", (size_t)-1));
	git(dir, "add -A");
	git(dir, "commit -q -m 'source level'");
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 0, "got %d: %s\n%s", rc, out, err);
	cr_assert(th_contains(out, "source_mutation_score"), "%s", out);
	n1 = note_of(dir, "HEAD");
	src = json_object_get(n1, "source");
	cr_assert(json_is_object(src), "no source section in the note");
	cr_assert_eq(json_integer_value(json_object_get(src, "mutants")), 1);
	cr_assert_eq(json_integer_value(json_object_get(src, "trainings")), 4, "2 runs of the original and of the mutant");
	cr_assert_eq(mutants(n1, "retrained"), 4);
	cr_assert(json_is_number(json_object_get(json_object_get(n1, "scores"), "source_mutation_score")));
	cr_assert_eq(json_array_size(json_object_get(n1, "levels")), 1);
	cr_assert_str_eq(str(json_object_get(src, "operators") ? json_array_get(json_object_get(src, "operators"), 0) : src, "name"), "HLR");
	free(out);
	free(err);

	/* a README change retrains nothing: the note's results are reused */
	free(th_write(dir, "README.md", "# source level\nmore\n", (size_t)-1));
	git(dir, "commit -q -a -m readme");
	rc = ci(&out, &err, dir, NULL);
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "nothing is retrained"), "%s", err);
	n2 = note_of(dir, "HEAD");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(n2, "source"), "trainings")), 0);
	cr_assert_eq(mutants(n2, "retrained"), 0);
	cr_assert(json_equal(json_object_get(json_object_get(n2, "scores"), "source_mutation_score"),
			     json_object_get(json_object_get(n1, "scores"), "source_mutation_score")));
	json_decref(n1);
	json_decref(n2);
	free(out);
	free(err);
	free(dir);
}

/* A child process that holds the ci lock for `seconds`; returns its pid
 * once the lock is held. */
static pid_t hold_lock(const char *dir, double seconds)
{
	char path[4400];
	int pipefd[2];
	pid_t pid;
	char c;

	snprintf(path, sizeof(path), "%s/.git/mutorch", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/.git/mutorch/ci.lock", dir);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CREAT, 0644);
		if (fd < 0 || flock(fd, LOCK_EX) < 0)
			_exit(1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		usleep((useconds_t)(seconds * 1e6));
		_exit(0);
	}
	close(pipefd[1]);
	cr_assert_eq(read(pipefd[0], &c, 1), 1, "the lock holder failed");
	close(pipefd[0]);
	return pid;
}

Test(ci, concurrent_runs_wait_or_fail_cleanly, .timeout = 180)
{
	char *dir = make_repo("lock", 300, small_mutation, NULL), *out = NULL, *err = NULL;
	json_t *note;
	pid_t holder;
	int rc, status;

	/* Another run holds the lock: --wait 1 gives up with exit 5. */
	/* 30 s: a mutorch built with ASan (.ci/run) on a loaded machine takes
	 * more than 3 s to reach the lock */
	holder = hold_lock(dir, 30);
	rc = ci(&out, &err, dir, "--wait 1");
	cr_assert_eq(rc, 5, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "another mutorch run holds"), "%s", err);
	free(out);
	free(err);
	/* A run that may wait long enough waits, then runs. */
	rc = ci(&out, &err, dir, "--wait 60 -q");
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	waitpid(holder, &status, 0);
	free(out);
	free(err);

	/* Two runs at once on a new commit: both finish, one after the other;
	 * the notes ref stays valid. */
	free(th_write(dir, "README.md", "second\n", (size_t)-1));
	git(dir, "commit -q -a -m second");
	rc = th_run(&out, &err,
		    "cd '%s' && (%s ci -q --wait 120 >/dev/null 2>e1 & p1=$!; %s ci -q --wait 120 >/dev/null 2>e2 & p2=$!; "
		    "wait $p1; r1=$?; wait $p2; r2=$?; echo $r1 $r2; rm -f e1 e2)",
		    dir, MT_MUTORCH_EXE, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0);
	cr_assert(th_contains(out, "0 0"), "exit codes of the two runs: %s", out);
	note = note_of(dir, "HEAD");
	cr_assert_eq(mutants(note, "run"), 0);
	json_decref(note);
	free(out);
	free(err);
	rc = th_run(&out, &err, "cd '%s' && git fsck --no-progress --no-dangling && git notes --ref=mutorch list | wc -l", dir);
	cr_assert_eq(rc, 0, "git fsck failed: %s %s", out, err);
	cr_assert_eq(atoi(out), 2, "expected 2 notes: %s", out);
	free(out);
	free(err);
	free(dir);
}

Test(ci, hook_install_runs_ci_after_a_commit, .timeout = 120)
{
	char *dir = make_repo("hook", 300, small_mutation, NULL), *out = NULL, *err = NULL, *text, *head;
	char path[4400];
	size_t len;
	struct stat st;
	json_t *note;
	int rc;

	rc = ci(&out, &err, dir, "-q");
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	free(out);
	free(err);

	/* post-commit (default) */
	rc = th_run(&out, &err, "cd '%s' && %s hook install", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	snprintf(path, sizeof(path), "%s/.git/hooks/post-commit", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(st.st_mode & S_IXUSR, "the hook is not executable");
	text = th_read_all(path, &len);
	cr_assert(th_contains(text, " ci 'mutorch.yml'"), "%s", text);
	free(text);
	free(out);
	free(err);
	free(th_write(dir, "README.md", "after the hook\n", (size_t)-1));
	git(dir, "commit -q -a -m 'hooked commit'");
	head = git_out(dir, "rev-parse HEAD");
	note = note_of(dir, head);
	cr_assert_str_eq(str(note, "commit"), head);
	cr_assert_eq(mutants(note, "run"), 0);
	json_decref(note);
	free(head);

	/* pre-push, and uninstall */
	rc = th_run(&out, &err, "cd '%s' && %s hook install --pre-push", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	snprintf(path, sizeof(path), "%s/.git/hooks/pre-push", dir);
	cr_assert_eq(access(path, X_OK), 0);
	free(out);
	free(err);
	rc = th_run(&out, &err, "cd '%s' && %s hook uninstall --pre-push", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	cr_assert_neq(access(path, F_OK), 0);
	free(out);
	free(err);

	/* a hook mutorch did not write is kept unless --force */
	snprintf(path, sizeof(path), "%s/.git/hooks", dir);
	free(th_write(path, "post-commit", "#!/bin/sh\necho mine\n", (size_t)-1));
	rc = th_run(&out, &err, "cd '%s' && %s hook install", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 3, "got %d: %s", rc, err);
	cr_assert(th_contains(err, "was not written by mutorch"), "%s", err);
	free(out);
	free(err);
	rc = th_run(&out, &err, "cd '%s' && %s hook install --force", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "got %d: %s", rc, err);
	free(out);
	free(err);
	free(dir);
}
