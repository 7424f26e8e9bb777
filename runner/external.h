/* Training with the user's own program (training.command), the protocol
 * of docs/training-programs.md; not a public header. The source worker
 * (source_worker.c) calls these instead of mt_runner_train_pipeline:
 *
 *   mt_ext_data_write     the (mutated) training set as .npy files,
 *                         once per distinct content (external_data.c)
 *   mt_ext_train          spec, program, time limit, logs, the model
 *                         (external.c)
 *   mt_ext_evaluate       the model on the test set, with the checks a
 *                         foreign model needs: shape, NaN (external_data.c)
 */
#ifndef MUTORCH_RUNNER_EXTERNAL_H
#define MUTORCH_RUNNER_EXTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/hash.h"
#include "mutorch/shim.h"

/* The executable training.command[0] names: a path (relative to the
 * config's directory) or a name on PATH. MT_ENOTFOUND naming the key when
 * there is none; *path is malloc'd. */
int mt_ext_resolve_command(char **path, const mt_config *cfg);

/* "training program 'python3 train.py'" into buf, for messages. */
void mt_ext_program_name(char *buf, size_t size, const mt_config *cfg);

/* The training set as the program reads it. */
typedef struct {
	char *x, *y;      /* absolute paths of the .npy files */
	int64_t count;
	int64_t shape[3];
	char digest[MT_HASH_HEX]; /* of the content */
} mt_ext_data;

/* `train` as RUN_DIR/cache/data/DIGEST/{x,y}.npy: x float32 [N, C, H, W]
 * normalised as the model's test inputs are (data.normalize), y int64 [N].
 * Written only when no file of that content exists (under a lock, as
 * workers share them). *seconds: the time it took. */
int mt_ext_data_write(mt_ext_data *out, double *seconds, const mt_config *cfg,
		      const mt_dataset *train, const char *run_dir);
void mt_ext_data_dispose(mt_ext_data *d);

/* One training: what the spec tells the program. */
typedef struct {
	const mt_config *cfg;    /* the config: command, directory, threads */
	const mt_config *recipe; /* this run's recipe: the seed, the knobs */
	const mt_ext_data *data;
	const char *dir;         /* this training's directory: spec.json,
				  * stdout.log, stderr.log, model.pt */
	const char *mutant;      /* the mutant's id, NULL for the original */
	int run;
} mt_ext_job;

typedef enum {
	MT_EXT_TRAINED = 0,
	MT_EXT_FAILED,     /* exit status, signal, no model, a model that does not load */
	MT_EXT_TIMEOUT,    /* passed mutation.source.timeout */
	MT_EXT_REJECTED    /* exit status 3: the program cannot read this spec */
} mt_ext_status;

typedef struct {
	mt_ext_status status;
	char reason[1536];       /* failures: what happened, the first lines of
				  * stderr and where the logs are */
	char *model_path;        /* trained: the file the program wrote */
	double spawn_seconds;    /* fork and exec, until the program runs */
	double program_seconds;  /* from its exec to its exit */
	double program_cpu_seconds;
} mt_ext_outcome;

/* Write the spec, start the program in the config's directory with
 * MUTORCH_SPEC set (its own process group; killed if the worker dies),
 * wait for it within mutation.source.timeout, and load the model it wrote.
 * A program that fails is an outcome, not an error: the return is < 0
 * only for mutorch's own failures (I/O, memory). *model is NULL unless
 * out->status is MT_EXT_TRAINED. Dispose of out with mt_ext_outcome_dispose. */
int mt_ext_train(mt_module **model, mt_ext_outcome *out, const mt_ext_job *job);
void mt_ext_outcome_dispose(mt_ext_outcome *out);

/* Predictions of a model the program wrote on the test inputs x (n
 * samples, labels), with the checks a model from elsewhere needs: it must
 * give num_classes scores per input and none may be NaN or infinite.
 * *pred (n entries) is malloc'd. A model that fails a check gives 0 with
 * *pred NULL and the reason in why (size bytes). */
int mt_ext_evaluate(int64_t **pred, double *accuracy, char *why, size_t size, mt_module *model,
		    const mt_tensor *x, const int64_t *labels, int64_t n, int num_classes,
		    int64_t batch_size);

#endif
