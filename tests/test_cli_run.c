/* End-to-end tests of the model-level run (`mutorch run`, `score`,
 * `mutants`, `export-mutant`) on the LeNet-5 trained by PyTorch
 * (tests/fixtures/lenet5_pytorch.pt) and the first 1000 Fashion-MNIST test
 * images: reports, scores recomputed from the CSV kill matrix, determinism
 * across --jobs, resume after SIGKILL, crash and timeout isolation, and
 * exported mutants checked in PyTorch. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define N_TEST 1000

static char *write_config(const char *dir, int test_limit)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "model:\n"
		 "  torchscript: %s/lenet5_pytorch.pt\n"
		 "  input_shape: [1, 28, 28]\n"
		 "data:\n"
		 "  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  test_limit: %d\n"
		 "training: {threads: 1, eval_batch_size: 1000}\n"
		 "run: {dir: out}\n"
		 "mutation:\n"
		 "  seed: 5\n"
		 "  model_level:\n"
		 "    - {op: GF, ratio: 0.2, sigma: 2.0, mutants: 2}\n"
		 "    - {op: NAI, ratio: 0.1, mutants: 3, layers: all}\n"
		 "    - {op: NEB, ratio: 0.2, mutants: 1, layers: [conv2, fc1]}\n"
		 "    - {op: PRN, ratio: 0.6}\n"
		 "    - {op: WPR, dtype: bf16, layers: [fc1]}\n"
		 "    - {op: AFRm}\n"
		 "    - {op: LD}\n",
		 MT_FIXTURES, test_limit);
	return th_write(dir, "mutorch.yml", text, (size_t)-1);
}

static json_t *run_json(const char *fmt_extra, const char *dir, const char *cfg)
{
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	json_t *j;
	int rc = th_run(&out, &err, "cd %s && %s %s %s --json -q", dir, MT_MUTORCH_EXE, fmt_extra, cfg);
	cr_assert_eq(rc, 0, "mutorch %s failed (%d): %s", fmt_extra, rc, err);
	j = json_loads(out, 0, &jerr);
	cr_assert(j, "not JSON: %s", out);
	free(out);
	free(err);
	return j;
}

/* Split one CSV line into fields, keeping empty ones (no quoting in these
 * files). */
static int split_csv(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;
	while (n < max) {
		char *comma = strchr(p, ',');
		fields[n++] = p;
		if (!comma)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	return n;
}

Test(run, reports_and_scores_recomputed_from_csv, .timeout = 300)
{
	char *dir = th_tempdir("run"), path[4200];
	char *cfg = write_config(dir, N_TEST);
	json_t *rep = run_json("run", dir, cfg);

	cr_assert(json_is_number(json_object_get(rep, "mutation_score")));
	cr_assert(json_is_number(json_object_get(rep, "deepmutation_score")));
	cr_assert(json_is_number(json_object_get(rep, "average_error_rate")));
	cr_assert(json_is_array(json_object_get(rep, "operators")));
	cr_assert_eq(json_array_size(json_object_get(rep, "operators")), 7);

	/* score recomputes the same numbers from the stored matrix */
	snprintf(path, sizeof(path), "score %s/out", dir);
	json_t *sc = run_json(path, dir, "");
	cr_assert_float_eq(json_number_value(json_object_get(sc, "mutation_score")),
			   json_number_value(json_object_get(rep, "mutation_score")), 1e-12);
	cr_assert_float_eq(json_number_value(json_object_get(sc, "deepmutation_score")),
			   json_number_value(json_object_get(rep, "deepmutation_score")), 1e-12);

	/* Recompute MS and AER from the CSV kill matrix and the predictions. */
	snprintf(path, sizeof(path), "%s/out/predictions.csv", dir);
	char *pred = th_read_all(path, NULL);
	snprintf(path, sizeof(path), "%s/out/kills.csv", dir);
	char *kills = th_read_all(path, NULL);
	static char *f[N_TEST + 8];
	int cls[N_TEST], orig[N_TEST], n_correct = 0;
	char *save = NULL, *line = strtok_r(pred, "\n", &save);
	int nf;

	cr_assert(line); /* header */
	line = strtok_r(NULL, "\n", &save);
	nf = split_csv(line, f, N_TEST + 8);
	cr_assert_str_eq(f[0], "@class");
	cr_assert_eq(nf, N_TEST + 3);
	for (int t = 0; t < N_TEST; t++)
		cls[t] = atoi(f[3 + t]);
	line = strtok_r(NULL, "\n", &save);
	nf = split_csv(line, f, N_TEST + 8);
	cr_assert_str_eq(f[0], "@original");
	for (int t = 0; t < N_TEST; t++) {
		orig[t] = atoi(f[3 + t]);
		n_correct += orig[t] == cls[t];
	}
	/* accuracy per mutant from its prediction row, for the 0.9 filter */
	double filter = 0.9, ms_num = 0, aer_num = 0;
	int m_valid = 0;
	char *save2 = NULL, *kline = strtok_r(kills, "\n", &save2);
	cr_assert(kline);
	while ((line = strtok_r(NULL, "\n", &save)) && (kline = strtok_r(NULL, "\n", &save2))) {
		static char *kf[N_TEST + 8];
		int correct = 0, killed_class[10] = {0}, nk = 0;
		nf = split_csv(line, f, N_TEST + 8);
		split_csv(kline, kf, N_TEST + 8);
		cr_assert_str_eq(f[0], kf[0], "rows out of order");
		if (strcmp(kf[2], "Killed") && strcmp(kf[2], "Survived"))
			continue;
		cr_assert_eq(nf, N_TEST + 3);
		for (int t = 0; t < N_TEST; t++)
			correct += atoi(f[3 + t]) == cls[t];
		if ((double)correct < filter * n_correct)
			continue; /* too easy: left out of the scores */
		m_valid++;
		for (int t = 0; t < N_TEST; t++) {
			int k = atoi(kf[3 + t]);
			/* a kill is exactly: the original right, the mutant wrong */
			cr_assert_eq(k, orig[t] == cls[t] && atoi(f[3 + t]) != cls[t], "%s input %d", kf[0], t);
			if (k) {
				killed_class[cls[t]] = 1;
				nk++;
			}
		}
		for (int c = 0; c < 10; c++)
			ms_num += killed_class[c];
		aer_num += (double)nk / n_correct;
	}
	cr_assert_gt(m_valid, 5);
	cr_assert_float_eq(json_number_value(json_object_get(rep, "deepmutation_score")),
			   ms_num / (m_valid * 10.0), 1e-12);
	cr_assert_float_eq(json_number_value(json_object_get(rep, "average_error_rate")),
			   aer_num / m_valid, 1e-12);
	json_decref(rep);
	json_decref(sc);
	free(pred);
	free(kills);
}

Test(run, deterministic_across_jobs, .timeout = 300)
{
	char *a = th_tempdir("runa"), *b = th_tempdir("runb"), path[4200];
	char *cfga = write_config(a, N_TEST), *cfgb = write_config(b, N_TEST);
	json_decref(run_json("run --jobs 1", a, cfga));
	json_decref(run_json("run --jobs 2", b, cfgb));
	const char *files[] = {"kills.csv", "predictions.csv", "plan.json"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/out/%s", a, files[i]);
		char *x = th_read_all(path, NULL);
		snprintf(path, sizeof(path), "%s/out/%s", b, files[i]);
		char *y = th_read_all(path, NULL);
		cr_assert_str_eq(x, y, "%s differs between --jobs 1 and --jobs 2", files[i]);
		free(x);
		free(y);
	}
}

Test(run, resume_after_sigkill, .timeout = 300)
{
	char *a = th_tempdir("resa"), *b = th_tempdir("resb"), path[4200], *err = NULL, *out = NULL;
	char *cfga = write_config(a, 3000), *cfgb = write_config(b, 3000);
	int rc;

	json_decref(run_json("run", a, cfga));
	/* Kill the run with SIGKILL once it has recorded a few mutants. */
	rc = th_run(&out, &err,
		    "cd %s && (%s run %s -q & pid=$!; i=0; "
		    "while [ \"$(cat out/results.jsonl 2>/dev/null | grep -c '^[0-9]')\" -lt 4 ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; "
		    "kill -9 $pid; wait $pid; echo killed $?; grep -c '^[0-9]' out/results.jsonl)",
		    b, MT_MUTORCH_EXE, cfgb);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(th_contains(out, "killed 137"), "the run was not killed part-way: %s", out);
	int recorded = atoi(strchr(strchr(out, '\n') + 1, '\n') ? strchr(out, '\n') + 1 : "0");
	free(out);
	free(err);
	sleep(1); /* let the orphaned workers see EOF and exit */
	json_t *rep = run_json("run", b, cfgb);
	json_decref(rep);
	/* Every mutant recorded exactly once, and the same matrix. */
	snprintf(path, sizeof(path), "%s/out/results.jsonl", b);
	char *log = th_read_all(path, NULL);
	snprintf(path, sizeof(path), "%s/out/plan.json", b);
	json_error_t jerr;
	json_t *plan = json_load_file(path, 0, &jerr);
	size_t nplan = json_array_size(json_object_get(plan, "mutants")), nlines = 0;
	cr_assert(!strncmp(log, "mutorch-results 2\n", 18), "no header: %.40s", log);
	for (char *p = log + 18; *p; p++)
		nlines += *p == '\n';
	cr_assert_eq(nlines, nplan, "%zu records for %zu mutants (recorded before the kill: %d)", nlines, nplan, recorded);
	cr_assert_lt(recorded, (int)nplan, "the first run finished before it was killed");
	for (size_t i = 0; i < nplan; i++) {
		char needle[600];
		const char *id = json_string_value(json_object_get(json_array_get(json_object_get(plan, "mutants"), i), "id"));
		snprintf(needle, sizeof(needle), "\"id\":\"%s\"", id);
		char *first = strstr(log, needle);
		cr_assert(first, "mutant %s not recorded", id);
		cr_assert_null(strstr(first + 1, needle), "mutant %s recorded twice", id);
	}
	snprintf(path, sizeof(path), "%s/out/kills.csv", a);
	char *x = th_read_all(path, NULL);
	snprintf(path, sizeof(path), "%s/out/kills.csv", b);
	char *y = th_read_all(path, NULL);
	cr_assert_str_eq(x, y, "the resumed kill matrix differs from an uninterrupted run");
	json_decref(plan);
	free(log);
	free(x);
	free(y);
}

static json_t *mutant_by_id(json_t *rep, const char *id)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(rep, "mutants"), i, m)
		if (!strcmp(json_string_value(json_object_get(m, "id")), id))
			return m;
	return NULL;
}

Test(run, crash_and_timeout_are_isolated, .timeout = 300)
{
	char *dir = th_tempdir("crash"), *out = NULL, *err = NULL;
	char *cfg = write_config(dir, N_TEST);
	json_error_t jerr;
	int rc = th_run(&out, &err, "cd %s && MUTORCH_TEST_CRASH_ID=GF-fc1-001 MUTORCH_TEST_HANG_ID=NAI-all-001 "
			"%s run %s --json -q --timeout 3", dir, MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "%s", err);
	json_t *rep = json_loads(out, 0, &jerr);
	cr_assert(rep, "%s", out);
	json_t *crashed = mutant_by_id(rep, "GF-fc1-001"), *hung = mutant_by_id(rep, "NAI-all-001");
	cr_assert(crashed && hung);
	cr_assert_str_eq(json_string_value(json_object_get(crashed, "status")), "RuntimeError");
	cr_assert_str_eq(json_string_value(json_object_get(hung, "status")), "Timeout");
	size_t i, evaluated = 0;
	json_t *m;
	json_array_foreach(json_object_get(rep, "mutants"), i, m) {
		const char *st = json_string_value(json_object_get(m, "status"));
		cr_assert_str_neq(st, "Pending", "%s was not evaluated", json_string_value(json_object_get(m, "id")));
		evaluated += !strcmp(st, "Killed") || !strcmp(st, "Survived");
	}
	cr_assert_geq(evaluated, json_array_size(json_object_get(rep, "mutants")) - 3);
	json_decref(rep);
	free(out);
	free(err);
}

Test(run, exported_mutants_predict_the_same_in_pytorch, .timeout = 300)
{
	char *dir = th_tempdir("export"), path[4200], *out = NULL, *err = NULL;
	char *cfg = write_config(dir, N_TEST);
	const char *ids[] = {"GF-conv2-001", "NAI-all-000", "AFRm-relu@2", "LD-relu@3", "PRN-fc1-000"};

	if (th_run(NULL, NULL, "/usr/bin/python3 -c 'import torch'") != 0)
		cr_skip_test("python3-torch is not installed");
	json_t *rep = run_json("run", dir, cfg);
	snprintf(path, sizeof(path), "%s/out/predictions.csv", dir);
	char *pred = th_read_all(path, NULL);
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		char row[64], *line, *p, *py = NULL;
		cr_assert(mutant_by_id(rep, ids[k]), "no mutant %s", ids[k]);
		cr_assert_eq(th_run(NULL, &err, "cd %s && %s export-mutant %s -o %s/m.pt %s", dir,
				    MT_MUTORCH_EXE, ids[k], dir, cfg), 0, "%s", err);
		free(err);
		cr_assert_eq(th_run(&py, &err, "/usr/bin/python3 %s/predict_torchscript.py %s/m.pt %d",
				    MT_FIXTURES, dir, N_TEST), 0, "%s", err);
		free(err);
		snprintf(row, sizeof(row), "\n%s,", ids[k]);
		line = strstr(pred, row);
		cr_assert(line, "no row for %s", ids[k]);
		line += strlen(row);
		line = strchr(line, ',') + 1; /* operator */
		line = strchr(line, ',') + 1; /* status */
		p = py;
		for (int t = 0; t < N_TEST; t++) {
			int want = atoi(line), got = atoi(p);
			cr_assert_eq(got, want, "%s input %d: PyTorch %d, mutorch %d", ids[k], t, got, want);
			line = strchr(line, ',');
			if (line)
				line++;
			p = strchr(p, '\n') + 1;
		}
		free(py);
	}
	json_decref(rep);
	free(pred);
	free(out);
}

Test(run, bad_input_is_reported, .timeout = 120)
{
	char *dir = th_tempdir("badrun"), *err = NULL, text[2048];
	char *cfg = write_config(dir, N_TEST);
	/* an unknown operator names the entry and its line */
	snprintf(text, sizeof(text),
		 "model: {torchscript: %s/lenet5_pytorch.pt, input_shape: [1, 28, 28]}\n"
		 "data:\n"
		 "  train: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "mutation:\n"
		 "  model_level:\n"
		 "    - {op: GF}\n"
		 "    - {op: XYZ, ratio: 0.1}\n", MT_FIXTURES);
	char *bad = th_write(dir, "bad.yml", text, (size_t)-1);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s mutants %s", dir, MT_MUTORCH_EXE, bad), 3);
	cr_assert(th_contains(err, "XYZ") && th_contains(err, ":8"), "%s", err);
	free(err);
	/* a deterministic operator asked for several identical mutants */
	snprintf(text, sizeof(text),
		 "model: {torchscript: %s/lenet5_pytorch.pt, input_shape: [1, 28, 28]}\n"
		 "data:\n"
		 "  train: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "mutation:\n"
		 "  model_level:\n"
		 "    - {op: PRN, ratio: 0.5, mutants: 3}\n", MT_FIXTURES);
	bad = th_write(dir, "det.yml", text, (size_t)-1);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s mutants %s", dir, MT_MUTORCH_EXE, bad), 3);
	cr_assert(th_contains(err, "identical"), "%s", err);
	free(err);
	/* a run directory holding another plan is not overwritten silently */
	json_decref(run_json("run", dir, cfg));
	char *cfg2 = write_config(dir, N_TEST);
	FILE *f = fopen(cfg2, "a");
	fputs("    - {op: WS, ratio: 0.1, mutants: 1}\n", f);
	fclose(f);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s -q", dir, MT_MUTORCH_EXE, cfg2), 3);
	cr_assert(th_contains(err, "--force"), "%s", err);
	free(err);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s -q --force", dir, MT_MUTORCH_EXE, cfg2), 0, "%s", err);
	free(err);
	/* a corrupt kill matrix file is refused by score */
	char km[4200];
	snprintf(km, sizeof(km), "%s/out/killmatrix.mtkm", dir);
	cr_assert_eq(th_run(NULL, NULL, "printf 'XXXX' | dd of=%s bs=1 seek=0 conv=notrunc 2>/dev/null", km), 0);
	cr_assert_eq(th_run(NULL, &err, "%s score %s/out", MT_MUTORCH_EXE, dir), 3);
	cr_assert(th_contains(err, "killmatrix.mtkm"), "%s", err);
	free(err);
}
