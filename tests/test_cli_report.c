/* `mutorch report`, `mutorch run --html` and `mutorch analyse` on a real
 * run (the LeNet-5 of tests/fixtures, 1000 Fashion-MNIST test images):
 * every number of the page equals report.json's or the analyses' JSON,
 * the minimised subset kills exactly what the whole set kills (checked
 * from kills.csv), the mask reads back in NumPy, inputs.csv's lcr column;
 * and the score per commit from `mutorch ci` notes, with a failed gate
 * marked. The page in headless Chromium: test_cli_report_browser.c. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "html_check.h"
#include "report_run.h"
#include "mutorch/io.h"

#define GIT "git -c user.name=mutorch-test -c user.email=test@example.com"

static json_t *load_json(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);
	cr_assert(j, "%s: %s", path, e.text);
	return j;
}

static json_t *run_json(const char *fmt, const char *dir)
{
	char *out = NULL, *err = NULL;
	json_error_t e;
	json_t *j;
	int rc = th_run(&out, &err, "cd '%s' && %s %s", dir, MT_MUTORCH_EXE, fmt);
	cr_assert_eq(rc, 0, "mutorch %s failed (%d): %s", fmt, rc, err);
	j = json_loads(out, 0, &e);
	cr_assert(j, "not JSON: %s", out);
	free(out);
	free(err);
	return j;
}

Test(report, numbers_equal_the_json_and_analyses_hold, .timeout = 300)
{
	char *dir = make_run("report"), path[600], *html, *html2, *out = NULL, *err = NULL, *kills, *line;
	json_t *root = json_object(), *report, *analysis, *mutants, *lcr, *v;
	size_t checked, n_sub = 0, i;
	unsigned char sub[1000] = {0};
	int rc;

	snprintf(path, sizeof(path), "%s/out/report.json", dir);
	report = load_json(path);
	analysis = run_json("analyse out all --json", dir);
	json_object_set(root, "model", report);
	json_object_set(root, "analysis", analysis);
	snprintf(path, sizeof(path), "%s/out/report.html", dir);
	html = th_read_all(path, NULL);
	checked = hc_check(html, root);
	cr_log_info("report.html: %zu numbers equal the JSON reports'", checked);
	cr_assert_geq(checked, 60, "only %zu numbers are tagged", checked);
	hc_offline(html);

	/* `mutorch report` writes the same page (deterministic) and prints
	 * its path */
	rc = th_run(&out, &err, "cd '%s' && %s report out -o out/again.html", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(out, "out/again.html\n");
	snprintf(path, sizeof(path), "%s/out/again.html", dir);
	html2 = th_read_all(path, NULL);
	cr_assert(!strcmp(html, html2), "two reports of the same run differ");
	free(out);
	free(err);

	/* minimise: the subset kills exactly the mutants of M' the whole set
	 * kills, read from kills.csv and report.json's statuses and filter */
	rc = th_run(&out, &err, "cd '%s' && %s analyse out minimise", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(th_contains(out, "checked against the kill matrix"), "%s", out);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/out/minimised.txt", dir);
	{
		char *list = th_read_all(path, NULL), *p = list;
		while (*p) {
			unsigned long t = strtoul(p, &p, 10);
			cr_assert_lt(t, 1000);
			sub[t] = 1;
			n_sub++;
			p += *p == '\n';
		}
		free(list);
	}
	cr_assert_eq((json_int_t)n_sub, json_integer_value(json_object_get(json_object_get(analysis, "minimise"), "subset_size")));
	mutants = json_object_get(report, "mutants");
	snprintf(path, sizeof(path), "%s/out/kills.csv", dir);
	kills = th_read_all(path, NULL);
	line = strchr(kills, '\n') + 1;
	for (i = 0; i < json_array_size(mutants); i++) {
		json_t *m = json_array_get(mutants, i);
		int all = 0, part = 0;
		char *p = line, *end = strchr(line, '\n');
		const char *status = json_string_value(json_object_get(m, "status"));
		for (int f = 0; f < 3; f++)
			p = strchr(p, ',') + 1;
		for (size_t t = 0; t < 1000; t++, p += 2) {
			if (*p == '1') {
				all = 1;
				part |= sub[t];
			}
		}
		cr_assert_eq(p - 1, end);
		if (!json_is_true(json_object_get(m, "filtered")) &&
		    (!strcmp(status, "Killed") || !strcmp(status, "Survived")))
			cr_assert_eq(part, all, "%s: killed by the whole set %d, by the subset %d",
				     json_string_value(json_object_get(m, "id")), all, part);
		line = end + 1;
	}
	free(kills);
	cr_assert_eq(th_run(&out, &err, "/usr/bin/python3 -c \"import numpy; m = numpy.load('%s/out/minimised.npy'); "
			    "print(m.dtype, m.shape, int(m.sum()))\"", dir), 0, "%s", err);
	snprintf(path, sizeof(path), "bool (1000,) %zu\n", n_sub);
	cr_assert_str_eq(out, path);
	free(out);
	free(err);

	/* prioritise beats random orders; the order is a permutation */
	v = run_json("analyse out prioritise --json", dir);
	{
		json_t *p = json_object_get(v, "prioritise");
		double apfd = json_number_value(json_object_get(p, "apfd"));
		double rnd = json_number_value(json_object_get(p, "apfd_random_mean"));
		cr_assert_gt(apfd, rnd, "greedy APFD %g, random %g", apfd, rnd);
		cr_assert(json_equal(p, json_object_get(analysis, "prioritise")));
	}
	json_decref(v);

	/* inputs.csv: the old columns, then lcr = analyse's per-input rates */
	lcr = json_object_get(json_object_get(v = run_json("analyse out lcr --json --per-input", dir), "lcr"), "lcr");
	snprintf(path, sizeof(path), "%s/out/inputs.csv", dir);
	{
		char *csv = th_read_all(path, NULL), *p = strchr(csv, '\n') + 1;
		cr_assert_eq(strncmp(csv, "input,class,original_prediction,in_t_prime,ks1,lcr\n", 51), 0);
		for (size_t t = 0; t < 1000; t++) {
			char *last = NULL, *e = strchr(p, '\n');
			for (char *q = p; q < e; q++)
				if (*q == ',')
					last = q;
			cr_assert_eq(strtod(last + 1, NULL), json_number_value(json_array_get(lcr, t)), "input %zu", t);
			p = e + 1;
		}
		free(csv);
	}
	json_decref(v);

	free(html);
	free(html2);
	json_decref(report);
	json_decref(analysis);
	json_decref(root);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
	free(dir);
}

Test(report, usage_and_bad_input)
{
	char *dir = th_tempdir("report-usage"), *out = NULL, *err = NULL;
	cr_assert_eq(th_run(&out, NULL, "%s report --help", MT_MUTORCH_EXE), 0);
	cr_assert(th_contains(out, "usage: mutorch report"));
	free(out);
	cr_assert_eq(th_run(&out, NULL, "%s analyse --help", MT_MUTORCH_EXE), 0);
	cr_assert(th_contains(out, "minimise"));
	free(out);
	cr_assert_eq(th_run(NULL, NULL, "%s report", MT_MUTORCH_EXE), 2);
	cr_assert_eq(th_run(NULL, NULL, "%s analyse %s bogus", MT_MUTORCH_EXE, dir), 2);
	cr_assert_eq(th_run(NULL, NULL, "%s analyse %s all", MT_MUTORCH_EXE, dir), 2);
	cr_assert_eq(th_run(NULL, NULL, "%s analyse %s prioritise --orders 0", MT_MUTORCH_EXE, dir), 2);
	cr_assert_eq(th_run(NULL, &err, "%s analyse %s minimise", MT_MUTORCH_EXE, dir), 3);
	cr_assert(th_contains(err, "no kill matrix"), "%s", err);
	free(err);
	cr_assert_eq(th_run(NULL, &err, "%s report %s", MT_MUTORCH_EXE, dir), 3);
	cr_assert(th_contains(err, "source-report.json"), "%s", err);
	free(err);
	free(th_write(dir, "killmatrix.mtkm", "not a kill matrix", (size_t)-1));
	cr_assert_eq(th_run(NULL, &err, "%s report %s", MT_MUTORCH_EXE, dir), 3);
	cr_assert(th_contains(err, "killmatrix.mtkm"), "%s", err);
	free(err);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
	free(dir);
}

/* ---- history ---------------------------------------------------------------- */

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

static void write_config(const char *dir, const char *ci)
{
	char text[2048];
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
		 "    - {op: NAI, ratio: 0.1, mutants: 1, layers: [fc1]}\n"
		 "%s", ci);
	free(th_write(dir, "mutorch.yml", text, (size_t)-1));
}

/* A repository with the model, 300 test images and a config. */
static char *make_repo(void)
{
	char *dir = th_tempdir("report-history"), cmd[4400], data[4200];
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
	write_config(dir, "");
	free(th_write(dir, "README.md", "# example\n", (size_t)-1));
	git(dir, "add -A");
	git(dir, "commit -q -m 'commit 1'");
	return dir;
}

static int ci(const char *dir)
{
	char *err = NULL;
	int rc = th_run(NULL, &err, "cd '%s' && %s ci -q", dir, MT_MUTORCH_EXE);
	cr_assert(rc == 0 || rc == 4, "mutorch ci failed (%d): %s", rc, err);
	free(err);
	return rc;
}

Test(report, history_of_ci_notes_with_a_failed_gate, .timeout = 300)
{
	char *dir = make_repo(), *out = NULL, *err = NULL, *html, path[600], *commits, *p;
	json_t *root = json_pack("{s:[]}", "history");
	size_t checked, notes = 0, crosses = 0;
	int rc;

	/* commit 1 has no note; 2 and 3 pass; 4 gates on the average error
	 * rate with a threshold no mutant set reaches and fails */
	free(th_write(dir, "README.md", "# example\nmore\n", (size_t)-1));
	git(dir, "commit -q -a -m 'commit 2'");
	cr_assert_eq(ci(dir), 0);
	free(th_write(dir, "README.md", "# example\neven more\n", (size_t)-1));
	git(dir, "commit -q -a -m 'commit 3'");
	cr_assert_eq(ci(dir), 0);
	write_config(dir, "ci: {score: average_error_rate, threshold: 0.999}\n");
	git(dir, "commit -q -a -m 'commit 4: a threshold too high'");
	cr_assert_eq(ci(dir), 4);

	rc = th_run(&out, &err, "cd '%s' && %s report --history -o history.html", dir, MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(out, "history.html\n");
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/history.html", dir);
	html = th_read_all(path, NULL);

	cr_assert_eq(th_run(&commits, NULL, "cd '%s' && git rev-list --first-parent HEAD", dir), 0);
	for (p = commits; *p; p += 41) {
		char sha[41], *text = NULL;
		snprintf(sha, sizeof(sha), "%.40s", p);
		if (th_run(&text, NULL, "cd '%s' && git notes --ref=mutorch show %s 2>/dev/null", dir, sha) == 0) {
			json_error_t e;
			json_t *note = json_loads(text, 0, &e);
			cr_assert(note);
			json_object_set_new(note, "commit", json_string(sha));
			json_array_append_new(json_object_get(root, "history"), note);
			notes++;
		}
		free(text);
	}
	cr_assert_eq(notes, 3);
	checked = hc_check(html, root);
	cr_assert_geq(checked, 3 * 3, "only %zu history numbers", checked);
	for (p = html; (p = strstr(p, "class=\"fail\"")); p++)
		crosses++;
	cr_assert_eq(crosses, 1, "%zu commits marked as failing the gate", crosses);
	cr_assert(th_contains(html, "no note"), "commit 1 has no note: a gap");
	cr_assert(th_contains(html, "commit 4: a threshold too high"));
	hc_offline(html);
	free(commits);
	free(html);
	json_decref(root);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
	free(dir);
}
