/* `mutorch ci` and bad notes (issue 13): a base note with the right
 * model_key but junk fields is ignored with a warning that names the
 * field, and nothing of it is reused (it used to print "mutation_score is
 * nan%" and pass its junk on to HEAD's note); refs/notes/mutorch pointing
 * at a blob is bad input (exit 3, was 1). Scratch repositories hold the
 * LeNet-5 of tests/fixtures and 300 Fashion-MNIST test images. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "mutorch/io.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define GIT "git -c user.name=mutorch-test -c user.email=test@example.com"

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void git(const char *dir, const char *args)
{
	char *err = NULL;
	int rc = th_run(NULL, &err, "cd '%s' && " GIT " %s", dir, args);
	cr_assert_eq(rc, 0, "git %s failed (%d): %s", args, rc, err);
	free(err);
}

/* A repository with the model, 300 test images and a config, committed. */
static char *make_repo(const char *tag)
{
	char *dir = th_tempdir(tag), cmd[4400], data[4200], text[2048];
	void *img = NULL, *lab = NULL;
	size_t ilen, llen, n = 300;
	unsigned char *buf = malloc(16 + n * 784);

	snprintf(cmd, sizeof(cmd), "init -q -b main '%s'", dir);
	git(".", cmd);
	snprintf(cmd, sizeof(cmd), "cp '%s/lenet5_pytorch.pt' '%s/model.pt'", MT_FIXTURES, dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(mt_io_read_maybe_gzip(&img, &ilen, FASHION "/t10k-images-idx3-ubyte.gz"), 0);
	cr_assert_eq(mt_io_read_maybe_gzip(&lab, &llen, FASHION "/t10k-labels-idx1-ubyte.gz"), 0);
	snprintf(data, sizeof(data), "%s/data", dir);
	mkdir(data, 0755);
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
	snprintf(text, sizeof(text),
		 "model: {torchscript: model.pt, input_shape: [1, 28, 28]}\n"
		 "data:\n"
		 "  train: {images: data/test-images, labels: data/test-labels}\n"
		 "  test: {images: data/test-images, labels: data/test-labels}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "training: {threads: 1}\n"
		 "mutation:\n"
		 "  seed: 3\n"
		 "  model_level:\n"
		 "    - {op: GF, ratio: 0.3, sigma: 3.0, mutants: 2}\n"
		 "    - {op: NAI, ratio: 0.1, mutants: 1, layers: [fc1]}\n");
	free(th_write(dir, "mutorch.yml", text, (size_t)-1));
	free(th_write(dir, "README.md", "# example\n", (size_t)-1));
	git(dir, "add -A");
	git(dir, "commit -q -m 'commit 1'");
	return dir;
}

static json_t *note_of(const char *dir, const char *rev)
{
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	json_t *j;
	cr_assert_eq(th_run(&out, &err, "cd '%s' && git notes --ref=mutorch show %s", dir, rev), 0, "%s", err);
	j = json_loads(out, 0, &jerr);
	cr_assert(j, "the note is not JSON: %s", out);
	free(out);
	free(err);
	return j;
}

static void set_note(const char *dir, const char *rev, json_t *note)
{
	char *text = json_dumps(note, JSON_COMPACT);
	char *file = th_write(dir, "note.json", text, (size_t)-1);
	char args[4400];
	snprintf(args, sizeof(args), "notes --ref=mutorch add -f -F '%s' %s", file, rev);
	git(dir, args);
	free(file);
	free(text);
}

static double score_of(json_t *note)
{
	json_t *v = json_object_get(json_object_get(note, "scores"), "mutation_score");
	cr_assert(json_is_number(v), "mutation_score is not a number");
	return json_number_value(v);
}

typedef struct {
	const char *field;  /* named in the warning */
	void (*junk)(json_t *note);
} junk_case;

static void score_string(json_t *n)
{
	json_object_set_new(json_object_get(n, "scores"), "mutation_score", json_string("junk"));
}
static void score_range(json_t *n)
{
	json_object_set_new(json_object_get(n, "scores"), "mutation_score", json_real(7));
}
static void killed_too_many(json_t *n)
{
	json_t *t = json_object_get(n, "total");
	json_object_set_new(t, "killed", json_integer(json_integer_value(json_object_get(t, "mutants")) + 1));
}
static void operators_object(json_t *n) { json_object_set_new(n, "operators", json_object()); }
static void digest_junk(json_t *n) { json_object_set_new(n, "killmatrix_digest", json_string("zz")); }
static void scores_removed(json_t *n) { json_object_del(n, "scores"); }
static void total_score_mismatch(json_t *n)
{
	json_t *t = json_object_get(n, "total");
	double v = json_number_value(json_object_get(t, "mutation_score"));
	json_object_set_new(t, "mutation_score", json_real(v > 0.5 ? v - 0.25 : v + 0.25));
}

static const junk_case cases[] = {
	{"scores.mutation_score is not a number", score_string},
	{"scores.mutation_score is 7", score_range},
	{"total.killed is", killed_too_many},
	{"operators is not an array", operators_object},
	{"killmatrix_digest is not 40", digest_junk},
	{"scores is not an object", scores_removed},
	{"total.mutation_score does not equal", total_score_mismatch},
};

Test(ci_note, junk_in_a_base_note_is_never_reused, .timeout = 300)
{
	char *dir = make_repo("junk"), *out = NULL, *err = NULL;
	json_t *n1, *n2;
	double s1;

	cr_assert_eq(th_run(NULL, &err, "cd '%s' && %s ci -q", dir, MT_MUTORCH_EXE), 0, "%s", err);
	free(err);
	n1 = note_of(dir, "HEAD");
	s1 = score_of(n1);
	free(th_write(dir, "README.md", "# example\n\nmore\n", (size_t)-1));
	git(dir, "commit -q -a -m 'commit 2: README'");
	/* the good note is reused */
	cr_assert_eq(th_run(&out, &err, "cd '%s' && %s ci", dir, MT_MUTORCH_EXE), 0, "%s", err);
	cr_assert(th_contains(err, "reusing its"), "%s", err);
	free(out);
	free(err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *bad = json_deep_copy(n1);
		cases[i].junk(bad);
		set_note(dir, "HEAD^", bad);
		json_decref(bad);
		int rc = th_run(&out, &err, "cd '%s' && %s ci", dir, MT_MUTORCH_EXE);
		cr_assert_eq(rc, 0, "%s: exit %d: %s", cases[i].field, rc, err);
		cr_assert(th_contains(err, "is not a valid format-1 mutorch note"), "%s: %s", cases[i].field, err);
		cr_assert(th_contains(err, cases[i].field), "%s: %s", cases[i].field, err);
		cr_assert(!th_contains(err, "Sanitizer") && !th_contains(err, "runtime error:"), "%s", err);
		cr_assert(!th_contains(err, "reusing its") && !th_contains(out, "nan"), "%s:\n%s\n%s",
			  cases[i].field, out, err);
		/* HEAD's note: the results of this commit, none of the junk */
		n2 = note_of(dir, "HEAD");
		cr_assert_null(json_object_get(n2, "reused_from"), "%s", cases[i].field);
		cr_assert_float_eq(score_of(n2), s1, 1e-12, "%s", cases[i].field);
		cr_assert_str_eq(json_string_value(json_object_get(n2, "killmatrix_digest")),
				 json_string_value(json_object_get(n1, "killmatrix_digest")));
		cr_assert(json_is_null(json_object_get(json_object_get(n2, "gate"), "base_value")), "%s",
			  cases[i].field);
		json_decref(n2);
		free(out);
		free(err);
	}
	/* not JSON at all */
	git(dir, "notes --ref=mutorch add -f -m 'not json' HEAD^");
	cr_assert_eq(th_run(NULL, &err, "cd '%s' && %s ci", dir, MT_MUTORCH_EXE), 0, "%s", err);
	cr_assert(th_contains(err, "not JSON"), "%s", err);
	free(err);
	json_decref(n1);
	free(dir);
}

Test(ci_note, notes_ref_pointing_at_a_blob, .timeout = 120)
{
	char *dir = make_repo("blobref"), *err = NULL;
	git(dir, "update-ref refs/notes/mutorch $(git hash-object -w README.md)");
	int rc = th_run(NULL, &err, "cd '%s' && %s ci -q", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 3, "exit %d: %s", rc, err);
	cr_assert(th_contains(err, "refs/notes/mutorch points at a blob"), "%s", err);
	cr_assert(th_contains(err, "git update-ref -d refs/notes/mutorch"), "%s", err);
	cr_assert(!th_contains(err, "Sanitizer"), "%s", err);
	free(err);
	/* the advice works: without the ref, ci runs and writes its note */
	git(dir, "update-ref -d refs/notes/mutorch");
	cr_assert_eq(th_run(NULL, &err, "cd '%s' && %s ci -q", dir, MT_MUTORCH_EXE), 0, "%s", err);
	free(err);
	json_decref(note_of(dir, "HEAD"));
	free(dir);
}
