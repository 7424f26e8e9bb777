/* End-to-end tests of shards, `mutorch merge` and `mutorch run --mpi`
 * (docs/scale-out.md) at both levels, on small configs: the merged (or
 * MPI) run directory has the kill-matrix digest and the CSV files of an
 * unsharded run; the original's runs are trained once over three shards
 * that share a cache; a shard killed with SIGKILL resumes without
 * repeating its work; and merge refuses what is not one whole set of
 * shards of one plan, naming what is missing. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define RUNS 3
/* mpirun as root (CI containers) needs both. */
#define MPIRUN "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -n 3"

static const char data_yml[] =
	"  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
	"  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
	"  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n";

static char *model_config(const char *dir)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "model:\n"
		 "  torchscript: %s/lenet5_pytorch.pt\n"
		 "  input_shape: [1, 28, 28]\n"
		 "data:\n%s"
		 "  test_limit: 300\n"
		 "training: {threads: 1, eval_batch_size: 300}\n"
		 "run: {dir: out}\n"
		 "mutation:\n"
		 "  seed: 5\n"
		 "  model_level:\n"
		 "    - {op: GF, ratio: 0.2, sigma: 2.0, mutants: 2}\n"
		 "    - {op: NAI, ratio: 0.1, mutants: 1}\n"
		 "    - {op: AFRm}\n",
		 MT_FIXTURES, data_yml);
	return th_write(dir, "mutorch.yml", text, (size_t)-1);
}

static char *source_config(const char *dir)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "model:\n"
		 "  architecture: flatten linear(784,16) relu linear(16,10)\n"
		 "  input_shape: [1, 28, 28]\n"
		 "data:\n"
		 "  format: idx\n"
		 "  classes: 10\n%s"
		 "  train_limit: 1000\n"
		 "  test_limit: 200\n"
		 "training:\n"
		 "  optimizer: {name: adam, lr: 0.001}\n"
		 "  loss: cross_entropy\n"
		 "  epochs: 1\n"
		 "  batch_size: 64\n"
		 "  seed: 42\n"
		 "  threads: 1\n"
		 "run: {dir: out}\n"
		 "mutation:\n"
		 "  seed: 1\n"
		 "  source: {runs: %d}\n"
		 "  source_level:\n"
		 "    - {op: LE, ratio: 0.3}\n"
		 "    - {op: HLR, factor: 0.001}\n"
		 "    - {op: DM, ratio: 0.5}\n"
		 "    - {op: HNE, value: 2}\n"
		 "    - {op: ACH, layer: 2, activation: sigmoid}\n",
		 data_yml, RUNS);
	return th_write(dir, "mutorch.yml", text, (size_t)-1);
}

static void run_ok(const char *dir, const char *fmt_args, const char *cfg)
{
	char *err = NULL;
	int rc = th_run(NULL, &err, "cd %s && %s %s", dir, MT_MUTORCH_EXE, fmt_args);
	cr_assert_eq(rc, 0, "mutorch %s (config %s) failed (%d): %s", fmt_args, cfg, rc, err);
	free(err);
}

static char *read_in(const char *dir, const char *sub, const char *name)
{
	char path[4200];
	char *text;
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	text = th_read_all(path, NULL);
	cr_assert(text, "%s missing", path);
	return text;
}

static void same_files(const char *dir, const char *a, const char *b, const char *const *names)
{
	for (; *names; names++) {
		char *x = read_in(dir, a, *names), *y = read_in(dir, b, *names);
		cr_assert_str_eq(x, y, "%s differs between %s and %s", *names, a, b);
		free(x);
		free(y);
	}
}

static char *digest_of(const char *dir, const char *sub)
{
	char *out = NULL;
	cr_assert_eq(th_run(&out, NULL, "cd %s && %s score --digest %s", dir, MT_MUTORCH_EXE, sub), 0);
	cr_assert_eq(strlen(out), 41, "not a digest: %s", out);
	return out;
}

static int have_mpi(void)
{
	char *out = NULL;
	int ok = th_run(&out, NULL, "%s --version", MT_MUTORCH_EXE) == 0 && !th_contains(out, "MPI: not built") &&
		 th_run(NULL, NULL, "command -v mpirun") == 0;
	free(out);
	return ok;
}

static const char *const model_files[] = {"kills.csv", "predictions.csv", "inputs.csv", NULL};
static const char *const source_files[] = {"source-mutants.csv", "source-runs.csv",
					   "source-kill-probabilities.csv", NULL};

Test(shard, model_level_merge_equals_unsharded, .timeout = 300)
{
	char *dir = th_tempdir("shm"), *cfg = model_config(dir), args[4400], *err = NULL;
	char *d_full, *d_merged;

	snprintf(args, sizeof(args), "run %s -q -d full", cfg);
	run_ok(dir, args, cfg);
	for (int k = 1; k <= 3; k++) {
		snprintf(args, sizeof(args), "run %s -q -d s%d --shard %d/3", cfg, k, k);
		run_ok(dir, args, cfg);
	}
	/* each shard evaluated only its part: together the plan, once */
	{
		char *a = read_in(dir, "s1", "shard.json"), *b = read_in(dir, "s2", "shard.json");
		cr_assert(th_contains(a, "\"shard\": 1") && th_contains(b, "\"shard\": 2"), "%s", a);
		free(a);
		free(b);
	}
	snprintf(args, sizeof(args), "merge merged s1 s2 s3 -c %s -q", cfg);
	run_ok(dir, args, cfg);
	d_full = digest_of(dir, "full");
	d_merged = digest_of(dir, "merged");
	cr_assert_str_eq(d_full, d_merged, "kill-matrix digests differ");
	same_files(dir, "full", "merged", model_files);

	/* a missing shard: refused, naming the shard and its mutants */
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s merge m2 s1 s2 -c %s -q", dir, MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "missing shard 3/3") && th_contains(err, "their mutants:"), "%s", err);
	free(err);
	/* the same shard twice */
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s merge m3 s1 s1 s3 -c %s -q", dir, MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "both shard 1/3"), "%s", err);
	free(err);
	/* shards of another deal (1/2 with 2/3 and 3/3) */
	snprintf(args, sizeof(args), "run %s -q -d h1 --shard 1/2", cfg);
	run_ok(dir, args, cfg);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s merge m4 h1 s2 s3 -c %s -q", dir, MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "different plans"), "%s", err);
	free(err);
	/* a shard that has not finished: its mutants are named */
	cr_assert_eq(th_run(NULL, NULL, "cd %s && cp -r s2 s2x && head -n 2 s2/results.jsonl > s2x/results.jsonl",
			    dir), 0);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s merge m5 s1 s2x s3 -c %s -q", dir, MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "s2x (shard 2/3) has not finished"), "%s", err);
	{
		/* the second record on is missing: its id is named */
		char *sh = read_in(dir, "s2", "shard.json");
		json_error_t jerr;
		json_t *j = json_loads(sh, 0, &jerr);
		const char *id = json_string_value(json_array_get(json_object_get(j, "mutants"), 1));
		cr_assert(id);
		cr_assert(th_contains(err, id) || json_array_size(json_object_get(j, "mutants")) < 2,
			  "%s not named: %s", id, err);
		json_decref(j);
		free(sh);
	}
	free(err);
	/* a directory of another shard is not reused */
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s -q -d s1 --shard 2/3", dir, MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "holds shard 1/3"), "%s", err);
	free(err);
	/* --shard is checked */
	cr_assert_eq(th_run(NULL, NULL, "cd %s && %s run %s -q --shard 4/3", dir, MT_MUTORCH_EXE, cfg), 2);
	free(d_full);
	free(d_merged);
}

Test(shard, model_level_mpi_equals_local, .timeout = 300)
{
	char *dir = th_tempdir("shmpi"), *cfg = model_config(dir), args[4400], *err = NULL;
	char *a, *b;
	int rc;

	if (!have_mpi())
		cr_skip_test("mutorch was built without MPI, or mpirun is missing");
	snprintf(args, sizeof(args), "run %s -q -d full", cfg);
	run_ok(dir, args, cfg);
	rc = th_run(NULL, &err, "cd %s && " MPIRUN " %s run %s --mpi -q -d mpi", dir, MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "mpirun failed (%d): %s", rc, err);
	free(err);
	a = digest_of(dir, "full");
	b = digest_of(dir, "mpi");
	cr_assert_str_eq(a, b, "kill-matrix digests differ");
	same_files(dir, "full", "mpi", model_files);
	free(a);
	free(b);
}

/* Trainings of `id` that really trained (not a model another took from
 * the cache) in a shard's log. */
static int trainings_of(const char *dir, const char *sub, const char *id)
{
	char *log = read_in(dir, sub, "source-results.jsonl"), *save = NULL, *line;
	int n = 0;
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *json = strchr(line, '{');
		json_error_t jerr;
		json_t *r = json ? json_loads(json, 0, &jerr) : NULL;
		if (r && !strcmp(json_string_value(json_object_get(r, "id")) ? json_string_value(json_object_get(r, "id")) : "", id) &&
		    !strcmp(json_string_value(json_object_get(r, "status")) ? json_string_value(json_object_get(r, "status")) : "", "Trained") &&
		    !json_is_true(json_object_get(r, "reused_model")))
			n++;
		json_decref(r);
	}
	free(log);
	return n;
}

Test(shard, source_level_shared_cache_trains_original_once, .timeout = 300)
{
	char *dir = th_tempdir("shs"), *cfg = source_config(dir), args[4400], *err = NULL;
	int rc, originals = 0;

	snprintf(args, sizeof(args), "run %s --level source -q -d full", cfg);
	run_ok(dir, args, cfg);
	/* three shards at once on one shared cache */
	rc = th_run(NULL, &err, "cd %s && pids=''; for k in 1 2 3; do %s run %s --level source -q -d s$k "
		    "--shard $k/3 --cache shared & pids=\"$pids $!\"; done; fail=0; "
		    "for p in $pids; do wait $p || fail=1; done; exit $fail", dir, MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "a shard failed: %s", err);
	free(err);
	for (int k = 1; k <= 3; k++) {
		char sub[8];
		snprintf(sub, sizeof(sub), "s%d", k);
		originals += trainings_of(dir, sub, "original");
	}
	cr_assert_eq(originals, RUNS, "the original's %d runs were trained %d times over three shards", RUNS,
		     originals);
	snprintf(args, sizeof(args), "merge merged s1 s2 s3 -c %s --cache shared -q", cfg);
	run_ok(dir, args, cfg);
	same_files(dir, "full", "merged", source_files);

	/* shards with caches of their own: merge copies the predictions */
	for (int k = 1; k <= 3; k++) {
		snprintf(args, sizeof(args), "run %s --level source -q -d u%d --shard %d/3", cfg, k, k);
		run_ok(dir, args, cfg);
	}
	snprintf(args, sizeof(args), "merge merged2 u1 u2 u3 -c %s -q", cfg);
	run_ok(dir, args, cfg);
	same_files(dir, "full", "merged2", source_files);
}

Test(shard, source_level_mpi_equals_local, .timeout = 300)
{
	char *dir = th_tempdir("shsmpi"), *cfg = source_config(dir), args[4400], *err = NULL;
	int rc;

	if (!have_mpi())
		cr_skip_test("mutorch was built without MPI, or mpirun is missing");
	snprintf(args, sizeof(args), "run %s --level source -q -d full", cfg);
	run_ok(dir, args, cfg);
	rc = th_run(NULL, &err, "cd %s && " MPIRUN " %s run %s --level source --mpi -q -d mpi", dir,
		    MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "mpirun failed (%d): %s", rc, err);
	free(err);
	same_files(dir, "full", "mpi", source_files);
	/* trained there, not taken from the other directory's cache */
	cr_assert_eq(trainings_of(dir, "mpi", "original"), RUNS);
}

Test(shard, killed_shard_resumes_without_repeating, .timeout = 300)
{
	char *dir = th_tempdir("shk"), *cfg = source_config(dir), args[4400], *out = NULL, *err = NULL;
	char *log;
	size_t i;
	int rc, before = 0;

	/* Kill shard 1/2 with SIGKILL once it has logged a few trainings. */
	rc = th_run(&out, &err,
		    "cd %s && (%s run %s --level source -q -d s1 --shard 1/2 --cache shared & pid=$!; i=0; "
		    "while [ \"$(cat s1/source-results.jsonl 2>/dev/null | grep -c '^[0-9]')\" -lt 3 ] && "
		    "[ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; kill -9 $pid; wait $pid; echo killed $?)",
		    dir, MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(th_contains(out, "killed 137"), "the shard was not killed part-way: %s", out);
	{
		/* some trainings logged before the kill, not all of them */
		char *log0 = read_in(dir, "s1", "source-results.jsonl"), *p;
		int lines = 0;
		for (p = log0; *p; p++)
			lines += *p == '\n';
		cr_assert_geq(lines - 1, 3, "killed before 3 trainings were logged");
		before = lines - 1;
		free(log0);
	}
	free(out);
	free(err);
	sleep(1); /* the orphaned worker sees EOF and exits */
	snprintf(args, sizeof(args), "run %s --level source -q -d s1 --shard 1/2 --cache shared", cfg);
	run_ok(dir, args, cfg);
	/* every (mutant, run) trained once in all, before or after the kill */
	log = read_in(dir, "s1", "source-results.jsonl");
	{
		json_t *seen = json_object();
		char *save = NULL, *line;
		for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *json = strchr(line, '{'), key[128];
			json_error_t jerr;
			json_t *r = json ? json_loads(json, 0, &jerr) : NULL;
			if (!r)
				continue;
			if (json_is_true(json_object_get(r, "reused_model")) ||
			    strcmp(json_string_value(json_object_get(r, "status")), "Trained")) {
				json_decref(r);
				continue;
			}
			snprintf(key, sizeof(key), "%s/%lld", json_string_value(json_object_get(r, "id")),
				 (long long)json_integer_value(json_object_get(r, "run")));
			cr_assert_null(json_object_get(seen, key), "%s trained twice", key);
			json_object_set_new(seen, key, json_true());
			json_decref(r);
		}
		cr_assert_gt((int)json_object_size(seen), before, "nothing trained after the restart");
		json_decref(seen);
	}
	free(log);
	/* the other half, then the merge, equal an unsharded run */
	snprintf(args, sizeof(args), "run %s --level source -q -d s2 --shard 2/2 --cache shared", cfg);
	run_ok(dir, args, cfg);
	snprintf(args, sizeof(args), "run %s --level source -q -d full", cfg);
	run_ok(dir, args, cfg);
	snprintf(args, sizeof(args), "merge merged s1 s2 -c %s --cache shared -q", cfg);
	run_ok(dir, args, cfg);
	same_files(dir, "full", "merged", source_files);
	(void)i;
}

Test(shard, stale_lock_is_taken_over, .timeout = 120)
{
	char *dir = th_tempdir("shl"), *cfg = source_config(dir), args[4400], *err = NULL;
	int rc;

	/* A lock on every key the run will train, left by a process of this
	 * host that is gone (a pid that cannot run: above pid_max). */
	snprintf(args, sizeof(args), "mutants %s --level source", cfg);
	run_ok(dir, args, cfg);
	rc = th_run(NULL, &err, "cd %s && mkdir -p shared && %s run %s --level source -q -d a --cache shared && "
		    "for f in shared/*.train.json; do k=$(basename $f .train.json); "
		    "printf '99999999 %%s\\n' \"$(hostname)\" > shared/$k.lock; rm shared/$k.pt $f; done && "
		    "rm shared/*.json shared/*.pred 2>/dev/null; "
		    "%s run %s --level source -q -d b --cache shared && ls shared | grep -c '\\.lock$' || true",
		    dir, MT_MUTORCH_EXE, cfg, MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(th_contains(err, "stale lock"), "no stale lock was taken over: %s", err);
	same_files(dir, "a", "b", source_files);
	free(err);
}
