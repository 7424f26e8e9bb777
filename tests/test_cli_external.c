/* End-to-end tests of source-level mutation of the user's own training
 * program (training.command, docs/training-programs.md) with fake
 * programs: Python scripts that read their spec and copy a ready model
 * (tests/fixtures/make_external_fixture.py) instead of training, so that
 * the protocol is tested without paying for training. Isolation (a
 * program that exits non-zero, dies by a signal, hangs, writes no model,
 * writes garbage or a NaN model: each its status, stderr and logs, every
 * other mutant its verdict), the spec, the cache (a rerun trains nothing),
 * resume after SIGKILL with no training done twice, bad input, `mutorch
 * train`, false-kill, search and the sequential design. The
 * real PyTorch example is tested in test_cli_external_torch.c. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"

/* The fake program: what it does depends on the hyperparameters it is
 * given, as a real program's result would. epochs 2: an exception (exit
 * 1); 4: SIGSEGV; 5: hangs; 6: no model; 7: garbage; 8: a NaN model;
 * 9: exit 3 (rejects the spec). lr below 1e-5: the bad model (one class).
 * Otherwise good<seed % 4>.pt. Every completed training appends a line to
 * trainings.log; SLEEP in the environment slows each one down. */
static const char fake_program[] =
	"import json, os, shutil, signal, sys, time\n"
	"spec = json.load(open(os.environ['MUTORCH_SPEC']))\n"
	"hp = spec['hyperparameters']\n"
	"assert spec['protocol'] == 1 and spec['threads'] == 1, spec\n"
	"assert os.environ['OMP_NUM_THREADS'] == '1'\n"
	"assert os.path.getsize(spec['train']['x']) > spec['train']['count'] * 784 * 4\n"
	"fixtures = sys.argv[1]\n"
	"print('training', spec['mutant'], spec['run'], 'seed', spec['seed'])\n"
	"time.sleep(float(os.environ.get('SLEEP', '0')))\n"
	"e = hp['epochs']\n"
	"if e == 2:\n"
	"    raise ValueError('boom: cannot train with 2 epochs')\n"
	"if e == 4:\n"
	"    print('about to crash', file=sys.stderr, flush=True)\n"
	"    os.kill(os.getpid(), signal.SIGSEGV)\n"
	"if e == 5:\n"
	"    print('sleeping forever', file=sys.stderr, flush=True)\n"
	"    time.sleep(1000)\n"
	"if e == 6:\n"
	"    sys.exit(0)\n"
	"if e == 9:\n"
	"    print('fake.py: unsupported protocol', file=sys.stderr)\n"
	"    sys.exit(3)\n"
	"if e == 7:\n"
	"    open(spec['output'], 'wb').write(b'garbage, not a TorchScript zip')\n"
	"else:\n"
	"    name = 'nan' if e == 8 else 'bad' if hp['lr'] < 1e-5 else 'good%d' % (spec['seed'] % 4)\n"
	"    shutil.copy(os.path.join(fixtures, name + '.pt'), spec['output'])\n"
	"with open('trainings.log', 'a') as f:\n"
	"    f.write('%s %s %s\\n' % (spec['mutant'], spec['run'], spec['train']['x']))\n";

/* A config around the fake program: the first 1000/500 Fashion-MNIST
 * images; `source` is the mutation.source body, `ops` the entries. */
static char *write_config(const char *dir, const char *name, const char *hyper,
			  const char *source, const char *ops)
{
	char text[8192];
	free(th_write(dir, "fake.py", fake_program, (size_t)-1));
	snprintf(text, sizeof(text),
		 "data:\n"
		 "  format: idx\n"
		 "  classes: 10\n"
		 "  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  train_limit: 1000\n"
		 "  test_limit: 500\n"
		 "training:\n"
		 "  command: [/usr/bin/python3, fake.py, '%s']\n"
		 "  program_files: [fake.py]\n"
		 "  hyperparameters: %s\n"
		 "  seed: 42\n"
		 "  threads: 1\n"
		 "run: {dir: out}\n"
		 "mutation:\n"
		 "  seed: 1\n"
		 "  source:\n"
		 "%s"
		 "  source_level:\n"
		 "%s",
		 th_external_fixtures(), hyper, source, ops);
	return th_write(dir, name, text, (size_t)-1);
}

#define HYPER "{lr: 0.001, batch_size: 64, epochs: 3}"
#define SOURCE "    runs: 4\n    rule: welch\n    timeout: 20\n"

static json_t *run_json(const char *dir, const char *cfg, const char *env)
{
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	int rc = th_run(&out, &err, "cd %s && %s %s run %s --level source --jobs 2 --json -q", dir,
			env ? env : "", MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "mutorch run --level source failed (%d): %s", rc, err);
	json_t *j = json_loads(out, 0, &jerr);
	cr_assert(j, "not JSON (%s): %s", jerr.text, out);
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

static size_t count_lines(const char *text)
{
	size_t n = 0;
	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* Every line of a file once? */
static int lines_unique(const char *text)
{
	size_t n = count_lines(text);
	char **lines = calloc(n + 1, sizeof(char *)), *copy = strdup(text), *save = NULL;
	size_t k = 0;
	int unique = 1;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		for (size_t i = 0; i < k; i++)
			unique &= strcmp(lines[i], l) != 0;
		lines[k++] = l;
	}
	free(lines);
	free(copy);
	return unique;
}

#define OPS_FAILING                                  \
	"    - {op: HLR, factor: 0.001}\n"           \
	"    - {op: DF, ratio: 0.5}\n"               \
	"    - {op: HNE, value: 2}\n"                \
	"    - {op: HNE, value: 4}\n"                \
	"    - {op: HNE, value: 5}\n"                \
	"    - {op: HNE, value: 6}\n"                \
	"    - {op: HNE, value: 7}\n"                \
	"    - {op: HNE, value: 8}\n"

Test(external, every_failure_has_its_status_and_the_rest_their_verdicts, .timeout = 240)
{
	static const struct { const char *id, *status, *says, *stderr_says; } failing[] = {
		{ "HNE#2-value=2", "RuntimeError", "exited with status 1", "ValueError: boom" },
		{ "HNE#3-value=4", "RuntimeError", "killed by signal 11", "about to crash" },
		{ "HNE#4-value=5", "Timeout", "mutation.source.timeout (20 s)", "sleeping forever" },
		{ "HNE#5-value=6", "RuntimeError", "wrote no model", NULL },
		{ "HNE#6-value=7", "RuntimeError", "does not load", NULL },
		{ "HNE#7-value=8", "RuntimeError", "NaN", NULL },
	};
	char *dir = th_tempdir("extfail"), path[4400];
	char *cfg = write_config(dir, "mutorch.yml", HYPER, SOURCE, OPS_FAILING);
	json_t *rep = run_json(dir, cfg, NULL), *m;

	/* every other mutant gets its verdict: lr / 1000 makes the bad model,
	 * a shuffle of the data the same models as the original */
	cr_assert_str_eq(str_of(mutant_by_id(rep, "HLR-factor=0.001"), "status"), "Killed");
	cr_assert_str_eq(str_of(mutant_by_id(rep, "DF-ratio=0.5-000"), "status"), "Survived");
	cr_assert_eq(int_of(rep, "killed"), 1);
	cr_assert_eq(int_of(rep, "survived"), 1);
	cr_assert_eq(int_of(rep, "errors"), 6);
	for (size_t i = 0; i < sizeof(failing) / sizeof(failing[0]); i++) {
		m = mutant_by_id(rep, failing[i].id);
		const char *reason = str_of(m, "reason");
		cr_assert_str_eq(str_of(m, "status"), failing[i].status, "%s: %s", failing[i].id, reason);
		cr_assert(th_contains(reason, failing[i].says), "%s: %s", failing[i].id, reason);
		cr_assert(th_contains(reason, "fake.py"), "%s: the reason does not name the program: %s",
			  failing[i].id, reason);
		if (failing[i].stderr_says)
			cr_assert(th_contains(reason, failing[i].stderr_says), "%s: no stderr in %s",
				  failing[i].id, reason);
		/* the program's output is kept in the run directory */
		snprintf(path, sizeof(path), "%s/out/training/%s/run-0/stderr.log", dir, failing[i].id);
		cr_assert_eq(access(path, F_OK), 0, "%s: no %s", failing[i].id, path);
		snprintf(path, sizeof(path), "%s/out/training/%s/run-0/stdout.log", dir, failing[i].id);
		char *out = th_read_all(path, NULL);
		cr_assert(th_contains(out, "training"), "%s: stdout.log is %s", failing[i].id, out);
		free(out);
	}
	/* a failed mutant gets no more runs: one training each */
	snprintf(path, sizeof(path), "%s/out/source-runs.csv", dir);
	char *runs = th_read_all(path, NULL);
	cr_assert(!th_contains(runs, "HNE#2-value=2,1,"), "%s", runs);
	free(runs);
	/* the spec of a run: the knobs with the mutant's value, absolute paths */
	snprintf(path, sizeof(path), "%s/out/training/HLR-factor=0.001/run-1/spec.json", dir);
	json_error_t jerr;
	json_t *spec = json_load_file(path, 0, &jerr);
	cr_assert(spec, "%s: %s", path, jerr.text);
	json_t *hp = json_object_get(spec, "hyperparameters");
	cr_assert_float_eq(json_number_value(json_object_get(hp, "lr")), 1e-6, 1e-18);
	cr_assert_eq(json_integer_value(json_object_get(hp, "epochs")), 3);
	cr_assert_eq(json_object_size(hp), 3, "only the declared knobs");
	cr_assert_eq(json_integer_value(json_object_get(spec, "run")), 1);
	cr_assert_str_eq(str_of(spec, "mutant"), "HLR-factor=0.001");
	cr_assert_eq(str_of(spec, "output")[0], '/');
	cr_assert_eq(str_of(json_object_get(spec, "train"), "x")[0], '/');
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(spec, "train"), "count")), 1000);
	json_decref(spec);
	json_decref(rep);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
}

Test(external, rerun_trains_nothing_and_data_is_shared, .timeout = 120)
{
	char *dir = th_tempdir("extcache"), path[4400];
	char *cfg = write_config(dir, "mutorch.yml", HYPER, SOURCE,
				 "    - {op: HLR, factor: 0.001}\n    - {op: LE, ratio: 0.3}\n    - {op: DF, ratio: 0.5}\n");
	json_t *first = run_json(dir, cfg, NULL);
	snprintf(path, sizeof(path), "%s/out/source-runs.csv", dir);
	char *runs1 = th_read_all(path, NULL);
	json_t *second = run_json(dir, cfg, NULL);
	char *runs2 = th_read_all(path, NULL);

	cr_assert_eq(int_of(first, "trainings_this_invocation"), 16);
	cr_assert_eq(int_of(second, "trainings_this_invocation"), 0);
	cr_assert_str_eq(runs1, runs2);
	snprintf(path, sizeof(path), "%s/trainings.log", dir);
	char *log = th_read_all(path, NULL);
	cr_assert_eq(count_lines(log), 16, "%s", log);
	free(log);
	/* the training data: the original's (shared by HLR) and one set per
	 * data mutant, written once each */
	char *out = NULL;
	cr_assert_eq(th_run(&out, NULL, "ls '%s/out/cache/data' | grep -vc lock", dir), 0);
	cr_assert_eq(atoi(out), 3, "%s", out);
	free(out);
	json_decref(first);
	json_decref(second);
	free(runs1);
	free(runs2);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
}

Test(external, resume_after_sigkill_trains_nothing_twice, .timeout = 240)
{
	char *a = th_tempdir("extresa"), *b = th_tempdir("extresb"), path[4400], *out = NULL, *err = NULL;
	const char *ops = "    - {op: HLR, factor: 0.001}\n    - {op: LE, ratio: 0.3}\n    - {op: DF, ratio: 0.5}\n";
	char *cfga = write_config(a, "mutorch.yml", HYPER, SOURCE, ops);
	char *cfgb = write_config(b, "mutorch.yml", HYPER, SOURCE, ops);
	json_t *whole = run_json(a, cfga, NULL);
	int rc;

	/* SIGKILL the parent once a few trainings are logged; the orphaned
	 * workers finish the trainings they hold */
	rc = th_run(&out, &err,
		    "cd %s && (SLEEP=0.4 %s run %s --level source --jobs 2 -q & pid=$!; i=0; "
		    "while [ \"$(cat out/source-results.jsonl 2>/dev/null | wc -l)\" -lt 5 ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done; "
		    "kill -9 $pid; wait $pid; echo killed $?; wc -l < out/source-results.jsonl)",
		    b, MT_MUTORCH_EXE, cfgb);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(th_contains(out, "killed 137"), "the run was not killed part-way: %s", out);
	int logged = atoi(strchr(out, '\n') + 1);
	cr_assert_lt(logged, 16, "the first run finished before it was killed: %s", out);
	free(out);
	free(err);

	json_t *resumed = run_json(b, cfgb, "SLEEP=0.4");
	cr_assert_lt(int_of(resumed, "trainings_this_invocation"), 16);
	cr_assert_eq(int_of(resumed, "trainings_used"), 16);
	/* every training done exactly once over both invocations */
	snprintf(path, sizeof(path), "%s/trainings.log", b);
	char *log = th_read_all(path, NULL);
	cr_assert_eq(count_lines(log), 16, "%s", log);
	cr_assert(lines_unique(log), "a training was done twice:\n%s", log);
	free(log);
	/* the same verdicts and CSVs as an uninterrupted run */
	static const char *const csvs[] = { "source-runs.csv", "source-mutants.csv",
		"source-kill-probabilities.csv" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/out/%s", a, csvs[i]);
		char *x = th_read_all(path, NULL);
		snprintf(path, sizeof(path), "%s/out/%s", b, csvs[i]);
		char *y = th_read_all(path, NULL);
		cr_assert_str_eq(x, y, "%s differs after the resume", csvs[i]);
		free(x);
		free(y);
	}
	for (const char **id = (const char *[]){"HLR-factor=0.001", "LE-ratio=0.3-000", "DF-ratio=0.5-000", NULL}; *id; id++)
		cr_assert_str_eq(str_of(mutant_by_id(whole, *id), "status"),
				 str_of(mutant_by_id(resumed, *id), "status"), "%s", *id);
	json_decref(whole);
	json_decref(resumed);
	th_run(NULL, NULL, "rm -rf '%s' '%s'", a, b);
}

/* `mutorch run` (or mutants) on a bad config: exit 3 and what the message
 * must name. */
static void assert_refused(const char *dir, const char *cfg, const char *cmd, const char *a,
			   const char *b)
{
	char *err = NULL;
	int rc = th_run(NULL, &err, "cd %s && %s %s %s --level source%s", dir, MT_MUTORCH_EXE, cmd, cfg,
			strcmp(cmd, "run") ? "" : " -q");
	cr_assert_eq(rc, 3, "%s %s: exit %d: %s", cmd, cfg, rc, err);
	cr_assert(th_contains(err, a) && th_contains(err, b), "%s: %s", cfg, err);
	free(err);
}

Test(external, bad_input_is_reported, .timeout = 120)
{
	char *dir = th_tempdir("extbad"), path[4400];
	const char *le = "    - {op: LE, ratio: 0.3}\n";
	char *cfg;

	/* a command that does not exist */
	cfg = write_config(dir, "nocmd.yml", HYPER, SOURCE, le);
	th_run(NULL, NULL, "sed -i 's|/usr/bin/python3, fake.py|no-such-trainer, fake.py|' '%s'", cfg);
	assert_refused(dir, cfg, "run", "training.command", "no-such-trainer");
	/* a declared knob with a wrong type */
	cfg = write_config(dir, "type.yml", "{lr: fast, batch_size: 64, epochs: 3}", SOURCE, le);
	assert_refused(dir, cfg, "run", "training.hyperparameters.lr", "fast");
	cfg = write_config(dir, "type2.yml", "{lr: 0.1, batch_size: 6.5, epochs: 3}", SOURCE, le);
	assert_refused(dir, cfg, "mutants", "training.hyperparameters.batch_size", "type2.yml:12");
	/* an operator whose knob is not declared, and one of the architecture */
	cfg = write_config(dir, "undeclared.yml", HYPER, SOURCE, "    - {op: LE, ratio: 0.3}\n    - {op: OCH, optimizer: sgd}\n");
	assert_refused(dir, cfg, "run", "training.hyperparameters.optimizer", "OCH");
	assert_refused(dir, cfg, "mutants", "undeclared.yml:24", "mutation.source_level[1]");
	cfg = write_config(dir, "arch.yml", HYPER, SOURCE, "    - {op: ACH}\n");
	assert_refused(dir, cfg, "mutants", "ACH", "training program");
	/* a spec the program rejects: exit status 3 */
	cfg = write_config(dir, "reject.yml", "{lr: 0.001, batch_size: 64, epochs: 9}", SOURCE, le);
	assert_refused(dir, cfg, "run", "training.protocol", "unsupported protocol");
	/* a protocol mutorch does not speak */
	cfg = write_config(dir, "proto.yml", HYPER, SOURCE, le);
	th_run(NULL, NULL, "sed -i 's|  threads: 1|  threads: 1\\n  protocol: 2|' '%s'", cfg);
	assert_refused(dir, cfg, "run", "training.protocol", "2");
	/* the built-in trainer's keys next to a command */
	cfg = write_config(dir, "builtin.yml", HYPER, SOURCE, le);
	th_run(NULL, NULL, "sed -i 's|  threads: 1|  threads: 1\\n  epochs: 3|' '%s'", cfg);
	assert_refused(dir, cfg, "run", "training.epochs", "training.hyperparameters");
	/* nothing was trained by the refused runs before the rejection */
	snprintf(path, sizeof(path), "%s/trainings.log", dir);
	cr_assert_neq(access(path, F_OK), 0, "a refused run trained");
	th_run(NULL, NULL, "rm -rf '%s'", dir);
}

Test(external, train_runs_the_program_once, .timeout = 120)
{
	char *dir = th_tempdir("exttrain"), *out = NULL, *err = NULL, path[4400];
	char *cfg = write_config(dir, "mutorch.yml", HYPER, SOURCE, "    - {op: LE, ratio: 0.3}\n");
	json_error_t jerr;

	cr_assert_eq(th_run(&out, &err, "cd %s && %s train %s --json -q", dir, MT_MUTORCH_EXE, cfg), 0, "%s", err);
	json_t *j = json_loads(out, 0, &jerr);
	cr_assert(j, "not JSON: %s", out);
	cr_assert_gt(json_number_value(json_object_get(j, "accuracy")), 0.5, "%s", out);
	snprintf(path, sizeof(path), "%s/trained/model.pt", dir);
	cr_assert_eq(access(path, F_OK), 0, "no model saved: %s", out);
	snprintf(path, sizeof(path), "%s/stdout.log", str_of(j, "logs"));
	char *log = th_read_all(path, NULL);
	cr_assert(th_contains(log, "training None 0"), "%s", log);
	free(log);
	json_decref(j);
	free(out);
	free(err);
	/* the model it saved is the model level's */
	cr_assert_eq(th_run(&out, &err, "cd %s && %s eval %s", dir, MT_MUTORCH_EXE, cfg), 0, "%s", err);
	free(out);
	free(err);
	/* a program that fails: exit 3, what happened and its stderr */
	cfg = write_config(dir, "fails.yml", "{lr: 0.001, batch_size: 64, epochs: 2}", SOURCE,
			   "    - {op: LE, ratio: 0.3}\n");
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s train %s -q", dir, MT_MUTORCH_EXE, cfg), 3, "%s", err);
	cr_assert(th_contains(err, "exited with status 1") && th_contains(err, "ValueError: boom"), "%s", err);
	free(err);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
}

/* The calibration commands train through the same workers. */
Test(external, false_kill_search_and_sequential_design, .timeout = 180)
{
	char *dir = th_tempdir("extcal"), *out = NULL, *err = NULL;
	char *cfg = write_config(dir, "mutorch.yml", HYPER, "    runs: 4\n    rule: welch\n",
				 "    - {op: HLR, factor: 0.001}\n    - {op: DF, ratio: 0.5}\n");
	json_error_t jerr;
	json_t *j;

	cr_assert_eq(th_run(&out, &err, "cd %s && %s false-kill %s --trials 2 --jobs 2 --json -q", dir,
			    MT_MUTORCH_EXE, cfg), 0, "%s", err);
	cr_assert((j = json_loads(out, 0, &jerr)), "%s", out);
	cr_assert_eq(json_integer_value(json_object_get(j, "trainings")), 16);
	cr_assert_eq(json_integer_value(json_object_get(j, "false_kills")), 0, "%s", out);
	json_decref(j);
	free(out);
	free(err);
	/* lr < 1e-5 makes the bad model: the weakest killing factor is below 0.01 */
	cr_assert_eq(th_run(&out, &err, "cd %s && %s search %s --op HLR --param factor --from 1 --to 0.0001 "
			    "--precision 0.002 --jobs 2 --json -q", dir, MT_MUTORCH_EXE, cfg), 0, "%s", err);
	cr_assert((j = json_loads(out, 0, &jerr)), "%s", out);
	cr_assert(json_is_true(json_object_get(j, "killable")), "%s", out);
	double weakest = json_number_value(json_object_get(j, "weakest_killing_value"));
	cr_assert(weakest < 0.01 && weakest > 0.006, "%s", out);
	json_decref(j);
	free(out);
	free(err);
	/* the sequential design stops a clear verdict early */
	cfg = write_config(dir, "seq.yml", HYPER, "    sequential: true\n    max_runs: 8\n",
			   "    - {op: HLR, factor: 0.001}\n    - {op: DF, ratio: 0.5}\n");
	j = run_json(dir, cfg, NULL);
	cr_assert_str_eq(str_of(mutant_by_id(j, "HLR-factor=0.001"), "status"), "Killed");
	cr_assert_lt(int_of(mutant_by_id(j, "HLR-factor=0.001"), "runs"), 8);
	json_decref(j);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
}
