/*
 * The parameters of the RNN operators that depend on the layer (gate,
 * state, depth, direction, step), and DeepMutation++'s dynamic operators
 * made into a mutation the shim steps the layer under (mutorch/shim_rnn.h):
 * state clear (SC), state reset (SR), state Gaussian fuzzing (SGF), state
 * precision reduction (SPR), gate clear (GC), gate Gaussian fuzzing (GGF),
 * gate precision reduction (GPR). Exact semantics: docs/operators.md.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/rng.h"
#include "mutorch/shim_rnn.h"
#include "mutorch/view.h"
#include "internal.h"

/* Gate names in PyTorch's row order of weight_ih. */
static const char *const lstm_gates[] = {"input", "forget", "cell", "output"};
static const char *const gru_gates[] = {"reset", "update", "new"};

static int has_param(const mt_operator *op, const char *name)
{
	for (size_t p = 0; p < op->nparams; p++)
		if (strcmp(op->params[p].name, name) == 0)
			return 1;
	return 0;
}

unsigned mt_rnn_gate_mask(const mt_op_args *args, const mt_view_layer *l)
{
	const char *const *names = l->kind == MT_VIEW_LSTM ? lstm_gates :
				   l->kind == MT_VIEW_GRU ? gru_gates : NULL;
	if (!has_param(args->op, "gate") || strcmp(args->gate, "all") == 0)
		return (1u << l->gates) - 1;
	for (int g = 0; names && g < l->gates; g++)
		if (strcmp(names[g], args->gate) == 0)
			return 1u << g;
	if (!names)
		mt_error_set(MT_EINVALID,
			     "%s: layer '%s' is an rnn layer, which has no gates; expected gate: all",
			     args->op->name, l->name);
	else
		mt_error_set(MT_EINVALID,
			     "%s: layer '%s' is a%s %s layer, which has no gate '%s'; expected gate: all, %s",
			     args->op->name, l->name, l->kind == MT_VIEW_LSTM ? "n" : "",
			     mt_view_kind_name(l->kind), args->gate,
			     l->kind == MT_VIEW_LSTM ? "input, forget, cell, output" : "reset, update, new");
	return 0;
}

/* The states args->state names on l: MT_RNN_STATE_H / _C bits. */
static unsigned state_mask(const mt_op_args *args, const mt_view_layer *l)
{
	int lstm = l->kind == MT_VIEW_LSTM;
	if (strcmp(args->state, "hidden") == 0)
		return MT_RNN_STATE_H;
	if (strcmp(args->state, "cell") == 0)
		return lstm ? MT_RNN_STATE_C : 0;
	if (strcmp(args->state, "both") == 0)
		return lstm ? MT_RNN_STATE_H | MT_RNN_STATE_C : MT_RNN_STATE_H;
	return lstm ? MT_RNN_STATE_C : MT_RNN_STATE_H; /* auto */
}

int mt_rnn_check_params(const mt_op_args *args, const mt_view_layer *l)
{
	const mt_operator *op = args->op;
	const char *opn = op->name, *kind = mt_view_kind_name(l->kind);
	if (!mt_view_kind_is_recurrent(l->kind))
		return 0;
	if (has_param(op, "gate") && !mt_rnn_gate_mask(args, l))
		return MT_EINVALID;
	if (has_param(op, "state") && l->kind != MT_VIEW_LSTM &&
	    (strcmp(args->state, "cell") == 0))
		return mt_error_set(MT_EINVALID,
				    "%s: layer '%s' is a %s layer, which has no cell state; expected state: auto, hidden",
				    opn, l->name, kind);
	if (has_param(op, "depth") && args->depth >= l->depths)
		return mt_error_set(MT_EINVALID,
				    "%s: parameter 'depth' is %d but layer '%s' has %d stacked layer%s; expected all or 0..%d",
				    opn, args->depth, l->name, l->depths, l->depths == 1 ? "" : "s",
				    l->depths - 1);
	if (has_param(op, "direction") && args->direction == 1 && l->directions < 2)
		return mt_error_set(MT_EINVALID,
				    "%s: parameter 'direction' is reverse but layer '%s' is not bidirectional; expected all or forward",
				    opn, l->name);
	if (op->kind != MT_OP_KIND_DYNAMIC)
		return 0;
	if (args->step_first < 0)
		return mt_error_set(MT_EINVALID,
				    "%s: parameter 'step' is missing for layer '%s', expected a time step t or a range first-last",
				    opn, l->name);
	if (has_param(op, "from") && args->reset_from >= args->step_first)
		return mt_error_set(MT_EINVALID,
				    "%s: parameter 'from' is %lld, expected a step before the first chosen step %lld",
				    opn, (long long)args->reset_from, (long long)args->step_first);
	return 0;
}

static const struct {
	const char *op;
	mt_rnn_action action;
} actions[] = {
	{"SC", MT_RNN_STATE_CLEAR}, {"SR", MT_RNN_STATE_RESET}, {"SGF", MT_RNN_STATE_SCALE},
	{"SPR", MT_RNN_STATE_ROUND}, {"GC", MT_RNN_GATE_CLEAR}, {"GGF", MT_RNN_GATE_SCALE},
	{"GPR", MT_RNN_GATE_ROUND},
};

int mt_rnn_op_prepare(mt_rnn_mutation *mut, float **factors, const mt_op_args *args,
		      const mt_view_layer *l, int64_t seq_len)
{
	const mt_operator *op = args->op;
	int rc;

	memset(mut, 0, sizeof(*mut));
	*factors = NULL;
	if (!op || op->kind != MT_OP_KIND_DYNAMIC)
		return mt_error_set(MT_EINVALID, "%s: not a dynamic RNN operator, expected SC, SR, SGF, SPR, GC, GGF or GPR",
				    op ? op->name : "(none)");
	if (!mt_op_layer_ok(op, l))
		return mt_error_set(MT_EINVALID, "%s: layer '%s' is a %s layer, expected %s",
				    op->name, l->name, mt_view_kind_name(l->kind),
				    op->targets == MT_OP_TARGET_GATED ? "an LSTM or GRU layer"
								      : "an LSTM, GRU or RNN layer");
	if ((rc = mt_rnn_check_params(args, l)) < 0)
		return rc;
	if (args->step_last >= seq_len)
		return mt_error_set(MT_EINVALID,
				    "%s: step %lld is past the end of the input of layer '%s' (%lld time steps); expected a step or range within 0-%lld",
				    op->name, (long long)args->step_last, l->name, (long long)seq_len,
				    (long long)(seq_len - 1));
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].op, op->name) == 0)
			mut->action = actions[i].action;
	mut->first = args->step_first;
	mut->last = args->step_last;
	mut->reset_step = args->reset_from;
	mut->depth = args->depth;
	mut->direction = args->direction;
	if (has_param(op, "state"))
		mut->states = state_mask(args, l);
	if (has_param(op, "gate"))
		mut->gates = mt_rnn_gate_mask(args, l);
	if (mut->action == MT_RNN_STATE_ROUND)
		mut->scale = pow(10.0, args->digits);
	else if (mut->action == MT_RNN_GATE_ROUND)
		mut->scale = ldexp(1.0, args->bits);
	size_t n = mt_rnn_mutation_factor_count(mut, l->depths, l->directions);
	if (n) {
		float *f = malloc(n * sizeof(float));
		mt_rng rng;
		if (!f)
			return mt_error_set(MT_ENOMEM, "%s: out of memory", op->name);
		mt_rng_seed(&rng, args->seed);
		for (size_t i = 0; i < n; i++)
			f[i] = (float)(1.0 + args->sigma * mt_rng_normal(&rng));
		*factors = f;
		mut->factors = f;
		mut->nfactors = n;
	}
	return 0;
}
