/* Training and evaluation loops over the shim. The loops themselves (batch
 * gather, forward, backward, step) run inside the shim; this file owns the
 * recipe: data order per epoch, validation, progress and divergence. */
#include "mutorch/clock.h"
#include "mutorch/config.h"
#include "mutorch/runner.h"
#include "mutorch/error.h"
#include "mutorch/rng.h"
#include "mutorch/shim.h"
#include "mutorch/shim_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	const mt_progress *progress;
	int epoch, epochs;
	double start, last_draw;
} progress_state;

static int draw_batch_progress(void *ctx, int64_t done, int64_t total, double loss)
{
	progress_state *ps = ctx;
	double t = mt_clock_now();
	const int width = 30;
	int filled;

	if (!ps->progress->tty || (t - ps->last_draw < 0.2 && done < total))
		return 0;
	ps->last_draw = t;
	filled = total ? (int)((double)done / (double)total * width) : width;
	fprintf(ps->progress->stream, "\repoch %d/%d [", ps->epoch, ps->epochs);
	for (int i = 0; i < width; i++)
		fputc(i < filled ? '#' : '.', ps->progress->stream);
	fprintf(ps->progress->stream, "] %lld/%lld  loss %.4f  %.0f samples/s ",
		(long long)done, (long long)total, loss,
		(double)done / (t - ps->start > 1e-9 ? t - ps->start : 1e-9));
	fflush(ps->progress->stream);
	return 0;
}

int mt_runner_train(mt_train_report *report, mt_module *model,
		    const mt_config *cfg, const mt_tensor *x, const mt_tensor *y,
		    const int64_t *order_map, int64_t n_map,
		    const mt_tensor *val_x, const mt_tensor *val_y,
		    const mt_progress *progress)
{
	mt_optimizer *opt = NULL;
	int64_t n = order_map ? n_map : mt_tensor_dim(x, 0);
	int64_t *order = NULL, *perm = NULL, *val_labels = NULL;
	mt_train_options o;
	mt_epoch_stats stats;
	progress_state ps;
	mt_rng rng;
	double start = mt_clock_now(), train_seconds = 0, best_val = -1;
	int epochs_since_best = 0;
	int64_t trained_samples = 0;
	int error = 0;

	memset(report, 0, sizeof(*report));
	report->val_accuracy = -1;
	if (n <= 0)
		return mt_error_set(MT_EINVALID, "%s: the training set is empty", cfg->path);
	if (!(order = malloc(sizeof(int64_t) * (size_t)n)) ||
	    !(perm = malloc(sizeof(int64_t) * (size_t)n))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_optimizer_new(&opt, model, &cfg->optim)) < 0)
		goto cleanup;
	if (val_x) {
		int64_t nv = mt_tensor_dim(val_x, 0);
		if (!(val_labels = malloc(sizeof(int64_t) * (size_t)(nv ? nv : 1)))) {
			error = mt_error_oom();
			goto cleanup;
		}
		if ((error = mt_tensor_copy_out(val_y, val_labels, MT_DTYPE_INT64, nv)) < 0)
			goto cleanup;
	}

	memset(&o, 0, sizeof(o));
	o.loss = cfg->loss;
	o.batch_size = cfg->batch_size;
	o.grad_clip = cfg->grad_clip;
	o.l1 = cfg->l1;
	o.l2 = cfg->l2;
	o.num_classes = cfg->num_classes;
	memset(&ps, 0, sizeof(ps));
	ps.progress = progress;
	ps.epochs = cfg->epochs;
	if (progress && progress->stream && progress->tty) {
		o.progress = draw_batch_progress;
		o.progress_ctx = &ps;
	}

	for (int e = 0; e < cfg->epochs; e++) {
		/* The order of epoch e depends only on (seed, e). */
		mt_rng_seed(&rng, mt_rng_derive(cfg->seed, (uint64_t)e));
		mt_rng_permutation(&rng, perm, n);
		for (int64_t i = 0; i < n; i++)
			order[i] = order_map ? order_map[perm[i]] : perm[i];
		ps.epoch = e + 1;
		ps.start = mt_clock_now();
		ps.last_draw = 0;
		error = mt_train_epoch(&stats, model, opt, x, y, order, n, &o);
		report->epochs_run = e + 1;
		report->final_loss = stats.mean_loss;
		train_seconds += stats.seconds;
		trained_samples += stats.samples;
		if (error == MT_EDIVERGED || stats.diverged) {
			report->diverged = 1;
			if (progress && progress->stream)
				fprintf(progress->stream, "%sepoch %d/%d: loss diverged (NaN or infinite)\n",
					progress->tty ? "\n" : "", e + 1, cfg->epochs);
			error = mt_error_set(MT_EDIVERGED, "training diverged in epoch %d (loss is NaN or infinite)", e + 1);
			goto cleanup;
		}
		if (error < 0)
			goto cleanup;
		if (val_x) {
			mt_eval_result vr;
			if ((error = mt_runner_evaluate(&vr, model, val_x, val_labels,
							mt_tensor_dim(val_x, 0), cfg->num_classes,
							cfg->eval_batch_size)) < 0)
				goto cleanup;
			report->val_accuracy = vr.accuracy;
			mt_eval_result_dispose(&vr);
			if (vr.accuracy > best_val) {
				best_val = vr.accuracy;
				epochs_since_best = 0;
			} else {
				epochs_since_best++;
			}
		}
		if (progress && progress->stream) {
			fprintf(progress->stream, "%sepoch %d/%d  loss %.4f  %.0f samples/s  %.1f s",
				progress->tty ? "\r" : "", e + 1, cfg->epochs, stats.mean_loss,
				stats.seconds > 0 ? (double)stats.samples / stats.seconds : 0.0,
				stats.seconds);
			if (val_x)
				fprintf(progress->stream, "  val accuracy %.4f", report->val_accuracy);
			fprintf(progress->stream, "%s\n", progress->tty ? "\033[K" : "");
			fflush(progress->stream);
		}
		/* Early stopping (training.patience): no better validation
		 * accuracy for `patience` epochs in a row. */
		if (val_x && cfg->patience > 0 && epochs_since_best >= cfg->patience) {
			report->stopped_early = 1;
			if (progress && progress->stream)
				fprintf(progress->stream, "early stop after epoch %d: no better validation accuracy for %d epochs\n",
					e + 1, cfg->patience);
			break;
		}
	}
cleanup:
	report->seconds = mt_clock_now() - start;
	report->samples_per_second = train_seconds > 0 ? (double)trained_samples / train_seconds : 0;
	mt_optimizer_free(opt);
	free(order);
	free(perm);
	free(val_labels);
	return error;
}

int mt_runner_train_pipeline(mt_module **model, mt_train_report *report,
			     const mt_config *recipe, const mt_dataset *train,
			     const mt_progress *progress)
{
	mt_dataset *tr = NULL, *val = NULL;
	mt_tensor *x = NULL, *y = NULL, *vx = NULL, *vy = NULL;
	int error;

	*model = NULL;
	memset(report, 0, sizeof(*report));
	report->val_accuracy = -1;
	if ((error = mt_dataset_split(&tr, &val, train, recipe->validation_split, recipe->seed)) < 0 ||
	    (error = mt_runner_tensors(&x, &y, recipe, tr)) < 0 ||
	    (val && (error = mt_runner_tensors(&vx, &vy, recipe, val)) < 0))
		goto cleanup;
	if ((error = mt_shim_manual_seed(recipe->seed)) < 0 ||
	    (error = mt_runner_initial_model(model, recipe)) < 0)
		goto cleanup;
	if (progress && progress->stream)
		fprintf(progress->stream, "training on %lld samples (%lld validation), %d epochs, "
			"batch %lld, %s lr %g, seed %llu, %d threads\n",
			(long long)mt_dataset_count(tr), (long long)(val ? mt_dataset_count(val) : 0),
			recipe->epochs, (long long)recipe->batch_size, mt_optim_kind_name(recipe->optim.kind),
			recipe->optim.lr, (unsigned long long)recipe->seed, recipe->threads);
	error = mt_runner_train(report, *model, recipe, x, y, NULL, 0, vx, vy, progress);
cleanup:
	if (error < 0 && error != MT_EDIVERGED) {
		mt_module_free(*model);
		*model = NULL;
	}
	mt_tensor_free(x);
	mt_tensor_free(y);
	mt_tensor_free(vx);
	mt_tensor_free(vy);
	mt_dataset_free(tr);
	mt_dataset_free(val);
	return error;
}

static int eval_alloc(mt_eval_result *out, int64_t n, int num_classes)
{
	memset(out, 0, sizeof(*out));
	out->n = n;
	out->num_classes = num_classes;
	out->class_total = calloc((size_t)num_classes, sizeof(int64_t));
	out->class_correct = calloc((size_t)num_classes, sizeof(int64_t));
	out->class_accuracy = calloc((size_t)num_classes, sizeof(double));
	out->predictions = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
	if (!out->class_total || !out->class_correct || !out->class_accuracy ||
	    !out->predictions) {
		mt_eval_result_dispose(out);
		return mt_error_oom();
	}
	return 0;
}

/* Accuracy and per-class accuracy from out->predictions. */
static void eval_score(mt_eval_result *out, const int64_t *labels)
{
	for (int64_t i = 0; i < out->n; i++) {
		int64_t c = labels[i];
		if (c < 0 || c >= out->num_classes)
			continue; /* readers reject these; keep the loop safe */
		out->class_total[c]++;
		if (out->predictions[i] == c) {
			out->class_correct[c]++;
			out->correct++;
		}
	}
	out->accuracy = out->n ? (double)out->correct / (double)out->n : 0.0;
	for (int c = 0; c < out->num_classes; c++)
		out->class_accuracy[c] = out->class_total[c]
			? (double)out->class_correct[c] / (double)out->class_total[c] : 0.0;
}

int mt_runner_evaluate(mt_eval_result *out, mt_module *model,
		       const mt_tensor *x, const int64_t *labels, int64_t n,
		       int num_classes, int64_t batch_size)
{
	int error;

	if ((error = eval_alloc(out, n, num_classes)) < 0)
		return error;
	if ((error = mt_module_predict_classes(out->predictions, NULL, model, x,
					       batch_size > 0 ? batch_size : 1000, num_classes)) < 0) {
		mt_eval_result_dispose(out);
		return error;
	}
	eval_score(out, labels);
	return 0;
}

int mt_runner_predict_original(int64_t *pred, mt_module *model, const mt_tensor *x,
			       int64_t n, const mt_config *cfg, const char *model_name,
			       double timeout)
{
	size_t nlogits = (size_t)(n > 0 ? n : 1) * (size_t)cfg->num_classes;
	float *logits = malloc(sizeof(float) * nlogits);
	char msg[1536];
	int64_t bad = -1, nbad = 0;
	int error;

	if (!logits)
		return mt_error_oom();
	snprintf(msg, sizeof(msg),
		 "mutorch: error: %s: the original model's evaluation on %lld test inputs did not finish "
		 "within %g s (--eval-timeout): its forward may never return; if it is only slow, "
		 "raise the limit (0: none)", model_name, (long long)n, timeout);
	if ((error = mt_runner_deadline_set(timeout, msg)) < 0)
		goto cleanup;
	error = mt_module_predict_classes(pred, logits, model, x,
					  cfg->eval_batch_size > 0 ? cfg->eval_batch_size : 1000,
					  cfg->num_classes);
	mt_runner_deadline_clear();
	if (error < 0) {
		mt_error_prefix("%s: ", model_name);
		goto cleanup;
	}
	for (int64_t i = 0; i < n; i++)
		for (int c = 0; c < cfg->num_classes; c++)
			if (!isfinite(logits[(size_t)i * (size_t)cfg->num_classes + (size_t)c])) {
				if (bad < 0)
					bad = i;
				nbad++;
				break;
			}
	if (bad >= 0)
		error = mt_error_set(MT_EINVALID,
				     "%s: the original model's outputs are NaN or infinite for %lld of the %lld "
				     "test inputs (the first: input %lld): its predictions mean nothing and every "
				     "mutant would be a RuntimeError; check the model and data.normalize",
				     model_name, (long long)nbad, (long long)n, (long long)bad);
cleanup:
	free(logits);
	return error;
}

int mt_runner_evaluate_original(mt_eval_result *out, mt_module *model, const mt_tensor *x,
				const int64_t *labels, int64_t n, const mt_config *cfg,
				const char *model_name, double timeout)
{
	int error;

	if ((error = eval_alloc(out, n, cfg->num_classes)) < 0)
		return error;
	if ((error = mt_runner_predict_original(out->predictions, model, x, n, cfg, model_name,
						timeout)) < 0) {
		mt_eval_result_dispose(out);
		return error;
	}
	eval_score(out, labels);
	return 0;
}

void mt_eval_result_dispose(mt_eval_result *res)
{
	if (!res)
		return;
	free(res->class_total);
	free(res->class_correct);
	free(res->class_accuracy);
	free(res->predictions);
	memset(res, 0, sizeof(*res));
}
