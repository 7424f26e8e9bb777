/*
 * mutorch/recipe.h - the vocabulary of models and training recipes: layer
 * kinds, architectures, initialisers, optimizers and losses as plain data.
 *
 * It lives on the ground floor because two modules that may not include
 * each other share it: config/ reads it from mutorch.yml (and arch.h parses
 * the architecture language into mt_arch), and shim/ builds and trains
 * TorchScript modules from it. Nothing here knows about YAML or torch.
 */
#ifndef MUTORCH_RECIPE_H
#define MUTORCH_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- architectures (the language is in arch.h) ----------------------- */

typedef enum {
	MT_LAYER_LINEAR = 0,
	MT_LAYER_CONV2D,
	MT_LAYER_MAXPOOL2D,
	MT_LAYER_AVGPOOL2D,
	MT_LAYER_FLATTEN,
	MT_LAYER_DROPOUT,
	MT_LAYER_BATCHNORM1D,
	MT_LAYER_BATCHNORM2D,
	MT_LAYER_RELU,
	MT_LAYER_LEAKY_RELU,
	MT_LAYER_ELU,
	MT_LAYER_GELU,
	MT_LAYER_TANH,
	MT_LAYER_SIGMOID,
	MT_LAYER_SOFTMAX,
	MT_LAYER__COUNT
} mt_layer_kind;

typedef struct {
	mt_layer_kind kind;
	/* linear: in_features/out_features; conv2d: in/out channels;
	 * batchnorm: in = out = num_features */
	int64_t in, out;
	int64_t kernel, stride, padding, dilation, groups;
	int bias;      /* linear, conv2d */
	double p;      /* dropout probability */
	double alpha;  /* leaky_relu negative_slope, elu alpha */
	double eps, momentum; /* batchnorm */
	int64_t dim;   /* softmax */
} mt_layer;

typedef struct {
	mt_layer *layers;
	size_t nlayers;
} mt_arch;

/* Name of a layer kind as written in the description ("conv2d");
 * "unknown" for a value out of range. */
const char *mt_layer_kind_name(mt_layer_kind kind);

/* Does this kind carry trainable parameters (linear, conv2d, batchnorm)? */
int mt_layer_kind_has_params(mt_layer_kind kind);
/* Is it an activation (relu, leaky_relu, elu, gelu, tanh, sigmoid,
 * softmax)? */
int mt_layer_kind_is_activation(mt_layer_kind kind);

/* ---- training recipes ------------------------------------------------- */

typedef enum {
	MT_INIT_DEFAULT = 0, /* PyTorch's default (kaiming_uniform a=sqrt(5)) */
	MT_INIT_XAVIER_UNIFORM,
	MT_INIT_XAVIER_NORMAL,
	MT_INIT_KAIMING_UNIFORM,
	MT_INIT_KAIMING_NORMAL,
	MT_INIT_NORMAL,  /* N(0, 0.01^2) weights, zero bias */
	MT_INIT_UNIFORM, /* U(-0.05, 0.05) weights, zero bias */
	MT_INIT_ZEROS
} mt_init_kind;

typedef enum {
	MT_OPTIM_SGD = 0,
	MT_OPTIM_ADAM,
	MT_OPTIM_ADAMW,
	MT_OPTIM_RMSPROP,
	MT_OPTIM_ADAGRAD
} mt_optim_kind;

typedef enum {
	MT_LOSS_CROSS_ENTROPY = 0,
	MT_LOSS_NLL,  /* expects log-probabilities (model ends in log_softmax) */
	MT_LOSS_MSE   /* against one-hot targets */
} mt_loss_kind;

/* Optimizer settings; unused fields keep PyTorch's defaults. */
typedef struct {
	mt_optim_kind kind;
	double lr;           /* default: sgd 0.01, adam/adamw 0.001, rmsprop 0.01, adagrad 0.01 */
	double momentum;     /* sgd, rmsprop: 0 */
	double dampening;    /* sgd: 0 */
	int nesterov;        /* sgd: 0 */
	double weight_decay; /* 0 (adamw: 0.01) */
	double beta1, beta2; /* adam/adamw: 0.9, 0.999 */
	double eps;          /* adam/adamw 1e-8, rmsprop 1e-8, adagrad 1e-10 */
	double alpha;        /* rmsprop: 0.99 */
	int amsgrad;         /* adam/adamw: 0 */
	double lr_decay;     /* adagrad: 0 */
} mt_optim_config;

/* Names as written in mutorch.yml ("adam", "cross_entropy",
 * "kaiming_uniform"); "unknown" out of range. */
const char *mt_optim_kind_name(mt_optim_kind kind);
const char *mt_loss_kind_name(mt_loss_kind kind);
const char *mt_init_kind_name(mt_init_kind kind);
/* The same names as one array indexed by the enum (for parsers). */
const char *const *mt_optim_kind_names(size_t *count);
const char *const *mt_loss_kind_names(size_t *count);
const char *const *mt_init_kind_names(size_t *count);

/* Fill an optimizer config with PyTorch's defaults (torch.optim 1.13) for
 * that kind; fields it does not use stay 0, so equal settings compare and
 * hash equal. */
void mt_optim_config_defaults(mt_optim_config *out, mt_optim_kind kind);

#ifdef __cplusplus
}
#endif
#endif
