/* The source level's worker (`mutorch worker CONFIG --run-dir DIR
 * --source`): for each task (slot, run), train that run of the original or
 * the mutant with the shared training pipeline, or reuse the trained model
 * the cache holds (only the test set changed), evaluate it on the test set
 * and answer with one JSON record. */
#include "mutorch/clock.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/pool.h"
#include "mutorch/runner.h"
#include "mutorch/source_plan.h"
#include "mutorch/sourcerun.h"
#include "runner_internal.h"
#include "source_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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
} worker_state;

/* The trained model of (slot, run): from the cache, or trained now on the
 * (mutated) training set with the (mutated) recipe. *trained is the
 * training summary of the cache entry. */
static int trained_model(mt_module **model, json_t **trained, int *reused, worker_state *ws,
			 const mt_source_mutant *mu, const char *train_key, size_t slot, int run,
			 double t0)
{
	mt_config *rc = NULL;
	mt_dataset *mutated = NULL;
	mt_train_report report;
	int error;

	if ((*reused = mt_src_cache_load_model(model, trained, ws->run_dir, train_key)))
		return 0;
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
	if (error < 0) {
		mt_module_free(*model);
		*model = NULL;
		json_decref(*trained);
		*trained = NULL;
	}
	mt_dataset_free(mutated);
	mt_config_free(rc);
	return error;
}

static json_t *train_one(worker_state *ws, size_t slot, int run)
{
	const mt_config *cfg = ws->cfg;
	const mt_source_mutant *mu = NULL;
	mt_module *model = NULL;
	mt_eval_result res = {0};
	char train_key[MT_HASH_HEX], key[MT_HASH_HEX];
	json_t *rec = json_object(), *trained = NULL, *summary = NULL;
	double t0 = mt_clock_now();
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
	    (error = trained_model(&model, &trained, &reused, ws, mu, train_key, slot, run, t0)) < 0 ||
	    (error = mt_runner_evaluate(&res, model, ws->tx, mt_dataset_labels(ws->test),
					mt_dataset_count(ws->test), cfg->num_classes,
					cfg->eval_batch_size)) < 0)
		goto fail;
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
	goto done;
fail:
	json_object_set_new(rec, "status", json_string("RuntimeError"));
	json_object_set_new(rec, "reason", json_string(mt_error_last()));
done:
	json_object_set_new(rec, "seconds", json_real(mt_clock_now() - t0));
	json_decref(summary);
	json_decref(trained);
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
	mt_source_mutant_free(ws.mu);
	mt_tensor_free(ws.tx);
	mt_tensor_free(ws.ty);
	mt_dataset_free(ws.train);
	mt_dataset_free(ws.test);
	mt_plan_free(ws.plan);
	free(plan_path);
	return error;
}
