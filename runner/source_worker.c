/* The source level's worker (`mutorch worker CONFIG --run-dir DIR
 * --source`): for each task (slot, run), train that run of the original or
 * the mutant with the shared training pipeline or the user's own program
 * (training.command, external.c), or reuse the trained model the cache
 * holds (only the test set changed), evaluate it on the test set and
 * answer with one JSON record. */
#include "mutorch/clock.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/pool.h"
#include "mutorch/runner.h"
#include "mutorch/source_plan.h"
#include "mutorch/sourcerun.h"
#include "external.h"
#include "runner_internal.h"
#include "source_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct {
	const mt_config *cfg;
	const char *run_dir;
	const char *plan_path;
	mt_plan *plan;
	char digest[MT_SRC_DIGEST_LEN];
	mt_dataset *train, *test;
	mt_tensor *tx, *ty;
	int cached_slot;
	mt_source_mutant *mu; /* of cached_slot */
	/* an external program's training sets as .npy files: the original's,
	 * and the data mutant's of data_slot */
	mt_ext_data orig_data, mut_data;
	int data_slot;
} worker_state;

/* Train (slot, run) with the built-in pipeline. */
static int train_builtin(mt_module **model, json_t **trained, worker_state *ws,
			 const mt_source_mutant *mu, const char *train_key, size_t slot, int run,
			 double t0)
{
	mt_config *rc = NULL;
	mt_dataset *mutated = NULL;
	mt_train_report report;
	int error;

	if ((error = mt_src_run_config(&rc, mu ? mu->config : ws->cfg, ws->cfg, run)) < 0)
		goto cleanup;
	if (mu && mu->is_data && (error = mt_source_build_train(&mutated, mu, ws->train, ws->cfg)) < 0)
		goto cleanup;
	error = mt_runner_train_pipeline(model, &report, rc, mutated ? mutated : ws->train, NULL);
	/* A diverged run is a result: its weights are those before the NaN
	 * step, and it is evaluated like any other. */
	if (error < 0 && error != MT_EDIVERGED)
		goto cleanup;
	*trained = json_pack("{s:s, s:b, s:i, s:b, s:f, s:I, s:I}", "train_key", train_key,
			     "diverged", report.diverged, "epochs", report.epochs_run,
			     "stopped_early", report.stopped_early, "train_seconds", mt_clock_now() - t0,
			     "slot", (json_int_t)slot, "run", (json_int_t)run);
	if (!*trained) {
		error = mt_error_oom();
		goto cleanup;
	}
	error = mt_src_cache_save_model(ws->run_dir, train_key, *model, *trained);
cleanup:
	mt_dataset_free(mutated);
	mt_config_free(rc);
	return error;
}

/* The .npy files of the training set of slot (written when this worker
 * has none of that slot yet); *seconds: the time spent writing now. */
static int slot_data(const mt_ext_data **out, double *seconds, worker_state *ws,
		     const mt_source_mutant *mu, size_t slot)
{
	mt_dataset *mutated = NULL;
	int error = 0;

	*seconds = 0;
	if (!mu || !mu->is_data) {
		if (!ws->orig_data.x)
			error = mt_ext_data_write(&ws->orig_data, seconds, ws->cfg, ws->train, ws->run_dir);
		*out = &ws->orig_data;
		return error;
	}
	if (ws->data_slot != (int)slot) {
		mt_ext_data_dispose(&ws->mut_data);
		ws->data_slot = -1;
		if ((error = mt_source_build_train(&mutated, mu, ws->train, ws->cfg)) < 0 ||
		    (error = mt_ext_data_write(&ws->mut_data, seconds, ws->cfg, mutated, ws->run_dir)) < 0)
			goto cleanup;
		ws->data_slot = (int)slot;
	}
	*out = &ws->mut_data;
cleanup:
	mt_dataset_free(mutated);
	return error;
}

/* Train (slot, run) with the user's own program. A program that fails is
 * no error: *failure receives its record (status, reason). */
static int train_external(mt_module **model, json_t **trained, json_t **failure, worker_state *ws,
			  const mt_source_mutant *mu, const char *train_key, size_t slot, int run,
			  double t0)
{
	const char *id = slot ? mt_plan_at(ws->plan, slot - 1)->id : "original";
	const mt_ext_data *data = NULL;
	mt_config *rc = NULL;
	mt_ext_outcome oc = { 0 };
	char sub[600], *dir = NULL;
	double data_seconds;
	int error;

	/* one directory per training: the spec, the program's stdout and
	 * stderr, kept */
	snprintf(sub, sizeof(sub), "training/%s/run-%d", id, run);
	for (char *c = sub + 9; *c && strncmp(c, "/run-", 5); c++)
		if (*c == '/')
			*c = '_';
	if (!(dir = mt_io_path_join(ws->run_dir, sub)))
		return mt_error_oom();
	if ((error = slot_data(&data, &data_seconds, ws, mu, slot)) < 0 ||
	    (error = mt_src_run_config(&rc, mu ? mu->config : ws->cfg, ws->cfg, run)) < 0)
		goto cleanup;
	mt_ext_job job = { ws->cfg, rc, data, dir, slot ? id : NULL, run };
	if ((error = mt_ext_train(model, &oc, &job)) < 0)
		goto cleanup;
	if (oc.status != MT_EXT_TRAINED) {
		*failure = json_pack("{s:s, s:s, s:f}", "status",
				     oc.status == MT_EXT_TIMEOUT ? "Timeout" : "RuntimeError",
				     "reason", oc.reason, "program_seconds", oc.program_seconds);
		if (*failure && oc.status == MT_EXT_REJECTED)
			json_object_set_new(*failure, "rejected_spec", json_true());
		error = *failure ? 0 : mt_error_oom();
		goto cleanup;
	}
	*trained = json_pack("{s:s, s:b, s:o, s:b, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "train_key",
			     train_key, "diverged", 0, "epochs",
			     rc->knobs & MT_KNOB_EPOCHS ? json_integer(rc->epochs) : json_null(),
			     "stopped_early", 0, "train_seconds", mt_clock_now() - t0,
			     "program_seconds", oc.program_seconds,
			     "program_cpu_seconds", oc.program_cpu_seconds, "spawn_seconds", oc.spawn_seconds,
			     "data_seconds", data_seconds, "slot", (json_int_t)slot, "run", (json_int_t)run);
	if (!*trained) {
		error = mt_error_oom();
		goto cleanup;
	}
	error = mt_src_cache_adopt_model(ws->run_dir, train_key, oc.model_path, *trained);
cleanup:
	mt_ext_outcome_dispose(&oc);
	mt_config_free(rc);
	free(dir);
	return error;
}

/* The trained model of (slot, run): from the cache, or trained now on the
 * (mutated) training set with the (mutated) recipe. *trained is the
 * training summary of the cache entry; *failure, instead, the record of a
 * training program that failed. */
static int trained_model(mt_module **model, json_t **trained, int *reused, json_t **failure,
			 worker_state *ws, const mt_source_mutant *mu, const char *train_key,
			 size_t slot, int run, double t0)
{
	char name[128], *lock = NULL;
	int lock_fd = -1, error;

	*model = NULL;
	*trained = *failure = NULL;
	if ((*reused = mt_src_cache_load_model(model, trained, ws->run_dir, train_key)))
		return 0;
	/* Whoever holds the lock is training this key: wait, then look again. */
	snprintf(name, sizeof(name), "cache/%s.lock", train_key);
	if (!(lock = mt_io_path_join(ws->run_dir, name)))
		return mt_error_oom();
	if ((error = mt_src_lock(&lock_fd, lock)) < 0)
		goto cleanup;
	if ((*reused = mt_src_cache_load_model(model, trained, ws->run_dir, train_key)))
		goto cleanup;
	error = ws->cfg->command
		? train_external(model, trained, failure, ws, mu, train_key, slot, run, t0)
		: train_builtin(model, trained, ws, mu, train_key, slot, run, t0);
cleanup:
	mt_src_unlock(lock_fd, lock);
	free(lock);
	if (error < 0 || *failure) {
		mt_module_free(*model);
		*model = NULL;
		json_decref(*trained);
		*trained = NULL;
	}
	return error;
}

/* The model's predictions on the test set: the built-in evaluation, or,
 * for a model an external program wrote, with its checks (a model that
 * fails one gets *why). */
static int evaluate(mt_eval_result *res, char *why, size_t size, worker_state *ws, mt_module *model)
{
	const mt_config *cfg = ws->cfg;
	int64_t n = mt_dataset_count(ws->test);

	why[0] = '\0';
	if (!cfg->command)
		return mt_runner_evaluate(res, model, ws->tx, mt_dataset_labels(ws->test), n,
					  cfg->num_classes, cfg->eval_batch_size);
	memset(res, 0, sizeof(*res));
	res->n = n;
	return mt_ext_evaluate(&res->predictions, &res->accuracy, why, size, model, ws->tx,
			       mt_dataset_labels(ws->test), n, cfg->num_classes, cfg->eval_batch_size);
}

/* This process's CPU time, every thread. */
static double cpu_seconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static json_t *train_one(worker_state *ws, size_t slot, int run)
{
	const mt_config *cfg = ws->cfg;
	const mt_source_mutant *mu = NULL;
	mt_module *model = NULL;
	mt_eval_result res = {0};
	char train_key[MT_HASH_HEX], key[MT_HASH_HEX], why[1024];
	json_t *rec = json_object(), *trained = NULL, *summary = NULL, *failure = NULL;
	double t0 = mt_clock_now(), cpu0 = cpu_seconds();
	int reused = 0, error;

	if (slot > 0) {
		/* Test-only fault hooks: a mutant whose training crashes or hangs. */
		mt_runner_test_fault_hooks(mt_plan_at(ws->plan, slot - 1)->id);
		if ((int)slot != ws->cached_slot) {
			mt_source_mutant_free(ws->mu);
			ws->mu = NULL;
			ws->cached_slot = -1;
			if ((error = mt_source_plan_mutant(&ws->mu, cfg, ws->train,
							   mt_plan_at(ws->plan, slot - 1))) < 0)
				goto fail;
			ws->cached_slot = (int)slot;
		}
		mu = ws->mu;
	}
	if ((error = mt_src_run_keys(train_key, key, cfg, mu, ws->digest, run)) < 0 ||
	    (error = trained_model(&model, &trained, &reused, &failure, ws, mu, train_key, slot, run,
				   t0)) < 0)
		goto fail;
	if (failure) {
		json_object_update(rec, failure);
		goto done;
	}
	if ((error = evaluate(&res, why, sizeof(why), ws, model)) < 0)
		goto fail;
	if (why[0]) {
		char name[300];
		mt_ext_program_name(name, sizeof(name), cfg);
		json_object_set_new(rec, "status", json_string("RuntimeError"));
		json_object_set_new(rec, "reason", json_pack("s+++", name, " wrote a model that fails a check: ",
							     why, ""));
		goto done;
	}
	summary = json_pack("{s:s, s:s, s:f, s:O, s:O, s:f, s:I, s:I}", "key", key,
			    "train_key", train_key, "accuracy", res.accuracy,
			    "diverged", json_object_get(trained, "diverged"),
			    "epochs", json_object_get(trained, "epochs"),
			    "seconds", mt_clock_now() - t0, "slot", (json_int_t)slot, "run", (json_int_t)run);
	if (!summary) {
		error = mt_error_set(MT_ERROR, "malformed training summary for %s", train_key);
		goto fail;
	}
	if ((error = mt_src_cache_save_eval(ws->run_dir, key, res.predictions, res.n, summary)) < 0)
		goto fail;
	json_object_set_new(rec, "status", json_string("Trained"));
	json_object_set_new(rec, "key", json_string(key));
	json_object_set_new(rec, "accuracy", json_real(res.accuracy));
	json_object_set_new(rec, "diverged", json_copy(json_object_get(summary, "diverged")));
	json_object_set_new(rec, "reused_model", json_boolean(reused));
	if (cfg->command && !reused) {
		/* what the training cost mutorch beyond the program itself, in
		 * wall time and in the worker's CPU time (bench/external_overhead.sh) */
		static const char *const copied[] = { "program_seconds", "program_cpu_seconds",
			"spawn_seconds", "data_seconds" };
		for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
			json_object_set(rec, copied[i], json_object_get(trained, copied[i]));
		json_object_set_new(rec, "overhead_seconds",
				    json_real(mt_clock_now() - t0 -
					      json_number_value(json_object_get(trained, "program_seconds"))));
		json_object_set_new(rec, "overhead_cpu_seconds", json_real(cpu_seconds() - cpu0));
	}
	goto done;
fail:
	json_object_set_new(rec, "status", json_string("RuntimeError"));
	json_object_set_new(rec, "reason", json_string(mt_error_last()));
done:
	json_object_set_new(rec, "seconds", json_real(mt_clock_now() - t0));
	json_decref(summary);
	json_decref(trained);
	json_decref(failure);
	if (cfg->command)
		free(res.predictions); /* mt_ext_evaluate's, the rest is empty */
	else
		mt_eval_result_dispose(&res);
	mt_module_free(model);
	return rec;
}

static int serve_training(char **payload, void *ctx, size_t task)
{
	worker_state *ws = ctx;
	size_t slot = task / MT_SOURCE_RUN_STRIDE;
	json_t *rec;

	if (slot > mt_plan_count(ws->plan))
		return mt_error_set(MT_EINVALID, "worker: no slot %zu in %s", slot, ws->plan_path);
	rec = train_one(ws, slot, (int)(task % MT_SOURCE_RUN_STRIDE));
	*payload = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);
	return *payload ? 0 : mt_error_oom();
}

int mt_source_worker(const mt_config *cfg, const char *run_dir)
{
	worker_state ws;
	char *plan_path = mt_io_path_join(run_dir, "source-plan.json");
	int error;

	memset(&ws, 0, sizeof(ws));
	ws.cfg = cfg;
	ws.run_dir = run_dir;
	ws.plan_path = plan_path;
	ws.cached_slot = -1;
	ws.data_slot = -1;
	if (!plan_path) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_plan_load(&ws.plan, plan_path)) < 0 ||
	    (error = mt_src_setup_read(ws.digest, run_dir)) < 0 ||
	    (error = mt_runner_load_dataset(&ws.train, cfg, MT_SPLIT_TRAIN)) < 0 ||
	    (error = mt_runner_load_dataset(&ws.test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = mt_runner_tensors(&ws.tx, &ws.ty, cfg, ws.test)) < 0)
		goto cleanup;
	error = mt_pool_serve(serve_training, &ws);
cleanup:
	mt_ext_data_dispose(&ws.orig_data);
	mt_ext_data_dispose(&ws.mut_data);
	mt_source_mutant_free(ws.mu);
	mt_tensor_free(ws.tx);
	mt_tensor_free(ws.ty);
	mt_dataset_free(ws.train);
	mt_dataset_free(ws.test);
	mt_plan_free(ws.plan);
	free(plan_path);
	return error;
}
