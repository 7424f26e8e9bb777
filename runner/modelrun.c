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
#include "mutorch/shard.h"
#include "mutorch/runner.h"
#include "mutorch/shim.h"
#include "modelrun_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int mt_model_plan(mt_plan **plan, const mt_config *cfg)
{
	model_setup s;
	mt_plan_model pm;
	int error;

	*plan = NULL;
	if (cfg->nmodel_level == 0)
		return mt_error_set(MT_EINVALID, "%s: no mutation.model_level operators configured", cfg->path);
	if ((error = mt_mr_setup_load(&s, cfg, 0)) < 0)
		return error;
	mt_mutator_plan_model(&pm, s.mutator);
	error = mt_plan_model_level(plan, cfg, &pm);
	mt_mr_setup_dispose(&s);
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
	const mt_resultlog_model_schema *schema;
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

static int accept_result(run_state *rs, size_t task, json_t *rec);

static int on_result(void *ctx, size_t task, const char *payload)
{
	run_state *rs = ctx;
	json_error_t jerr;
	json_t *rec = json_loads(payload, 0, &jerr);
	int error;
	if (!rec)
		return mt_error_set(MT_ERROR, "worker sent a malformed result for task %zu: %s", task, jerr.text);
	error = accept_result(rs, task, rec);
	json_decref(rec);
	return error;
}

/* A mutant's result from a worker (or this process): checked as the log
 * checks it on reading, then recorded. Consumes no reference. */
static int accept_result(run_state *rs, size_t task, json_t *rec)
{
	const mt_mutant_desc *d = mt_plan_at(rs->plan, task);
	char why[512];
	int error;

	/* What the log would refuse on reading is not recorded either. */
	json_object_set_new(rec, "id", json_string(d->id));
	json_incref(rec);
	if (mt_resultlog_check_model(rs->schema, rec, why, sizeof(why)) != 0) {
		char reason[700];
		snprintf(reason, sizeof(reason), "the worker's result failed the record check: %s", why);
		json_decref(rec);
		rec = json_pack("{s:s, s:s}", "status", "RuntimeError", "reason", reason);
		if (!rec)
			return mt_error_oom();
	}
	error = record_result(rs, task, rec);
	json_decref(rec);
	return error;
}

/* The plan's ids, for the record check. */
static int plan_has_id(const void *ctx, const char *id)
{
	return json_object_get((const json_t *)ctx, id) != NULL;
}

/* Say what the log held that cannot be trusted: every such mutant is
 * evaluated again. */
static void report_damage(const mt_resultlog_contents *c, const char *path)
{
	size_t i, shown = 0;
	json_t *d;
	if (c->format == 1)
		fprintf(stderr, "mutorch: %s is a result log of mutorch 0.1 (format 1, no checksums): its "
			"records were checked and it is rewritten in format %d\n", path, MT_RESULTLOG_FORMAT);
	json_array_foreach(c->damage, i, d) {
		if (shown++ == 20) {
			fprintf(stderr, "mutorch: warning: %s: %zu more damaged records\n", path,
				json_array_size(c->damage) - 20);
			break;
		}
		fprintf(stderr, "mutorch: warning: %s:%lld: damaged record dropped (%s); its mutant is "
			"evaluated again\n", path, (long long)json_integer_value(json_object_get(d, "line")),
			json_string_value(json_object_get(d, "reason")));
	}
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

/* o->in_process: the pending mutants one after another in this process
 * (no crash or time-limit isolation), as a worker would. */
static int evaluate_here(run_state *rs, const mt_config *cfg, model_setup *s, const size_t *tasks,
			 size_t ntasks)
{
	int64_t *pred = malloc(sizeof(int64_t) * (size_t)(rs->n ? rs->n : 1));
	float *logits = malloc(sizeof(float) * (size_t)(rs->n ? rs->n : 1) * (size_t)cfg->num_classes);
	mt_cut_cache *cc = NULL;
	int error = mt_cut_cache_new(&cc, PARTIAL_BUDGET);

	if (error == 0 && (!pred || !logits))
		error = mt_error_oom();
	for (size_t k = 0; k < ntasks && error == 0; k++) {
		json_t *rec = mt_mr_evaluate_one(cfg, s, cc, mt_plan_at(rs->plan, tasks[k]), rs->original,
					   pred, logits, rs->n);
		error = rec ? accept_result(rs, tasks[k], rec) : mt_error_oom();
		json_decref(rec);
	}
	mt_cut_cache_free(cc);
	free(pred);
	free(logits);
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
			       "predictions.csv", "inputs.csv", "stryker.json", "plan.json", "shard.json"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = mt_io_path_join(dir, names[i]);
		if (!p)
			return mt_error_oom();
		unlink(p);
		free(p);
	}
	return 0;
}

/* --shard k/n: the deal by expected cost, recorded in shard.json;
 * largest_first: *cost kept for the order. */
static int select_shard(int **owner, double **cost_out, const mt_plan *plan, model_setup *s,
			const mt_run_options *o, const char *dir)
{
	size_t n = mt_plan_count(plan);
	double *cost = malloc(sizeof(double) * (n ? n : 1));
	int error;

	if (!cost)
		return mt_error_oom();
	*cost_out = cost;
	if ((error = mt_mr_costs(cost, plan, s)) < 0 || o->shard_count <= 0)
		return error;
	if (!(*owner = malloc(sizeof(int) * (n ? n : 1))))
		return mt_error_oom();
	if ((error = mt_shard_assign(*owner, cost, n, o->shard_count)) == 0)
		error = mt_shard_record(dir, "shard.json", "model", o->shard_index, o->shard_count, plan, *owner,
					cost);
	return error;
}

static const double *sort_cost;

static int by_cost_desc(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (sort_cost[x] != sort_cost[y])
		return sort_cost[x] > sort_cost[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* `mutorch merge`: the mutants no shard recorded, by name. */
static int missing_error(const mt_plan *plan, const size_t *pending, size_t npending, const char *dir)
{
	char msg[2048];
	size_t used = (size_t)snprintf(msg, sizeof(msg), "%zu mutant%s without a result in the shards "
				       "(a shard has not finished; run it again to complete it):",
				       npending, npending == 1 ? "" : "s");
	for (size_t i = 0; i < npending && i < 20 && used < sizeof(msg) - 64; i++)
		used += (size_t)snprintf(msg + used, sizeof(msg) - used, " %s", mt_plan_at(plan, pending[i])->id);
	if (npending > 20)
		snprintf(msg + used, sizeof(msg) - used, " (and %zu more)", npending - 20);
	return mt_error_set(MT_EINVALID, "%s: %s", dir, msg);
}

int mt_model_run(mt_killmatrix **km_out, const mt_config *cfg, const mt_run_options *o)
{
	const char *dir = o->run_dir ? o->run_dir : cfg->run_dir;
	char *plan_path = NULL, *log_path = NULL, *km_path = NULL;
	mt_plan *plan = NULL, *old_plan = NULL;
	model_setup s;
	mt_killmatrix *km = NULL;
	json_t *by_id = json_object(), *plan_ids = json_object(), *rec;
	mt_resultlog_contents contents;
	mt_resultlog_model_schema schema;
	mt_resultlog_schema log_schema;
	size_t *pending = NULL, npending = 0, i;
	int64_t *original = NULL, n = 0;
	run_state rs;
	double t0;
	int *owner = NULL, error;
	double *cost = NULL;

	*km_out = NULL;
	memset(&s, 0, sizeof(s));
	memset(&rs, 0, sizeof(rs));
	memset(&contents, 0, sizeof(contents));
	memset(&schema, 0, sizeof(schema));
	memset(&log_schema, 0, sizeof(log_schema));
	if (!(plan_path = mt_io_path_join(dir, "plan.json")) || !(log_path = mt_io_path_join(dir, "results.jsonl")) ||
	    !(km_path = mt_io_path_join(dir, "killmatrix.mtkm")) || !by_id || !plan_ids) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_io_mkdirs(dir)) < 0)
		goto cleanup;
	if (o->force && (error = remove_run_files(dir)) < 0)
		goto cleanup;

	/* The original's predictions (T', classes), checked before anything
	 * is built on them, and the plan. */
	if ((error = mt_mr_setup_load(&s, cfg, 1)) < 0)
		goto cleanup;
	n = mt_dataset_count(s.test);
	if (!(original = malloc(sizeof(int64_t) * (size_t)(n ? n : 1)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	t0 = mt_clock_now();
	if ((error = mt_runner_predict_original(original, s.model, s.x, n, cfg, s.model_name,
						o->eval_timeout)) < 0)
		goto cleanup;
	t0 = mt_clock_now() - t0;
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

	/* What is recorded already, checked record by record. */
	for (i = 0; i < mt_plan_count(plan); i++)
		if (json_object_set_new(plan_ids, mt_plan_at(plan, i)->id, json_true()) < 0) {
			error = mt_error_oom();
			goto cleanup;
		}
	schema.id_known = plan_has_id;
	schema.id_ctx = plan_ids;
	schema.n_inputs = n;
	schema.n_classes = cfg->num_classes;
	schema.original = original;
	schema.labels = mt_dataset_labels(s.test);
	log_schema.check = mt_resultlog_check_model;
	log_schema.ctx = &schema;
	log_schema.unique_key = "id";
	if ((error = mt_resultlog_open(&rs.log, &contents, log_path, &log_schema)) < 0)
		goto cleanup;
	report_damage(&contents, log_path);
	json_array_foreach(contents.records, i, rec)
		json_object_set(by_id, json_string_value(json_object_get(rec, "id")), rec);
	if (!(pending = malloc(sizeof(size_t) * (mt_plan_count(plan) + 1)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((o->shard_count > 0 || o->largest_first) &&
	    (error = select_shard(&owner, &cost, plan, &s, o, dir)) < 0)
		goto cleanup;
	for (i = 0; i < mt_plan_count(plan); i++)
		if (!json_object_get(by_id, mt_plan_at(plan, i)->id) &&
		    (!owner || owner[i] == o->shard_index - 1))
			pending[npending++] = i;
	if (o->merge_only && npending > 0) {
		error = missing_error(plan, pending, npending, dir);
		goto cleanup;
	}
	if (o->largest_first && cost) {
		sort_cost = cost;
		qsort(pending, npending, sizeof(size_t), by_cost_desc);
	}

	rs.plan = plan;
	rs.by_id = by_id;
	rs.labels = mt_dataset_labels(s.test);
	rs.original = original;
	rs.n = n;
	rs.total = owner ? 0 : mt_plan_count(plan);
	for (i = 0; owner && i < mt_plan_count(plan); i++)
		rs.total += owner[i] == o->shard_index - 1;
	rs.done = rs.total - npending;
	rs.start = mt_clock_now();
	rs.o = o;
	rs.schema = &schema;
	json_array_foreach(contents.records, i, rec)
		rs.killed += (size_t)record_is_killed(&rs, rec);
	if (o->progress)
		fprintf(o->progress, "%zu mutants planned, %zu recorded, %zu to evaluate with %d worker%s; results in %s\n",
			rs.total, rs.total - npending, npending, o->jobs, o->jobs == 1 ? "" : "s", dir);

	if (npending > 0 && o->in_process) {
		if ((error = evaluate_here(&rs, cfg, &s, pending, npending)) < 0)
			goto cleanup;
		draw_progress(&rs, 1);
	} else if (npending > 0) {
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
	mt_resultlog_contents_dispose(&contents);
	json_decref(by_id);
	json_decref(plan_ids);
	free(pending);
	free(owner);
	free(cost);
	free(original);
	free(plan_path);
	free(log_path);
	free(km_path);
	mt_plan_free(plan);
	mt_plan_free(old_plan);
	mt_killmatrix_free(km);
	mt_mr_setup_dispose(&s);
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

	if ((error = mt_mr_setup_load(&s, cfg, 0)) < 0)
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
	if (mt_mutator_is_dynamic(s.mutator)) {
		error = mt_error_set(MT_EINVALID, "mutant %s is a dynamic RNN mutant (%s): it changes the recurrent layer's state or gates while it runs, not the module, so there is no TorchScript file to write",
				     id, mt_plan_at(plan, idx)->op);
		mt_mutator_restore(s.mutator);
		goto cleanup;
	}
	error = mt_module_save(model, path);
	mt_mutator_restore(s.mutator);
cleanup:
	mt_plan_free(plan);
	mt_mr_setup_dispose(&s);
	return error;
}
