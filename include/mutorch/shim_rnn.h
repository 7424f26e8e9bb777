/*
 * mutorch/shim_rnn.h - recurrent layers step by step, for DeepMutation++'s
 * dynamic RNN operators, and the class names of submodules (layer kinds).
 *
 * Part of the C API over libtorch (mutorch/shim.h: errors, threads,
 * tensors, modules); the same rules hold: negative codes and
 * mt_shim_last_error() on failure, *_free(NULL) is a no-op.
 *
 * A dynamic operator changes a recurrent layer's state or gates while it
 * runs, at chosen time steps; no weight changes, so the mutant is not a
 * module. mt_rnn_site splits the module's inlined forward around the
 * layer's recurrent op (aten::lstm, aten::gru, aten::rnn_tanh,
 * aten::rnn_relu): the part before it runs once per test set and its
 * values are cached; for each mutant the layer runs step by step here,
 * with the module's own weights and the mutation, then the rest of the
 * forward. Unmutated, the steps are the ops ATen's CPU kernels run, in
 * the same order, so outputs equal nn.LSTM / nn.GRU / nn.RNN bit for bit
 * (the tests check 1e-5).
 *
 * Time steps count each direction's updates: step t of the forward
 * direction reads input position t, step t of the reverse direction
 * position T-1-t. "The state entering step t" is the state after t
 * updates (t = 0: the initial state).
 */
#ifndef MUTORCH_SHIM_RNN_H
#define MUTORCH_SHIM_RNN_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- submodules ---------------------------------------------------------- */

/* The TorchScript class name of the submodule at path ("lstm",
 * "encoder.0"; "" the module itself), e.g.
 * "__torch__.torch.nn.modules.rnn.LSTM"; MT_ENOTFOUND when there is none. */
int mt_module_type_name(char *buf, size_t len, const mt_module *m, const char *path);
/* An int attribute of that submodule ("groups"); MT_ENOTFOUND when it has
 * none or it is not an int. */
int mt_module_int_attr(int64_t *out, const mt_module *m, const char *path,
		       const char *attr);

/* ---- the mutation -------------------------------------------------------- */

typedef enum {
	MT_RNN_NONE = 0,
	MT_RNN_STATE_CLEAR,  /* the state entering each chosen step becomes 0 */
	MT_RNN_STATE_RESET,  /* ... becomes the state that entered reset_step */
	MT_RNN_STATE_SCALE,  /* ... is multiplied by a factor */
	MT_RNN_STATE_ROUND,  /* ... becomes round(x * scale) / scale */
	MT_RNN_GATE_CLEAR,   /* the chosen gates' activations at the step are 0 */
	MT_RNN_GATE_SCALE,   /* ... are multiplied by a factor */
	MT_RNN_GATE_ROUND    /* ... become round(x * scale) / scale */
} mt_rnn_action;

#define MT_RNN_STATE_H 1u /* the hidden state h */
#define MT_RNN_STATE_C 2u /* the cell state c (LSTM) */

typedef struct {
	mt_rnn_action action;
	int64_t first, last;  /* the chosen steps, inclusive */
	int64_t reset_step;   /* STATE_RESET: earlier than first */
	int depth;            /* the stacked layer, -1: every one */
	int direction;        /* 0 forward, 1 reverse, -1: both */
	unsigned states;      /* STATE_*: MT_RNN_STATE_H | MT_RNN_STATE_C */
	unsigned gates;       /* GATE_*: bit g is gate g in PyTorch's order
			       * (LSTM i f g o, GRU r z n) */
	double scale;         /* *_ROUND */
	/* *_SCALE: one float32 factor per application, in the order: step
	 * ascending, then depth, then direction, then state (h, c) or gate
	 * ascending, over the chosen ones only. */
	const float *factors;
	size_t nfactors;
} mt_rnn_mutation;

/* How many factors a *_SCALE mutation of a layer with `depths` stacked
 * layers and `directions` directions needs (0 for other actions). Inline:
 * the operators (pure C) and the shim count the same way. */
static inline size_t mt_rnn_mutation_factor_count(const mt_rnn_mutation *mut, int depths,
						  int directions)
{
	unsigned bits;
	size_t n = 0;
	if (mut->action == MT_RNN_STATE_SCALE)
		bits = mut->states;
	else if (mut->action == MT_RNN_GATE_SCALE)
		bits = mut->gates;
	else
		return 0;
	for (; bits; bits >>= 1)
		n += bits & 1u;
	if (mut->last < mut->first)
		return 0;
	return (size_t)(mut->last - mut->first + 1) * (size_t)(mut->depth < 0 ? depths : 1) *
	       (size_t)(mut->direction < 0 ? directions : 1) * n;
}

/* ---- a recurrent layer inside a module ----------------------------------- */

typedef struct mt_rnn_site mt_rnn_site;

/* Split m's forward around the recurrent op of the submodule at path (an
 * nn.LSTM, nn.GRU or nn.RNN). The op must be called once, at the top level
 * of the inlined forward (not inside a branch or loop), on a padded
 * tensor (no PackedSequence); otherwise MT_EINVALID saying why. m is held
 * by pointer and must outlive the site. */
int mt_rnn_site_new(mt_rnn_site **out, mt_module *m, const char *path);
void mt_rnn_site_free(mt_rnn_site *s);
/* The time steps the layer sees for one input of shape (1, shape...),
 * found by running the part before it on zeros. */
int mt_rnn_site_seq_len(int64_t *steps, mt_rnn_site *s, const int64_t *shape, int ndim);
/* Run the part before the layer over inputs in batches of batch_size (<= 0:
 * one batch), module in eval mode, and keep what the rest needs. Calling
 * it again replaces the cache. */
int mt_rnn_site_cache(mt_rnn_site *s, const mt_tensor *inputs, int64_t batch_size);
/* Predictions (argmax over dim 1) for every cached input with the layer
 * stepped under mut (NULL or MT_RNN_NONE: unmutated). labels holds one
 * int64 per input; logits, when not NULL, count * width floats (width to
 * *nout). A step past the sequence is MT_EINVALID. */
int mt_rnn_site_predict(int64_t *labels, float *logits, int64_t *nout, mt_rnn_site *s,
			const mt_rnn_mutation *mut);

/* The recurrent submodule at path alone, stepped under mut (NULL: none) on
 * x (its input layout: batch_first or not, as the module says) from a zero
 * initial state: its output sequence and final h (and c for an LSTM; NULL
 * otherwise). For tests against nn.LSTM / nn.GRU. */
int mt_rnn_layer_forward(mt_tensor **output, mt_tensor **h_n, mt_tensor **c_n,
			 mt_module *m, const char *path, const mt_tensor *x,
			 const mt_rnn_mutation *mut);

#ifdef __cplusplus
}
#endif
#endif
