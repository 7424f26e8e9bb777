/* The model-level run's evaluation (modelrun_internal.h): the model and
 * data a run needs, evaluating one mutant with cached prefixes of the
 * forward, and the worker process that serves the parent's tasks. */
#include "mutorch/clock.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/modelrun.h"
#include "mutorch/mutant.h"
#include "mutorch/operators.h"
#include "mutorch/plan.h"
#include "mutorch/pool.h"
#include "mutorch/runner.h"
#include "mutorch/shim.h"
#include "mutorch/shim_partial.h"
#include "modelrun_internal.h"
#include "runner_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mt_mr_setup_dispose(model_setup *s)
{
	mt_mutator_free(s->mutator);
	mt_module_free(s->model);
	mt_tensor_free(s->x);
	mt_tensor_free(s->y);
	mt_dataset_free(s->test);
	memset(s, 0, sizeof(*s));
}

int mt_mr_setup_load(model_setup *s, const mt_config *cfg, int with_data)
{
	int error;
	memset(s, 0, sizeof(*s));
	if (with_data &&
	    ((error = mt_runner_load_dataset(&s->test, cfg, MT_SPLIT_TEST)) < 0 ||
	     (error = mt_runner_tensors(&s->x, &s->y, cfg, s->test)) < 0))
		goto fail;
	if ((error = mt_runner_trained_model(&s->model, &s->model_name, cfg, NULL)) < 0 ||
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
	mt_mr_setup_dispose(s);
	return error;
}

json_t *mt_mr_evaluate_one(const mt_config *cfg, model_setup *s, mt_cut_cache *cc,
			    const mt_mutant_desc *d, const int64_t *original,
			    int64_t *pred, float *logits, int64_t n)
{
	const int64_t *labels = mt_dataset_labels(s->test);
	mt_module *model = NULL;
	mt_op_result res;
	mt_partial *p = NULL;
	json_t *rec = json_object(), *diff;
	double t0 = mt_clock_now();
	int64_t correct = 0;
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
	/* The original has data.classes outputs (checked at setup), so a cut
	 * of it has too; the full forward checks a graph mutant's width. */
	if (p && mt_partial_num_outputs(p) != cfg->num_classes)
		p = NULL;
	if (mt_mutator_is_dynamic(s->mutator)) {
		/* The recurrent layer stepped with the mutation; the rest of
		 * the model is the original's, whose width setup checked. */
		int64_t nout = 0;
		error = mt_mutator_predict_dynamic(pred, logits, &nout, s->mutator, s->x, cfg->eval_batch_size);
		if (error == 0 && nout != cfg->num_classes)
			error = mt_error_set(MT_EINVALID, "the dynamic mutant's model has %lld outputs, expected %d",
					     (long long)nout, cfg->num_classes);
	} else if (p) {
		error = mt_partial_predict(pred, logits, p, 0);
	} else {
		error = mt_module_predict_classes(pred, logits, model, s->x, cfg->eval_batch_size,
						  cfg->num_classes);
	}
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
	for (int64_t i = 0; i < n * cfg->num_classes; i++)
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
	rec = mt_mr_evaluate_one(ws->cfg, ws->s, ws->cc, d, ws->original, ws->pred, ws->logits, ws->n);
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
	int64_t n, *original = NULL, *pred = NULL;
	float *logits = NULL;
	int error;

	if ((error = mt_mr_setup_load(&s, cfg, 1)) < 0 ||
	    (error = mt_cut_cache_new(&cc, PARTIAL_BUDGET)) < 0)
		goto cleanup;
	if ((error = mt_plan_load(&plan, plan_path)) < 0)
		goto cleanup;
	n = mt_dataset_count(s.test);
	original = malloc(sizeof(int64_t) * (size_t)n);
	pred = malloc(sizeof(int64_t) * (size_t)n);
	logits = malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)(cfg->num_classes > 0 ? cfg->num_classes : 1));
	if (!original || !pred || !logits) {
		error = mt_error_oom();
		goto cleanup;
	}
	/* The parent checked the original (its width, finite outputs, the
	 * time limit) before it started any worker. */
	if ((error = mt_module_predict_classes(original, logits, s.model, s.x, cfg->eval_batch_size,
					       cfg->num_classes)) < 0)
		goto cleanup;
	ws = (worker_state){cfg, &s, cc, plan, plan_path, original, pred, logits, n};
	error = mt_pool_serve(serve_mutant, &ws);
cleanup:
	mt_cut_cache_free(cc);
	free(original);
	free(pred);
	free(logits);
	free(plan_path);
	mt_plan_free(plan);
	mt_mr_setup_dispose(&s);
	return error;
}
