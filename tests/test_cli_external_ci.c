/* `mutorch ci` on the user's own training program (training.command), in a
 * scratch git repository in the style of test_cli_git.c: the program's
 * files are read from the commit and their content is part of the source
 * key, so a commit that only adds a comment to the program retrains every
 * run, one that changes only the test set re-evaluates the cached models
 * and trains nothing, and one that changes neither reuses the note. The
 * program is a fake (tests/fixtures/make_external_fixture.py's models,
 * copied by seed) so that the test pays for no real training. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "mutorch/io.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define GIT "git -c user.name=mutorch-test -c user.email=test@example.com"

static const char fake_program[] =
	"import json, os, shutil, sys\n"
	"spec = json.load(open(os.environ['MUTORCH_SPEC']))\n"
	"hp = spec['hyperparameters']\n"
	"name = 'bad' if hp['lr'] < 1e-5 else 'good%d' % (spec['seed'] % 4)\n"
	"shutil.copy(os.path.join(sys.argv[1], name + '.pt'), spec['output'])\n";

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

static void git(const char *dir, const char *args)
{
	char *err = NULL;
	int rc = th_run(NULL, &err, "cd '%s' && " GIT " %s", dir, args);
	cr_assert_eq(rc, 0, "git %s failed (%d): %s", args, rc, err);
	free(err);
}

static json_t *note_of(const char *dir)
{
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	int rc = th_run(&out, &err, "cd '%s' && git notes --ref=mutorch show HEAD", dir);
	cr_assert_eq(rc, 0, "git notes show failed (%d): %s", rc, err);
	json_t *j = json_loads(out, 0, &jerr);
	cr_assert(j, "the note is not JSON: %s", out);
	free(out);
	free(err);
	return j;
}

/* mutorch ci in dir (exit 0); *err receives its messages; the note. */
static json_t *ci(char **err, const char *dir)
{
	char *out = NULL;
	int rc = th_run(&out, err, "cd '%s' && %s ci --jobs 2", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "mutorch ci failed (%d): %s\n%s", rc, out, *err);
	free(out);
	return note_of(dir);
}

static json_int_t source_int(json_t *note, const char *key)
{
	json_t *v = json_object_get(json_object_get(note, "source"), key);
	cr_assert(json_is_integer(v), "no integer source.%s in the note", key);
	return json_integer_value(v);
}

Test(ci_external, program_change_retrains_test_change_reevaluates, .timeout = 300)
{
	char *dir = th_tempdir("ciext"), *err = NULL, cmd[4400], text[4096];
	json_t *n1, *n2, *n3, *n4, *in;
	size_t i;
	int program_inputs = 0;

	snprintf(cmd, sizeof(cmd), "init -q -b main '%s'", dir);
	git(".", cmd);
	write_test_set(dir, 500);
	free(th_write(dir, "fake.py", fake_program, (size_t)-1));
	free(th_write(dir, "README.md", "# external program\n", (size_t)-1));
	snprintf(text, sizeof(text),
		 "data:\n"
		 "  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
		 "  test: {images: data/test-images, labels: data/test-labels}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  train_limit: 600\n"
		 "training:\n"
		 "  command: [/usr/bin/python3, fake.py, '%s']\n"
		 "  program_files: [fake.py]\n"
		 "  hyperparameters: {lr: 0.001, epochs: 2}\n"
		 "  threads: 1\n"
		 "mutation:\n"
		 "  seed: 1\n"
		 "  source: {runs: 2, rule: welch}\n"
		 "  source_level:\n"
		 "    - {op: HLR, factor: 0.001}\n"
		 "    - {op: DF, ratio: 0.5}\n"
		 "ci: {tolerance: 1}\n", th_external_fixtures());
	free(th_write(dir, "mutorch.yml", text, (size_t)-1));
	git(dir, "add -A");
	git(dir, "commit -q -m 'the program, its config, a test set'");

	/* the first commit trains everything: 3 slots x 2 runs */
	n1 = ci(&err, dir);
	cr_assert_eq(source_int(n1, "trainings"), 6, "%s", err);
	cr_assert_eq(source_int(n1, "killed"), 1);
	json_array_foreach(json_object_get(n1, "inputs"), i, in)
		program_inputs += !strcmp(json_string_value(json_object_get(in, "role")), "program file");
	cr_assert_eq(program_inputs, 1, "the program file is an input of the note");
	free(err);

	/* a comment in the program: a different program, every run retrained */
	snprintf(text, sizeof(text), "# a comment changes the hash\n%s", fake_program);
	free(th_write(dir, "fake.py", text, (size_t)-1));
	git(dir, "commit -q -a -m 'comment in the program'");
	n2 = ci(&err, dir);
	cr_assert_eq(source_int(n2, "trainings"), 6, "a program change must retrain: %s", err);
	cr_assert(th_contains(err, "fake.py (program file)"), "%s", err);
	cr_assert_str_neq(json_string_value(json_object_get(json_object_get(n1, "source"), "key")),
			  json_string_value(json_object_get(json_object_get(n2, "source"), "key")));
	free(err);

	/* only the test set: the cached models are evaluated again */
	write_test_set(dir, 400);
	git(dir, "commit -q -a -m 'a smaller test set'");
	n3 = ci(&err, dir);
	cr_assert_eq(source_int(n3, "trainings"), 0, "a test set change retrained: %s", err);
	cr_assert_eq(source_int(n3, "reevaluated"), 6, "%s", err);
	cr_assert(th_contains(err, "only the test set changed"), "%s", err);
	free(err);

	/* nothing that matters: the note is reused */
	free(th_write(dir, "README.md", "# external program\nmore\n", (size_t)-1));
	git(dir, "commit -q -a -m readme");
	n4 = ci(&err, dir);
	cr_assert_eq(source_int(n4, "trainings"), 0);
	cr_assert(th_contains(err, "nothing is retrained"), "%s", err);
	free(err);
	json_decref(n1);
	json_decref(n2);
	json_decref(n3);
	json_decref(n4);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
}
