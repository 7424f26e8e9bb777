/* The result log is checked record by record (issue 13): each kind of
 * damage that used to change kills, predictions or scores silently with
 * exit 0 (a status typo, a removed status, "diff": null, a string class, an
 * input out of range, an id repeating another's, ...) is now reported on
 * stderr with its line, and the mutant is evaluated again, so the run ends
 * with the kill matrix of an undamaged run. The damage is written both
 * with a valid frame (a hand edit, or a bug: only the schema catches it)
 * and in the unframed format 1 of mutorch 0.1. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define N_TEST 300

static char *dir, *cfg, *ref_kills, *ref_pred;
static json_t *ref_records; /* the undamaged run's records, in log order */

static char *write_config(const char *d)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "model: {torchscript: %s/lenet5_pytorch.pt, input_shape: [1, 28, 28]}\n"
		 "data:\n"
		 "  train: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  test_limit: %d\n"
		 "training: {threads: 1}\n"
		 "run: {dir: out}\n"
		 "mutation:\n"
		 "  seed: 9\n"
		 "  model_level:\n"
		 "    - {op: GF, ratio: 0.3, sigma: 3.0, mutants: 2}\n"
		 "    - {op: NAI, ratio: 0.1, mutants: 2, layers: all}\n"
		 "    - {op: NEB, ratio: 0.2, mutants: 1, layers: [fc1]}\n"
		 "    - {op: LD}\n",
		 MT_FIXTURES, N_TEST);
	return th_write(d, "mutorch.yml", text, (size_t)-1);
}

static char *out_file(const char *name)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/out/%s", dir, name);
	return th_read_all(path, NULL);
}

/* The records of a framed log (format 2). */
static json_t *read_records(const char *text)
{
	json_t *arr = json_array();
	const char *p = strchr(text, '\n') + 1;
	cr_assert(!strncmp(text, "mutorch-results 2\n", 18), "no header: %.40s", text);
	while (*p) {
		const char *nl = strchr(p, '\n'), *js = strchr(strchr(p, ' ') + 1, ' ') + 1;
		json_error_t jerr;
		json_t *rec = json_loadb(js, (size_t)(nl - js), 0, &jerr);
		cr_assert(rec, "%s", jerr.text);
		json_array_append_new(arr, rec);
		p = nl + 1;
	}
	return arr;
}

/* Write records as a log: format 2 (framed, with correct checksums) or 1. */
static void write_log(json_t *records, int format)
{
	char path[4200];
	size_t i;
	json_t *rec;
	snprintf(path, sizeof(path), "%s/out/results.jsonl", dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	if (format == 2)
		fputs("mutorch-results 2\n", f);
	json_array_foreach(records, i, rec) {
		char *js = json_dumps(rec, JSON_COMPACT);
		size_t n = strlen(js);
		if (format == 2)
			fprintf(f, "%zu %08lx ", n, crc32(crc32(0L, Z_NULL, 0), (const Bytef *)js, (uInt)n));
		fprintf(f, "%s\n", js);
		free(js);
	}
	fclose(f);
}

static void setup(void)
{
	char *err = NULL;
	dir = th_tempdir("rlog");
	cfg = write_config(dir);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s -q", dir, MT_MUTORCH_EXE, cfg), 0, "%s", err);
	free(err);
	ref_kills = out_file("kills.csv");
	ref_pred = out_file("predictions.csv");
	char *log = out_file("results.jsonl");
	ref_records = read_records(log);
	free(log);
	cr_assert_geq(json_array_size(ref_records), 8);
}

static void teardown(void)
{
	json_decref(ref_records);
	free(ref_kills);
	free(ref_pred);
	free(cfg);
	free(dir);
}

/* Run again on the current log: exit 0, each needle on stderr, and the
 * kill matrix of the undamaged run. */
static void run_and_compare(const char *what, const char *const *needles)
{
	char *err = NULL;
	int rc = th_run(NULL, &err, "cd %s && %s run %s -q", dir, MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 0, "%s: exit %d: %s", what, rc, err);
	cr_assert(!th_contains(err, "Sanitizer") && !th_contains(err, "runtime error:"), "%s: %s", what, err);
	for (size_t i = 0; needles && needles[i]; i++)
		cr_assert(th_contains(err, needles[i]), "%s: no '%s' in: %s", what, needles[i], err);
	char *kills = out_file("kills.csv"), *pred = out_file("predictions.csv");
	cr_assert_str_eq(kills, ref_kills, "%s: the kills differ from the undamaged run", what);
	cr_assert_str_eq(pred, ref_pred, "%s: the predictions differ from the undamaged run", what);
	free(kills);
	free(pred);
	free(err);
}

/* The first Evaluated record with at least two diff entries. */
static size_t evaluated_with_diff(void)
{
	size_t i;
	json_t *rec;
	json_array_foreach(ref_records, i, rec)
		if (!strcmp(json_string_value(json_object_get(rec, "status")), "Evaluated") &&
		    json_array_size(json_object_get(rec, "diff")) >= 2)
			return i;
	cr_assert_fail("no Evaluated record with a diff of two or more");
	return 0;
}

typedef struct {
	const char *name;
	void (*damage)(json_t *rec);
	const char *reason;
} damage_case;

static void status_typo(json_t *r) { json_object_set_new(r, "status", json_string("Evaluatd")); }
static void status_removed(json_t *r) { json_object_del(r, "status"); }
static void status_killed(json_t *r) { json_object_set_new(r, "status", json_string("Killed")); }
static void diff_null(json_t *r) { json_object_set_new(r, "diff", json_null()); }
static void diff_removed(json_t *r) { json_object_del(r, "diff"); }
static void class_string(json_t *r)
{
	json_t *pair = json_array_get(json_object_get(r, "diff"), 0);
	json_array_set_new(pair, 1, json_string("3"));
}
static void class_range(json_t *r)
{
	json_array_set_new(json_array_get(json_object_get(r, "diff"), 0), 1, json_integer(10));
}
static void input_range(json_t *r)
{
	json_t *d = json_object_get(r, "diff");
	json_array_set_new(json_array_get(d, json_array_size(d) - 1), 0, json_integer(N_TEST));
}
static void input_negative(json_t *r) { json_array_set_new(json_array_get(json_object_get(r, "diff"), 0), 0, json_integer(-1)); }
static void inputs_swapped(json_t *r)
{
	json_t *d = json_object_get(r, "diff"), *a = json_incref(json_array_get(d, 0));
	json_array_remove(d, 0);
	json_array_insert_new(d, 1, a);
}
static void accuracy_range(json_t *r) { json_object_set_new(r, "accuracy", json_real(1.5)); }
static void accuracy_wrong(json_t *r)
{
	json_object_set_new(r, "accuracy", json_real(json_number_value(json_object_get(r, "accuracy")) + 0.01));
}
static void accuracy_string(json_t *r) { json_object_set_new(r, "accuracy", json_string("0.9")); }
static void seconds_negative(json_t *r) { json_object_set_new(r, "seconds", json_real(-1)); }
static void id_unknown(json_t *r) { json_object_set_new(r, "id", json_string("GF-conv9-000")); }
static void unknown_field(json_t *r) { json_object_set_new(r, "killed", json_true()); }
static void reason_added(json_t *r) { json_object_set_new(r, "reason", json_string("x")); }

static const damage_case cases[] = {
	{"status typo", status_typo, "\"status\" is \"Evaluatd\""},
	{"status removed", status_removed, "\"status\" is missing"},
	{"status of the kill matrix", status_killed, "\"status\" is \"Killed\""},
	{"diff null", diff_null, "\"diff\" is not an array"},
	{"diff removed", diff_removed, "\"diff\" is missing"},
	{"class a string", class_string, "is not an [input, class] pair of integers"},
	{"class out of range", class_range, "class 10 is out of range"},
	{"input out of range", input_range, "input 300 is out of range"},
	{"input negative", input_negative, "input -1 is out of range"},
	{"inputs out of order", inputs_swapped, "is not after input"},
	{"accuracy out of range", accuracy_range, "\"accuracy\" is 1.5"},
	{"accuracy not the diff's", accuracy_wrong, "its diff gives"},
	{"accuracy a string", accuracy_string, "\"accuracy\" is not a number"},
	{"seconds negative", seconds_negative, "\"seconds\" is -1"},
	{"unknown id", id_unknown, "is not a mutant of the plan"},
	{"unknown field", unknown_field, "unknown field \"killed\""},
	{"reason on an Evaluated record", reason_added, "\"reason\" does not belong"},
};

static void damage_one(const damage_case *c, int format)
{
	size_t t = evaluated_with_diff();
	json_t *recs = json_deep_copy(ref_records);
	char what[128], line[64];
	c->damage(json_array_get(recs, t));
	write_log(recs, format);
	snprintf(what, sizeof(what), "%s (format %d)", c->name, format);
	snprintf(line, sizeof(line), "results.jsonl:%zu: damaged record dropped", t + (format == 2 ? 2 : 1));
	const char *needles[] = {line, c->reason, "evaluated again", NULL};
	run_and_compare(what, needles);
	json_decref(recs);
}

TestSuite(resultlog, .init = setup, .fini = teardown, .timeout = 600);

Test(resultlog, every_schema_failure_is_reevaluated)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		damage_one(&cases[i], 2);
}

Test(resultlog, format_1_logs_are_checked_the_same)
{
	/* an undamaged format-1 log: read as before, rewritten in format 2 */
	const char *note[] = {"format 1", NULL};
	write_log(ref_records, 1);
	run_and_compare("format 1", note);
	char *log = out_file("results.jsonl");
	json_t *again = read_records(log);
	cr_assert_eq(json_array_size(again), json_array_size(ref_records));
	json_decref(again);
	free(log);
	damage_one(&cases[0], 1);
	damage_one(&cases[3], 1);
	damage_one(&cases[5], 1);
	damage_one(&cases[7], 1);
}

/* A record whose id repeats another's took that mutant's place: both
 * records of the id are dropped and both mutants evaluated again. */
Test(resultlog, repeated_id)
{
	size_t t = evaluated_with_diff(), o = t == 0 ? 1 : 0;
	json_t *recs = json_deep_copy(ref_records);
	char l1[64], l2[64];
	json_object_set(json_array_get(recs, t), "id", json_object_get(json_array_get(recs, o), "id"));
	write_log(recs, 2);
	snprintf(l1, sizeof(l1), "results.jsonl:%zu: damaged record dropped", t + 2);
	snprintf(l2, sizeof(l2), "results.jsonl:%zu: damaged record dropped", o + 2);
	const char *needles[] = {l1, l2, "has 2 records: none of them is trusted", NULL};
	run_and_compare("repeated id", needles);
	/* a line repeated whole, and two lines swapped */
	json_decref(recs);
	recs = json_deep_copy(ref_records);
	json_array_append(recs, json_array_get(recs, 0));
	write_log(recs, 2);
	run_and_compare("repeated line", needles + 2);
	json_decref(recs);
	recs = json_deep_copy(ref_records);
	json_t *a = json_incref(json_array_get(recs, 0));
	json_array_remove(recs, 0);
	json_array_append_new(recs, a);
	write_log(recs, 2);
	run_and_compare("swapped lines", NULL);
	json_decref(recs);
}

Test(resultlog, frames_and_checksums)
{
	char path[4200], *err = NULL;
	snprintf(path, sizeof(path), "%s/out/results.jsonl", dir);
	/* a flipped bit in a record */
	write_log(ref_records, 2);
	cr_assert_eq(th_run(NULL, NULL, "cd %s/out && sed -i '3s/\"status\"/\"stbtus\"/' results.jsonl", dir), 0);
	const char *crc[] = {"results.jsonl:3: damaged record dropped (checksum mismatch", NULL};
	run_and_compare("checksum", crc);
	/* a changed length */
	write_log(ref_records, 2);
	cr_assert_eq(th_run(NULL, NULL, "cd %s/out && sed -i '4s/^[0-9]/9&/' results.jsonl", dir), 0);
	const char *len[] = {"results.jsonl:4: damaged record dropped (the frame says", NULL};
	run_and_compare("length", len);
	/* two lines joined */
	write_log(ref_records, 2);
	cr_assert_eq(th_run(NULL, NULL, "cd %s/out && sed -i '5{N;s/\\n//}' results.jsonl", dir), 0);
	const char *joined[] = {"results.jsonl:5: damaged record dropped", NULL};
	run_and_compare("joined lines", joined);
	/* a last line cut short (an interrupted write): dropped silently */
	write_log(ref_records, 2);
	cr_assert_eq(th_run(NULL, NULL, "cd %s/out && truncate -s -7 results.jsonl", dir), 0);
	run_and_compare("cut short", NULL);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s -q", dir, MT_MUTORCH_EXE, cfg), 0);
	cr_assert(!th_contains(err, "damaged"), "an undamaged log was reported: %s", err);
	free(err);
	/* a log of a later format is refused, not rewritten */
	write_log(ref_records, 2);
	cr_assert_eq(th_run(NULL, NULL, "cd %s/out && sed -i '1s/2$/3/' results.jsonl", dir), 0);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s -q", dir, MT_MUTORCH_EXE, cfg), 3, "%s", err);
	cr_assert(th_contains(err, "results.jsonl:1: a result log of format 3"), "%s", err);
	free(err);
}
