/*
 * The operator registry: one table row per operator (name, level, kind,
 * parameters with defaults and ranges, apply function), the printer behind
 * `mutorch operators`, and parameter parsing from the config's generic
 * (key, value-string) lists. Exact semantics: docs/operators.md.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "internal.h"

#define RATIO(def) \
	{ "ratio", MT_PARAM_DOUBLE, def, 0.0, 1.0, 1, NULL, \
	  "fraction of the target's units; count = max(1, round(ratio*n))" }

static const mt_op_param_spec gf_params[] = {
	RATIO("0.01"),
	{ "sigma", MT_PARAM_DOUBLE, "1.0", 0.0, 1e30, 1, NULL,
	  "standard deviation of the noise" },
	{ "sigma_mode", MT_PARAM_ENUM, "relative", 0, 0, 0, "relative|absolute",
	  "relative: sigma times the layer's weight std (additive only)" },
	{ "variant", MT_PARAM_ENUM, "additive", 0, 0, 0, "additive|multiplicative",
	  "w + N(0,s^2), or w*(1 + N(0,sigma^2)) as in DeepMutation++" },
};
static const mt_op_param_spec ratio_params[] = { RATIO("0.01") };
static const mt_op_param_spec neb_params[] = {
	RATIO("0.01"),
	{ "variant", MT_PARAM_ENUM, "outgoing", 0, 0, 0, "outgoing|incoming",
	  "zero the next layer's weights fed by the neuron, or its own weights and bias" },
};
static const mt_op_param_spec wpr_params[] = {
	{ "dtype", MT_PARAM_ENUM, "fp16", 0, 0, 0, "fp16|bf16",
	  "cast to this type and back (ignored when digits is given)" },
	{ "digits", MT_PARAM_INT, NULL, 0, 9, 0, NULL,
	  "round to this many decimal digits instead (as torch.round(w, decimals))" },
};
static const mt_op_param_spec qnt_params[] = {
	{ "bits", MT_PARAM_INT, "8", 2, 8, 0, NULL,
	  "signed bits: q in [-(2^(bits-1)-1), 2^(bits-1)-1]" },
	{ "granularity", MT_PARAM_ENUM, "tensor", 0, 0, 0, "tensor|channel",
	  "one scale per weight tensor, or per output channel (row)" },
};
static const mt_op_param_spec bf_params[] = {
	{ "k", MT_PARAM_INT, "1", 1, 1e15, 0, NULL, "number of weights to flip a bit in" },
	{ "bit", MT_PARAM_BIT, "exponent", 0, 31, 0, "sign|exponent|mantissa|any|0..31",
	  "which bit: a class (index drawn per weight) or a fixed index" },
};
static const mt_op_param_spec prn_params[] = { RATIO("0.1") };
static const mt_op_param_spec site_params[] = {
	{ "site", MT_PARAM_STRING, NULL, 0, 0, 0, NULL,
	  "the forward call to mutate (\"conv2\", \"relu@3\"; alias: layer); none: every applicable site" },
};

/* ---- source level: parsed by operators/source.c (mt_source_apply) ------- */

#define SRC_RATIO(def) \
	{ "ratio", MT_PARAM_DOUBLE, def, 0.0, 1.0, 1, NULL, \
	  "fraction of the pool; count = max(1, round(ratio*pool))" }
#define SRC_CLASS \
	{ "class", MT_PARAM_STRING, "all", 0, 0, 0, NULL, \
	  "pool: the samples of this class (0-based), or all; the planner expands 'each'" }
#define SRC_LAYER(what) \
	{ "layer", MT_PARAM_INT, NULL, 0, 1e6, 0, NULL, \
	  "0-based position in the architecture of " what "; none: the planner lists every one" }
#define SRC_ACTIVATIONS "relu|leaky_relu|elu|gelu|tanh|sigmoid|softmax"

static const mt_op_param_spec src_data_params[] = { SRC_RATIO("0.1"), SRC_CLASS };
static const mt_op_param_spec src_np_params[] = {
	SRC_RATIO("0.1"), SRC_CLASS,
	{ "sigma", MT_PARAM_DOUBLE, "0.1", 0.0, 1e30, 1, NULL,
	  "noise std in scaled units (value / data.normalize.scale)" },
};
static const mt_op_param_spec src_tan_params[] = {
	SRC_RATIO("0.1"), SRC_CLASS,
	{ "factor", MT_PARAM_DOUBLE, "1.0", 0.0, 1e30, 1, NULL,
	  "noise std = factor * std of the training pixels (scaled units)" },
};
static const mt_op_param_spec src_tcl_params[] = {
	SRC_RATIO("0.1"),
	{ "to", MT_PARAM_STRING, "random", 0, 0, 0, NULL,
	  "new label: a class, or random (uniform over the other classes)" },
};
static const mt_op_param_spec src_ratio_params[] = { SRC_RATIO("0.1") };
static const mt_op_param_spec src_tud_params[] = { SRC_RATIO("0.5") };
static const mt_op_param_spec src_layer_params[] = { SRC_LAYER("the layer") };
static const mt_op_param_spec src_las_params[] = {
	SRC_LAYER("the layer after which one is added"),
	{ "what", MT_PARAM_ENUM, "copy", 0, 0, 0, "copy|batchnorm|activation",
	  "a copy of the shape-preserving layer, a batch norm, or an activation" },
	{ "activation", MT_PARAM_ENUM, "relu", 0, 0, 0, SRC_ACTIVATIONS,
	  "with what=activation: its kind" },
};
static const mt_op_param_spec src_ach_params[] = {
	SRC_LAYER("the activation"),
	{ "activation", MT_PARAM_ENUM, NULL, 0, 0, 0, SRC_ACTIVATIONS,
	  "the new kind (PyTorch's default arguments); none: the planner lists every other kind" },
};
static const mt_op_param_spec src_aal_params[] = {
	SRC_LAYER("the linear or conv2d layer"),
	{ "activation", MT_PARAM_ENUM, NULL, 0, 0, 0, SRC_ACTIVATIONS,
	  "the kind added; none: the planner lists every kind (relu when applied directly)" },
};
static const mt_op_param_spec src_hbs_params[] = {
	{ "value", MT_PARAM_INT, NULL, 1, 1e15, 0, NULL, "the new batch size" },
	{ "factor", MT_PARAM_DOUBLE, "0.5", 0.0, 1e6, 1, NULL,
	  "without value: batch = max(1, round(batch_size * factor))" },
};
static const mt_op_param_spec src_hlr_params[] = {
	{ "value", MT_PARAM_DOUBLE, NULL, 0.0, 1e6, 1, NULL, "the new learning rate" },
	{ "factor", MT_PARAM_DOUBLE, "0.1", 0.0, 1e6, 1, NULL,
	  "without value: lr = lr * factor" },
};
static const mt_op_param_spec src_hne_params[] = {
	{ "value", MT_PARAM_INT, NULL, 1, 1073741824, 0, NULL, "the new number of epochs" },
	{ "factor", MT_PARAM_DOUBLE, "0.5", 0.0, 1e6, 1, NULL,
	  "without value: epochs = max(1, round(epochs * factor))" },
};
static const mt_op_param_spec src_raw_params[] = {
	{ "penalty", MT_PARAM_ENUM, NULL, 0, 0, 0, "l1|l2",
	  "the penalty added (must be 0 in the recipe); none: the planner lists both" },
	{ "value", MT_PARAM_DOUBLE, "0.01", 0.0, 1e6, 1, NULL, "its weight (Keras' default 0.01)" },
};
static const mt_op_param_spec src_rrw_params[] = {
	{ "penalty", MT_PARAM_ENUM, NULL, 0, 0, 0, "l1|l2|all",
	  "the penalty set to 0; none: the planner lists each non-zero one" },
};
static const mt_op_param_spec src_rcd_params[] = {
	SRC_LAYER("the dropout layer"),
	{ "rate", MT_PARAM_DOUBLE, NULL, 0.0, 1.0, 0, NULL,
	  "the new p in [0, 1); none: half the current p" },
};
static const mt_op_param_spec src_rcp_params[] = {
	{ "value", MT_PARAM_INT, NULL, 0, 1073741824, 0, NULL,
	  "the new patience (0 turns early stopping off)" },
	{ "factor", MT_PARAM_DOUBLE, "0.5", 0.0, 1e6, 1, NULL,
	  "without value: patience = max(1, round(patience * factor))" },
};
static const mt_op_param_spec src_wci_params[] = {
	{ "init", MT_PARAM_ENUM, NULL, 0, 0, 0,
	  "default|xavier_uniform|xavier_normal|kaiming_uniform|kaiming_normal|normal|uniform|zeros",
	  "the new initialiser; none: the planner lists every other one" },
};
static const mt_op_param_spec src_lch_params[] = {
	{ "loss", MT_PARAM_ENUM, NULL, 0, 0, 0, "cross_entropy|nll|mse",
	  "the new loss; none: the planner lists every other one" },
};
static const mt_op_param_spec src_och_params[] = {
	{ "optimizer", MT_PARAM_ENUM, NULL, 0, 0, 0, "sgd|adam|adamw|rmsprop|adagrad",
	  "the new optimizer with PyTorch's defaults; none: the planner lists every other one" },
};
static const mt_op_param_spec src_ocg_params[] = {
	{ "value", MT_PARAM_DOUBLE, "1.0", 0.0, 1e30, 1, NULL, "max gradient norm" },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SRC(name, desc, params) \
	{ name, MT_OP_LEVEL_SOURCE, MT_OP_KIND_SOURCE, desc, params, N(params), NULL }
#define SRC0(name, desc) \
	{ name, MT_OP_LEVEL_SOURCE, MT_OP_KIND_SOURCE, desc, NULL, 0, NULL }

static const mt_operator registry[] = {
	{ "GF", MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS,
	  "Gaussian fuzzing: a fraction of the weights get Gaussian noise",
	  gf_params, N(gf_params), mt_op_apply_gf },
	{ "WS", MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS,
	  "weight shuffling: permute the incoming weights of a fraction of neurons",
	  ratio_params, N(ratio_params), mt_op_apply_ws },
	{ "NEB", MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS,
	  "neuron effect blocking: a fraction of neurons' outgoing weights become 0",
	  neb_params, N(neb_params), mt_op_apply_neb },
	{ "NAI", MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS,
	  "neuron activation inverse: negate incoming weights and bias of a fraction of neurons",
	  ratio_params, N(ratio_params), mt_op_apply_nai },
	{ "NS", MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS,
	  "neuron switch: pairs of neurons of a layer swap incoming weights and biases",
	  ratio_params, N(ratio_params), mt_op_apply_ns },
	{ "LD", MT_OP_LEVEL_MODEL, MT_OP_KIND_GRAPH,
	  "layer deactivation: remove a forward call whose input and output shapes match",
	  site_params, N(site_params), NULL },
	{ "LAm", MT_OP_LEVEL_MODEL, MT_OP_KIND_GRAPH,
	  "layer addition: repeat a shape-preserving forward call right after itself",
	  site_params, N(site_params), NULL },
	{ "AFRm", MT_OP_LEVEL_MODEL, MT_OP_KIND_GRAPH,
	  "activation function removal: an activation call becomes the identity",
	  site_params, N(site_params), NULL },
	{ "WPR", MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS,
	  "weight precision reduction: weights and biases cast to fp16/bf16 and back, or rounded",
	  wpr_params, N(wpr_params), mt_op_apply_wpr },
	{ "QNT", MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS,
	  "quantization: symmetric int8/int4 quantize-dequantize of the weights",
	  qnt_params, N(qnt_params), mt_op_apply_qnt },
	{ "BF", MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS,
	  "bit flip: flip one bit in each of k random float32 weights",
	  bf_params, N(bf_params), mt_op_apply_bf },
	{ "PRN", MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS,
	  "magnitude pruning: the smallest-magnitude fraction of the weights become 0",
	  prn_params, N(prn_params), mt_op_apply_prn },
	/* source level (retraining): data */
	SRC("DR", "data repetition: repeat a fraction of the training samples", src_data_params),
	SRC("LE", "label error: a fraction of the samples get a wrong label, uniform over the others", src_data_params),
	SRC("DM", "data missing: delete a fraction of the training samples", src_data_params),
	SRC("DF", "data shuffle: permute the base order of a fraction of the samples", src_data_params),
	SRC("NP", "noise perturbation: Gaussian noise on a fraction of the inputs", src_np_params),
	SRC("TCL", "change labels: relabel a fraction of the most frequent class", src_tcl_params),
	SRC("TRD", "reduce data: delete the same fraction of every class", src_ratio_params),
	SRC("TUD", "unbalance data: delete a fraction of every class smaller than average", src_tud_params),
	SRC("TAN", "add noise: Gaussian noise with std relative to the data's std", src_tan_params),
	SRC("TCO", "overlapping classes: duplicate samples of the largest class labelled as the second largest", src_ratio_params),
	/* source level: program */
	SRC("LRs", "layer removal: remove a shape-preserving layer", src_layer_params),
	SRC("LAs", "layer addition: add a copy of a shape-preserving layer, a batch norm or an activation", src_las_params),
	SRC("AFRs", "activation function removal: remove an activation layer", src_layer_params),
	SRC("ACH", "activation change: an activation layer becomes another kind", src_ach_params),
	SRC("ARM", "activation removal: the activation after a linear/conv2d layer is removed", src_layer_params),
	SRC("AAL", "activation addition: add an activation after a linear/conv2d layer that has none", src_aal_params),
	SRC("HBS", "change the batch size", src_hbs_params),
	SRC("HLR", "change the learning rate", src_hlr_params),
	SRC("HNE", "change the number of epochs", src_hne_params),
	SRC0("HDB", "disable batching: one batch holds the whole training set"),
	SRC("RAW", "add an L1 or L2 weight penalty", src_raw_params),
	SRC0("RCW", "change the weight penalty: swap the L1 and L2 weights"),
	SRC("RRW", "remove the L1 or L2 weight penalty", src_rrw_params),
	SRC("RCD", "change a dropout layer's rate", src_rcd_params),
	SRC("RCP", "change the early-stopping patience", src_rcp_params),
	SRC("WCI", "change the weight initialiser", src_wci_params),
	SRC("WAB", "add a bias to a linear/conv2d layer without one", src_layer_params),
	SRC("WRB", "remove the bias of a linear/conv2d layer", src_layer_params),
	SRC("LCH", "change the loss function", src_lch_params),
	SRC("OCH", "change the optimizer (PyTorch's defaults for the new one)", src_och_params),
	SRC("OCG", "add gradient clipping (max norm)", src_ocg_params),
	SRC0("VRM", "remove the validation split"),
};

const mt_operator *mt_operators(size_t *count)
{
	*count = N(registry);
	return registry;
}

const mt_operator *mt_operator_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < N(registry); i++)
		if (strcmp(registry[i].name, name) == 0)
			return &registry[i];
	return NULL;
}

static const char *level_name(mt_op_level level)
{
	return level == MT_OP_LEVEL_MODEL ? "model" : "source";
}

int mt_operators_print(FILE *out)
{
	fprintf(out, "%-5s %-6s %s\n%-12s %s\n", "name", "level", "semantics", "",
		"parameters: name=default (valid values)");
	for (size_t i = 0; i < N(registry); i++) {
		const mt_operator *op = &registry[i];
		char params[512] = "";
		size_t used = 0;
		for (size_t p = 0; p < op->nparams; p++) {
			const mt_op_param_spec *s = &op->params[p];
			char value[128];
			if (s->type == MT_PARAM_ENUM || s->type == MT_PARAM_BIT)
				snprintf(value, sizeof(value), "%s (%s)",
					 s->default_value ? s->default_value : "-", s->choices);
			else if (s->type == MT_PARAM_DOUBLE)
				snprintf(value, sizeof(value), "%s in %s%g, %g]",
					 s->default_value ? s->default_value : "-",
					 s->min_exclusive ? "(" : "[", s->min, s->max);
			else if (s->type == MT_PARAM_INT)
				snprintf(value, sizeof(value), "%s in [%g, %g]",
					 s->default_value ? s->default_value : "-", s->min, s->max);
			else
				snprintf(value, sizeof(value), "%s",
					 s->default_value ? s->default_value : "-");
			int n = snprintf(params + used, sizeof(params) - used, "%s%s=%s",
					 p ? "; " : "", s->name, value);
			if (n > 0 && (size_t)n < sizeof(params) - used)
				used += (size_t)n;
		}
		fprintf(out, "%-5s %-6s %s\n%-12s %s\n", op->name, level_name(op->level),
			op->description, "", op->nparams ? params : "seed only");
	}
	fprintf(out, "\nweight operators (GF WS NEB NAI NS WPR QNT BF PRN) also take\n"
		     "  layer=<name> (one layer) or layers=all|<name,...> (a global ratio;\n"
		     "  default all linear and conv2d layers), and seed=<uint64>.\n"
		     "graph operators (LD LAm AFRm) take site=<name>: a forward call such as\n"
		     "  conv2 or relu@3 (default: every site that can take the operator).\n"
		     "source operators (DR ... VRM) take seed=<uint64> and the parameters\n"
		     "  above; layer is a 0-based position in model.architecture. Exact\n"
		     "  semantics: docs/operators.md, section \"Source level\".\n");
	return ferror(out) ? mt_error_set(MT_EIO, "operators: write failed") : 0;
}

/* ---- arguments ---------------------------------------------------------- */

static void free_layers(mt_op_args *args)
{
	for (size_t i = 0; i < args->nlayers; i++)
		free(args->layers[i]);
	free(args->layers);
	args->layers = NULL;
	args->nlayers = 0;
}

void mt_op_args_dispose(mt_op_args *args)
{
	if (args)
		free_layers(args);
}

int mt_op_args_init(mt_op_args *args, const mt_operator *op)
{
	memset(args, 0, sizeof(*args));
	args->op = op;
	args->ratio = 0.01;
	args->sigma = 1.0;
	args->bits = 8;
	args->k = 1;
	args->digits = -1;
	args->bf_class = MT_BF_EXPONENT;
	if (!op)
		return mt_error_set(MT_EINVALID, "operator: none given, expected one of GF, WS, ...");
	for (size_t p = 0; p < op->nparams; p++) {
		const mt_op_param_spec *s = &op->params[p];
		if (s->default_value) {
			int rc = mt_op_args_set(args, s->name, s->default_value);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static const mt_op_param_spec *find_spec(const mt_operator *op, const char *key)
{
	for (size_t p = 0; p < op->nparams; p++)
		if (strcmp(op->params[p].name, key) == 0)
			return &op->params[p];
	return NULL;
}

static int known_keys(char *buf, size_t len, const mt_operator *op)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t p = 0; p < op->nparams; p++) {
		int n = snprintf(buf + used, len - used, "%s%s", p ? ", " : "", op->params[p].name);
		if (n < 0 || (size_t)n >= len - used)
			return 0;
		used += (size_t)n;
	}
	snprintf(buf + used, len - used, "%s%s", op->nparams ? ", " : "",
		 op->kind == MT_OP_KIND_WEIGHTS ? "layer, layers, seed" : "layer, seed");
	return 0;
}

/* The index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value)
{
	int idx = 0;
	size_t vlen = strlen(value);
	const char *p = choices;
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == vlen && strncmp(p, value, n) == 0)
			return idx;
		idx++;
		if (!bar)
			break;
		p = bar + 1;
	}
	return -1;
}

static char *trimmed(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

static int set_layers(mt_op_args *args, const char *value, const char *key)
{
	const char *opn = args->op->name;
	free_layers(args);
	char *v = trimmed(value);
	if (!v)
		return mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
	if (strcmp(v, "all") == 0 && strcmp(key, "layers") == 0) {
		free(v);
		return 0;
	}
	int rc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *name = trimmed(tok);
		if (!name) {
			rc = mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
			goto cleanup;
		}
		if (!*name || strlen(name) >= MT_VIEW_MAX_NAME) {
			free(name);
			rc = mt_error_set(MT_EINVALID,
					  "%s: parameter '%s' has an empty or overlong layer name in '%s', expected layer names separated by ','",
					  opn, key, value);
			goto cleanup;
		}
		char **grown = realloc(args->layers, (args->nlayers + 1) * sizeof(*grown));
		if (!grown) {
			free(name);
			rc = mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
			goto cleanup;
		}
		args->layers = grown;
		args->layers[args->nlayers++] = name;
	}
	if (args->nlayers == 0)
		rc = mt_error_set(MT_EINVALID, "%s: parameter '%s' is empty, expected %s",
				  opn, key, strcmp(key, "layers") == 0 ? "all or layer names" : "a layer name");
	if (strcmp(key, "layer") == 0 && args->nlayers > 1)
		rc = mt_error_set(MT_EINVALID,
				  "%s: parameter 'layer' is '%s', expected one layer name (use 'layers' for several)",
				  opn, value);
cleanup:
	if (rc < 0)
		free_layers(args);
	free(v);
	return rc;
}

int mt_op_args_set(mt_op_args *args, const char *key, const char *value)
{
	const mt_operator *op = args->op;
	if (!op)
		return mt_error_set(MT_EINVALID, "operator: arguments not initialised, expected mt_op_args_init first");
	if (!key || !value)
		return mt_error_set(MT_EINVALID, "%s: missing parameter name or value", op->name);
	char *end;

	if (strcmp(key, "seed") == 0) {
		errno = 0;
		unsigned long long s = strtoull(value, &end, 0);
		if (errno || end == value || *end || value[0] == '-')
			return mt_error_set(MT_EINVALID,
					    "%s: parameter 'seed' is '%s', expected an unsigned 64-bit integer",
					    op->name, value);
		args->seed = (uint64_t)s;
		return 0;
	}
	if (op->kind == MT_OP_KIND_WEIGHTS &&
	    (strcmp(key, "layer") == 0 || strcmp(key, "layers") == 0))
		return set_layers(args, value, key);
	if (op->kind == MT_OP_KIND_GRAPH && (strcmp(key, "site") == 0 || strcmp(key, "layer") == 0)) {
		if (strlen(value) >= sizeof(args->site))
			return mt_error_set(MT_EINVALID, "%s: parameter '%s' is too long, expected a site name",
					    op->name, key);
		snprintf(args->site, sizeof(args->site), "%s", value);
		return 0;
	}

	const mt_op_param_spec *s = find_spec(op, key);
	if (!s) {
		char keys[256];
		known_keys(keys, sizeof(keys), op);
		return mt_error_set(MT_EINVALID, "%s: unknown parameter '%s', expected one of %s",
				    op->name, key, keys);
	}

	double num = 0;
	int choice = -1;
	switch (s->type) {
	case MT_PARAM_DOUBLE:
		errno = 0;
		num = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(num) ||
		    num < s->min || num > s->max || (s->min_exclusive && num == s->min))
			return mt_error_set(MT_EINVALID,
					    "%s: parameter '%s' is '%s', expected a number in %s%g, %g]",
					    op->name, key, value, s->min_exclusive ? "(" : "[",
					    s->min, s->max);
		break;
	case MT_PARAM_INT:
	case MT_PARAM_UINT64:
		errno = 0;
		num = (double)strtoll(value, &end, 10);
		if (errno || end == value || *end || num < s->min || num > s->max)
			return mt_error_set(MT_EINVALID,
					    "%s: parameter '%s' is '%s', expected an integer in [%g, %g]",
					    op->name, key, value, s->min, s->max);
		break;
	case MT_PARAM_ENUM:
		choice = choice_index(s->choices, value);
		if (choice < 0)
			return mt_error_set(MT_EINVALID, "%s: parameter '%s' is '%s', expected one of %s",
					    op->name, key, value, s->choices);
		break;
	case MT_PARAM_BIT:
		choice = choice_index("sign|exponent|mantissa|any", value);
		if (choice < 0) {
			errno = 0;
			long b = strtol(value, &end, 10);
			if (errno || end == value || *end || b < 0 || b > 31)
				return mt_error_set(MT_EINVALID,
						    "%s: parameter '%s' is '%s', expected one of %s",
						    op->name, key, value, s->choices);
			choice = 4;
			num = (double)b;
		}
		break;
	case MT_PARAM_STRING:
		break;
	}

	if (strcmp(key, "ratio") == 0)
		args->ratio = num;
	else if (strcmp(key, "sigma") == 0)
		args->sigma = num;
	else if (strcmp(key, "sigma_mode") == 0)
		args->sigma_mode = (mt_gf_sigma_mode)choice;
	else if (strcmp(key, "variant") == 0 && strcmp(op->name, "GF") == 0)
		args->gf_variant = (mt_gf_variant)choice;
	else if (strcmp(key, "variant") == 0)
		args->neb_variant = (mt_neb_variant)choice;
	else if (strcmp(key, "dtype") == 0) {
		if (args->wpr_mode != MT_WPR_DIGITS)
			args->wpr_mode = (mt_wpr_mode)choice;
	} else if (strcmp(key, "digits") == 0) {
		args->digits = (int)num;
		args->wpr_mode = MT_WPR_DIGITS;
	} else if (strcmp(key, "bits") == 0)
		args->bits = (int)num;
	else if (strcmp(key, "granularity") == 0)
		args->granularity = (mt_qnt_granularity)choice;
	else if (strcmp(key, "k") == 0)
		args->k = (int64_t)num;
	else if (strcmp(key, "bit") == 0) {
		args->bf_class = (mt_bf_class)choice;
		args->bf_index = choice == MT_BF_INDEX ? (int)num : 0;
	} else if (strcmp(key, "site") == 0)
		snprintf(args->site, sizeof(args->site), "%s", value);
	return 0;
}

int mt_op_args_from_config(mt_op_args *args, const mt_config_mutation *m,
			   const char *const *ignore)
{
	const mt_operator *op = mt_operator_find(m->op);
	if (!op) {
		char names[256] = "";
		size_t used = 0;
		for (size_t i = 0; i < N(registry); i++) {
			int n = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
					 registry[i].name);
			if (n > 0 && (size_t)n < sizeof(names) - used)
				used += (size_t)n;
		}
		memset(args, 0, sizeof(*args));
		return mt_error_set(MT_EINVALID, "line %d: operator '%s' is not known, expected one of %s",
				    m->line, m->op ? m->op : "(none)", names);
	}
	int rc = mt_op_args_init(args, op);
	if (rc < 0)
		return rc;
	int have_digits = 0, have_dtype = 0, have_layer = 0, have_layers = 0;
	for (size_t i = 0; i < m->nparams; i++) {
		const mt_config_param *p = &m->params[i];
		int skip = 0;
		for (size_t j = 0; ignore && ignore[j]; j++)
			if (strcmp(ignore[j], p->key) == 0)
				skip = 1;
		if (skip)
			continue;
		if ((rc = mt_op_args_set(args, p->key, p->value)) < 0) {
			mt_error_prefix("line %d: ", p->line ? p->line : m->line);
			goto cleanup;
		}
		have_digits |= strcmp(p->key, "digits") == 0;
		have_dtype |= strcmp(p->key, "dtype") == 0;
		have_layer |= strcmp(p->key, "layer") == 0;
		have_layers |= strcmp(p->key, "layers") == 0;
	}
	if (have_digits && have_dtype) {
		rc = mt_error_set(MT_EINVALID,
				  "line %d: %s: parameters 'digits' and 'dtype' both given, expected one of them",
				  m->line, op->name);
		goto cleanup;
	}
	if (have_layer && have_layers) {
		rc = mt_error_set(MT_EINVALID,
				  "line %d: %s: parameters 'layer' and 'layers' both given, expected one of them",
				  m->line, op->name);
		goto cleanup;
	}
	return 0;
cleanup:
	mt_op_args_dispose(args);
	return rc;
}

int mt_op_args_copy(mt_op_args *dst, const mt_op_args *src)
{
	*dst = *src;
	dst->layers = NULL;
	dst->nlayers = 0;
	if (src->nlayers == 0)
		return 0;
	dst->layers = calloc(src->nlayers, sizeof(char *));
	if (!dst->layers)
		return mt_error_set(MT_ENOMEM, "%s: out of memory", src->op ? src->op->name : "operator");
	for (size_t i = 0; i < src->nlayers; i++) {
		dst->layers[i] = strdup(src->layers[i]);
		if (!dst->layers[i]) {
			dst->nlayers = i;
			mt_op_args_dispose(dst);
			return mt_error_set(MT_ENOMEM, "%s: out of memory", src->op->name);
		}
	}
	dst->nlayers = src->nlayers;
	return 0;
}

/* ---- canonical text ---------------------------------------------------- */

static const char *choice_name(const char *choices, int idx, char *buf, size_t len)
{
	const char *p = choices;
	for (int i = 0; i < idx && p; i++) {
		p = strchr(p, '|');
		if (p)
			p++;
	}
	if (!p)
		return "?";
	const char *bar = strchr(p, '|');
	size_t n = bar ? (size_t)(bar - p) : strlen(p);
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

int mt_op_args_format(char **out, const mt_op_args *args)
{
	const mt_operator *op = args->op;
	if (!op)
		return mt_error_set(MT_EINVALID, "operator: arguments not initialised");
	mt_strbuf sb = { 0 };
	char tmp[64];
	mt_strbuf_printf(&sb, "%s", op->name);
	if (op->kind == MT_OP_KIND_GRAPH) {
		mt_strbuf_printf(&sb, " site=%s", args->site[0] ? args->site : "*");
	} else {
		mt_strbuf_printf(&sb, " layers=");
		if (args->nlayers == 0)
			mt_strbuf_printf(&sb, "all");
		for (size_t i = 0; i < args->nlayers; i++)
			mt_strbuf_printf(&sb, "%s%s", i ? "," : "", args->layers[i]);
	}
	for (size_t p = 0; p < op->nparams; p++) {
		const mt_op_param_spec *s = &op->params[p];
		const char *k = s->name;
		if (strcmp(k, "ratio") == 0) {
			mt_strbuf_printf(&sb, " ratio=");
			mt_strbuf_double(&sb, args->ratio);
		} else if (strcmp(k, "sigma") == 0) {
			mt_strbuf_printf(&sb, " sigma=");
			mt_strbuf_double(&sb, args->sigma);
		} else if (strcmp(k, "sigma_mode") == 0) {
			mt_strbuf_printf(&sb, " sigma_mode=%s", choice_name(s->choices, (int)args->sigma_mode, tmp, sizeof(tmp)));
		} else if (strcmp(k, "variant") == 0) {
			int v = strcmp(op->name, "GF") == 0 ? (int)args->gf_variant : (int)args->neb_variant;
			mt_strbuf_printf(&sb, " variant=%s", choice_name(s->choices, v, tmp, sizeof(tmp)));
		} else if (strcmp(k, "dtype") == 0) {
			if (args->wpr_mode != MT_WPR_DIGITS)
				mt_strbuf_printf(&sb, " dtype=%s", choice_name(s->choices, (int)args->wpr_mode, tmp, sizeof(tmp)));
		} else if (strcmp(k, "digits") == 0) {
			if (args->wpr_mode == MT_WPR_DIGITS)
				mt_strbuf_printf(&sb, " digits=%d", args->digits);
		} else if (strcmp(k, "bits") == 0) {
			mt_strbuf_printf(&sb, " bits=%d", args->bits);
		} else if (strcmp(k, "granularity") == 0) {
			mt_strbuf_printf(&sb, " granularity=%s", choice_name(s->choices, (int)args->granularity, tmp, sizeof(tmp)));
		} else if (strcmp(k, "k") == 0) {
			mt_strbuf_printf(&sb, " k=%lld", (long long)args->k);
		} else if (strcmp(k, "bit") == 0) {
			if (args->bf_class == MT_BF_INDEX)
				mt_strbuf_printf(&sb, " bit=%d", args->bf_index);
			else
				mt_strbuf_printf(&sb, " bit=%s", choice_name("sign|exponent|mantissa|any",
								     (int)args->bf_class, tmp, sizeof(tmp)));
		}
	}
	mt_strbuf_printf(&sb, " seed=%llu", (unsigned long long)args->seed);
	if (sb.failed) {
		free(sb.buf);
		return mt_error_set(MT_ENOMEM, "%s: out of memory formatting arguments", op->name);
	}
	*out = sb.buf;
	return 0;
}

/* ---- apply -------------------------------------------------------------- */

void mt_op_note(mt_op_result *res, const char *fmt, ...)
{
	size_t used = strlen(res->reason);
	if (used + 3 >= sizeof(res->reason))
		return;
	if (used) {
		memcpy(res->reason + used, "; ", 3);
		used += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->reason + used, sizeof(res->reason) - used, fmt, ap);
	va_end(ap);
}

int64_t mt_op_count(double ratio, int64_t n)
{
	if (n <= 0)
		return 0;
	int64_t k = (int64_t)llround(ratio * (double)n);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return k;
}

static const char *kind_name(mt_view_kind k)
{
	return k == MT_VIEW_LINEAR ? "linear" : k == MT_VIEW_CONV2D ? "conv2d" : "other";
}

int mt_op_targets(size_t **out, size_t *count, const mt_model_view *view,
		  const mt_op_args *args, int neurons)
{
	const char *opn = args->op->name;
	size_t *idx = calloc(view->nlayers ? view->nlayers : 1, sizeof(*idx));
	size_t n = 0;
	if (!idx)
		return mt_error_set(MT_ENOMEM, "%s: out of memory", opn);
	if (args->nlayers == 0) {
		for (size_t i = 0; i < view->nlayers; i++)
			if (view->layers[i].kind != MT_VIEW_OTHER)
				idx[n++] = i;
	} else {
		for (size_t i = 0; i < view->nlayers; i++) {
			int wanted = 0;
			for (size_t j = 0; j < args->nlayers; j++)
				if (strcmp(view->layers[i].name, args->layers[j]) == 0)
					wanted = 1;
			if (!wanted)
				continue;
			if (neurons && view->layers[i].kind == MT_VIEW_OTHER) {
				free(idx);
				return mt_error_set(MT_EINVALID,
						    "%s: layer '%s' is an %s layer (%d dimensions), expected a linear or conv2d layer",
						    opn, view->layers[i].name,
						    kind_name(view->layers[i].kind), view->layers[i].ndim);
			}
			idx[n++] = i;
		}
		for (size_t j = 0; j < args->nlayers; j++) {
			if (mt_model_view_find(view, args->layers[j]))
				continue;
			char names[200] = "";
			size_t used = 0;
			for (size_t i = 0; i < view->nlayers; i++) {
				int w = snprintf(names + used, sizeof(names) - used, "%s%s",
						 i ? ", " : "", view->layers[i].name);
				if (w < 0 || (size_t)w >= sizeof(names) - used)
					break;
				used += (size_t)w;
			}
			free(idx);
			return mt_error_set(MT_ENOTFOUND, "%s: layer '%s' not found, expected one of %s",
					    opn, args->layers[j], names);
		}
	}
	if (n == 0) {
		free(idx);
		return mt_error_set(MT_EINVALID, "%s: the model has no linear or conv2d layer to mutate",
				    opn);
	}
	*out = idx;
	*count = n;
	return 0;
}

int mt_operator_apply(mt_op_result *res, mt_model_view *view, const mt_op_args *args)
{
	memset(res, 0, sizeof(*res));
	if (!args->op)
		return mt_error_set(MT_EINVALID, "operator: arguments not initialised");
	if (args->op->kind != MT_OP_KIND_WEIGHTS || !args->op->apply)
		return mt_error_set(MT_EINVALID,
				    "%s: not a weight operator, expected GF, WS, NEB, NAI, NS, WPR, QNT, BF or PRN (graph operators go through mt_graph_mutate)",
				    args->op->name);
	int rc = args->op->apply(res, view, args);
	if (rc < 0)
		return rc;
	res->layers_changed = 0;
	for (size_t i = 0; i < view->nlayers; i++)
		if (view->layers[i].weight_changed || view->layers[i].bias_changed)
			res->layers_changed++;
	return 0;
}
