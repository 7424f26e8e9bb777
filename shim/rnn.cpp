/* Recurrent layers step by step (mutorch/shim_rnn.h): the recurrence of
 * aten::lstm / gru / rnn_tanh / rnn_relu written out with the ops ATen's CPU
 * kernels use, in their order (aten/src/ATen/native/RNN.cpp: the input
 * projection of the whole sequence first, then per step the hidden
 * projection added to it, the gates chunked and activated in place), so
 * that an unmutated run equals the op bit for bit; the mutations of the
 * dynamic RNN operators hook into it. Also the class names and int
 * attributes of submodules, which tell the operators the layer kinds.
 * The forward split around a recurrent op is in rnn_site.cpp. */
#include "shim_internal.hpp"
#include "rnn_internal.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/shim_rnn.h"

namespace {

/* The submodule at a dotted path ("" is m itself). */
bool submodule(torch::jit::Module *out, const torch::jit::Module &m, const char *path)
{
	torch::jit::Module cur = m;
	std::string p(path ? path : "");
	size_t start = 0;
	while (start < p.size()) {
		size_t dot = p.find('.', start);
		std::string name = p.substr(start, dot == std::string::npos ? std::string::npos
									    : dot - start);
		if (!cur.hasattr(name))
			return false;
		c10::IValue v = cur.attr(name);
		if (!v.isModule())
			return false;
		cur = v.toModule();
		if (dot == std::string::npos)
			break;
		start = dot + 1;
	}
	*out = cur;
	return true;
}

using mtrnn::cell_kind;

/* One direction of one depth: the parameters and the state. */
struct cell_params {
	at::Tensor w_ih, w_hh, b_ih, b_hh, w_hr;
	at::Tensor linear_ih(const at::Tensor &x) const { return at::linear(x, w_ih, b_ih); }
	at::Tensor linear_hh(const at::Tensor &h) const { return at::linear(h, w_hh, b_hh); }
	at::Tensor matmul_hr(const at::Tensor &h) const
	{
		return w_hr.defined() ? at::matmul(h, w_hr.t()) : h;
	}
};

/* Where the mutation applies: at step s of depth k, direction d. */
struct hook {
	const mt_rnn_mutation *m = nullptr;
	int depths = 1, directions = 1;

	bool active(int64_t s, int k, int d) const
	{
		return m && m->action != MT_RNN_NONE && s >= m->first && s <= m->last &&
		       (m->depth < 0 || m->depth == k) && (m->direction < 0 || m->direction == d);
	}
	bool is_state() const
	{
		return m->action >= MT_RNN_STATE_CLEAR && m->action <= MT_RNN_STATE_ROUND;
	}
	/* The factor of the si-th chosen state or gate at (s, k, d). */
	float factor(int64_t s, int k, int d, unsigned bits, int si) const
	{
		size_t ns = 0;
		for (unsigned b = bits; b; b >>= 1)
			ns += b & 1u;
		size_t nk = m->depth < 0 ? (size_t)depths : 1, nd = m->direction < 0 ? (size_t)directions : 1;
		size_t ki = m->depth < 0 ? (size_t)k : 0, di = m->direction < 0 ? (size_t)d : 0;
		size_t idx = (((size_t)(s - m->first) * nk + ki) * nd + di) * ns + (size_t)si;
		if (idx >= m->nfactors)
			throw std::runtime_error("rnn mutation: too few factors for the chosen steps");
		return m->factors[idx];
	}
	at::Tensor change(const at::Tensor &x, int64_t s, int k, int d, unsigned bits, int si) const
	{
		switch (m->action) {
		case MT_RNN_STATE_CLEAR:
		case MT_RNN_GATE_CLEAR:
			return at::zeros_like(x);
		case MT_RNN_STATE_SCALE:
		case MT_RNN_GATE_SCALE:
			return x.mul(factor(s, k, d, bits, si));
		case MT_RNN_STATE_ROUND:
		case MT_RNN_GATE_ROUND:
			return x.mul(m->scale).round_().div_(m->scale);
		default:
			return x;
		}
	}
};

/* Rank of bit `bit` among the set bits of `bits` below it. */
int rank_of(unsigned bits, unsigned bit)
{
	int r = 0;
	for (unsigned b = 1; b < bit; b <<= 1)
		r += (bits & b) != 0;
	return r;
}

/* One direction of one depth over the whole sequence. x: T x B x F;
 * returns the outputs in input order and leaves the final state in h, c. */
at::Tensor run_direction(cell_kind kind, const at::Tensor &x, const cell_params &p,
			 at::Tensor &h, at::Tensor &c, const hook &hk, int k, int d)
{
	int64_t T = x.size(0);
	std::vector<at::Tensor> steps = p.linear_ih(x).unbind(0);
	std::vector<at::Tensor> out((size_t)T);
	at::Tensor saved_h, saved_c;
	const mt_rnn_mutation *m = hk.m;
	for (int64_t s = 0; s < T; s++) {
		int64_t pos = d ? T - 1 - s : s;
		bool act = hk.active(s, k, d);
		if (m && m->action == MT_RNN_STATE_RESET && s == m->reset_step &&
		    (m->depth < 0 || m->depth == k) && (m->direction < 0 || m->direction == d)) {
			saved_h = h;
			saved_c = c;
		}
		if (act && hk.is_state()) {
			if (m->action == MT_RNN_STATE_RESET) {
				if (m->states & MT_RNN_STATE_H)
					h = saved_h;
				if ((m->states & MT_RNN_STATE_C) && c.defined())
					c = saved_c;
			} else {
				if (m->states & MT_RNN_STATE_H)
					h = hk.change(h, s, k, d, m->states, 0);
				if ((m->states & MT_RNN_STATE_C) && c.defined())
					c = hk.change(c, s, k, d, m->states,
						      rank_of(m->states, MT_RNN_STATE_C));
			}
		}
		bool gate_act = act && !hk.is_state();
		auto gate = [&](at::Tensor g, int index) {
			if (!gate_act || !(m->gates & (1u << index)))
				return g;
			return hk.change(g, s, k, d, m->gates, rank_of(m->gates, 1u << index));
		};
		const at::Tensor &in = steps[(size_t)pos];
		if (kind == cell_kind::lstm) {
			const auto gates = p.linear_hh(h).add_(in);
			auto chunked = gates.unsafe_chunk(4, 1);
			auto ingate = gate(chunked[0].sigmoid_(), 0);
			auto forgetgate = gate(chunked[1].sigmoid_(), 1);
			auto cellgate = gate(chunked[2].tanh_(), 2);
			auto outgate = gate(chunked[3].sigmoid_(), 3);
			auto cy = (forgetgate * c).add_(ingate * cellgate);
			auto hy = outgate * cy.tanh();
			h = p.matmul_hr(hy);
			c = cy;
		} else if (kind == cell_kind::gru) {
			const auto igates = in.unsafe_chunk(3, 1);
			const auto hgates = p.linear_hh(h).unsafe_chunk(3, 1);
			const auto reset_gate = gate(hgates[0].add_(igates[0]).sigmoid_(), 0);
			const auto input_gate = gate(hgates[1].add_(igates[1]).sigmoid_(), 1);
			const auto new_gate = gate(igates[2].add(hgates[2].mul_(reset_gate)).tanh_(), 2);
			h = (h - new_gate).mul_(input_gate).add_(new_gate);
		} else {
			auto pre = p.linear_hh(h).add_(in);
			h = kind == cell_kind::rnn_tanh ? at::tanh(pre) : at::relu(pre);
		}
		out[(size_t)pos] = h;
	}
	return at::stack(out, 0);
}

} // namespace

namespace mtrnn {

int64_t steps(const rnn_args &a)
{
	return a.input.size(a.batch_first ? 1 : 0);
}

std::vector<at::Tensor> run(const rnn_args &a, const mt_rnn_mutation *mut)
{
	bool lstm = a.kind == cell_kind::lstm;
	int D = a.bidirectional ? 2 : 1;
	int64_t L = a.num_layers;
	if (a.input.dim() != 3)
		throw std::runtime_error("recurrent layer: input has " + std::to_string(a.input.dim()) +
					 " dimensions, expected 3");
	if (a.train && a.dropout > 0 && L > 1)
		throw std::runtime_error("recurrent layer: in training mode with dropout, expected eval mode");
	if (a.hx.size() != (lstm ? 2u : 1u))
		throw std::runtime_error("recurrent layer: wrong number of initial states");
	bool proj = lstm && a.hx[0].size(2) != a.hx[1].size(2);
	size_t stride = 2 + (a.has_biases ? 2 : 0) + (proj ? 1 : 0);
	if (a.params.size() != stride * (size_t)(L * D))
		throw std::runtime_error("recurrent layer: " + std::to_string(a.params.size()) +
					 " parameters, expected " + std::to_string(stride * (size_t)(L * D)));
	int64_t T = steps(a);
	if (mut && mut->action != MT_RNN_NONE) {
		if (mut->first < 0 || mut->last < mut->first || mut->last >= T)
			throw std::runtime_error("step " + std::to_string(mut->last) +
						 " is past the end of the sequence (" + std::to_string(T) +
						 " time steps)");
		size_t need = mt_rnn_mutation_factor_count(mut, (int)L, D);
		if (mut->nfactors < need)
			throw std::runtime_error("rnn mutation: " + std::to_string(need) +
						 " factors needed, " + std::to_string(mut->nfactors) + " given");
	}
	hook hk;
	hk.m = mut;
	hk.depths = (int)L;
	hk.directions = D;

	at::Tensor layer_in = a.batch_first ? a.input.transpose(0, 1) : a.input;
	std::vector<at::Tensor> h_n, c_n;
	for (int64_t k = 0; k < L; k++) {
		std::vector<at::Tensor> outs;
		for (int d = 0; d < D; d++) {
			size_t i = (size_t)(k * D + d) * stride;
			cell_params p;
			p.w_ih = a.params[i];
			p.w_hh = a.params[i + 1];
			if (a.has_biases) {
				p.b_ih = a.params[i + 2];
				p.b_hh = a.params[i + 3];
			}
			if (proj)
				p.w_hr = a.params[i + stride - 1];
			at::Tensor h = a.hx[0][k * D + d], c;
			if (lstm)
				c = a.hx[1][k * D + d];
			outs.push_back(run_direction(a.kind, layer_in, p, h, c, hk, (int)k, d));
			h_n.push_back(h);
			if (lstm)
				c_n.push_back(c);
		}
		layer_in = D == 1 ? outs[0] : at::cat({outs[0], outs[1]}, outs[0].dim() - 1);
	}
	at::Tensor output = a.batch_first ? layer_in.transpose(0, 1) : layer_in;
	std::vector<at::Tensor> result{output, at::stack(h_n, 0)};
	if (lstm)
		result.push_back(at::stack(c_n, 0));
	return result;
}

} // namespace mtrnn

using mtshim::failf;
using mtshim::guard;

extern "C" {

int mt_module_type_name(char *buf, size_t len, const mt_module *m, const char *path)
{
	if (len)
		buf[0] = '\0';
	return guard("mt_module_type_name", [&] {
		torch::jit::Module sub;
		if (!submodule(&sub, m->module, path))
			return failf(MT_ENOTFOUND, "module has no submodule '%s'", path ? path : "");
		std::string name = sub.type()->name() ? sub.type()->name()->qualifiedName() : "";
		snprintf(buf, len, "%s", name.c_str());
		return 0;
	});
}

int mt_module_int_attr(int64_t *out, const mt_module *m, const char *path, const char *attr)
{
	*out = 0;
	return guard("mt_module_int_attr", [&] {
		torch::jit::Module sub;
		if (!submodule(&sub, m->module, path))
			return failf(MT_ENOTFOUND, "module has no submodule '%s'", path ? path : "");
		if (!sub.hasattr(attr) || !sub.attr(attr).isInt())
			return failf(MT_ENOTFOUND, "submodule '%s' has no int attribute '%s'",
				     path ? path : "", attr);
		*out = sub.attr(attr).toInt();
		return 0;
	});
}

int mt_rnn_layer_forward(mt_tensor **output, mt_tensor **h_n, mt_tensor **c_n,
			 mt_module *m, const char *path, const mt_tensor *x,
			 const mt_rnn_mutation *mut)
{
	*output = *h_n = NULL;
	if (c_n)
		*c_n = NULL;
	return guard("mt_rnn_layer_forward", [&] {
		torch::jit::Module sub;
		if (!submodule(&sub, m->module, path))
			return failf(MT_ENOTFOUND, "module has no submodule '%s'", path);
		if (!sub.hasattr("mode") || !sub.attr("mode").isString())
			return failf(MT_EINVALID, "'%s' is not an nn.LSTM, nn.GRU or nn.RNN (no 'mode')", path);
		std::string mode = sub.attr("mode").toStringRef();
		mtrnn::rnn_args a;
		a.kind = mode == "LSTM" ? cell_kind::lstm : mode == "GRU" ? cell_kind::gru :
			 mode == "RNN_RELU" ? cell_kind::rnn_relu : cell_kind::rnn_tanh;
		a.input = x->tensor;
		a.num_layers = sub.attr("num_layers").toInt();
		a.has_biases = sub.attr("bias").toBool();
		a.batch_first = sub.attr("batch_first").toBool();
		a.bidirectional = sub.attr("bidirectional").toBool();
		for (const c10::IValue &w : sub.attr("_flat_weights").toListRef())
			a.params.push_back(w.toTensor());
		int64_t H = sub.attr("hidden_size").toInt();
		int64_t P = sub.hasattr("proj_size") ? sub.attr("proj_size").toInt() : 0;
		int64_t B = a.input.size(a.batch_first ? 0 : 1);
		int64_t LD = a.num_layers * (a.bidirectional ? 2 : 1);
		c10::InferenceMode inference;
		a.hx.push_back(at::zeros({LD, B, P > 0 ? P : H}, a.input.options()));
		if (a.kind == cell_kind::lstm)
			a.hx.push_back(at::zeros({LD, B, H}, a.input.options()));
		std::vector<at::Tensor> r = mtrnn::run(a, mut);
		*output = mtshim::wrap_tensor(r[0]);
		*h_n = mtshim::wrap_tensor(r[1]);
		if (c_n && r.size() > 2)
			*c_n = mtshim::wrap_tensor(r[2]);
		return 0;
	});
}

} /* extern "C" */
