/* The model-level mutation run (see modelrun.h): the parent plans and
 * records, fresh worker processes evaluate, the kill matrix is built in
 * plan order so that it does not depend on scheduling. */
#include "mutorch/clock.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/killmatrix.h"
#include "mutorch/modelrun.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/mutant.h"
#include "mutorch/operators.h"
#include "mutorch/plan.h"
#include "mutorch/pool.h"
#include "mutorch/report.h"
#include "mutorch/resultlog.h"
#include "mutorch/runner.h"
#include "mutorch/shim.h"
#include "mutorch/shim_partial.h"
#include "cut_cache.h"
#include "runner_internal.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PARTIAL_BUDGET ((size_t)1 << 30) /* bytes of cached activations */

/* The data and model shared by planning, the workers and export. */
typedef struct {
	mt_dataset *test;
	mt_tensor *x, *y;
	mt_module *model;
	mt_mutator *mutator;
} model_setup;

static void setup_dispose(model_setup *s)
{
	mt_mutator_free(s->mutator);
	mt_module_free(s->model);
	mt_tensor_free(s->x);
	mt_tensor_free(s->y);
	mt_dataset_free(s->test);
	memset(s, 0, sizeof(*s));
}

static int setup_load(model_setup *s, const mt_config *cfg, int with_data)
{
	int error;
	memset(s, 0, sizeof(*s));
	if (with_data &&
	    ((error = mt_runner_load_dataset(&s->test, cfg, MT_SPLIT_TEST)) < 0 ||
	     (error = mt_runner_tensors(&s->x, &s->y, cfg, s->test)) < 0))
		goto fail;
	if ((error = mt_runner_trained_model(&s->model, NULL, cfg, NULL)) < 0 ||
	    (error = mt_module_set_training(s->model, 0)) < 0)
		goto fail;
	if (!cfg->has_input_shape) {
		error = mt_error_set(MT_EINVALID, "%s: model.input_shape is required for mutation runs", cfg->path);
		goto fail;
	}
	if ((error = mt_mutator_new(&s->mutator, s->model, cfg->input_shape)) < 0)
		goto fail;
	return 0;
fail:
	setup_dispose(s);
	return error;
}

int mt_model_plan(mt_plan **plan, const mt_config *cfg)
{
	model_setup s;
	mt_plan_model pm;
	int error;

	*plan = NULL;
	if (cfg->nmodel_level == 0)
		return mt_error_set(MT_EINVALID, "%s: no mutation.model_level operators configured", cfg->path);
	if ((error = setup_load(&s, cfg, 0)) < 0)
		return error;
	mt_mutator_plan_model(&pm, s.mutator);
	error = mt_plan_model_level(plan, cfg, &pm);
	setup_dispose(&s);
	return error;
}

/* ---- worker ------------------------------------------------------------ */

static json_t *evaluate_one(const mt_config *cfg, model_setup *s, mt_cut_cache *cc,
			    const mt_mutant_desc *d, const int64_t *original,
			    int64_t *pred, float *logits, int64_t n)
{
	const int64_t *labels = mt_dataset_labels(s->test);
	mt_module *model = NULL;
	mt_op_result res;
	mt_partial *p = NULL;
	json_t *rec = json_object(), *diff;
	double t0 = mt_clock_now();
	int64_t correct = 0, nout = 0;
	int error;

	mt_runner_test_fault_hooks(d->id);
	if ((error = mt_mutator_apply(&model, &res, s->mutator, cfg, d)) < 0) {
		json_object_set_new(rec, "status", json_string("RuntimeError"));
		json_object_set_new(rec, "reason", json_string(mt_error_last()));
		mt_mutator_restore(s->mutator);
		goto done;
	}
	if (res.not_applicable) {
		json_object_set_new(rec, "status", json_string("Ignored"));
		json_object_set_new(rec, "reason", json_string(res.reason));
		mt_mutator_restore(s->mutator);
		goto done;
	}
	if (!mt_mutator_is_graph(s->mutator)) {
		size_t nchanged;
		const char *const *changed = mt_mutator_changed(s->mutator, &nchanged);
		if (nchanged > 0)
			p = mt_cut_cache_get(cc, s->model, s->x, changed, nchanged, cfg->eval_batch_size);
	}
	if (p)
		error = mt_partial_predict(pred, logits, p, 0);
	else
		error = mt_module_predict(pred, logits, &nout, model, s->x, cfg->eval_batch_size);
	if (error < 0) {
		json_object_set_new(rec, "status", json_string("RuntimeError"));
		json_object_set_new(rec, "reason", json_string(mt_error_last()));
		mt_mutator_restore(s->mutator);
		goto done;
	}
	if ((error = mt_mutator_restore(s->mutator)) < 0) {
		/* The trained weights could not be put back: this worker is
		 * unusable. Dying makes the parent record it and start afresh. */
		fprintf(stderr, "mutorch worker: cannot restore the model: %s\n", mt_error_last());
		exit(1);
	}
	nout = p ? mt_partial_num_outputs(p) : (nout ? nout : cfg->num_classes);
	for (int64_t i = 0; i < n * nout; i++)
		if (!isfinite(logits[i])) {
			json_object_set_new(rec, "status", json_string("RuntimeError"));
			json_object_set_new(rec, "reason", json_string("the mutant's outputs contain NaN or infinity"));
			goto done;
		}
	diff = json_array();
	for (int64_t i = 0; i < n; i++) {
		correct += pred[i] == labels[i];
		if (pred[i] != original[i])
			json_array_append_new(diff, json_pack("[I,I]", (json_int_t)i, (json_int_t)pred[i]));
	}
	json_object_set_new(rec, "status", json_string("Evaluated"));
	json_object_set_new(rec, "accuracy", json_real(n ? (double)correct / (double)n : 0));
	json_object_set_new(rec, "diff", diff);
done:
	json_object_set_new(rec, "seconds", json_real(mt_clock_now() - t0));
	return rec;
}

typedef struct {
	const mt_config *cfg;
	model_setup *s;
	mt_cut_cache *cc;
	const mt_plan *plan;
	const char *plan_path;
	const int64_t *original;
	int64_t *pred;
	float *logits;
	int64_t n;
} worker_state;

static int serve_mutant(char **payload, void *ctx, size_t task)
{
	worker_state *ws = ctx;
	const mt_mutant_desc *d = mt_plan_at(ws->plan, task);
	json_t *rec;

	if (!d)
		return mt_error_set(MT_EINVALID, "worker: no task %zu in %s", task, ws->plan_path);
	rec = evaluate_one(ws->cfg, ws->s, ws->cc, d, ws->original, ws->pred, ws->logits, ws->n);
	*payload = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);
	return *payload ? 0 : mt_error_oom();
}

int mt_model_worker(const mt_config *cfg, const char *run_dir)
{
	model_setup s;
	mt_plan *plan = NULL;
	mt_cut_cache *cc = NULL;
	worker_state ws;
	char *plan_path = mt_io_path_join(run_dir, "plan.json");
	int64_t n, nout = 0, *original = NULL, *pred = NULL;
	float *logits = NULL;
	int error;

	if ((error = setup_load(&s, cfg, 1)) < 0 ||
	    (error = mt_cut_cache_new(&cc, PARTIAL_BUDGET)) < 0)
		goto cleanup;
	if ((error = mt_plan_load(&plan, plan_path)) < 0)
		goto cleanup;
	n = mt_dataset_count(s.test);
	original = malloc(sizeof(int64_t) * (size_t)n);
	pred = malloc(sizeof(int64_t) * (size_t)n);
	logits = malloc(sizeof(float) * (size_t)n * (size_t)(cfg->num_classes > 0 ? cfg->num_classes : 1) * 4);
	if (!original || !pred || !logits) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_module_predict(original, logits, &nout, s.model, s.x, cfg->eval_batch_size)) < 0)
		goto cleanup;
	if (nout > cfg->num_classes * 4) {
		error = mt_error_set(MT_EINVALID, "%s: the model has %lld outputs but data.classes is %d",
				     cfg->path, (long long)nout, cfg->num_classes);
		goto cleanup;
	}
	ws = (worker_state){cfg, &s, cc, plan, plan_path, original, pred, logits, n};
	error = mt_pool_serve(serve_mutant, &ws);
cleanup:
	mt_cut_cache_free(cc);
	free(original);
	free(pred);
	free(logits);
	free(plan_path);
	mt_plan_free(plan);
	setup_dispose(&s);
	return error;
}

/* ---- parent -------------------------------------------------------------- */

typedef struct {
	const mt_plan *plan;
	mt_resultlog *log;
	json_t *by_id;          /* id -> record */
	const int64_t *labels, *original;
	int64_t n;
	size_t total, done, killed, errors;
	double start, last_draw;
	const mt_run_options *o;
} run_state;

static int record_is_killed(const run_state *rs, json_t *rec)
{
	size_t i;
	json_t *pair;
	const char *status = json_string_value(json_object_get(rec, "status"));
	if (!status || strcmp(status, "Evaluated") != 0)
		return 0;
	json_array_foreach(json_object_get(rec, "diff"), i, pair) {
		json_int_t t = json_integer_value(json_array_get(pair, 0));
		json_int_t l = json_integer_value(json_array_get(pair, 1));
		if (t >= 0 && t < rs->n && rs->original[t] == rs->labels[t] && l != rs->labels[t])
			return 1;
	}
	return 0;
}

static void draw_progress(run_state *rs, int final)
{
	const mt_run_options *o = rs->o;
	double t = mt_clock_now(), el = t - rs->start;
	size_t step = rs->total / 20 ? rs->total / 20 : 1;
	double eta = rs->done ? el / (double)rs->done * (double)(rs->total - rs->done) : 0;

	if (!o->progress)
		return;
	if (o->progress_tty) {
		const int width = 30;
		int filled = rs->total ? (int)((double)rs->done / (double)rs->total * width) : width;
		if (!final && t - rs->last_draw < 0.2)
			return;
		fprintf(o->progress, "\r[");
		for (int i = 0; i < width; i++)
			fputc(i < filled ? '#' : '.', o->progress);
		fprintf(o->progress, "] %zu/%zu mutants  %zu killed  %zu errors  %.0fs elapsed  ETA %.0fs \033[K",
			rs->done, rs->total, rs->killed, rs->errors, el, eta);
		if (final)
			fputc('\n', o->progress);
	} else {
		if (!final && rs->done % step != 0)
			return;
		fprintf(o->progress, "%zu/%zu mutants  %zu killed  %zu errors  %.0fs elapsed  ETA %.0fs\n",
			rs->done, rs->total, rs->killed, rs->errors, el, eta);
	}
	rs->last_draw = t;
	fflush(o->progress);
}

static int record_result(run_state *rs, size_t task, json_t *rec)
{
	const mt_mutant_desc *d = mt_plan_at(rs->plan, task);
	const char *status;
	int error;

	json_object_set_new(rec, "id", json_string(d->id));
	if ((error = mt_resultlog_append(rs->log, rec)) < 0)
		return error;
	json_object_set(rs->by_id, d->id, rec);
	rs->done++;
	rs->killed += (size_t)record_is_killed(rs, rec);
	status = json_string_value(json_object_get(rec, "status"));
	rs->errors += status && (!strcmp(status, "RuntimeError") || !strcmp(status, "Timeout"));
	draw_progress(rs, 0);
	return 0;
}

static int on_result(void *ctx, size_t task, const char *payload)
{
	run_state *rs = ctx;
	json_error_t jerr;
	json_t *rec = json_loads(payload, 0, &jerr);
	int error;
	if (!rec)
		return mt_error_set(MT_ERROR, "worker sent a malformed result for task %zu: %s", task, jerr.text);
	error = record_result(rs, task, rec);
	json_decref(rec);
	return error;
}

static int on_failure(void *ctx, size_t task, mt_pool_failure kind, const char *reason)
{
	run_state *rs = ctx;
	json_t *rec = json_pack("{s:s, s:s}", "status", kind == MT_POOL_TIMEOUT ? "Timeout" : "RuntimeError",
				"reason", reason);
	int error = record_result(rs, task, rec);
	json_decref(rec);
	return error;
}

static int build_killmatrix(mt_killmatrix **out, const mt_config *cfg, const mt_plan *plan,
			    json_t *by_id, const int64_t *labels, const int64_t *original, int64_t n)
{
	mt_killmatrix *km = NULL;
	int64_t *pred = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
	char buf[64];
	int error;

	if (!pred)
		return mt_error_oom();
	if ((error = mt_killmatrix_new(&km, (size_t)n, cfg->num_classes, labels, original)) < 0 ||
	    (error = mt_killmatrix_set_accuracy_filter(km, cfg->accuracy_filter)) < 0)
		goto cleanup;
	for (size_t i = 0; i < mt_plan_count(plan); i++) {
		const mt_mutant_desc *d = mt_plan_at(plan, i);
		json_t *rec = json_object_get(by_id, d->id), *pair;
		const char *status = rec ? json_string_value(json_object_get(rec, "status")) : NULL;
		mt_mutant_record mr;
		size_t k;

		memset(&mr, 0, sizeof(mr));
		mr.id = d->id;
		mr.operator_name = d->op;
		mr.layer = d->target;
		mr.params = d->params;
		mr.seed = d->seed;
		mr.accuracy = NAN;
		mr.seconds = rec ? json_real_value(json_object_get(rec, "seconds")) : 0;
		mr.status_reason = rec ? json_string_value(json_object_get(rec, "reason")) : NULL;
		if (status && !strcmp(status, "Evaluated")) {
			memcpy(pred, original, sizeof(int64_t) * (size_t)n);
			json_array_foreach(json_object_get(rec, "diff"), k, pair) {
				json_int_t t = json_integer_value(json_array_get(pair, 0));
				if (t >= 0 && t < n)
					pred[t] = json_integer_value(json_array_get(pair, 1));
			}
			mr.status = MT_MUTANT_PENDING;
			error = mt_killmatrix_add_mutant(km, &mr, pred);
		} else {
			if (!status)
				mr.status = MT_MUTANT_PENDING;
			else if (mt_mutant_status_from_name(&mr.status, status) < 0)
				mr.status = MT_MUTANT_RUNTIME_ERROR;
			error = mt_killmatrix_add_mutant(km, &mr, NULL);
		}
		if (error < 0)
			goto cleanup;
	}
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)cfg->mutation_seed);
	mt_killmatrix_set_meta(km, "mutation_seed", buf);
	snprintf(buf, sizeof(buf), "%d", cfg->threads);
	mt_killmatrix_set_meta(km, "threads", buf);
	mt_killmatrix_set_meta(km, "torch_version", mt_shim_torch_version());
	mt_killmatrix_set_meta(km, "mutorch_version", MUTORCH_VERSION);
	mt_killmatrix_set_meta(km, "plan_digest", mt_plan_digest(plan));
	mt_killmatrix_set_meta(km, "config", cfg->path);
	*out = km;
	km = NULL;
cleanup:
	free(pred);
	mt_killmatrix_free(km);
	return error;
}

int mt_model_write_reports(const mt_killmatrix *km, const mt_config *cfg, const char *dir)
{
	const char *names[] = {"report.json", "kills.csv", "predictions.csv", "inputs.csv", "stryker.json"};
	char *paths[5] = {0};
	mt_stryker_options so;
	int error = 0;

	for (int i = 0; i < 5; i++)
		if (!(paths[i] = mt_io_path_join(dir, names[i]))) {
			error = mt_error_oom();
			goto cleanup;
		}
	mt_stryker_options_init(&so);
	so.file_name = cfg->torchscript ? cfg->torchscript : cfg->output;
	so.max_killed_by = 100;
	if ((error = mt_killmatrix_write_json(km, paths[0])) < 0 ||
	    (error = mt_killmatrix_write_kills_csv(km, paths[1])) < 0 ||
	    (error = mt_killmatrix_write_predictions_csv(km, paths[2])) < 0 ||
	    (error = mt_killmatrix_write_inputs_csv(km, paths[3])) < 0 ||
	    (error = mt_killmatrix_write_stryker(km, paths[4], &so)) < 0)
		goto cleanup;
cleanup:
	for (int i = 0; i < 5; i++)
		free(paths[i]);
	return error;
}

static int remove_run_files(const char *dir)
{
	const char *names[] = {"results.jsonl", "killmatrix.mtkm", "report.json", "kills.csv",
			       "predictions.csv", "inputs.csv", "stryker.json", "plan.json"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = mt_io_path_join(dir, names[i]);
		if (!p)
			return mt_error_oom();
		unlink(p);
		free(p);
	}
	return 0;
}

int mt_model_run(mt_killmatrix **km_out, const mt_config *cfg, const mt_run_options *o)
{
	const char *dir = o->run_dir ? o->run_dir : cfg->run_dir;
	char *plan_path = NULL, *log_path = NULL, *km_path = NULL;
	mt_plan *plan = NULL, *old_plan = NULL;
	model_setup s;
	mt_killmatrix *km = NULL;
	json_t *records = NULL, *by_id = json_object(), *rec;
	size_t *pending = NULL, npending = 0, i;
	int64_t *original = NULL, n, nout = 0;
	float *logits = NULL;
	run_state rs;
	double t0;
	int error;

	*km_out = NULL;
	memset(&s, 0, sizeof(s));
	memset(&rs, 0, sizeof(rs));
	if (!(plan_path = mt_io_path_join(dir, "plan.json")) || !(log_path = mt_io_path_join(dir, "results.jsonl")) ||
	    !(km_path = mt_io_path_join(dir, "killmatrix.mtkm")) || !by_id) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_io_mkdirs(dir)) < 0)
		goto cleanup;
	if (o->force && (error = remove_run_files(dir)) < 0)
		goto cleanup;

	/* Plan, and the original's predictions (T', classes). */
	if ((error = setup_load(&s, cfg, 1)) < 0)
		goto cleanup;
	{
		mt_plan_model pm;
		if (cfg->nmodel_level == 0) {
			error = mt_error_set(MT_EINVALID, "%s: no mutation.model_level operators configured", cfg->path);
			goto cleanup;
		}
		mt_mutator_plan_model(&pm, s.mutator);
		if ((error = mt_plan_model_level(&plan, cfg, &pm)) < 0)
			goto cleanup;
	}
	if (access(plan_path, F_OK) == 0) {
		if ((error = mt_plan_load(&old_plan, plan_path)) < 0)
			goto cleanup;
		if (strcmp(mt_plan_digest(old_plan), mt_plan_digest(plan)) != 0) {
			error = mt_error_set(MT_EINVALID, "%s holds the results of a different plan "
					     "(the config's mutation section or the model changed); "
					     "run with --force to start over, or choose another run directory",
					     dir);
			goto cleanup;
		}
	} else if ((error = mt_plan_save(plan, plan_path)) < 0) {
		goto cleanup;
	}
	n = mt_dataset_count(s.test);
	original = malloc(sizeof(int64_t) * (size_t)n);
	logits = malloc(sizeof(float) * (size_t)n * (size_t)cfg->num_classes * 4);
	if (!original || !logits) {
		error = mt_error_oom();
		goto cleanup;
	}
	t0 = mt_clock_now();
	if ((error = mt_module_predict(original, logits, &nout, s.model, s.x, cfg->eval_batch_size)) < 0)
		goto cleanup;
	t0 = mt_clock_now() - t0;

	/* What is recorded already. */
	if ((error = mt_resultlog_open(&rs.log, &records, log_path)) < 0)
		goto cleanup;
	json_array_foreach(records, i, rec) {
		const char *id = json_string_value(json_object_get(rec, "id"));
		if (id)
			json_object_set(by_id, id, rec);
	}
	if (!(pending = malloc(sizeof(size_t) * (mt_plan_count(plan) + 1)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (i = 0; i < mt_plan_count(plan); i++)
		if (!json_object_get(by_id, mt_plan_at(plan, i)->id))
			pending[npending++] = i;

	rs.plan = plan;
	rs.by_id = by_id;
	rs.labels = mt_dataset_labels(s.test);
	rs.original = original;
	rs.n = n;
	rs.total = mt_plan_count(plan);
	rs.done = rs.total - npending;
	rs.start = mt_clock_now();
	rs.o = o;
	json_array_foreach(records, i, rec)
		rs.killed += (size_t)record_is_killed(&rs, rec);
	if (o->progress)
		fprintf(o->progress, "%zu mutants planned, %zu recorded, %zu to evaluate with %d worker%s; results in %s\n",
			rs.total, rs.total - npending, npending, o->jobs, o->jobs == 1 ? "" : "s", dir);

	if (npending > 0) {
		char *argv[] = {(char *)o->self_exe, "worker", (char *)o->config_path,
				"--run-dir", (char *)dir, NULL};
		mt_pool_options po;
		memset(&po, 0, sizeof(po));
		po.argv = argv;
		po.jobs = o->jobs;
		/* Automatic limit: generous against the original's full forward. */
		po.task_timeout = o->timeout > 0 ? o->timeout : (t0 * 50 > 60 ? t0 * 50 : 60);
		po.startup_timeout = 600;
		po.on_result = on_result;
		po.on_failure = on_failure;
		po.ctx = &rs;
		/* The parent's libtorch work is done: the workers are spawned
		 * fresh (exec), so nothing the parent ran is inherited. */
		if ((error = mt_pool_run(&po, pending, npending)) < 0)
			goto cleanup;
		draw_progress(&rs, 1);
	}

	if ((error = build_killmatrix(&km, cfg, plan, by_id, rs.labels, original, n)) < 0 ||
	    (error = mt_killmatrix_save(km, km_path)) < 0 ||
	    (error = mt_model_write_reports(km, cfg, dir)) < 0)
		goto cleanup;
	*km_out = km;
	km = NULL;
cleanup:
	mt_resultlog_free(rs.log);
	json_decref(records);
	json_decref(by_id);
	free(pending);
	free(original);
	free(logits);
	free(plan_path);
	free(log_path);
	free(km_path);
	mt_plan_free(plan);
	mt_plan_free(old_plan);
	mt_killmatrix_free(km);
	setup_dispose(&s);
	return error;
}

int mt_model_export_mutant(const mt_config *cfg, const char *id, const char *path)
{
	model_setup s;
	mt_plan *plan = NULL;
	mt_plan_model pm;
	mt_module *model = NULL;
	mt_op_result res;
	size_t idx;
	int error;

	if ((error = setup_load(&s, cfg, 0)) < 0)
		return error;
	mt_mutator_plan_model(&pm, s.mutator);
	if ((error = mt_plan_model_level(&plan, cfg, &pm)) < 0 ||
	    (error = mt_plan_find(&idx, plan, id)) < 0 ||
	    (error = mt_mutator_apply(&model, &res, s.mutator, cfg, mt_plan_at(plan, idx))) < 0)
		goto cleanup;
	if (res.not_applicable) {
		error = mt_error_set(MT_EINVALID, "mutant %s is not applicable: %s", id, res.reason);
		goto cleanup;
	}
	error = mt_module_save(model, path);
	mt_mutator_restore(s.mutator);
cleanup:
	mt_plan_free(plan);
	setup_dispose(&s);
	return error;
}
