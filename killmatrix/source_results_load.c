/* Reading a source-level run's results back from its run directory
 * (source-report.json and source-runs.csv, docs/run-directory.md), for the
 * HTML report. Every field is checked; a bad one is MT_EINVALID naming the
 * file, the field and what was expected. */
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/source_results.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	const char *path;
	char where[160]; /* "mutants_detail[3]." or "" */
} ctx;

static int bad(const ctx *c, const char *field, const char *expected)
{
	return mt_error_set(MT_EINVALID, "%s: %s%s: expected %s", c->path, c->where, field, expected);
}

/* A number, or NaN for null; absent is an error unless optional. */
static int get_num(double *out, const ctx *c, json_t *o, const char *field, int optional)
{
	json_t *v = json_object_get(o, field);
	*out = NAN;
	if (!v && optional)
		return 0;
	if (json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return bad(c, field, "a number or null");
	*out = json_number_value(v);
	return 0;
}

static int get_int(long long *out, const ctx *c, json_t *o, const char *field, long long lo,
		   int optional)
{
	json_t *v = json_object_get(o, field);
	if (!v && optional)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo)
		return bad(c, field, lo == 0 ? "an integer >= 0" : "an integer >= 1");
	*out = json_integer_value(v);
	return 0;
}

static int get_str(char **out, const ctx *c, json_t *o, const char *field, int optional)
{
	json_t *v = json_object_get(o, field);
	if (!v && optional)
		return 0;
	if (!json_is_string(v))
		return bad(c, field, "a string");
	return (*out = strdup(json_string_value(v))) ? 0 : mt_error_oom();
}

static int copy_str(char *dst, size_t size, const ctx *c, json_t *o, const char *field)
{
	json_t *v = json_object_get(o, field);
	if (!v)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) >= size)
		return bad(c, field, "a short string");
	strcpy(dst, json_string_value(v));
	return 0;
}

static int read_mutant(mt_source_mutant_result *m, const ctx *c, json_t *o)
{
	const char *status;
	long long runs = 0;
	int error;

	if (!json_is_object(o))
		return bad(c, "", "an object");
	if ((error = get_str(&m->id, c, o, "id", 0)) < 0 || (error = get_str(&m->op, c, o, "operator", 0)) < 0 ||
	    (error = get_str(&m->target, c, o, "target", 0)) < 0 ||
	    (error = get_str(&m->params, c, o, "params", 0)) < 0 ||
	    (error = get_str(&m->reason, c, o, "reason", 1)) < 0 ||
	    (error = get_int(&runs, c, o, "runs", 0, 0)) < 0 ||
	    (error = get_num(&m->original_mean, c, o, "original_mean", 0)) < 0 ||
	    (error = get_num(&m->original_sd, c, o, "original_sd", 0)) < 0 ||
	    (error = get_num(&m->mutant_mean, c, o, "mutant_mean", 0)) < 0 ||
	    (error = get_num(&m->mutant_sd, c, o, "mutant_sd", 0)) < 0 ||
	    (error = get_num(&m->mean_kill_probability, c, o, "mean_kill_probability", 0)) < 0 ||
	    (error = get_num(&m->p_value, c, o, "p_value", 1)) < 0 ||
	    (error = get_num(&m->p_adjusted, c, o, "p_adjusted", 1)) < 0 ||
	    (error = get_num(&m->effect_size, c, o, "effect_size", 1)) < 0)
		return error;
	if (runs > 100000)
		return bad(c, "runs", "at most 100000");
	m->runs = (int)runs;
	status = json_string_value(json_object_get(o, "status"));
	if (!status || mt_mutant_status_from_name(&m->status, status) < 0 ||
	    (m->status != MT_MUTANT_KILLED && m->status != MT_MUTANT_SURVIVED &&
	     m->status != MT_MUTANT_TIMEOUT && m->status != MT_MUTANT_RUNTIME_ERROR))
		return bad(c, "status", "Killed, Survived, Timeout or RuntimeError");
	m->trivial = json_is_true(json_object_get(o, "trivial"));
	m->redundant = json_object_get(o, "redundant") ? json_is_true(json_object_get(o, "redundant")) : -1;
	if (!(m->accuracy = calloc((size_t)m->runs + 1, sizeof(double))) ||
	    !(m->keys = calloc((size_t)m->runs + 1, MT_HASH_HEX)))
		return mt_error_oom();
	for (int r = 0; r < m->runs; r++)
		m->accuracy[r] = NAN;
	return 0;
}

int mt_run_file_read(char **out, size_t *len, const char *path, size_t max)
{
	size_t size;
	int fd, error;

	*out = NULL;
	*len = 0;
	/* the size before the read allocates it; mt_io_read_file then reads
	 * no more than fstat's size */
	if ((error = mt_io_open_regular(&fd, &size, path)) < 0)
		return error;
	close(fd);
	if (size > max)
		return mt_error_set(MT_EINVALID, "%s: %zu bytes, expected at most %zu (a run directory's "
				    "files are far smaller; is it damaged?)", path, size, max);
	return mt_io_read_file((void **)out, len, path);
}

static int parse_report(mt_source_results **out, const char *text, size_t len, const char *path)
{
	json_t *root = NULL, *detail;
	json_error_t jerr;
	mt_source_results *res = NULL;
	long long v[10] = {0}, total_runs;
	ctx c = {path, ""};
	int error = 0;
	static const char *const ints[] = {"mutants", "killed", "survived", "errors", "original_runs",
					   "trainings_used", "trainings_fixed_design",
					   "trainings_this_invocation", "threads", "max_runs"};

	*out = NULL;
	if (!(root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)))
		return mt_error_set(MT_EINVALID, "%s:%d: not JSON: %s (expected the source-level report "
				    "`mutorch run --level source` writes)", path, jerr.line, jerr.text);
	if (!json_is_object(root) || !json_is_string(json_object_get(root, "level")) ||
	    strcmp(json_string_value(json_object_get(root, "level")), "source")) {
		error = bad(&c, "level", "\"source\"");
		goto cleanup;
	}
	for (int i = 0; i < 10 && error == 0; i++)
		error = get_int(&v[i], &c, root, ints[i], i == 9 ? 1 : 0, i >= 4 && (v[0] == 0 || i == 9));
	if (error < 0)
		goto cleanup;
	detail = json_object_get(root, "mutants_detail");
	if (!json_is_array(detail) || json_array_size(detail) != (size_t)v[0]) {
		error = bad(&c, "mutants_detail", "an array of `mutants` entries");
		goto cleanup;
	}
	if ((error = mt_source_results_new(&res, (size_t)v[0], 0)) < 0)
		goto cleanup;
	res->killed = (size_t)v[1];
	res->survived = (size_t)v[2];
	res->errors = (size_t)v[3];
	res->original_runs = (int)v[4];
	res->trainings_used = (size_t)v[5];
	res->trainings_fixed_design = (size_t)v[6];
	res->trainings_this_invocation = (size_t)v[7];
	res->threads = (int)v[8];
	/* reports before max_runs was written: the fixed design trains every
	 * slot (the original and each mutant) max_runs times */
	res->max_runs = v[9] ? (int)v[9] : (int)(v[6] / (size_t)(v[0] + 1));
	if (res->original_runs > 100000 || res->max_runs > 100000) {
		error = bad(&c, "original_runs", "at most 100000");
		goto cleanup;
	}
	res->sequential = json_is_true(json_object_get(root, "sequential"));
	if ((error = get_num(&res->alpha, &c, root, "alpha", 1)) < 0 ||
	    (error = get_num(&res->effect, &c, root, "effect_size", 1)) < 0 ||
	    (error = get_num(&res->power_at_effect_size, &c, root, "power_at_effect_size", 1)) < 0 ||
	    (error = copy_str(res->rule, sizeof(res->rule), &c, root, "rule")) < 0 ||
	    (error = copy_str(res->correction, sizeof(res->correction), &c, root, "correction")) < 0 ||
	    (error = copy_str(res->torch_version, sizeof(res->torch_version), &c, root, "torch_version")) < 0 ||
	    (error = copy_str(res->mutorch_version, sizeof(res->mutorch_version), &c, root,
			      "mutorch_version")) < 0)
		goto cleanup;
	if (json_is_integer(json_object_get(root, "seed")))
		res->seed = (uint64_t)json_integer_value(json_object_get(root, "seed"));
	if (!(res->original_accuracy = calloc((size_t)res->original_runs + 1, sizeof(double))) ||
	    !(res->original_keys = calloc((size_t)res->original_runs + 1, MT_HASH_HEX))) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (int r = 0; r < res->original_runs; r++)
		res->original_accuracy[r] = NAN;
	total_runs = res->original_runs;
	for (size_t i = 0; i < res->nmutants && error == 0; i++) {
		snprintf(c.where, sizeof(c.where), "mutants_detail[%zu].", i);
		error = read_mutant(&res->mutants[i], &c, json_array_get(detail, i));
		/* every run is a whole training: a bound on what the accuracies
		 * may make mutorch allocate, far above any real run */
		if (error == 0 && (total_runs += res->mutants[i].runs) > MT_SOURCE_MAX_TOTAL_RUNS)
			error = bad(&c, "runs", "at most 10000000 runs in all (the original's and "
				    "every mutant's)");
	}
cleanup:
	json_decref(root);
	if (error < 0) {
		mt_source_results_free(res);
		return error;
	}
	*out = res;
	return 0;
}

/* One RFC 4180 field at *p (quoted or not) into buf; *p moves past it and
 * its separator. 0, or -1 when the field is too long or a quote is open. */
static int csv_next(char *buf, size_t size, const char **p)
{
	const char *s = *p;
	size_t n = 0;
	if (*s == '"') {
		for (s++;; s++) {
			if (*s == '\0')
				return -1;
			if (*s == '"' && s[1] == '"')
				s++;
			else if (*s == '"') {
				s++;
				break;
			}
			if (n + 1 >= size)
				return -1;
			buf[n++] = *s;
		}
	} else {
		for (; *s && *s != ',' && *s != '\n'; s++) {
			if (n + 1 >= size)
				return -1;
			buf[n++] = *s;
		}
	}
	buf[n] = '\0';
	if (*s == ',')
		s++;
	*p = s;
	return 0;
}

/* text is NUL-terminated; a NUL inside it ends it */
static int parse_runs(mt_source_results *res, const char *text, const char *path)
{
	char id[1024], run[32], acc[64], key[64];
	const char *p;
	size_t line = 1;
	int error = 0;

	if (strncmp(text, "id,run,accuracy,key\n", 20) != 0)
		return mt_error_set(MT_EINVALID, "%s:1: expected the header id,run,accuracy,key", path);
	for (p = text + 20; *p; line++) {
		char *end;
		long r;
		double a;
		if (csv_next(id, sizeof(id), &p) < 0 || csv_next(run, sizeof(run), &p) < 0 ||
		    csv_next(acc, sizeof(acc), &p) < 0 || csv_next(key, sizeof(key), &p) < 0 || *p != '\n') {
			error = mt_error_set(MT_EINVALID, "%s:%zu: expected 4 fields id,run,accuracy,key",
					     path, line + 1);
			break;
		}
		p++;
		r = strtol(run, &end, 10);
		if (*end || end == run || r < 0) {
			error = mt_error_set(MT_EINVALID, "%s:%zu: run: expected an integer >= 0, got '%s'",
					     path, line + 1, run);
			break;
		}
		a = strtod(acc, &end);
		if (*end || end == acc || !(a >= 0 && a <= 1)) {
			error = mt_error_set(MT_EINVALID, "%s:%zu: accuracy: expected a number in [0, 1], "
					     "got '%s'", path, line + 1, acc);
			break;
		}
		if (!strcmp(id, "original")) {
			if (r < res->original_runs)
				res->original_accuracy[r] = a;
			continue;
		}
		for (size_t i = 0; i < res->nmutants; i++)
			if (!strcmp(res->mutants[i].id, id) && r < res->mutants[i].runs)
				res->mutants[i].accuracy[r] = a;
	}
	return error;
}

int mt_source_results_parse(mt_source_results **out, const char *report, size_t report_len,
			    const char *runs, size_t runs_len, const char *report_name,
			    const char *runs_name)
{
	mt_source_results *res = NULL;
	char *copy = NULL;
	int error;

	*out = NULL;
	if ((error = parse_report(&res, report, report_len, report_name)) < 0)
		return error;
	if (res->nmutants) {
		/* the CSV parser reads up to a NUL */
		if (!runs || !(copy = malloc(runs_len + 1))) {
			error = runs ? mt_error_oom() :
				mt_error_set(MT_EINVALID, "%s: missing (the report lists mutants)", runs_name);
			goto cleanup;
		}
		memcpy(copy, runs, runs_len);
		copy[runs_len] = '\0';
		if ((error = parse_runs(res, copy, runs_name)) < 0)
			goto cleanup;
	}
	*out = res;
	res = NULL;
cleanup:
	mt_source_results_free(res);
	free(copy);
	return error;
}

int mt_source_results_load(mt_source_results **out, const char *dir)
{
	char *report = mt_io_path_join(dir, "source-report.json");
	char *runs = mt_io_path_join(dir, "source-runs.csv");
	char *report_text = NULL, *runs_text = NULL;
	size_t report_len = 0, runs_len = 0;
	int error;

	*out = NULL;
	if (!report || !runs) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_run_file_read(&report_text, &report_len, report, MT_RUN_FILE_MAX_BYTES)) < 0)
		goto cleanup;
	/* source-runs.csv is read only when the report has mutants; parse
	 * says so when it is needed and missing */
	if (access(runs, F_OK) == 0 &&
	    (error = mt_run_file_read(&runs_text, &runs_len, runs, MT_RUN_FILE_MAX_BYTES)) < 0)
		goto cleanup;
	error = mt_source_results_parse(out, report_text, report_len, runs_text, runs_len, report, runs);
cleanup:
	free(report_text);
	free(runs_text);
	free(report);
	free(runs);
	return error;
}
