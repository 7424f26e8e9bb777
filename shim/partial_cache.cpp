/* Partial evaluation, the running side (see partial.cpp for the cut and
 * the graphs it builds): fill the cache of live values at the cut, from the
 * inputs or from an earlier cut's cache; measure the work per top-level node
 * on one sample for the suffix's share; predict by running only the suffix
 * on the cached batches. */
#include "partial_internal.hpp"

#include <torch/csrc/jit/api/function_impl.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/shim_partial.h"
#include "shim_internal.hpp"

using mtpartial::failf;
using mtpartial::forward_graph;
using mtpartial::is_conv;
using mtpartial::live_values;
using mtpartial::make_function;
using mtpartial::segment_graph;

namespace {

/* Multiply-adds per node for one sample (elementwise ops: one per output
 * element), from a profile run; leaves node_work as is on failure. */
void measure_work(mt_partial *p, const at::Tensor &sample)
{
	try {
		if (!p->profile)
			p->profile = make_function("partial_profile",
						   mtpartial::profile_graph(p->fwd, p->profile_slots));
		torch::jit::Stack stack{p->module->module._ivalue(), sample};
		p->profile->run(stack);
		auto values = stack.back().toTupleRef().elements();
		std::vector<double> work(p->fwd.nodes.size(), 0.0);
		for (size_t i = 0; i < work.size(); i++) {
			auto [out_slot, operand_slot] = p->profile_slots[i];
			if (out_slot < 0)
				continue;
			const at::Tensor &out = values[out_slot].toTensor();
			double per_output = 1.0;
			if (operand_slot >= 0) {
				const at::Tensor &op = values[operand_slot].toTensor();
				c10::Symbol k = p->fwd.nodes[i]->kind();
				if (is_conv(k) && op.dim() >= 1 && op.size(0) > 0)
					per_output = (double)op.numel() / (double)op.size(0);
				else if (op.dim() >= 1)
					per_output = (double)op.size(-1);
			}
			work[i] = per_output * (double)out.numel();
		}
		p->node_work = std::move(work);
		p->work_measured = true;
	} catch (...) {
		/* Only the report's share estimate depends on this. */
	}
}

void clear_cache(mt_partial *p)
{
	p->batches.clear();
	p->count = p->batch_size = p->num_outputs = 0;
	p->cache_bytes = 0;
}
at::Tensor run_suffix(const mt_partial *p, const std::vector<at::Tensor> &live)
{
	torch::jit::Stack stack;
	stack.reserve(live.size() + 1);
	stack.push_back(p->module->module._ivalue());
	for (const at::Tensor &t : live)
		stack.push_back(p->suffix_writes_live ? t.clone() : t);
	p->suffix->run(stack);
	c10::IValue r = stack.back();
	if (!r.isTensor())
		throw std::runtime_error("forward returned " + r.tagKind() +
					 ", expected a tensor");
	return r.toTensor();
}

} // namespace

extern "C" {

int mt_partial_cache(mt_partial *p, const mt_tensor *inputs,
		     int64_t batch_size, size_t memory_budget_bytes)
{
	return mtshim::guard("mt_partial_cache", [&] {
		clear_cache(p);
		torch::NoGradGuard no_grad;
		const at::Tensor &x = inputs->tensor;
		if (x.dim() < 1)
			return failf(MT_EINVALID, "partial cache: input is a scalar, expected a batch");
		int64_t n = x.size(0);
		if (n == 0)
			return failf(MT_EINVALID, "partial cache: no inputs, expected at least one");
		if (batch_size <= 0)
			batch_size = n;
		p->module->module.eval();
		if (!p->prefix)
			p->prefix = make_function("partial_prefix",
						  mtpartial::prefix_graph(p->fwd, p->cut, p->live));

		std::unordered_set<const void *> storages;
		size_t bytes = 0;
		std::vector<std::vector<at::Tensor>> batches;
		for (int64_t start = 0; start < n; start += batch_size) {
			int64_t len = std::min(batch_size, n - start);
			torch::jit::Stack stack{p->module->module._ivalue(),
						x.narrow(0, start, len)};
			p->prefix->run(stack);
			auto values = stack.back().toTupleRef().elements();
			std::vector<at::Tensor> live;
			for (size_t i = 0; i < values.size(); i++) {
				const c10::IValue &v = values[i];
				std::string name_s = p->live[i]->debugName();
				const char *name = name_s.c_str();
				if (!v.isTensor())
					return failf(MT_EINVALID,
						     "partial cache: value %%%s live at the cut is a %s, expected a tensor",
						     name, v.tagKind().c_str());
				const at::Tensor &t = v.toTensor();
				if (t.dim() < 1 || t.size(0) != len)
					return failf(MT_EINVALID,
						     "partial cache: value %%%s live at the cut has shape %s for a batch of %lld, expected the batch as dim 0",
						     name, c10::str(t.sizes()).c_str(), (long long)len);
				if (t.has_storage() &&
				    storages.insert(t.storage().unsafeGetStorageImpl()).second)
					bytes += t.storage().nbytes();
				live.push_back(t);
			}
			batches.push_back(std::move(live));
			if (memory_budget_bytes > 0 && bytes > memory_budget_bytes)
				return failf(MT_ENOMEM,
					     "partial cache: %zu bytes after %lld of %lld inputs exceed the memory budget of %zu bytes (about %.0f needed for all)",
					     bytes, (long long)(start + len), (long long)n,
					     memory_budget_bytes,
					     (double)bytes * (double)n / (double)(start + len));
		}
		p->batches = std::move(batches);
		p->count = n;
		p->batch_size = batch_size;
		p->cache_bytes = bytes;

		/* One suffix run learns the output width (and checks that the
		 * suffix runs at all); one sample measures the work per node. */
		at::Tensor out = run_suffix(p, p->batches[0]);
		int64_t len0 = std::min(batch_size, n);
		if (out.dim() != 2 || out.size(0) != len0) {
			std::string shape = c10::str(out.sizes());
			clear_cache(p);
			return failf(MT_EINVALID,
				     "partial cache: model output has shape %s for a batch of %lld, expected batch x classes",
				     shape.c_str(), (long long)len0);
		}
		p->num_outputs = out.size(1);
		measure_work(p, x.narrow(0, 0, 1));
		return 0;
	});
}

int mt_partial_cache_from(mt_partial *p, const mt_partial *earlier,
			  const mt_tensor *inputs, size_t memory_budget_bytes)
{
	return mtshim::guard("mt_partial_cache_from", [&] {
		if (earlier == p || earlier->module != p->module || earlier->cut > p->cut ||
		    earlier->count == 0)
			return failf(MT_EINVALID,
				     "partial cache: the earlier cut is not a filled cut of the same module before this one");
		clear_cache(p);
		const forward_graph &f = p->fwd;
		/* The earlier cut's live values, in this analysis of the graph
		 * (the same order: both come from live_values on the same
		 * forward). */
		std::vector<Value *> from_live = live_values(f, earlier->cut);
		if (from_live.size() != earlier->live.size())
			return failf(MT_EINVALID, "partial cache: the two cuts disagree on the live values");
		auto segment = make_function("partial_segment",
					     segment_graph(f, earlier->cut, from_live, p->cut, p->live));
		torch::NoGradGuard no_grad;
		p->module->module.eval();
		std::unordered_set<const void *> storages;
		size_t bytes = 0;
		std::vector<std::vector<at::Tensor>> batches;
		for (const std::vector<at::Tensor> &in : earlier->batches) {
			torch::jit::Stack stack;
			stack.push_back(p->module->module._ivalue());
			for (const at::Tensor &t : in)
				stack.push_back(t.clone()); /* the segment may write in place */
			segment->run(stack);
			auto values = stack.back().toTupleRef().elements();
			std::vector<at::Tensor> live;
			for (const c10::IValue &v : values) {
				if (!v.isTensor())
					return failf(MT_EINVALID,
						     "partial cache: a value live at the cut is a %s, expected a tensor",
						     v.tagKind().c_str());
				const at::Tensor &t = v.toTensor();
				if (t.has_storage() &&
				    storages.insert(t.storage().unsafeGetStorageImpl()).second)
					bytes += t.storage().nbytes();
				live.push_back(t);
			}
			batches.push_back(std::move(live));
			if (memory_budget_bytes > 0 && bytes > memory_budget_bytes)
				return failf(MT_ENOMEM,
					     "partial cache: %zu bytes exceed the memory budget of %zu bytes",
					     bytes, memory_budget_bytes);
		}
		p->batches = std::move(batches);
		p->count = earlier->count;
		p->batch_size = earlier->batch_size;
		p->num_outputs = earlier->num_outputs;
		p->cache_bytes = bytes;
		if (earlier->work_measured && earlier->node_work.size() == p->node_work.size()) {
			p->node_work = earlier->node_work;
			p->work_measured = true;
		} else if (inputs && inputs->tensor.dim() >= 1 && inputs->tensor.size(0) > 0) {
			measure_work(p, inputs->tensor.narrow(0, 0, 1));
		}
		return 0;
	});
}

size_t mt_partial_cut_index(const mt_partial *p)
{
	return p ? p->cut : 0;
}

size_t mt_partial_cache_bytes(const mt_partial *p)
{
	return p ? p->cache_bytes : 0;
}

int64_t mt_partial_count(const mt_partial *p)
{
	return p ? p->count : 0;
}

int64_t mt_partial_num_outputs(const mt_partial *p)
{
	return p ? p->num_outputs : 0;
}

size_t mt_partial_live_count(const mt_partial *p)
{
	return p && p->count > 0 ? p->live.size() : 0;
}

int mt_partial_predict(int64_t *labels, float *logits, const mt_partial *p,
		       int64_t batch_size)
{
	return mtshim::guard("mt_partial_predict", [&] {
		if (p->count == 0)
			return failf(MT_EINVALID,
				     "partial predict: nothing cached, expected mt_partial_cache first");
		if (batch_size != 0 && batch_size != p->batch_size)
			return failf(MT_EINVALID,
				     "partial predict: batch size %lld, expected 0 or the cache's %lld",
				     (long long)batch_size, (long long)p->batch_size);
		torch::NoGradGuard no_grad;
		p->module->module.eval();
		int64_t start = 0, width = p->num_outputs;
		for (const auto &live : p->batches) {
			int64_t len = live.empty() ? 0 : live[0].size(0);
			at::Tensor out = run_suffix(p, live);
			if (out.dim() != 2 || out.size(0) != len || out.size(1) != width)
				return failf(MT_EINVALID,
					     "partial predict: model output has shape %s for a batch of %lld, expected %lld x %lld",
					     c10::str(out.sizes()).c_str(), (long long)len,
					     (long long)len, (long long)width);
			at::Tensor pred = out.argmax(1).contiguous();
			memcpy(labels + start, pred.data_ptr<int64_t>(),
			       (size_t)len * sizeof(int64_t));
			if (logits) {
				at::Tensor fl = out.to(at::kFloat).contiguous();
				memcpy(logits + start * width, fl.data_ptr<float>(),
				       (size_t)(len * width) * sizeof(float));
			}
			start += len;
		}
		return 0;
	});
}

double mt_partial_suffix_fraction(const mt_partial *p)
{
	double total = 0, suffix = 0;
	for (size_t i = 0; i < p->node_work.size(); i++) {
		total += p->node_work[i];
		if (i >= p->cut)
			suffix += p->node_work[i];
	}
	return total > 0 ? suffix / total : 1.0;
}

} // extern "C"
