/* Names and defaults of the model and recipe vocabulary (mutorch/recipe.h). */
#include "mutorch/recipe.h"

#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Indexed by mt_layer_kind; the architecture language's spelling. */
static const char *const layer_names[MT_LAYER__COUNT] = {
	[MT_LAYER_LINEAR] = "linear",
	[MT_LAYER_CONV2D] = "conv2d",
	[MT_LAYER_MAXPOOL2D] = "maxpool2d",
	[MT_LAYER_AVGPOOL2D] = "avgpool2d",
	[MT_LAYER_FLATTEN] = "flatten",
	[MT_LAYER_DROPOUT] = "dropout",
	[MT_LAYER_BATCHNORM1D] = "batchnorm1d",
	[MT_LAYER_BATCHNORM2D] = "batchnorm2d",
	[MT_LAYER_RELU] = "relu",
	[MT_LAYER_LEAKY_RELU] = "leaky_relu",
	[MT_LAYER_ELU] = "elu",
	[MT_LAYER_GELU] = "gelu",
	[MT_LAYER_TANH] = "tanh",
	[MT_LAYER_SIGMOID] = "sigmoid",
	[MT_LAYER_SOFTMAX] = "softmax",
};
static const char *const optim_names[] = { "sgd", "adam", "adamw", "rmsprop", "adagrad" };
static const char *const loss_names[] = { "cross_entropy", "nll", "mse" };
static const char *const init_names[] = { "default", "xavier_uniform", "xavier_normal",
	"kaiming_uniform", "kaiming_normal", "normal", "uniform", "zeros" };

static const char *name_of(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : "unknown";
}

const char *mt_layer_kind_name(mt_layer_kind kind)
{
	return name_of(layer_names, COUNT(layer_names), (int)kind);
}

int mt_layer_kind_has_params(mt_layer_kind kind)
{
	return kind == MT_LAYER_LINEAR || kind == MT_LAYER_CONV2D ||
	       kind == MT_LAYER_BATCHNORM1D || kind == MT_LAYER_BATCHNORM2D;
}

int mt_layer_kind_is_activation(mt_layer_kind kind)
{
	return kind >= MT_LAYER_RELU && kind <= MT_LAYER_SOFTMAX;
}

const char *mt_optim_kind_name(mt_optim_kind kind)
{
	return name_of(optim_names, COUNT(optim_names), (int)kind);
}

const char *mt_loss_kind_name(mt_loss_kind kind)
{
	return name_of(loss_names, COUNT(loss_names), (int)kind);
}

const char *mt_init_kind_name(mt_init_kind kind)
{
	return name_of(init_names, COUNT(init_names), (int)kind);
}

const char *const *mt_optim_kind_names(size_t *count)
{
	*count = COUNT(optim_names);
	return optim_names;
}

const char *const *mt_loss_kind_names(size_t *count)
{
	*count = COUNT(loss_names);
	return loss_names;
}

const char *const *mt_init_kind_names(size_t *count)
{
	*count = COUNT(init_names);
	return init_names;
}

void mt_optim_config_defaults(mt_optim_config *out, mt_optim_kind kind)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	switch (kind) {
	case MT_OPTIM_SGD:
		out->lr = 0.01;
		break;
	case MT_OPTIM_ADAM:
	case MT_OPTIM_ADAMW:
		out->lr = 0.001;
		out->beta1 = 0.9;
		out->beta2 = 0.999;
		out->eps = 1e-8;
		out->weight_decay = kind == MT_OPTIM_ADAMW ? 0.01 : 0;
		break;
	case MT_OPTIM_RMSPROP:
		out->lr = 0.01;
		out->alpha = 0.99;
		out->eps = 1e-8;
		break;
	case MT_OPTIM_ADAGRAD:
		out->lr = 0.01;
		out->eps = 1e-10;
		break;
	}
}
