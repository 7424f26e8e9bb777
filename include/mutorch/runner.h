/*
 * mutorch/runner.h - data, models, training and evaluation as the config
 * describes them: the shared steps of `mutorch train`, `mutorch eval` and
 * the mutation runs.
 */
#ifndef MUTORCH_RUNNER_H
#define MUTORCH_RUNNER_H

#include <stdint.h>
#include <stdio.h>

#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MT_SPLIT_TRAIN = 0, MT_SPLIT_TEST = 1 } mt_split;

/* Read the train or test set the config names, in its format, with its
 * limit applied (train_limit/test_limit: the first N samples). */
int mt_runner_load_dataset(mt_dataset **out, const mt_config *cfg, mt_split which);

/* Model inputs (normalised float32 N x C x H x W) and int64 labels. */
int mt_runner_tensors(mt_tensor **x, mt_tensor **y, const mt_config *cfg,
		      const mt_dataset *ds);

/* The untrained model of the config: built from the architecture with the
 * configured initialiser and seed, or loaded from the TorchScript file.
 * Its parameters can be trained. */
int mt_runner_initial_model(mt_module **out, const mt_config *cfg);

/* Load a trained model from a file (path NULL: the config's model.output;
 * when that does not exist and the config names a TorchScript model, that
 * model is used as is). *loaded (may be NULL) receives the path of the
 * file that was loaded (path, or a string of cfg). */
int mt_runner_trained_model(mt_module **out, const char **loaded, const mt_config *cfg,
			    const char *path);

/* How training reports progress. */
typedef struct {
	FILE *stream;    /* NULL: silent */
	int tty;         /* 1: redraw one line with \r; 0: one line per epoch */
} mt_progress;

typedef struct {
	int epochs_run;
	double final_loss;
	double seconds;
	double samples_per_second;
	double val_accuracy; /* -1 without a validation split */
	int diverged;
	int stopped_early;   /* training.patience ended it */
} mt_train_report;

/* Train `model` in place with the config's recipe on `train` (validation
 * accuracy measured on `val` after each epoch when val != NULL; with
 * training.patience > 0, training stops once the validation accuracy has
 * not improved for that many epochs). The data
 * order of epoch e is a permutation drawn from mt_rng_derive(seed, e).
 * `order_map`, when not NULL, maps the positions of the training set to
 * sample indices (data mutations: repeats, deletions) and replaces 0..n. */
int mt_runner_train(mt_train_report *report, mt_module *model,
		    const mt_config *cfg, const mt_tensor *x, const mt_tensor *y,
		    const int64_t *order_map, int64_t n_map,
		    const mt_tensor *val_x, const mt_tensor *val_y,
		    const mt_progress *progress);

/* The training pipeline of `mutorch train` and of every source-level
 * training run: split the validation set off `train`
 * (recipe->validation_split, with recipe->seed), make the model inputs,
 * seed torch with recipe->seed, build or load the recipe's initial model
 * and train it (mt_runner_train). With a progress stream, one line first
 * announces the sizes and the recipe. *model is the trained module; when
 * the loss diverged it is the module before the NaN step and the return
 * is MT_EDIVERGED (report->diverged set). */
int mt_runner_train_pipeline(mt_module **model, mt_train_report *report,
			     const mt_config *recipe, const mt_dataset *train,
			     const mt_progress *progress);

/* `mutorch train` with the user's own training program (training.command,
 * docs/training-programs.md): run it once on `train` with the config's seed
 * and knobs, its spec and logs in RUN_DIR/training/train/ (*log_dir,
 * malloc'd), and load the model it saved. A program that fails is
 * MT_EINVALID with what happened and the first lines of its stderr. */
int mt_runner_train_program(mt_module **model, char **log_dir, const mt_config *cfg,
			    const mt_dataset *train, const mt_progress *progress);

typedef struct {
	int64_t n;
	int64_t correct;
	double accuracy;
	int num_classes;
	int64_t *class_total;   /* num_classes entries */
	int64_t *class_correct;
	double *class_accuracy; /* NaN-free: 0 for a class with no inputs */
	int64_t *predictions;   /* n entries */
} mt_eval_result;

/* Predict every input and compare with the labels. The model must have
 * num_classes outputs per input (else MT_EINVALID). */
int mt_runner_evaluate(mt_eval_result *out, mt_module *model,
		       const mt_tensor *x, const int64_t *labels, int64_t n,
		       int num_classes, int64_t batch_size);
void mt_eval_result_dispose(mt_eval_result *res);

/* ---- the original model ------------------------------------------------ */

/* The default limit on the original model's evaluation, in seconds
 * (`--eval-timeout`, docs/cli.md). */
#define MT_EVAL_TIMEOUT_DEFAULT 600.0
/* The exit status of a process whose deadline passed: the command line's
 * "bad input" (the model is at fault: its forward never returned). */
#define MT_RUNNER_DEADLINE_EXIT 3

/* A time limit on work that nothing can interrupt (a TorchScript forward
 * runs until it returns): when `seconds` pass before
 * mt_runner_deadline_clear(), `message` is written to stderr and the
 * process ends at once with _exit(MT_RUNNER_DEADLINE_EXIT). seconds <= 0:
 * no limit. One deadline at a time per process; setting one clears the
 * last. */
int mt_runner_deadline_set(double seconds, const char *message);
void mt_runner_deadline_clear(void);

/* The original model's predictions, checked as everything built on them
 * needs: cfg->num_classes outputs per input, every output finite (a model
 * whose outputs are NaN has nothing its mutants can be compared with), and
 * at most `timeout` seconds (mt_runner_deadline_set; <= 0: no limit).
 * Errors are MT_EINVALID (the model is at fault) and name `model_name`,
 * the model's file. pred holds n int64. */
int mt_runner_predict_original(int64_t *pred, mt_module *model, const mt_tensor *x,
			       int64_t n, const mt_config *cfg, const char *model_name,
			       double timeout);
/* mt_runner_evaluate of the original model, with those checks. */
int mt_runner_evaluate_original(mt_eval_result *out, mt_module *model, const mt_tensor *x,
				const int64_t *labels, int64_t n, const mt_config *cfg,
				const char *model_name, double timeout);

#ifdef __cplusplus
}
#endif
#endif
