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
 * [module._ivalue(), values...], the same executor a Method uses.
 *
 * This file finds the cut and builds the graphs (prefix, suffix, segment,
 * profile); partial_cache.cpp runs them: it fills the cache, measures the
 * work per node and predicts. */
#include "partial_internal.hpp"

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

#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/shim_partial.h"
#include "shim_internal.hpp"

namespace mtpartial {

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

/* The simple executor: the profiling one would profile the first run and
 * optimise the whole graph on the second, for every new cut; on the CPU
 * its passes change no numbers (the tests compare logits bit for bit). */
std::unique_ptr<GraphFunction> make_function(const char *name,
					     std::shared_ptr<Graph> g)
{
	g->lint();
	return std::make_unique<GraphFunction>(
		c10::QualifiedName(std::string("__torch__.mutorch.") + name), g, nullptr,
		torch::jit::ExecutorExecutionMode::SIMPLE);
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

} // namespace mtpartial

using namespace mtpartial;

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
		/* the prefix and the profile are made when first needed: a
		 * cut filled from an earlier one needs neither */
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
