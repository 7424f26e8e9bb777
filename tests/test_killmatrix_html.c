/* The HTML report (killmatrix/html*.c, svg.c) on matrices and source-level
 * results built here: every number the page shows equals the JSON
 * reports' (data-key), the page fetches nothing, the embedded JSON and the
 * viewer cannot end their script elements early, and source-level results
 * survive a write and a load. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "html_check.h"
#include "mutorch/analysis.h"
#include "mutorch/error.h"
#include "mutorch/html_report.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/report.h"
#include "mutorch/rng.h"
#include "mutorch/source_results.h"

#define N 300
#define C 5

/* 300 inputs, 5 classes, 40 mutants of 4 operators on 3 layers (names
 * that need escaping included), some timed out or ignored. */
static mt_killmatrix *matrix(void)
{
	static const char *const ops[] = {"GF", "NAI", "WS", "A&B<op>"};
	static const char *const layers[] = {"conv/0", "fc 1", "*"};
	int64_t cls[N], orig[N], pred[N];
	mt_killmatrix *km;
	mt_rng rng;
	mt_rng_seed(&rng, 5);
	for (size_t t = 0; t < N; t++) {
		cls[t] = (int64_t)(t % C);
		orig[t] = mt_rng_uniform(&rng) < 0.85 ? cls[t] : (cls[t] + 1) % C;
	}
	cr_assert_eq(mt_killmatrix_new(&km, N, C, cls, orig), 0);
	cr_assert_eq(mt_killmatrix_set_meta(km, "mutation_seed", "17"), 0);
	cr_assert_eq(mt_killmatrix_set_meta(km, "threads", "2"), 0);
	cr_assert_eq(mt_killmatrix_set_meta(km, "note", "a \"quoted\" <value> & more"), 0);
	for (size_t m = 0; m < 40; m++) {
		char id[64];
		mt_mutant_record r;
		double p = 0.01 + 0.3 * mt_rng_uniform(&rng);
		memset(&r, 0, sizeof(r));
		snprintf(id, sizeof(id), "%s-%s-%03zu", ops[m % 4], layers[m % 3], m);
		r.id = id;
		r.operator_name = ops[m % 4];
		r.layer = layers[m % 3];
		r.params = "ratio=0.1";
		r.seconds = 0.5;
		if (m % 13 == 5 || m % 17 == 3) {
			r.status = m % 13 == 5 ? MT_MUTANT_TIMEOUT : MT_MUTANT_IGNORED;
			r.accuracy = NAN;
			cr_assert_eq(mt_killmatrix_add_mutant(km, &r, NULL), 0);
			continue;
		}
		for (size_t t = 0; t < N; t++)
			pred[t] = m % 7 == 0 ? orig[t] : mt_rng_uniform(&rng) < p ?
				(int64_t)mt_rng_below(&rng, C) : orig[t];
		cr_assert_eq(mt_killmatrix_add_mutant(km, &r, pred), 0, "%s", mt_error_last());
	}
	return km;
}

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	cr_assert(j, "not JSON: %s", e.text);
	return j;
}

/* The JSON island of the page with this id, as JSON. */
static json_t *island(const char *html, const char *id)
{
	char pat[128], *text;
	const char *p, *q;
	json_t *j;
	snprintf(pat, sizeof(pat), "<script type=\"application/json\" id=\"%s\">", id);
	p = strstr(html, pat);
	cr_assert(p, "no island %s", id);
	p += strlen(pat);
	q = strstr(p, "</script>");
	cr_assert(q);
	text = strndup(p, (size_t)(q - p));
	j = parse(text);
	free(text);
	return j;
}

Test(html, every_number_equals_the_json_reports)
{
	mt_killmatrix *km = matrix();
	mt_html_report r;
	mt_minimise_result *min;
	mt_prioritise_result *prio;
	mt_lcr_result *lcr;
	mt_survivors_result *surv;
	char *html, *model, *analysis;
	json_t *root = json_object(), *j;
	size_t checked;

	memset(&r, 0, sizeof(r));
	r.km = km;
	r.seed = 1;
	r.run_dir = "out/<dir>";
	cr_assert_eq(mt_html_report_string(&html, &r), 0, "%s", mt_error_last());
	cr_assert_eq(mt_killmatrix_json_string(&model, km), 0);
	cr_assert_eq(mt_analysis_minimise(&min, km), 0);
	cr_assert_eq(mt_analysis_prioritise(&prio, km, MT_ANALYSIS_RANDOM_ORDERS, 1), 0);
	cr_assert_eq(mt_analysis_lcr(&lcr, km), 0);
	cr_assert_eq(mt_analysis_survivors(&surv, km), 0);
	cr_assert_eq(mt_analysis_json_string(&analysis, min, prio, lcr, surv, km, 0), 0);
	json_object_set_new(root, "model", parse(model));
	json_object_set_new(root, "analysis", parse(analysis));

	checked = hc_check(html, root);
	/* 4 scores, counts, 2 x 4 bars and 3 x 4 bar notes... at least the
	 * heat map (4 x 5) and one accuracy per evaluated mutant */
	cr_assert_geq(checked, 20 + 30 + 20, "only %zu numbers tagged", checked);
	cr_log_info("%zu numbers checked against the JSON", checked);
	hc_offline(html);
	/* the islands are the reports themselves */
	j = island(html, "mutorch-model");
	cr_assert(json_equal(j, json_object_get(root, "model")), "the model island differs from report.json");
	json_decref(j);
	j = island(html, "mutorch-analysis");
	cr_assert(json_equal(j, json_object_get(root, "analysis")));
	json_decref(j);
	/* escaped names, and no viewer section without a Stryker report */
	cr_assert(th_contains(html, "A&amp;B&lt;op&gt;"));
	cr_assert(!th_contains(html, "A&B<op>"));
	cr_assert(th_contains(html, "no Stryker report"));
	cr_assert(th_contains(html, "<section id=\"survivors\">"));

	json_decref(root);
	free(html);
	free(model);
	free(analysis);
	mt_minimise_result_free(min);
	mt_prioritise_result_free(prio);
	mt_lcr_result_free(lcr);
	mt_survivors_result_free(surv);
	mt_killmatrix_free(km);
}

/* A number changed in the JSON is caught: the check can fail. */
Test(html, a_wrong_number_is_caught)
{
	mt_killmatrix *km = matrix();
	mt_html_report r;
	char *html, *model, *analysis;
	json_t *root = json_object(), *m;
	size_t bad = 0, checked;
	mt_lcr_result *lcr;
	mt_survivors_result *surv;
	memset(&r, 0, sizeof(r));
	r.km = km;
	cr_assert_eq(mt_html_report_string(&html, &r), 0);
	cr_assert_eq(mt_killmatrix_json_string(&model, km), 0);
	cr_assert_eq(mt_analysis_lcr(&lcr, km), 0);
	cr_assert_eq(mt_analysis_survivors(&surv, km), 0);
	cr_assert_eq(mt_analysis_json_string(&analysis, NULL, NULL, lcr, surv, km, 0), 0);
	m = parse(model);
	json_object_set_new(m, "mutation_score", json_real(0.5));
	json_object_set_new(root, "model", m);
	json_object_set_new(root, "analysis", parse(analysis));
	/* the prioritisation and minimisation numbers are missing */
	checked = hc_check_counting(html, root, &bad);
	cr_assert_gt(checked, 0);
	/* mutation_score, and the 13 minimise and prioritise numbers */
	cr_assert_eq(bad, 1 + 13, "%zu mismatches", bad);
	json_decref(root);
	free(html);
	free(model);
	free(analysis);
	mt_lcr_result_free(lcr);
	mt_survivors_result_free(surv);
	mt_killmatrix_free(km);
}

Test(html, stryker_and_viewer_cannot_end_their_scripts)
{
	mt_killmatrix *km = matrix();
	mt_html_report r;
	static const char viewer[] = "/* </script><script>alert(1)</script> */ window.x = 1;";
	static const char stryker[] = "{\"schemaVersion\":\"1\",\"files\":{\"a</script>\":{}}}";
	char *html;
	const char *p;
	size_t scripts = 0, ends = 0;

	memset(&r, 0, sizeof(r));
	r.km = km;
	r.stryker = stryker;
	r.viewer_js = viewer;
	r.viewer_len = strlen(viewer);
	cr_assert_eq(mt_html_report_string(&html, &r), 0);
	cr_assert(th_contains(html, "<mutation-test-report-app data-report=\"stryker-model\""));
	cr_assert(th_contains(html, "id=\"mte-bundle\""));
	cr_assert(!th_contains(html, "alert(1)"), "the viewer is inlined as text");
	cr_assert(th_contains(html, "a\\u003c/script>"));
	for (p = html; (p = strstr(p, "<script")); p++)
		scripts++;
	for (p = html; (p = strstr(p, "</script>")); p++)
		ends++;
	cr_assert_eq(scripts, ends, "%zu <script> but %zu </script>", scripts, ends);
	free(html);

	/* without the viewer: the tab says how to get it */
	r.viewer_js = NULL;
	r.viewer_hint = "Install it with npm.";
	cr_assert_eq(mt_html_report_string(&html, &r), 0);
	cr_assert(th_contains(html, "mutation-testing-elements"));
	cr_assert(th_contains(html, "Install it with npm."));
	cr_assert(!th_contains(html, "<mutation-test-report-app"));
	free(html);
	mt_killmatrix_free(km);
}

static mt_source_results *source_results(void)
{
	mt_source_results *res;
	static const char *const ids[] = {"LE-ratio=0.3-000", "NP-ratio=0.3,sigma=0.3-000", "HBS-x-000"};
	static const mt_mutant_status st[] = {MT_MUTANT_KILLED, MT_MUTANT_SURVIVED, MT_MUTANT_RUNTIME_ERROR};
	cr_assert_eq(mt_source_results_new(&res, 3, 0), 0);
	strcpy(res->rule, "deepcrime");
	strcpy(res->correction, "none");
	strcpy(res->torch_version, "1.13");
	strcpy(res->mutorch_version, "0.1.0");
	res->sequential = 1;
	res->alpha = 0.05;
	res->effect = 0.5;
	res->max_runs = 6;
	res->seed = 42;
	res->threads = 1;
	res->original_runs = 6;
	res->original_accuracy = calloc(6, sizeof(double));
	res->original_keys = calloc(6, MT_HASH_HEX);
	for (int i = 0; i < 6; i++) {
		res->original_accuracy[i] = 0.84 + 0.001 * i;
		memset(res->original_keys[i], 'a' + i, 40);
	}
	res->trainings_used = 16;
	res->trainings_fixed_design = 24;
	for (size_t k = 0; k < 3; k++) {
		mt_source_mutant_result *m = &res->mutants[k];
		m->id = strdup(ids[k]);
		m->op = strndup(ids[k], 2);
		m->target = strdup("global");
		m->params = strdup("ratio=0.3");
		m->status = st[k];
		m->runs = k == 2 ? 0 : k == 0 ? 4 : 6;
		m->accuracy = calloc(6, sizeof(double));
		m->keys = calloc(6, MT_HASH_HEX);
		for (int i = 0; i < m->runs; i++) {
			m->accuracy[i] = 0.80 - 0.02 * (double)(k == 0) + 0.003 * i;
			memset(m->keys[i], 'b', 40);
		}
		m->original_mean = 0.8415;
		m->original_sd = 0.0019;
		m->mutant_mean = k == 2 ? NAN : 0.8 + 0.01 * (double)k;
		m->mutant_sd = k == 2 ? NAN : 0.004;
		m->p_value = k == 2 ? NAN : 0.0012 * (double)(k + 1);
		m->p_adjusted = m->p_value;
		m->effect_size = k == 2 ? NAN : 3.5 - (double)k;
		m->mean_kill_probability = 0.1;
		m->redundant = k == 2 ? -1 : 0;
		if (k == 2)
			m->reason = strdup("worker killed by signal 9");
	}
	res->killed = 1;
	res->survived = 1;
	res->errors = 1;
	return res;
}

Test(html, source_results_write_load_and_show)
{
	mt_source_results *res = source_results(), *back;
	char *dir = th_tempdir("src"), path[512], *json, *json_back, *html;
	mt_html_report r;
	json_t *root = json_object();
	size_t checked;

	snprintf(path, sizeof(path), "%s/source-report.json", dir);
	cr_assert_eq(mt_source_results_write_json(res, path), 0);
	cr_assert_eq(mt_source_results_write_files(res, dir), 0, "%s", mt_error_last());
	cr_assert_eq(mt_source_results_load(&back, dir), 0, "%s", mt_error_last());
	cr_assert_eq(back->nmutants, 3);
	cr_assert_eq(back->max_runs, 6);
	cr_assert_eq(back->mutants[0].runs, 4);
	cr_assert_str_eq(back->mutants[1].id, "NP-ratio=0.3,sigma=0.3-000");
	for (int i = 0; i < 6; i++)
		cr_assert_eq(back->mutants[1].accuracy[i], res->mutants[1].accuracy[i]);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(back->original_accuracy[i], res->original_accuracy[i]);
	cr_assert_eq(mt_source_results_json_string(&json, res), 0);
	cr_assert_eq(mt_source_results_json_string(&json_back, back), 0);
	cr_assert_str_eq(json_back, json, "the loaded results give another report");

	memset(&r, 0, sizeof(r));
	r.source = back;
	cr_assert_eq(mt_html_report_string(&html, &r), 0);
	json_object_set_new(root, "source", parse(json));
	checked = hc_check(html, root);
	cr_assert_geq(checked, 10 + 3 * 3, "only %zu numbers", checked);
	/* the killed mutant stopped at 4 of 6 runs; the one that failed to
	 * train has no verdict to stop at */
	{
		const char *a = strstr(html, "(stopped early)");
		cr_assert(a, "the sequential stop is not shown");
		cr_assert_null(strstr(a + 1, "(stopped early)"), "a failed mutant is shown as stopped early");
	}
	cr_assert(th_contains(html, "worker killed by signal 9"));
	hc_offline(html);

	/* a damaged report names the file and the field */
	{
		static const char damaged[] = "{\"level\":\"source\",\"mutants\":1,\"killed\":\"x\"}";
		mt_source_results *none = NULL;
		cr_assert_eq(mt_io_write_file_atomic(path, damaged, strlen(damaged)), 0);
		cr_assert_eq(mt_source_results_load(&none, dir), MT_EINVALID);
		cr_assert_null(none);
	}
	cr_assert(th_contains(mt_error_last(), "source-report.json: killed: expected an integer"),
		  "%s", mt_error_last());

	json_decref(root);
	free(json);
	free(json_back);
	free(html);
	mt_source_results_free(back);
	mt_source_results_free(res);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
	free(dir);
}

Test(html, history_points_and_failed_gates)
{
	mt_html_history_point pts[4];
	mt_html_report r;
	char *html;
	json_t *root = json_pack("{s:[]}", "history"), *hist = json_object_get(root, "history");
	static const char *const commits[] = {"1111111111111111111111111111111111111111",
					      "2222222222222222222222222222222222222222",
					      "3333333333333333333333333333333333333333",
					      "4444444444444444444444444444444444444444"};
	memset(pts, 0, sizeof(pts));
	for (int i = 0; i < 4; i++) {
		pts[i].commit = commits[i];
		pts[i].summary = i == 2 ? "docs <only>" : "change";
		pts[i].has_note = i != 1;
		for (int k = 0; k < MT_HISTORY_SCORES; k++)
			pts[i].scores[k] = k == MT_HISTORY_SOURCE_MUTATION_SCORE ? NAN : 0.5 + 0.1 * i + 0.01 * k;
		pts[i].gate = i == 3 ? 0 : 1;
		pts[i].gate_score = "mutation_score";
		if (pts[i].has_note)
			json_array_append_new(hist, json_pack("{s:s, s:{s:f, s:f, s:f}}", "commit", commits[i],
							      "scores", "mutation_score", pts[i].scores[0],
							      "deepmutation_score", pts[i].scores[1],
							      "average_error_rate", pts[i].scores[2]));
	}
	memset(&r, 0, sizeof(r));
	r.with_history = 1;
	r.history = pts;
	r.n_history = 4;
	cr_assert_eq(mt_html_report_string(&html, &r), 0);
	cr_assert_eq(hc_check(html, root), 9);
	cr_assert(th_contains(html, "class=\"fail\""), "the failed gate is not marked");
	cr_assert(th_contains(html, "docs &lt;only&gt;"));
	cr_assert(th_contains(html, "no note"));
	json_decref(root);
	free(html);
}

/* The run directory's files are read back as regular files of bounded
 * size (docs/security.md): a FIFO is refused at once instead of blocking,
 * a directory names what it is, and a file over the limit names its size
 * and the limit before anything is allocated for it. */
Test(html, run_files_regular_and_bounded, .timeout = 30)
{
	mt_source_results *res = source_results(), *none = NULL;
	char *dir = th_tempdir("src-hard"), path[512], *text = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/source-report.json", dir);
	cr_assert_eq(mt_source_results_write_json(res, path), 0);
	cr_assert_eq(mt_source_results_write_files(res, dir), 0, "%s", mt_error_last());

	/* within the limit: the whole file, NUL-terminated */
	cr_assert_eq(mt_run_file_read(&text, &len, path, MT_RUN_FILE_MAX_BYTES), 0, "%s", mt_error_last());
	cr_assert_gt(len, 0);
	cr_assert_eq(text[len], '\0');
	cr_assert_eq(strlen(text), len);
	free(text);

	/* one byte under its size is too large */
	cr_assert_eq(mt_run_file_read(&text, &len, path, len - 1), MT_EINVALID);
	cr_assert_null(text);
	cr_assert(th_contains(mt_error_last(), "source-report.json") &&
		  th_contains(mt_error_last(), "expected at most"), "%s", mt_error_last());

	/* source-runs.csv as a FIFO with no writer: refused, not waited on */
	snprintf(path, sizeof(path), "%s/source-runs.csv", dir);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(th_run(NULL, NULL, "mkfifo '%s'", path), 0);
	cr_assert_eq(mt_source_results_load(&none, dir), MT_EINVALID);
	cr_assert_null(none);
	cr_assert(th_contains(mt_error_last(), "source-runs.csv: is a FIFO"), "%s", mt_error_last());

	/* source-report.json as a directory */
	snprintf(path, sizeof(path), "%s/source-report.json", dir);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(th_run(NULL, NULL, "mkdir '%s'", path), 0);
	cr_assert_eq(mt_source_results_load(&none, dir), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "source-report.json: is a directory"), "%s", mt_error_last());

	mt_source_results_free(res);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
	free(dir);
}
