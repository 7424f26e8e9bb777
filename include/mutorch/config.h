/*
 * mutorch/config.h - mutorch.yml, read with libyaml.
 *
 * The whole format is documented in docs/config.md. Relative paths are
 * resolved against the directory of the config file, and are stored here
 * already resolved. Unknown keys, wrong types and missing required keys are
 * errors naming the file, the key and its line ("mutorch.yml:12: key
 * 'training.optimiser' is not known; expected one of ...").
 *
 *   model:
 *     architecture: "conv2d(1,6,5,padding=2) relu ... linear(84,10)"
 *     # or: torchscript: path/to/model.pt   (exactly one of the two)
 *     init: kaiming_uniform   # default | xavier_uniform | xavier_normal |
 *                             # kaiming_uniform | kaiming_normal | normal |
 *                             # uniform | zeros
 *     input_shape: [1, 28, 28]  # required with architecture
 *     output: trained/model.pt  # where `mutorch train` saves (default
 *                               # trained/model.pt)
 *   data:
 *     format: idx             # idx | cifar10 | npy | torch
 *     classes: 10
 *     train: {images: ..., labels: ...}   # idx
 *     test:  {images: ..., labels: ...}
 *       # cifar10: {files: [a.bin, b.bin]}; npy: {x: x.npy, y: y.npy};
 *       # torch: {file: data.pt}  (a dict {"x": tensor, "y": tensor})
 *     normalize: {scale: 255, mean: [0.2860], std: [0.3530]}
 *     validation_split: 0.0
 *     train_limit: 0          # use only the first N training samples (0: all)
 *     test_limit: 0
 *   training:
 *     optimizer: {name: adam, lr: 0.001, ...}  # sgd | adam | adamw |
 *                                              # rmsprop | adagrad
 *     loss: cross_entropy     # cross_entropy | nll | mse
 *     epochs: 10
 *     batch_size: 64
 *     eval_batch_size: 1000
 *     seed: 42
 *     threads: 2
 *     grad_clip: 0            # max gradient norm, 0 = off
 *     l1: 0                   # L1 weight penalty
 *     l2: 0                   # L2 weight penalty (added to the loss)
 *     patience: 0             # early stopping: stop after this many epochs
 *                             # without a better validation accuracy (0 = off)
 *     # or your own training program (docs/training-programs.md):
 *     command: [python3, train.py]  # run in the config's directory
 *     program_files: [train.py]     # part of every cache key
 *     hyperparameters: {lr: 0.001, batch_size: 64, epochs: 3}  # its knobs
 *     protocol: 1
 *   run:
 *     dir: mutorch.out        # run directory
 *   mutation:                 # see docs/config.md (model_level, ...)
 *   ci:                       # `mutorch ci` (docs/ci.md)
 *     score: mutation_score   # the gated score: mutation_score |
 *                             # deepmutation_score | average_error_rate |
 *                             # source_mutation_score
 *     threshold: 0            # fail below this score (0: no threshold)
 *     tolerance: 0            # fail when it fell by more than this
 *     base: HEAD^             # default base revision
 */
#ifndef MUTORCH_CONFIG_H
#define MUTORCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/recipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits on untrusted config text (docs/config.md, docs/security.md): the
 * file size, the nesting of mappings and lists (checked on libyaml's
 * tokens before the document is built, since libyaml's scanner is
 * quadratic in the flow nesting depth), and training.threads, which may not
 * exceed MT_CONFIG_THREADS_PER_CPU times the online CPUs either. */
#define MT_CONFIG_MAX_BYTES ((size_t)1 << 20)
#define MT_CONFIG_MAX_DEPTH 64
#define MT_CONFIG_MAX_THREADS 256
#define MT_CONFIG_THREADS_PER_CPU 4

typedef enum {
	MT_FORMAT_IDX = 0,
	MT_FORMAT_CIFAR10,
	MT_FORMAT_NPY,
	MT_FORMAT_TORCH
} mt_data_format;

typedef struct {
	/* idx: paths[0] images, paths[1] labels; cifar10: every batch file;
	 * npy: paths[0] x, paths[1] y; torch: paths[0] */
	char **paths;
	size_t npaths;
} mt_data_source;


/* One entry of a mutation list: the operator name, and its remaining keys
 * as strings (the operator registry parses and validates them). */
typedef struct {
	char *key;
	char *value;   /* scalar as written; sequences joined with ',' */
	int line;
} mt_config_param;

typedef struct {
	char *op;
	mt_config_param *params;
	size_t nparams;
	int line;
} mt_config_mutation;

typedef struct {
	char *path;       /* the config file (or display name) */
	char *base_dir;   /* relative paths were resolved against this */

	/* model */
	char *architecture;   /* NULL when torchscript is set */
	char *torchscript;    /* resolved path, NULL when architecture is set */
	mt_init_kind init;
	int64_t input_shape[3];
	int has_input_shape;
	char *output;         /* resolved path of the trained model */

	/* data */
	mt_data_format format;
	int num_classes;
	mt_data_source train, test;
	double norm_scale;    /* divide raw values by this (default 1) */
	double norm_mean[4], norm_std[4]; /* per channel; nnorm = 0: none */
	int nnorm;
	double validation_split;
	int64_t train_limit, test_limit;

	/* training */
	mt_optim_config optim;
	mt_loss_kind loss;
	int epochs;
	int64_t batch_size;
	int64_t eval_batch_size;
	uint64_t seed;
	int threads;
	double grad_clip;
	double l1, l2;
	int patience;         /* early-stopping patience in epochs, 0 = off */

	/* training.command: the user's own training program, driven by the
	 * protocol of docs/training-programs.md; NULL: the built-in trainer.
	 * The knobs it declares (training.hyperparameters) live in the fields
	 * above (optim, loss, epochs, ...) and in dropout; `knobs` says which. */
	char **command;         /* argv, ncommand entries (not NULL-terminated) */
	size_t ncommand;
	char **program_files;   /* resolved paths */
	size_t nprogram_files;
	int protocol;           /* training.protocol (MT_PROTOCOL_VERSION) */
	unsigned knobs;         /* MT_KNOB_* bits */
	double dropout;         /* the dropout knob */

	/* run */
	char *run_dir;        /* resolved */

	/* mutation (parsed by later modules; kept raw here) */
	uint64_t mutation_seed;
	double accuracy_filter;      /* default 0.9 */
	mt_config_mutation *model_level;
	size_t nmodel_level;
	mt_config_mutation *source_level; /* same shape as model_level */
	size_t nsource_level;
	/* mutation.source: statistical killing of source-level mutants
	 * (docs/statistics.md) */
	int src_runs;          /* n runs of the original and of each mutant (10) */
	int src_rule;          /* MT_SRC_RULE_* (deepcrime) */
	double src_alpha;      /* 0.05 */
	double src_effect;     /* Cohen's d threshold (0.5) */
	int src_correction;    /* 0 none, 1 holm, 2 bh (across mutants) */
	int src_sequential;    /* staged runs that stop when the verdict is settled */
	int src_max_runs;      /* sequential: at most this many runs (20) */
	double src_timeout;    /* seconds per training, 0: none */

	/* ci (`mutorch ci`, docs/ci.md) */
	char *ci_score;       /* the gated score's name (default mutation_score) */
	double ci_threshold;  /* in [0, 1]; 0: no threshold */
	double ci_tolerance;  /* in [0, 1]: largest drop from the base (default 0) */
	char *ci_base;        /* default base revision; NULL: HEAD^ */
} mt_config;

/* mutation.source.rule */
enum { MT_SRC_RULE_DEEPCRIME = 0, MT_SRC_RULE_WELCH, MT_SRC_RULE_MANNWHITNEY,
       MT_SRC_RULE_FISHER };

/* training.hyperparameters: the knobs an external training program
 * declares, one bit each in mt_config.knobs. */
enum {
	MT_KNOB_LR = 1u << 0,
	MT_KNOB_BATCH_SIZE = 1u << 1,
	MT_KNOB_EPOCHS = 1u << 2,
	MT_KNOB_OPTIMIZER = 1u << 3,
	MT_KNOB_LOSS = 1u << 4,
	MT_KNOB_L1 = 1u << 5,
	MT_KNOB_L2 = 1u << 6,
	MT_KNOB_GRAD_CLIP = 1u << 7,
	MT_KNOB_DROPOUT = 1u << 8,
	MT_KNOB_PATIENCE = 1u << 9,
	MT_KNOB_VALIDATION_SPLIT = 1u << 10,
	MT_KNOB_INIT = 1u << 11
};
#define MT_KNOB_COUNT 12
/* The protocol version of the training-program spec (training.protocol). */
#define MT_PROTOCOL_VERSION 1

/* The key of knob bit (1u << i) under training.hyperparameters ("lr",
 * "batch_size", ...); NULL for i out of range. */
const char *mt_knob_name(int i);

/* Load and validate a config file. */
int mt_config_load(mt_config **out, const char *path);

/* The same from a buffer; name is used in messages, base_dir for paths. */
int mt_config_load_buffer(mt_config **out, const char *buf, size_t len,
			  const char *name, const char *base_dir);

void mt_config_free(mt_config *cfg);

/* A deep copy (every string, path list and mutation list), for recipes that
 * source-level operators change. Keep it next to mt_config_free: a new
 * pointer field needs a line in both. */
int mt_config_copy(mt_config **out, const mt_config *src);

/* "idx", "cifar10", "npy", "torch". (The recipe's names are in recipe.h.) */
const char *mt_data_format_name(mt_data_format fmt);

#ifdef __cplusplus
}
#endif
#endif
