/* Shared by rnn.cpp (the recurrence, step by step) and rnn_site.cpp (the
 * forward split around a recurrent op); never included outside shim/. */
#ifndef MUTORCH_SHIM_RNN_INTERNAL_HPP
#define MUTORCH_SHIM_RNN_INTERNAL_HPP

#include <torch/script.h>

#include <vector>

#include "mutorch/shim_rnn.h"

namespace mtrnn {

enum class cell_kind { lstm, gru, rnn_tanh, rnn_relu };

/* The arguments of aten::lstm / gru / rnn_tanh / rnn_relu (the .input
 * overloads): hx is {h0, c0} for an LSTM, {h0} otherwise. */
struct rnn_args {
	cell_kind kind = cell_kind::lstm;
	at::Tensor input;
	std::vector<at::Tensor> hx;
	std::vector<at::Tensor> params;
	bool has_biases = true;
	int64_t num_layers = 1;
	double dropout = 0;
	bool train = false;
	bool bidirectional = false;
	bool batch_first = false;
};

/* The op's results: {output, h_n, c_n} for an LSTM, {output, h_n}
 * otherwise, computed step by step with ATen's CPU ops in ATen's order and
 * mutated by mut (NULL or MT_RNN_NONE: none). Throws on bad arguments (a
 * step past the sequence, training mode with dropout). */
std::vector<at::Tensor> run(const rnn_args &a, const mt_rnn_mutation *mut);

/* The time steps of a.input. */
int64_t steps(const rnn_args &a);

} // namespace mtrnn

#endif
