/*
 * mutorch/shim_train.h - training through the shim: optimizers, the train
 * options, one step and one epoch.
 *
 * Part of the C API over libtorch (mutorch/shim.h: errors, threads,
 * tensors, modules); the same rules hold: negative codes and
 * mt_shim_last_error() on failure, *_free(NULL) is a no-op. A step or an
 * epoch is bit-identical for the same seed, data order and thread count.
 */
#ifndef MUTORCH_SHIM_TRAIN_H
#define MUTORCH_SHIM_TRAIN_H

#include <stdint.h>

#include "mutorch/recipe.h"
#include "mutorch/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_optimizer mt_optimizer;

int mt_optimizer_new(mt_optimizer **out, mt_module *m,
		     const mt_optim_config *cfg);
void mt_optimizer_free(mt_optimizer *opt);

typedef struct {
	mt_loss_kind loss;
	int64_t batch_size;
	double grad_clip; /* max total gradient norm; 0 = off */
	double l1, l2;    /* weight penalties added to the loss; 0 = off */
	int num_classes;  /* for MSE one-hot targets */
	/* Called after every batch when not NULL; return non-zero to stop:
	 * mt_train_epoch then returns that value when it is negative (an
	 * MT_E* code the callback set with mt_error_set), else 0, with
	 * stats->samples < n. */
	int (*progress)(void *ctx, int64_t done, int64_t total, double loss);
	void *progress_ctx;
} mt_train_options;

typedef struct {
	double mean_loss; /* sample-weighted mean of the batch losses */
	int64_t samples;
	int64_t batches;
	double seconds;
	int diverged; /* a loss was NaN or infinite; training stopped */
} mt_epoch_stats;

/* One optimisation step on one batch; *loss receives the batch loss. */
int mt_train_step(double *loss, mt_module *m, mt_optimizer *opt,
		  const mt_tensor *x, const mt_tensor *y,
		  const mt_train_options *o);

/* One epoch over samples order[0..n) of x/y (a permutation, or any index
 * list: data mutations use repeats and deletions), in batches of
 * o->batch_size, the module in training mode. A NaN/inf loss stops the
 * epoch with stats->diverged = 1 and returns MT_EDIVERGED. */
int mt_train_epoch(mt_epoch_stats *stats, mt_module *m, mt_optimizer *opt,
		   const mt_tensor *x, const mt_tensor *y,
		   const int64_t *order, int64_t n, const mt_train_options *o);

#ifdef __cplusplus
}
#endif
#endif
