/* The results of a source-level run and their reports (see
 * mutorch/source_results.h). The key order of the JSON report and the
 * columns of the CSV files are documented in docs/run-directory.md. */
#include "mutorch/source_results.h"
#include "mutorch/csv.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/stats.h"
#include "mutorch/strbuf.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int mt_source_results_new(mt_source_results **out, size_t nmutants, size_t n_inputs)
{
	mt_source_results *res = calloc(1, sizeof(*res));
	*out = NULL;
	if (!res || !(res->mutants = calloc(nmutants ? nmutants : 1, sizeof(*res->mutants)))) {
		free(res);
		return mt_error_oom();
	}
	res->nmutants = nmutants;
	res->n_inputs = n_inputs;
	res->power_at_effect_size = NAN;
	*out = res;
	return 0;
}

void mt_source_results_free(mt_source_results *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->nmutants; i++) {
		mt_source_mutant_result *m = &res->mutants[i];
		free(m->id);
		free(m->op);
		free(m->target);
		free(m->params);
		free(m->reason);
		free(m->accuracy);
		free(m->keys);
		free(m->kill_probability);
	}
	free(res->mutants);
	free(res->config_path);
	free(res->original_accuracy);
	free(res->original_keys);
	free(res);
}

double mt_source_results_score(const mt_source_results *res)
{
	size_t valid = res->killed + res->survived;
	return valid ? (double)res->killed / (double)valid : NAN;
}

static int failed(const mt_source_mutant_result *m)
{
	return m->status != MT_MUTANT_KILLED && m->status != MT_MUTANT_SURVIVED;
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *mutant_json(const mt_source_mutant_result *m)
{
	json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o}",
				"id", m->id, "operator", m->op, "target", m->target, "params", m->params,
				"runs", m->runs, "original_mean", num(m->original_mean),
				"original_sd", num(m->original_sd), "mutant_mean", num(m->mutant_mean),
				"mutant_sd", num(m->mutant_sd),
				"mean_kill_probability", num(m->mean_kill_probability));
	if (!row)
		return NULL;
	if (failed(m))
		json_object_set_new(row, "reason", json_string(m->reason ? m->reason : ""));
	else
		json_object_set_new(row, "trivial", json_boolean(m->trivial));
	if (m->redundant >= 0)
		json_object_set_new(row, "redundant", json_boolean(m->redundant));
	json_object_set_new(row, "status", json_string(mt_mutant_status_name(m->status)));
	if (!failed(m)) {
		json_object_set_new(row, "p_value", num(m->p_value));
		json_object_set_new(row, "p_adjusted", num(m->p_adjusted));
		json_object_set_new(row, "effect_size", num(m->effect_size));
	}
	return row;
}

static json_t *report_json(const mt_source_results *res)
{
	json_t *r = json_object(), *rows = json_array();
	if (!r || !rows) {
		json_decref(r);
		json_decref(rows);
		return NULL;
	}
	json_object_set_new(r, "level", json_string("source"));
	json_object_set_new(r, "mutants", json_integer((json_int_t)res->nmutants));
	json_object_set_new(r, "killed", json_integer((json_int_t)res->killed));
	json_object_set_new(r, "survived", json_integer((json_int_t)res->survived));
	json_object_set_new(r, "errors", json_integer((json_int_t)res->errors));
	json_object_set_new(r, "mutation_score", num(mt_source_results_score(res)));
	json_object_set_new(r, "rule", json_string(res->rule));
	json_object_set_new(r, "sequential", json_boolean(res->sequential));
	json_object_set_new(r, "alpha", json_real(res->alpha));
	json_object_set_new(r, "effect_size", json_real(res->effect));
	json_object_set_new(r, "correction", json_string(res->correction));
	json_object_set_new(r, "original_runs", json_integer(res->original_runs));
	json_object_set_new(r, "max_runs", json_integer(res->max_runs));
	json_object_set_new(r, "trainings_used", json_integer((json_int_t)res->trainings_used));
	json_object_set_new(r, "trainings_fixed_design", json_integer((json_int_t)res->trainings_fixed_design));
	json_object_set_new(r, "trainings_saved",
			    json_integer((json_int_t)(res->trainings_fixed_design - res->trainings_used)));
	json_object_set_new(r, "trainings_this_invocation",
			    json_integer((json_int_t)res->trainings_this_invocation));
	json_object_set_new(r, "reevaluations_this_invocation",
			    json_integer((json_int_t)res->reevaluations_this_invocation));
	if (!isnan(res->power_at_effect_size))
		json_object_set_new(r, "power_at_effect_size", num(res->power_at_effect_size));
	json_object_set_new(r, "seed", json_integer((json_int_t)res->seed));
	json_object_set_new(r, "threads", json_integer(res->threads));
	json_object_set_new(r, "torch_version", json_string(res->torch_version));
	json_object_set_new(r, "mutorch_version", json_string(res->mutorch_version));
	for (size_t i = 0; i < res->nmutants; i++) {
		json_t *row = mutant_json(&res->mutants[i]);
		if (!row || json_array_append_new(rows, row) < 0) {
			json_decref(rows);
			json_decref(r);
			return NULL;
		}
	}
	json_object_set_new(r, "mutants_detail", rows);
	return r;
}

int mt_source_results_json_string(char **out, const mt_source_results *res)
{
	/* An empty plan trains nothing and reports only the counts. */
	static const char empty[] = "{\"level\":\"source\",\"mutants\":0,\"killed\":0,\"survived\":0,"
		"\"errors\":0,\"mutation_score\":null,\"trainings_used\":0,"
		"\"trainings_this_invocation\":0,\"mutants_detail\":[]}";
	json_t *r;

	if (res->nmutants == 0)
		return (*out = strdup(empty)) ? 0 : mt_error_oom();
	r = report_json(res);
	*out = r ? json_dumps(r, JSON_COMPACT) : NULL;
	json_decref(r);
	return *out ? 0 : mt_error_oom();
}

static int write_json_file(json_t *root, const char *path)
{
	char *text = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
	int error = text ? mt_io_write_file_atomic(path, text, strlen(text))
			 : mt_error_set(MT_ENOMEM, "%s: out of memory", path);
	free(text);
	return error;
}

int mt_source_results_write_json(const mt_source_results *res, const char *path)
{
	json_t *r = report_json(res);
	int error = write_json_file(r, path);
	json_decref(r);
	return error;
}

/* ---- CSV ---------------------------------------------------------------- */

static void csv_number(mt_strbuf *sb, double v)
{
	if (isfinite(v))
		mt_strbuf_printf(sb, ",%.17g", v);
	else
		mt_strbuf_put(sb, ",", 1);
}

static int write_runs_csv(const mt_source_results *res, const char *path)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	mt_strbuf_puts(&sb, "id,run,accuracy,key\n");
	for (int r = 0; r < res->original_runs; r++)
		mt_strbuf_printf(&sb, "original,%d,%.17g,%s\n", r, res->original_accuracy[r],
				 res->original_keys[r]);
	for (size_t i = 0; i < res->nmutants; i++) {
		const mt_source_mutant_result *m = &res->mutants[i];
		for (int r = 0; r < m->runs; r++) {
			mt_csv_field(&sb, m->id);
			mt_strbuf_printf(&sb, ",%d,%.17g,%s\n", r, m->accuracy[r], m->keys[r]);
		}
	}
	return mt_strbuf_write_file(&sb, path);
}

static int write_mutants_csv(const mt_source_results *res, const char *path)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	mt_strbuf_puts(&sb, "id,operator,status,runs,p_value,p_adjusted,effect_size,original_mean,"
		       "original_sd,mutant_mean,mutant_sd,mean_kill_probability,trivial,redundant\n");
	for (size_t i = 0; i < res->nmutants; i++) {
		const mt_source_mutant_result *m = &res->mutants[i];
		int ok = !failed(m);
		mt_csv_field(&sb, m->id);
		mt_strbuf_put(&sb, ",", 1);
		mt_csv_field(&sb, m->op);
		mt_strbuf_printf(&sb, ",%s,%d", mt_mutant_status_name(m->status), m->runs);
		csv_number(&sb, ok ? m->p_value : NAN);
		csv_number(&sb, ok ? m->p_adjusted : NAN);
		csv_number(&sb, ok ? m->effect_size : NAN);
		csv_number(&sb, m->original_mean);
		csv_number(&sb, m->original_sd);
		csv_number(&sb, m->mutant_mean);
		csv_number(&sb, m->mutant_sd);
		csv_number(&sb, m->mean_kill_probability);
		mt_strbuf_printf(&sb, ",%d,%d\n", ok && m->trivial, m->redundant > 0);
	}
	return mt_strbuf_write_file(&sb, path);
}

static int write_kill_probabilities_csv(const mt_source_results *res, const char *path)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	mt_strbuf_puts(&sb, "id");
	for (size_t t = 0; t < res->n_inputs; t++)
		mt_strbuf_printf(&sb, ",t%zu", t);
	mt_strbuf_put(&sb, "\n", 1);
	for (size_t i = 0; i < res->nmutants; i++) {
		const mt_source_mutant_result *m = &res->mutants[i];
		if (!m->kill_probability)
			continue;
		mt_csv_field(&sb, m->id);
		for (size_t t = 0; t < res->n_inputs; t++)
			mt_strbuf_printf(&sb, ",%.4g", m->kill_probability[t]);
		mt_strbuf_put(&sb, "\n", 1);
	}
	return mt_strbuf_write_file(&sb, path);
}

/* ---- Stryker ------------------------------------------------------------ */

/* The recipe is the mutated artefact: one source line per mutant (its
 * canonical parameters), so that each mutant's location points at it. */
static int write_stryker(const mt_source_results *res, const char *path)
{
	json_t *mutants = json_array(), *root;
	mt_strbuf src = MT_STRBUF_INIT;
	char *text = NULL;
	int error;

	for (size_t i = 0; i < res->nmutants; i++) {
		const mt_source_mutant_result *m = &res->mutants[i];
		int line = (int)i + 1;
		json_array_append_new(mutants, json_pack("{s:s, s:s, s:s, s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:s}",
							 "id", m->id, "mutatorName", m->op, "replacement", m->params,
							 "location", "start", "line", line, "column", 1,
							 "end", "line", line, "column", 2,
							 "status", mt_mutant_status_name(m->status)));
		mt_strbuf_printf(&src, "%s\n", m->params);
	}
	if ((error = mt_strbuf_detach(&text, &src)) < 0) {
		json_decref(mutants);
		return error;
	}
	root = json_pack("{s:s, s:{s:i, s:i}, s:{s:{s:s, s:s, s:o}}}", "schemaVersion", "1",
			 "thresholds", "high", 80, "low", 60, "files", res->config_path ? res->config_path : "",
			 "language", "yaml", "source", text, "mutants", mutants);
	free(text);
	error = write_json_file(root, path);
	json_decref(root);
	return error;
}

int mt_source_results_write_files(const mt_source_results *res, const char *dir)
{
	static const char *const names[] = {"source-runs.csv", "source-mutants.csv",
					    "source-kill-probabilities.csv", "source-stryker.json"};
	int (*const writers[])(const mt_source_results *, const char *) = {
		write_runs_csv, write_mutants_csv, write_kill_probabilities_csv, write_stryker};
	int error = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && error == 0; i++) {
		char *path = mt_io_path_join(dir, names[i]);
		error = path ? writers[i](res, path) : mt_error_oom();
		free(path);
	}
	return error;
}

/* ---- the terminal table ------------------------------------------------- */

int mt_source_results_write_table(FILE *f, const mt_source_results *res)
{
	double sd, mean, score = mt_source_results_score(res);

	if (res->nmutants == 0) {
		fprintf(f, "source level: no mutants planned (every entry is equal to the original or makes no mutant here); nothing trained\n");
		return ferror(f) ? mt_error_set(MT_EIO, "cannot write the table") : 0;
	}
	fprintf(f, "source level: %zu mutants, %zu killed, %zu survived, %zu errors; rule %s, alpha %g, effect size %g%s\n",
		res->nmutants, res->killed, res->survived, res->errors, res->rule, res->alpha, res->effect,
		res->sequential ? ", sequential" : "");
	fprintf(f, "trainings: %zu used (%zu with a fixed %d-run design, %zu saved), %zu trained now, %zu trained models re-evaluated on a changed test set\n",
		res->trainings_used, res->trainings_fixed_design, res->max_runs,
		res->trainings_fixed_design - res->trainings_used, res->trainings_this_invocation,
		res->reevaluations_this_invocation);
	mean = mt_stats_mean_sd(&sd, res->original_accuracy, (size_t)(res->original_runs));
	fprintf(f, "original: %d runs, accuracy %.4f +- %.4f\n\n", res->original_runs, mean, sd);
	fprintf(f, "%-28s %-13s runs  %-16s %9s %7s %s\n", "mutant", "status", "accuracy", "p", "d", "notes");
	for (size_t i = 0; i < res->nmutants; i++) {
		const mt_source_mutant_result *m = &res->mutants[i];
		mean = mt_stats_mean_sd(&sd, m->accuracy, (size_t)(m->runs));
		fprintf(f, "%-28s %-13s %4d  %.4f +- %.4f ", m->id, mt_mutant_status_name(m->status), m->runs,
			mean, sd);
		if (failed(m))
			fprintf(f, "%9s %7s %s\n", "-", "-", m->reason ? m->reason : "");
		else
			fprintf(f, "%9.2g %7.2f %s%s\n", m->p_adjusted, m->effect_size,
				m->trivial ? "trivial " : "", m->redundant > 0 ? "redundant" : "");
	}
	if (isfinite(score))
		fprintf(f, "\nmutation score (killed / (killed + survived)): %.2f%%\n", 100.0 * score);
	else
		fprintf(f, "\nmutation score (killed / (killed + survived)): -\n");
	return ferror(f) ? mt_error_set(MT_EIO, "cannot write the table") : 0;
}
