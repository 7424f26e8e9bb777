/*
 * The operator registry: one table row per operator (name, level, kind,
 * parameters with defaults and ranges, apply function), lookup by name and
 * the printer behind `mutorch operators`. Parameter parsing from the
 * config's generic (key, value-string) lists is in args.c, applying a
 * weight operator in apply.c. Exact semantics: docs/operators.md.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/operators.h"
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
/* ---- recurrent layers (DeepMutation++): rnn_static.c, rnn_dynamic.c ---- */

#define GATE(what) \
	{ "gate", MT_PARAM_ENUM, "all", 0, 0, 0, \
	  "all|input|forget|cell|output|reset|update|new", \
	  "the gate " what ": LSTM input, forget, cell, output (weight_ih rows i, f, g, o), GRU reset, update, new (r, z, n), or all" }
#define SIGMA(def) \
	{ "sigma", MT_PARAM_DOUBLE, def, 0.0, 1e30, 1, NULL, \
	  "standard deviation of z; the factor is 1 + sigma*z" }
#define STEP \
	{ "step", MT_PARAM_STRING, NULL, 0, 0, 0, NULL, \
	  "required: time step t (0-based, each direction in its own order) or a range first-last" }
#define STATE(def, what) \
	{ "state", MT_PARAM_ENUM, def, 0, 0, 0, "auto|hidden|cell|both", what }
#define DEPTH_DIRECTION \
	{ "depth", MT_PARAM_STRING, "all", 0, 0, 0, NULL, \
	  "the stacked layer (0-based, the l of weight_ih_l<l>), or all" }, \
	{ "direction", MT_PARAM_ENUM, "all", 0, 0, 0, "all|forward|reverse", \
	  "the direction of a bidirectional layer, or all" }
#define STATE_AUTO STATE("auto", "the state changed: auto is c for an LSTM (as DeepMutation++), h for GRU and RNN")

static const mt_op_param_spec rwgf_params[] = {
	RATIO("0.01"), SIGMA("0.5"), GATE("whose weights are drawn from"),
};
static const mt_op_param_spec rwq_params[] = { RATIO("0.01"), GATE("whose weights are drawn from") };
static const mt_op_param_spec rwpr_params[] = {
	RATIO("0.01"),
	{ "digits", MT_PARAM_INT, "2", 0, 9, 0, NULL, "round to this many decimal digits" },
	GATE("whose weights are drawn from"),
};
static const mt_op_param_spec rggf_params[] = { SIGMA("0.5"), GATE("whose weights are scaled") };
static const mt_op_param_spec rgpr_params[] = {
	{ "bits", MT_PARAM_INT, "4", 0, 23, 0, NULL,
	  "fractional binary digits kept: w -> round(w * 2^bits) / 2^bits" },
	GATE("whose weights are rounded"),
};
static const mt_op_param_spec sc_params[] = { STEP, STATE_AUTO, DEPTH_DIRECTION };
static const mt_op_param_spec sr_params[] = {
	STEP,
	{ "from", MT_PARAM_INT, "0", 0, 1e12, 0, NULL,
	  "the earlier step whose entering state is restored (0: the initial state)" },
	STATE("both", "the state restored: auto is c for an LSTM, h for GRU and RNN"),
	DEPTH_DIRECTION,
};
static const mt_op_param_spec sgf_params[] = { STEP, SIGMA("0.5"), STATE_AUTO, DEPTH_DIRECTION };
static const mt_op_param_spec spr_params[] = {
	STEP,
	{ "digits", MT_PARAM_INT, "1", 0, 9, 0, NULL, "round the state to this many decimal digits" },
	STATE_AUTO, DEPTH_DIRECTION,
};
static const mt_op_param_spec gc_params[] = { STEP, GATE("cleared"), DEPTH_DIRECTION };
static const mt_op_param_spec ggf_params[] = { STEP, SIGMA("0.5"), GATE("fuzzed"), DEPTH_DIRECTION };
static const mt_op_param_spec gpr_params[] = {
	STEP,
	{ "bits", MT_PARAM_INT, "4", 0, 23, 0, NULL,
	  "fractional binary digits kept: g -> round(g * 2^bits) / 2^bits" },
	GATE("rounded"), DEPTH_DIRECTION,
};

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
#define WEIGHTS(name, desc, params, apply, targets, det) \
	{ name, MT_OP_LEVEL_MODEL, MT_OP_KIND_WEIGHTS, desc, params, N(params), apply, targets, det }
#define DYNAMIC(name, desc, params, targets, det) \
	{ name, MT_OP_LEVEL_MODEL, MT_OP_KIND_DYNAMIC, desc, params, N(params), NULL, targets, det }
#define SRC(name, desc, params) \
	{ name, MT_OP_LEVEL_SOURCE, MT_OP_KIND_SOURCE, desc, params, N(params), NULL, \
	  MT_OP_TARGET_ANY, 0 }
#define SRC0(name, desc) \
	{ name, MT_OP_LEVEL_SOURCE, MT_OP_KIND_SOURCE, desc, NULL, 0, NULL, MT_OP_TARGET_ANY, 0 }

static const mt_operator registry[] = {
	WEIGHTS("GF", "Gaussian fuzzing: a fraction of the weights get Gaussian noise",
		gf_params, mt_op_apply_gf, MT_OP_TARGET_ANY, 0),
	WEIGHTS("WS", "weight shuffling: permute the incoming weights of a fraction of neurons",
		ratio_params, mt_op_apply_ws, MT_OP_TARGET_NEURONS, 0),
	WEIGHTS("NEB", "neuron effect blocking: a fraction of neurons' outgoing weights become 0",
		neb_params, mt_op_apply_neb, MT_OP_TARGET_NEURONS, 0),
	WEIGHTS("NAI", "neuron activation inverse: negate incoming weights and bias of a fraction of neurons",
		ratio_params, mt_op_apply_nai, MT_OP_TARGET_NEURONS, 0),
	WEIGHTS("NS", "neuron switch: pairs of neurons of a layer swap incoming weights and biases",
		ratio_params, mt_op_apply_ns, MT_OP_TARGET_NEURONS, 0),
	{ "LD", MT_OP_LEVEL_MODEL, MT_OP_KIND_GRAPH,
	  "layer deactivation: remove a forward call whose input and output shapes match",
	  site_params, N(site_params), NULL, MT_OP_TARGET_ANY, 1 },
	{ "LAm", MT_OP_LEVEL_MODEL, MT_OP_KIND_GRAPH,
	  "layer addition: repeat a shape-preserving forward call right after itself",
	  site_params, N(site_params), NULL, MT_OP_TARGET_ANY, 1 },
	{ "AFRm", MT_OP_LEVEL_MODEL, MT_OP_KIND_GRAPH,
	  "activation function removal: an activation call becomes the identity",
	  site_params, N(site_params), NULL, MT_OP_TARGET_ANY, 1 },
	WEIGHTS("WPR", "weight precision reduction: weights and biases cast to fp16/bf16 and back, or rounded",
		wpr_params, mt_op_apply_wpr, MT_OP_TARGET_ANY, 1),
	WEIGHTS("QNT", "quantization: symmetric int8/int4 quantize-dequantize of the weights",
		qnt_params, mt_op_apply_qnt, MT_OP_TARGET_ANY, 1),
	WEIGHTS("BF", "bit flip: flip one bit in each of k random float32 weights",
		bf_params, mt_op_apply_bf, MT_OP_TARGET_ANY, 0),
	WEIGHTS("PRN", "magnitude pruning: the smallest-magnitude fraction of the weights become 0",
		prn_params, mt_op_apply_prn, MT_OP_TARGET_ANY, 1),
	/* recurrent layers, static (weights; DeepMutation++) */
	WEIGHTS("RWGF", "RNN weight Gaussian fuzzing: a fraction of a gate's (or all) weights w -> w*(1+sigma*z)",
		rwgf_params, mt_op_apply_rwgf, MT_OP_TARGET_RECURRENT, 0),
	WEIGHTS("RWQ", "RNN weight quantization: a fraction of a gate's (or all) weights become sign(w)",
		rwq_params, mt_op_apply_rwq, MT_OP_TARGET_RECURRENT, 0),
	WEIGHTS("RWPR", "RNN weight precision reduction: a fraction of a gate's (or all) weights rounded to decimal digits",
		rwpr_params, mt_op_apply_rwpr, MT_OP_TARGET_RECURRENT, 0),
	WEIGHTS("RGGF", "RNN gate Gaussian fuzzing: every weight of a gate scaled by one factor 1+sigma*z",
		rggf_params, mt_op_apply_rggf, MT_OP_TARGET_RECURRENT, 0),
	WEIGHTS("RGPR", "RNN gate precision reduction: every weight of a gate rounded to binary digits",
		rgpr_params, mt_op_apply_rgpr, MT_OP_TARGET_RECURRENT, 1),
	/* recurrent layers, dynamic (state and gates while the layer runs) */
	DYNAMIC("SC", "state clear: the state entering the chosen steps becomes 0",
		sc_params, MT_OP_TARGET_RECURRENT, 1),
	DYNAMIC("SR", "state reset: the state entering the chosen steps is the one that entered an earlier step",
		sr_params, MT_OP_TARGET_RECURRENT, 1),
	DYNAMIC("SGF", "state Gaussian fuzzing: the state entering the chosen steps is scaled by 1+sigma*z",
		sgf_params, MT_OP_TARGET_RECURRENT, 0),
	DYNAMIC("SPR", "state precision reduction: the state entering the chosen steps is rounded to decimal digits",
		spr_params, MT_OP_TARGET_RECURRENT, 1),
	DYNAMIC("GC", "gate clear: a gate's activations at the chosen steps become 0",
		gc_params, MT_OP_TARGET_GATED, 1),
	DYNAMIC("GGF", "gate Gaussian fuzzing: a gate's activations at the chosen steps are scaled by 1+sigma*z",
		ggf_params, MT_OP_TARGET_GATED, 0),
	DYNAMIC("GPR", "gate precision reduction: a gate's activations at the chosen steps rounded to binary digits",
		gpr_params, MT_OP_TARGET_GATED, 1),
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
	fprintf(out, "\nweight operators (GF WS NEB NAI NS WPR QNT BF PRN RWGF RWQ RWPR RGGF RGPR)\n"
		     "  also take layer=<name> (one layer) or layers=all|<name,...> (a global\n"
		     "  ratio; default every layer with neurons the operator takes: linear,\n"
		     "  convolutions, recurrent), and seed=<uint64>. R*: LSTM, GRU, RNN only.\n"
		     "dynamic operators (SC SR SGF SPR GC GGF GPR) change a recurrent layer's\n"
		     "  state or gates at time steps while it runs; layer=<name> (default every\n"
		     "  recurrent layer), seed=<uint64>. Layer kinds: docs/operators.md.\n"
		     "graph operators (LD LAm AFRm) take site=<name>: a forward call such as\n"
		     "  conv2 or relu@3 (default: every site that can take the operator).\n"
		     "source operators (DR ... VRM) take seed=<uint64> and the parameters\n"
		     "  above; layer is a 0-based position in model.architecture. Exact\n"
		     "  semantics: docs/operators.md, section \"Source level\".\n");
	return ferror(out) ? mt_error_set(MT_EIO, "operators: write failed") : 0;
}
