/* Partial evaluation: split a module's inlined forward before the first node
 * that reads a mutated parameter, cache the prefix's live values once per
 * test set, and run only the suffix for each weight mutant.
 *
 * The forward graph is copied and inlined, so submodule calls become aten
 * ops whose parameters come from prim::GetAttr chains rooted at `self`.
 * Top-level nodes are the unit of the cut (a top-level prim::If/Loop is
 * atomic). Attribute reads, constants and lists of them are not cached but
 * recomputed by the suffix, so it reads the module's current parameters.
 * The suffix and prefix graphs run through GraphFunction with the stack
 * [module._ivalue(), values...], the same executor a Method uses. */
#include "shim_internal.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::GraphFunction;
using torch::jit::Node;
using torch::jit::Value;

namespace {

/* The analysed forward: an inlined copy of the module's forward graph. */
struct forward_graph {
	std::shared_ptr<Graph> graph;
	std::vector<Node *> nodes;                 /* top level, in order */
	std::unordered_map<const Node *, size_t> index; /* top-level node -> i */
	/* "conv1.weight" for values read by GetAttr chains from self;
	 * "" for self itself. */
	std::unordered_map<const Value *, std::string> paths;
	/* Top-level nodes the suffix may recompute instead of caching. */
	std::unordered_set<const Node *> recomputable;
};

} // namespace

struct mt_partial {
	mt_module *module = nullptr;
	forward_graph fwd;
	size_t cut = 0;
	std::vector<Value *> live; /* values of fwd.graph live at the cut */
	std::unique_ptr<GraphFunction> prefix, suffix, profile;
	/* Does the suffix write (in place) into a live value? Then it gets a
	 * copy, so the cache stays what the prefix computed. */
	bool suffix_writes_live = false;
	/* Per-node share of work: 1 each until a cache measures MACs. */
	std::vector<double> node_work;
	/* profile slots: per top-level node, the tuple indices of its output
	 * and of the operand that sets its MACs per output (-1: none). */
	std::vector<std::pair<int, int>> profile_slots;

	std::vector<std::vector<at::Tensor>> batches;
	int64_t count = 0, batch_size = 0, num_outputs = 0;
	size_t cache_bytes = 0;
};

namespace {

int failf(int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

int failf(int code, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return mtshim::fail(code, buf);
}

bool is_recomputable_kind(const Node *n)
{
	static const c10::Symbol kinds[] = {
		c10::prim::Constant,      c10::prim::GetAttr,
		c10::prim::ListConstruct, c10::prim::TupleConstruct,
		c10::aten::__is__,        c10::aten::__isnot__,
		c10::prim::unchecked_cast,
	};
	for (c10::Symbol k : kinds)
		if (n->kind() == k)
			return n->blocks().empty();
	return false;
}

/* Attribute paths of every GetAttr chain from self, in nested blocks too. */
void collect_paths(forward_graph &f, Block *b)
{
	for (Node *n : b->nodes()) {
		if (n->kind() == c10::prim::GetAttr) {
			auto it = f.paths.find(n->input(0));
			if (it != f.paths.end()) {
				const std::string &base = it->second;
				std::string name = n->s(c10::attr::name);
				f.paths[n->output()] = base.empty() ? name : base + "." + name;
			}
		}
		for (Block *sub : n->blocks())
			collect_paths(f, sub);
	}
}

int analyse_forward(forward_graph &f, torch::jit::Module &module)
{
	const auto &method = module.get_method("forward");
	f.graph = torch::jit::toGraphFunction(method.function()).graph()->copy();
	torch::jit::Inline(*f.graph);
	Graph &g = *f.graph;
	if (g.inputs().size() != 2)
		return failf(MT_EINVALID,
			     "partial: forward takes %zu inputs, expected one tensor (forward(self, x))",
			     g.inputs().size() - 1);
	if (!g.inputs()[1]->type()->cast<c10::TensorType>())
		return failf(MT_EINVALID, "partial: forward's input is %s, expected a tensor",
			     g.inputs()[1]->type()->str().c_str());
	if (g.outputs().size() != 1)
		return failf(MT_EINVALID, "partial: forward has %zu outputs, expected one",
			     g.outputs().size());
	f.paths[g.inputs()[0]] = "";
	collect_paths(f, g.block());
	std::unordered_set<const Value *> recomputed{g.inputs()[0]};
	for (Node *n : g.nodes()) {
		f.index[n] = f.nodes.size();
		f.nodes.push_back(n);
		bool ok = is_recomputable_kind(n);
		for (const Value *v : n->inputs())
			ok = ok && recomputed.count(v);
		if (ok) {
			f.recomputable.insert(n);
			for (const Value *v : n->outputs())
				recomputed.insert(v);
		}
	}
	return 0;
}

/* Index of the top-level node that holds user (nodes.size() for the
 * graph's return). */
size_t top_index(const forward_graph &f, const Node *user)
{
	const Block *top = f.graph->block();
	while (user->owningBlock() != top)
		user = user->owningBlock()->owningNode();
	auto it = f.index.find(user);
	return it == f.index.end() ? f.nodes.size() : it->second;
}

/* Does value v (read by a node other than GetAttr) give access to one of
 * the targets? A module on the path to a target counts (a call that was
 * not inlined could read anything below it). */
bool path_hits(const forward_graph &f, const Value *v,
	       const std::unordered_set<std::string> &targets)
{
	auto it = f.paths.find(v);
	if (it == f.paths.end())
		return false;
	const std::string &p = it->second;
	if (targets.count(p))
		return true;
	for (const std::string &t : targets)
		if (p.empty() || (t.size() > p.size() && t.compare(0, p.size(), p) == 0 &&
				  t[p.size()] == '.'))
			return true;
	return false;
}

bool node_reads(const forward_graph &f, const Node *n,
		const std::unordered_set<std::string> &targets)
{
	if (n->kind() != c10::prim::GetAttr)
		for (const Value *v : n->inputs())
			if (path_hits(f, v, targets))
				return true;
	for (const Block *b : n->blocks()) {
		for (const Node *sub : b->nodes())
			if (node_reads(f, sub, targets))
				return true;
		if (node_reads(f, b->return_node(), targets))
			return true;
	}
	return false;
}

/* Values defined at top level before `cut` (or the input x) and used at or
 * after it, excluding what the suffix recomputes. */
std::vector<Value *> live_values(const forward_graph &f, size_t cut)
{
	std::vector<Value *> live;
	auto used_after = [&](const Value *v) {
		for (const torch::jit::Use &u : v->uses())
			if (top_index(f, u.user) >= cut)
				return true;
		return false;
	};
	Value *x = f.graph->inputs()[1];
	if (used_after(x))
		live.push_back(x);
	for (size_t i = 0; i < cut; i++) {
		if (f.recomputable.count(f.nodes[i]))
			continue;
		for (Value *v : f.nodes[i]->outputs())
			if (used_after(v))
				live.push_back(v);
	}
	return live;
}

bool all_tensors(const std::vector<Value *> &values)
{
	for (const Value *v : values)
		if (!v->type()->cast<c10::TensorType>())
			return false;
	return true;
}

using value_env = std::unordered_map<Value *, Value *>;

void clone_into(Graph &g, Node *n, value_env &env)
{
	Node *c = g.insertNode(g.createClone(n, [&](Value *v) -> Value * {
		auto it = env.find(v);
		if (it == env.end())
			throw std::runtime_error("partial: value %" + v->debugName() +
						 " is not defined in the split graph");
		return it->second;
	}));
	for (size_t i = 0; i < n->outputs().size(); i++)
		env[n->outputs()[i]] = c->outputs()[i];
}

Value *add_input(Graph &g, Value *like, value_env &env)
{
	Value *in = g.addInput()->copyMetadata(like);
	env[like] = in;
	return in;
}

std::unique_ptr<GraphFunction> make_function(const char *name,
					     std::shared_ptr<Graph> g)
{
	g->lint();
	return std::make_unique<GraphFunction>(
		c10::QualifiedName(std::string("__torch__.mutorch.") + name), g, nullptr);
}

/* Prefix: (self, x) -> (live values...) */
std::shared_ptr<Graph> prefix_graph(const forward_graph &f, size_t cut,
				    const std::vector<Value *> &live)
{
	auto g = std::make_shared<Graph>();
	value_env env;
	add_input(*g, f.graph->inputs()[0], env);
	add_input(*g, f.graph->inputs()[1], env);
	for (size_t i = 0; i < cut; i++)
		clone_into(*g, f.nodes[i], env);
	std::vector<Value *> outs;
	for (Value *v : live)
		outs.push_back(env.at(v));
	g->registerOutput(g->insertNode(g->createTuple(outs))->output());
	return g;
}

/* Values from outside that nodes of block b (nested blocks included) read. */
void outer_reads(Block *b, std::vector<Value *> &out)
{
	for (Node *n : b->nodes()) {
		for (Value *v : n->inputs())
			out.push_back(v);
		for (Block *sub : n->blocks())
			outer_reads(sub, out);
	}
	for (Value *v : b->return_node()->inputs())
		out.push_back(v);
}

/* Clone top-level nodes [cut, end) into g, preceded by the recomputable
 * nodes before the cut that they (or the values in `extra`) read. env maps
 * self and the live values at the cut already. */
void clone_range(Graph &g, value_env &env, const forward_graph &f, size_t cut, size_t end,
		 const std::vector<Value *> &extra)
{
	std::vector<Value *> reads(extra);
	for (size_t i = cut; i < end; i++) {
		for (Value *v : f.nodes[i]->inputs())
			reads.push_back(v);
		for (Block *b : f.nodes[i]->blocks())
			outer_reads(b, reads);
	}
	std::unordered_set<const Node *> needed;
	while (!reads.empty()) {
		Value *v = reads.back();
		reads.pop_back();
		Node *n = v->node();
		if (!f.recomputable.count(n) || needed.count(n))
			continue;
		auto it = f.index.find(n);
		if (it == f.index.end() || it->second >= cut)
			continue;
		needed.insert(n);
		for (Value *in : n->inputs())
			reads.push_back(in);
	}
	for (size_t i = 0; i < cut; i++)
		if (needed.count(f.nodes[i]))
			clone_into(g, f.nodes[i], env);
	for (size_t i = cut; i < end; i++)
		clone_into(g, f.nodes[i], env);
}

/* Suffix: (self, live values...) -> output, with the recomputable nodes
 * before the cut that it needs cloned in front. */
std::shared_ptr<Graph> suffix_graph(const forward_graph &f, size_t cut,
				    const std::vector<Value *> &live)
{
	auto g = std::make_shared<Graph>();
	value_env env;
	add_input(*g, f.graph->inputs()[0], env);
	for (Value *v : live)
		add_input(*g, v, env);
	std::vector<Value *> outs(f.graph->outputs().begin(), f.graph->outputs().end());
	clone_range(*g, env, f, cut, f.nodes.size(), outs);
	g->registerOutput(env.at(f.graph->outputs()[0]));
	return g;
}

/* Segment: (self, live values at `cut`...) -> (live values at `end`...):
 * builds a later cut's cache from an earlier one's. */
std::shared_ptr<Graph> segment_graph(const forward_graph &f, size_t cut,
				     const std::vector<Value *> &live, size_t end,
				     const std::vector<Value *> &end_live)
{
	auto g = std::make_shared<Graph>();
	value_env env;
	add_input(*g, f.graph->inputs()[0], env);
	for (Value *v : live)
		add_input(*g, v, env);
	clone_range(*g, env, f, cut, end, end_live);
	std::vector<Value *> outs;
	for (Value *v : end_live)
		outs.push_back(env.at(v));
	g->registerOutput(g->insertNode(g->createTuple(outs))->output());
	return g;
}

bool is_conv(c10::Symbol k)
{
	return k == c10::aten::conv1d || k == c10::aten::conv2d || k == c10::aten::conv3d ||
	       k == c10::aten::_convolution || k == c10::aten::convolution;
}

/* Profile: (self, x) -> a tuple of every top-level tensor result and the
 * operand that fixes the multiply-adds per output element, so one run on
 * one sample measures where the forward's work lies. */
std::shared_ptr<Graph> profile_graph(const forward_graph &f,
				     std::vector<std::pair<int, int>> &slots)
{
	auto g = std::make_shared<Graph>();
	value_env env;
	add_input(*g, f.graph->inputs()[0], env);
	add_input(*g, f.graph->inputs()[1], env);
	std::vector<Value *> outs;
	slots.assign(f.nodes.size(), {-1, -1});
	for (size_t i = 0; i < f.nodes.size(); i++) {
		Node *n = f.nodes[i];
		clone_into(*g, n, env);
		if (f.recomputable.count(n) || n->outputs().empty() ||
		    !n->output(0)->type()->cast<c10::TensorType>())
			continue;
		slots[i].first = (int)outs.size();
		outs.push_back(env.at(n->output(0)));
		c10::Symbol k = n->kind();
		int operand = -1;
		if (is_conv(k) || k == c10::aten::linear || k == c10::aten::addmm)
			operand = 1; /* weight (conv, linear) or mat1 (addmm) */
		else if (k == c10::aten::matmul || k == c10::aten::mm || k == c10::aten::bmm)
			operand = 0;
		if (operand >= 0 && (size_t)operand < n->inputs().size() &&
		    n->input(operand)->type()->cast<c10::TensorType>()) {
			slots[i].second = (int)outs.size();
			outs.push_back(env.at(n->input(operand)));
		}
	}
	g->registerOutput(g->insertNode(g->createTuple(outs))->output());
	return g;
}

/* Multiply-adds per node for one sample (elementwise ops: one per output
 * element), from a profile run; leaves node_work as is on failure. */
void measure_work(mt_partial *p, const at::Tensor &sample)
{
	try {
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

/* Names of all parameters and buffers of m. */
std::vector<std::pair<std::string, at::Tensor>> named_tensors(torch::jit::Module &m)
{
	std::vector<std::pair<std::string, at::Tensor>> out;
	for (const auto &p : m.named_parameters(true))
		out.emplace_back(p.name, p.value);
	for (const auto &b : m.named_buffers(true))
		out.emplace_back(b.name, b.value);
	return out;
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

int mt_partial_new(mt_partial **out, mt_module *m,
		   const char *const *param_names, size_t nparams)
{
	*out = NULL;
	return mtshim::guard("mt_partial_new", [&] {
		auto p = std::make_unique<mt_partial>();
		p->module = m;
		int error = analyse_forward(p->fwd, m->module);
		if (error < 0)
			return error;

		/* Targets: the named tensors and every other name for the same
		 * storage (a tied weight is read through either path). */
		auto tensors = named_tensors(m->module);
		std::unordered_set<std::string> targets;
		for (size_t i = 0; i < nparams; i++) {
			const char *name = param_names[i];
			auto hit = std::find_if(tensors.begin(), tensors.end(),
						[&](const auto &t) { return t.first == name; });
			if (hit == tensors.end())
				return failf(MT_ENOTFOUND,
					     "partial: the module has no parameter or buffer '%s'",
					     name ? name : "(null)");
			for (const auto &t : tensors)
				if (t.second.defined() && hit->second.defined() &&
				    t.second.storage().is_alias_of(hit->second.storage()))
					targets.insert(t.first);
		}

		const forward_graph &f = p->fwd;
		size_t cut = 0;
		if (!targets.empty()) {
			cut = f.nodes.size();
			for (size_t i = 0; i < f.nodes.size(); i++)
				if (!f.recomputable.count(f.nodes[i]) &&
				    node_reads(f, f.nodes[i], targets)) {
					cut = i;
					break;
				}
		}
		/* Any earlier cut is as correct: move back until only tensors
		 * (which have a batch dimension to cache) are live. */
		std::vector<Value *> live = live_values(f, cut);
		while (cut > 0 && !all_tensors(live))
			live = live_values(f, --cut);
		if (!all_tensors(live))
			return failf(MT_EINVALID,
				     "partial: a value live at the start of forward is not a tensor");
		p->cut = cut;
		p->live = live;

		auto suffix = suffix_graph(f, cut, live);
		torch::jit::AliasDb alias(suffix);
		for (size_t i = 1; i < suffix->inputs().size(); i++)
			if (alias.hasWriters(suffix->inputs()[i]))
				p->suffix_writes_live = true;
		p->suffix = make_function("partial_suffix", suffix);
		p->prefix = make_function("partial_prefix", prefix_graph(f, cut, live));
		p->profile = make_function("partial_profile",
					   profile_graph(f, p->profile_slots));
		p->node_work.assign(f.nodes.size(), 0.0);
		for (size_t i = 0; i < f.nodes.size(); i++)
			if (!f.recomputable.count(f.nodes[i]))
				p->node_work[i] = 1.0;
		*out = p.release();
		return 0;
	});
}

void mt_partial_free(mt_partial *p)
{
	delete p;
}

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
		if (inputs && inputs->tensor.dim() >= 1 && inputs->tensor.size(0) > 0)
			measure_work(p, inputs->tensor.narrow(0, 0, 1));
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

int mt_module_param_use_order(char ***names, size_t *count, mt_module *m)
{
	*names = NULL;
	*count = 0;
	return mtshim::guard("mt_module_param_use_order", [&] {
		forward_graph f;
		int error = analyse_forward(f, m->module);
		if (error < 0)
			return error;
		auto tensors = named_tensors(m->module);
		std::vector<std::string> order;
		std::unordered_set<std::string> seen;
		auto visit_value = [&](const Value *v) {
			auto it = f.paths.find(v);
			if (it == f.paths.end())
				return;
			const std::string &path = it->second;
			/* The tensor itself, or everything below a module
			 * that is passed on whole. */
			for (const auto &t : tensors) {
				const std::string &name = t.first;
				bool hit = name == path ||
					   path.empty() ||
					   (name.size() > path.size() &&
					    name.compare(0, path.size(), path) == 0 &&
					    name[path.size()] == '.');
				if (hit && seen.insert(name).second)
					order.push_back(name);
			}
		};
		std::function<void(const Block *)> visit_block = [&](const Block *b) {
			for (const Node *n : b->nodes()) {
				if (n->kind() != c10::prim::GetAttr)
					for (const Value *v : n->inputs())
						visit_value(v);
				for (const Block *sub : n->blocks())
					visit_block(sub);
			}
			for (const Value *v : b->return_node()->inputs())
				visit_value(v);
		};
		visit_block(f.graph->block());

		char **out = (char **)calloc(order.empty() ? 1 : order.size(), sizeof(char *));
		if (!out)
			throw std::bad_alloc();
		for (size_t i = 0; i < order.size(); i++) {
			out[i] = strdup(order[i].c_str());
			if (!out[i]) {
				mt_module_param_use_order_free(out, i);
				throw std::bad_alloc();
			}
		}
		*names = out;
		*count = order.size();
		return 0;
	});
}

void mt_module_param_use_order_free(char **names, size_t count)
{
	if (!names)
		return;
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

} // extern "C"
