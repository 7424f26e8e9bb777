/* End-to-end tests of the source-level run (`mutorch run --level source`,
 * `mutorch mutants --level source`) on real Fashion-MNIST data: a small MLP
 * retrained n times per mutant. Verdicts of clearly broken and of
 * equivalent mutants, report fields recomputed from the CSV files, the
 * training cache, resume after SIGKILL, never an equal configuration,
 * crash isolation, the sequential design and bad input. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define N_TEST 500
#define RUNS 10

/* Remove a test's directory once it passed (a failed test keeps it to
 * look at): every run caches its trained models there. */
static void remove_dir(const char *dir)
{
	cr_assert_eq(th_run(NULL, NULL, "rm -rf '%s'", dir), 0);
}

static size_t count_lines(const char *text)
{
	size_t n = 0;
	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* The tiny recipe: an MLP on the first 3000/500 Fashion-MNIST images, 2
 * epochs; `source` is the mutation.source mapping's body, `ops` the
 * source_level list's entries (each line "    - {...}\n"). */
static char *write_config(const char *dir, const char *name, const char *source, const char *ops)
{
	char text[8192];
	snprintf(text, sizeof(text),
		 "model:\n"
		 "  architecture: flatten linear(784,32) relu linear(32,10)\n"
		 "  input_shape: [1, 28, 28]\n"
		 "data:\n"
		 "  format: idx\n"
		 "  classes: 10\n"
		 "  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  train_limit: 3000\n"
		 "  test_limit: %d\n"
		 "training:\n"
		 "  optimizer: {name: adam, lr: 0.001}\n"
		 "  loss: cross_entropy\n"
		 "  epochs: 2\n"
		 "  batch_size: 64\n"
		 "  seed: 42\n"
		 "  threads: 1\n"
		 "run: {dir: out}\n"
		 "mutation:\n"
		 "  seed: 1\n"
		 "  source:\n"
		 "%s"
		 "  source_level:\n"
		 "%s",
		 N_TEST, source, ops);
	return th_write(dir, name, text, (size_t)-1);
}

#define SOURCE_FIXED "    runs: 10\n    rule: deepcrime\n    alpha: 0.05\n    effect_size: 0.5\n"
#define OPS_THREE                              \
	"    - {op: LE, ratio: 0.3}\n"          \
	"    - {op: HLR, factor: 0.001}\n"      \
	"    - {op: DF, ratio: 0.5}\n"
#define ID_LE "LE-ratio=0.3-000"
#define ID_HLR "HLR-factor=0.001"
#define ID_DF "DF-ratio=0.5-000"

/* `mutorch run CFG --level source --json` in dir; exit 0 and a JSON report. */
static json_t *run_source(const char *dir, const char *cfg, const char *env)
{
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	json_t *j;
	int rc = th_run(&out, &err, "cd %s && %s %s run %s --level source --jobs 2 --json -q", dir,
			env ? env : "", MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "mutorch run --level source failed (%d): %s", rc, err);
	j = json_loads(out, 0, &jerr);
	cr_assert(j, "not JSON (%s): %s", jerr.text, out);
	cr_assert(json_is_object(j), "%s", out);
	free(out);
	free(err);
	return j;
}

static json_int_t int_of(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	cr_assert(json_is_integer(v), "'%s' is not an integer", key);
	return json_integer_value(v);
}

static double num_of(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	cr_assert(json_is_number(v), "'%s' is not a number", key);
	return json_number_value(v);
}

static const char *str_of(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	cr_assert(json_is_string(v), "'%s' is not a string", key);
	return json_string_value(v);
}

static json_t *mutant_by_id(const json_t *rep, const char *id)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(rep, "mutants_detail"), i, m)
		if (!strcmp(str_of(m, "id"), id))
			return m;
	cr_assert_fail("no mutant %s in the report", id);
	return NULL;
}

static const char *status_of(const json_t *rep, const char *id)
{
	return str_of(mutant_by_id(rep, id), "status");
}

/* The three mutants' verdicts: LE 30 % and HLR / 1000 are broken, DF only
 * reorders the data. */
static void assert_three_verdicts(const json_t *rep)
{
	cr_assert_str_eq(str_of(rep, "level"), "source");
	cr_assert_eq(int_of(rep, "mutants"), 3);
	cr_assert_str_eq(status_of(rep, ID_LE), "Killed");
	cr_assert_str_eq(status_of(rep, ID_HLR), "Killed");
	cr_assert_str_eq(status_of(rep, ID_DF), "Survived");
	cr_assert_eq(int_of(rep, "killed"), 2);
	cr_assert_eq(int_of(rep, "survived"), 1);
	cr_assert_eq(int_of(rep, "errors"), 0);
}

/* Mean and sample standard deviation of the accuracies of `id` in
 * source-runs.csv; *n receives the number of rows. */
static double csv_mean_sd(double *sd, int *n, const char *runs_csv, const char *id)
{
	double acc[1000], m = 0, v = 0;
	int k = 0;
	size_t idlen = strlen(id);
	const char *line = strchr(runs_csv, '\n');
	cr_assert(line);
	for (line++; *line; line = strchr(line, '\n') + 1) {
		if (!strncmp(line, id, idlen) && line[idlen] == ',') {
			const char *p = line + idlen + 1;
			int run = atoi(p);
			cr_assert_eq(run, k, "%s: run %d listed as row %d", id, run, k);
			p = strchr(p, ',') + 1;
			cr_assert_lt(k, 1000);
			acc[k++] = strtod(p, NULL);
			cr_assert(acc[k - 1] >= 0 && acc[k - 1] <= 1, "%s run %d: accuracy %g", id, k - 1, acc[k - 1]);
		}
		if (!strchr(line, '\n'))
			break;
	}
	for (int i = 0; i < k; i++)
		m += acc[i];
	m = k ? m / k : NAN;
	for (int i = 0; i < k; i++)
		v += (acc[i] - m) * (acc[i] - m);
	*sd = k > 1 ? sqrt(v / (k - 1)) : 0;
	*n = k;
	return m;
}

Test(source, verdicts_on_real_data, .timeout = 240)
{
	char *dir = th_tempdir("src"), path[4200];
	char *cfg = write_config(dir, "mutorch.yml", SOURCE_FIXED, OPS_THREE);
	json_t *rep = run_source(dir, cfg, NULL), *m;
	size_t i;

	assert_three_verdicts(rep);
	cr_assert_str_eq(str_of(rep, "rule"), "deepcrime");
	cr_assert_float_eq(num_of(rep, "mutation_score"), 2.0 / 3.0, 1e-12);
	cr_assert_eq(int_of(rep, "trainings_used"), 4 * RUNS);
	cr_assert_eq(int_of(rep, "trainings_this_invocation"), 4 * RUNS);

	snprintf(path, sizeof(path), "%s/out/source-runs.csv", dir);
	char *runs = th_read_all(path, NULL);
	cr_assert_eq(strncmp(runs, "id,run,accuracy,key\n", 20), 0, "%.60s", runs);
	cr_assert_eq(count_lines(runs), 1 + 4 * RUNS, "source-runs.csv: %zu lines", count_lines(runs));
	double sd_orig, mean_orig;
	int n;
	mean_orig = csv_mean_sd(&sd_orig, &n, runs, "original");
	cr_assert_eq(n, RUNS);

	snprintf(path, sizeof(path), "%s/out/source-kill-probabilities.csv", dir);
	char *kp = th_read_all(path, NULL);
	cr_assert_eq(count_lines(kp), 1 + 3, "source-kill-probabilities.csv: %zu lines", count_lines(kp));

	json_array_foreach(json_object_get(rep, "mutants_detail"), i, m) {
		const char *id = str_of(m, "id"), *st = str_of(m, "status");
		double mo = num_of(m, "original_mean"), so = num_of(m, "original_sd");
		double mm = num_of(m, "mutant_mean"), sm = num_of(m, "mutant_sd");
		double d = num_of(m, "effect_size"), p = num_of(m, "p_value"), pa = num_of(m, "p_adjusted");
		double sd_mut, mean_mut;

		cr_assert_eq(int_of(m, "runs"), RUNS, "%s", id);
		cr_assert(json_is_boolean(json_object_get(m, "trivial")), "%s", id);
		cr_assert(json_is_boolean(json_object_get(m, "redundant")), "%s", id);
		cr_assert(p >= 0 && p <= 1 && pa >= p - 1e-15 && pa <= 1, "%s: p %g adjusted %g", id, p, pa);
		/* the means and deviations are those of the runs in the CSV */
		cr_assert_float_eq(mo, mean_orig, 1e-12, "%s", id);
		cr_assert_float_eq(so, sd_orig, 1e-12, "%s", id);
		mean_mut = csv_mean_sd(&sd_mut, &n, runs, id);
		cr_assert_eq(n, RUNS, "%s: %d rows in source-runs.csv", id, n);
		cr_assert_float_eq(mm, mean_mut, 1e-12, "%s", id);
		cr_assert_float_eq(sm, sd_mut, 1e-12, "%s", id);
		/* Cohen's d with the pooled deviation (equal n), positive when the
		 * mutant is worse */
		cr_assert_float_eq(d, (mo - mm) / sqrt((so * so + sm * sm) / 2), 1e-9, "%s: d %g", id, d);
		if (!strcmp(st, "Killed")) {
			cr_assert_lt(mm, mo, "%s killed but not worse", id);
			cr_assert_geq(d, 0.5, "%s", id);
			cr_assert_lt(p, 0.05, "%s", id);
			cr_assert_lt(pa, 0.05, "%s", id);
		} else {
			cr_assert(pa >= 0.05 || d < 0.5, "%s survived with p %g and d %g", id, pa, d);
		}
		/* the mean kill probability is the mean of its row in the CSV */
		char needle[600];
		snprintf(needle, sizeof(needle), "\n%s,", id);
		char *row = strstr(kp, needle);
		cr_assert(row, "%s: no row in source-kill-probabilities.csv", id);
		row += strlen(needle);
		char *end = strchr(row, '\n'), *save = NULL;
		cr_assert(end);
		char *copy = strndup(row, (size_t)(end - row));
		double sum = 0;
		int cols = 0;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			double v = strtod(tok, NULL);
			cr_assert(v >= 0 && v <= 1, "%s: kill probability %g", id, v);
			sum += v;
			cols++;
		}
		free(copy);
		cr_assert_eq(cols, N_TEST, "%s: %d columns", id, cols);
		cr_assert_float_eq(num_of(m, "mean_kill_probability"), sum / N_TEST, 1e-3, "%s", id);
	}
	/* learning rate / 1000 barely trains in 2 epochs: near chance */
	cr_assert_lt(num_of(mutant_by_id(rep, ID_HLR), "mutant_mean"), 0.4);
	cr_assert_gt(mean_orig, 0.6);
	/* the report file holds the same verdicts */
	snprintf(path, sizeof(path), "%s/out/source-report.json", dir);
	json_error_t jerr;
	json_t *file = json_load_file(path, 0, &jerr);
	cr_assert(file, "%s: %s", path, jerr.text);
	assert_three_verdicts(file);
	json_decref(file);
	/* every training logged once */
	snprintf(path, sizeof(path), "%s/out/source-results.jsonl", dir);
	char *log = th_read_all(path, NULL);
	cr_assert(!strncmp(log, "mutorch-results 2\n", 18), "no header: %.40s", log);
	cr_assert_eq(count_lines(log) - 1, 4 * RUNS, "%zu log records", count_lines(log) - 1);
	free(log);
	json_decref(rep);
	free(runs);
	free(kp);
	remove_dir(dir);
}

/* The fields of one CSV record (RFC 4180 quoting), NUL-separated into
 * `fields`; returns the count and advances *text past the record. */
static int csv_record(char *fields, size_t size, const char **text)
{
	const char *p = *text;
	size_t used = 0;
	int n = 1, quoted = 0;

	for (; *p && (quoted || *p != '\n'); p++) {
		if (*p == '"') {
			if (quoted && p[1] == '"')
				p++;
			else {
				quoted = !quoted;
				continue;
			}
		} else if (*p == ',' && !quoted) {
			n++;
			if (used < size)
				fields[used++] = '\0';
			continue;
		}
		if (used < size)
			fields[used++] = *p;
	}
	if (used < size)
		fields[used] = '\0';
	*text = *p ? p + 1 : p;
	return n;
}

/* Ids with a comma (NP's two parameters) are quoted, so every row of the
 * three source-level CSVs has as many fields as its header. */
Test(source, csv_ids_with_commas_are_quoted, .timeout = 120)
{
	static const char *const files[] = {"source-mutants.csv", "source-runs.csv",
					    "source-kill-probabilities.csv"};
	char *dir = th_tempdir("srccsv"), path[4200], fields[65536];
	char *cfg = write_config(dir, "mutorch.yml", "    runs: 2\n",
				 "    - {op: NP, ratio: 0.3, sigma: 0.3}\n");
	json_t *rep = run_source(dir, cfg, NULL);

	cr_assert_str_eq(str_of(json_array_get(json_object_get(rep, "mutants_detail"), 0), "id"),
			 "NP-ratio=0.3,sigma=0.3-000");
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		int width, rows = 0, ids = 0;
		snprintf(path, sizeof(path), "%s/out/%s", dir, files[f]);
		char *text = th_read_all(path, NULL);
		const char *p = text;
		width = csv_record(fields, sizeof(fields), &p);
		while (*p) {
			int n = csv_record(fields, sizeof(fields), &p);
			cr_assert_eq(n, width, "%s row %d: %d fields, the header has %d", files[f], rows + 1, n, width);
			ids += !strcmp(fields, "NP-ratio=0.3,sigma=0.3-000");
			rows++;
		}
		cr_assert_gt(ids, 0, "%s: no row with the id", files[f]);
		free(text);
	}
	json_decref(rep);
	remove_dir(dir);
}

Test(source, rerun_trains_nothing, .timeout = 240)
{
	char *dir = th_tempdir("srccache"), path[4200];
	char *cfg = write_config(dir, "mutorch.yml", SOURCE_FIXED, OPS_THREE);
	json_t *first = run_source(dir, cfg, NULL);
	snprintf(path, sizeof(path), "%s/out/source-runs.csv", dir);
	char *runs1 = th_read_all(path, NULL);
	json_t *second = run_source(dir, cfg, NULL);
	char *runs2 = th_read_all(path, NULL);

	cr_assert_eq(int_of(first, "trainings_this_invocation"), 4 * RUNS);
	cr_assert_eq(int_of(second, "trainings_this_invocation"), 0);
	assert_three_verdicts(second);
	cr_assert_str_eq(runs1, runs2, "the cached accuracies differ from the trained ones");
	for (const char **id = (const char *[]){ID_LE, ID_HLR, ID_DF, NULL}; *id; id++)
		cr_assert_float_eq(num_of(mutant_by_id(first, *id), "p_value"),
				   num_of(mutant_by_id(second, *id), "p_value"), 1e-15, "%s", *id);
	json_decref(first);
	json_decref(second);
	free(runs1);
	free(runs2);
	remove_dir(dir);
}

Test(source, resume_after_sigkill, .timeout = 240)
{
	char *a = th_tempdir("srcresa"), *b = th_tempdir("srcresb"), path[4200], *out = NULL, *err = NULL;
	char *cfga = write_config(a, "mutorch.yml", SOURCE_FIXED, OPS_THREE);
	char *cfgb = write_config(b, "mutorch.yml", SOURCE_FIXED, OPS_THREE);
	int rc;

	json_t *whole = run_source(a, cfga, NULL);
	/* Kill the parent with SIGKILL once a few trainings are logged. */
	rc = th_run(&out, &err,
		    "cd %s && (%s run %s --level source --jobs 2 -q & pid=$!; i=0; "
		    "while [ \"$(cat out/source-results.jsonl 2>/dev/null | grep -c '^[0-9]')\" -lt 6 ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done; "
		    "kill -9 $pid; wait $pid; echo killed $?; grep -c '^[0-9]' out/source-results.jsonl)",
		    b, MT_MUTORCH_EXE, cfgb);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(th_contains(out, "killed 137"), "the run was not killed part-way: %s", out);
	int logged = atoi(strchr(out, '\n') + 1);
	cr_assert_geq(logged, 6, "%s", out);
	cr_assert_lt(logged, 4 * RUNS, "the first run finished before it was killed: %s", out);
	free(out);
	free(err);
	sleep(1); /* let the orphaned workers see EOF and exit */

	json_t *resumed = run_source(b, cfgb, NULL);
	assert_three_verdicts(resumed);
	json_int_t now = int_of(resumed, "trainings_this_invocation");
	cr_assert_lt(now, 4 * RUNS, "the resumed run retrained everything");
	cr_assert_gt(now, 0, "nothing was left to train after the kill");
	cr_assert_eq(int_of(resumed, "trainings_used"), 4 * RUNS);
	/* the same accuracies, hence the same statistics, as run a */
	snprintf(path, sizeof(path), "%s/out/source-runs.csv", a);
	char *x = th_read_all(path, NULL);
	snprintf(path, sizeof(path), "%s/out/source-runs.csv", b);
	char *y = th_read_all(path, NULL);
	cr_assert_str_eq(x, y, "the resumed runs differ from an uninterrupted run");
	free(x);
	free(y);
	snprintf(path, sizeof(path), "%s/out/source-kill-probabilities.csv", a);
	x = th_read_all(path, NULL);
	snprintf(path, sizeof(path), "%s/out/source-kill-probabilities.csv", b);
	y = th_read_all(path, NULL);
	cr_assert_str_eq(x, y, "the resumed kill probabilities differ from an uninterrupted run");
	for (const char **id = (const char *[]){ID_LE, ID_HLR, ID_DF, NULL}; *id; id++) {
		cr_assert_str_eq(status_of(whole, *id), status_of(resumed, *id), "%s", *id);
		cr_assert_float_eq(num_of(mutant_by_id(whole, *id), "p_value"),
				   num_of(mutant_by_id(resumed, *id), "p_value"), 1e-15, "%s", *id);
	}
	json_decref(whole);
	json_decref(resumed);
	free(x);
	free(y);
	remove_dir(a);
	remove_dir(b);
}

/* `mutorch mutants CFG --level source --json`: the plan's mutants. */
static json_t *plan_of(const char *dir, const char *cfg, char **err)
{
	char *out = NULL;
	json_error_t jerr;
	int rc = th_run(&out, err, "cd %s && %s mutants %s --level source --json", dir, MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "mutorch mutants failed (%d): %s", rc, *err);
	json_t *j = json_loads(out, 0, &jerr);
	cr_assert(j, "not JSON: %s", out);
	json_t *mutants = json_incref(json_object_get(j, "mutants"));
	cr_assert(json_is_array(mutants), "%s", out);
	json_decref(j);
	free(out);
	return mutants;
}

static int plan_has_params(const json_t *mutants, const char *params)
{
	size_t i;
	json_t *m;
	json_array_foreach(mutants, i, m)
		if (!strcmp(json_string_value(json_object_get(m, "params")), params))
			return 1;
	return 0;
}

Test(source, no_equivalent_configuration, .timeout = 60)
{
	char *dir = th_tempdir("srceq"), *err = NULL;
	char *cfg = write_config(dir, "open.yml", SOURCE_FIXED,
				 "    - {op: OCH}\n    - {op: LCH}\n    - {op: ACH}\n");
	json_t *plan = plan_of(dir, cfg, &err), *m;
	size_t i, och = 0, lch = 0, ach = 0;

	json_array_foreach(plan, i, m) {
		const char *op = json_string_value(json_object_get(m, "op"));
		const char *params = json_string_value(json_object_get(m, "params"));
		och += !strcmp(op, "OCH");
		lch += !strcmp(op, "LCH");
		ach += !strcmp(op, "ACH");
		cr_assert_str_neq(params, "OCH optimizer=adam", "the original optimizer was planned");
		cr_assert_str_neq(params, "LCH loss=cross_entropy", "the original loss was planned");
		cr_assert_str_neq(params, "ACH layer=2 activation=relu", "the original activation was planned");
		/* every planned mutant is distinct */
		for (size_t k = 0; k < i; k++)
			cr_assert_str_neq(params, json_string_value(json_object_get(json_array_get(plan, k), "params")));
	}
	/* every other kind is planned: sgd adamw rmsprop adagrad; nll mse;
	 * the 6 other activations on the only activation layer (2) */
	cr_assert_eq(och, 4, "%zu OCH mutants", och);
	cr_assert(plan_has_params(plan, "OCH optimizer=sgd"));
	cr_assert_eq(lch, 2, "%zu LCH mutants", lch);
	cr_assert(plan_has_params(plan, "LCH loss=mse") && plan_has_params(plan, "LCH loss=nll"));
	cr_assert_eq(ach, 6, "%zu ACH mutants", ach);
	cr_assert(plan_has_params(plan, "ACH layer=2 activation=sigmoid"));
	json_decref(plan);
	free(err);

	/* An explicit equal configuration makes no mutant, with a warning
	 * naming the entry's line and why; the other entries still plan. */
	cfg = write_config(dir, "equal.yml", SOURCE_FIXED,
			   "    - {op: HLR, factor: 1}\n"
			   "    - {op: OCH, optimizer: adam}\n"
			   "    - {op: ACH, layer: 2, activation: relu}\n"
			   "    - {op: HLR, factor: 0.5}\n");
	plan = plan_of(dir, cfg, &err);
	cr_assert_eq(json_array_size(plan), 1, "%s", json_dumps(plan, 0));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(plan, 0), "params")), "HLR factor=0.5");
	cr_assert(th_contains(err, "equal.yml:28: HLR makes no mutant here") &&
		  th_contains(err, "learning rate would stay 0.001"), "%s", err);
	cr_assert(th_contains(err, "equal.yml:29: OCH makes no mutant here") &&
		  th_contains(err, "already adam"), "%s", err);
	cr_assert(th_contains(err, "equal.yml:30: ACH makes no mutant here") &&
		  th_contains(err, "already relu"), "%s", err);
	json_decref(plan);
	free(err);

	/* Only an equal configuration: an empty plan, not an error. */
	cfg = write_config(dir, "only.yml", SOURCE_FIXED, "    - {op: HLR, factor: 1}\n");
	plan = plan_of(dir, cfg, &err);
	cr_assert_eq(json_array_size(plan), 0);
	cr_assert(th_contains(err, "HLR makes no mutant here"), "%s", err);
	json_decref(plan);
	free(err);
	remove_dir(dir);
}

Test(source, crash_is_isolated, .timeout = 240)
{
	char *dir = th_tempdir("srccrash");
	char *cfg = write_config(dir, "mutorch.yml", SOURCE_FIXED, OPS_THREE);
	json_t *rep = run_source(dir, cfg, "MUTORCH_TEST_CRASH_ID=" ID_DF);
	json_t *crashed = mutant_by_id(rep, ID_DF);

	cr_assert_str_eq(str_of(crashed, "status"), "RuntimeError");
	cr_assert(th_contains(str_of(crashed, "reason"), "signal"), "%s", str_of(crashed, "reason"));
	cr_assert_str_eq(status_of(rep, ID_LE), "Killed");
	cr_assert_str_eq(status_of(rep, ID_HLR), "Killed");
	cr_assert_eq(int_of(rep, "errors"), 1);
	cr_assert_eq(int_of(rep, "killed"), 2);
	cr_assert_eq(int_of(rep, "survived"), 0);
	cr_assert_float_eq(num_of(rep, "mutation_score"), 1.0, 1e-12);
	/* the crashed mutant trained nothing: the original and two mutants */
	cr_assert_eq(int_of(rep, "trainings_this_invocation"), 3 * RUNS);
	json_decref(rep);
	remove_dir(dir);
}

Test(source, sequential_design_stops_early, .timeout = 240)
{
	char *dir = th_tempdir("srcseq"), path[4200];
	char *cfg = write_config(dir, "mutorch.yml",
				 "    sequential: true\n    max_runs: 10\n    rule: deepcrime\n", OPS_THREE);
	json_t *rep = run_source(dir, cfg, NULL), *m;
	size_t i;
	json_int_t sum = int_of(rep, "original_runs");

	cr_assert(json_is_true(json_object_get(rep, "sequential")));
	assert_three_verdicts(rep);
	cr_assert_eq(int_of(rep, "trainings_fixed_design"), 4 * RUNS);
	cr_assert_leq(int_of(rep, "trainings_used"), int_of(rep, "trainings_fixed_design"));
	cr_assert_eq(int_of(rep, "trainings_saved"),
		     int_of(rep, "trainings_fixed_design") - int_of(rep, "trainings_used"));
	json_array_foreach(json_object_get(rep, "mutants_detail"), i, m) {
		json_int_t runs = int_of(m, "runs");
		cr_assert(runs >= 2 && runs <= RUNS, "%s: %lld runs", str_of(m, "id"), (long long)runs);
		cr_assert_leq(runs, int_of(rep, "original_runs"));
		sum += runs;
	}
	cr_assert_eq(int_of(rep, "trainings_used"), sum);
	/* a clearly broken recipe is decided at an early look */
	json_t *hlr = mutant_by_id(rep, ID_HLR);
	cr_assert_lt(int_of(hlr, "runs"), RUNS, "HLR / 1000 needed every run");
	cr_assert_lt(num_of(hlr, "p_value"), 0.05);
	cr_assert_lt(num_of(hlr, "mutant_mean"), num_of(hlr, "original_mean"));
	cr_assert_eq(int_of(rep, "trainings_this_invocation"), int_of(rep, "trainings_used"));
	snprintf(path, sizeof(path), "%s/out/source-runs.csv", dir);
	char *runs = th_read_all(path, NULL);
	cr_assert_eq((json_int_t)count_lines(runs), 1 + int_of(rep, "trainings_used"));
	free(runs);
	json_decref(rep);
	remove_dir(dir);
}

Test(source, bad_input_is_reported, .timeout = 60)
{
	char *dir = th_tempdir("srcbad"), *err = NULL;
	/* an unknown source operator: exit 3, its name and line */
	char *cfg = write_config(dir, "op.yml", SOURCE_FIXED,
				 "    - {op: LE, ratio: 0.3}\n    - {op: XYZ, ratio: 0.1}\n");
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s --level source -q", dir, MT_MUTORCH_EXE, cfg), 3, "%s", err);
	cr_assert(th_contains(err, "XYZ") && th_contains(err, "op.yml:29"), "%s", err);
	free(err);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s mutants %s --level source", dir, MT_MUTORCH_EXE, cfg), 3, "%s", err);
	cr_assert(th_contains(err, "XYZ") && th_contains(err, "op.yml:29"), "%s", err);
	free(err);
	/* a bad rule: exit 3, the key and its line */
	cfg = write_config(dir, "rule.yml", "    runs: 10\n    rule: bogus\n", "    - {op: LE, ratio: 0.3}\n");
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s --level source -q", dir, MT_MUTORCH_EXE, cfg), 3, "%s", err);
	cr_assert(th_contains(err, "mutation.source.rule") && th_contains(err, "rule.yml:24") &&
		  th_contains(err, "bogus"), "%s", err);
	free(err);
	/* an unknown level: a usage error */
	cfg = write_config(dir, "ok.yml", SOURCE_FIXED, "    - {op: LE, ratio: 0.3}\n");
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s --level bogus -q", dir, MT_MUTORCH_EXE, cfg), 2, "%s", err);
	cr_assert(th_contains(err, "--level") && th_contains(err, "bogus"), "%s", err);
	free(err);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s mutants %s --level bogus", dir, MT_MUTORCH_EXE, cfg), 2, "%s", err);
	cr_assert(th_contains(err, "--level"), "%s", err);
	free(err);
	/* nothing was trained or written */
	char path[4200];
	snprintf(path, sizeof(path), "%s/out/source-results.jsonl", dir);
	cr_assert_neq(access(path, F_OK), 0, "a refused run left %s", path);
	remove_dir(dir);
}
