/*
 * The sites of the graph operators through the whole module tree (see
 * include/mutorch/shim_graph.h and docs/operators.md for the names).
 *
 * walk_tree reads the root's forward in order. A call of a submodule is a
 * site; when that submodule has submodules of its own (a block, a
 * Sequential) its forward is walked too, under the call's name, so every
 * call of a shared module object gets its own sites ("block" and
 * "block@2"). A module without submodules is a layer (Conv2d, ReLU, a
 * built layer): its call is the site, its own ops are not. Calls of the
 * module's other methods (ResNet's _forward_impl, SqueezeExcitation's
 * _scale) belong to the module that makes them. Nodes inside if/loop
 * bodies are not sites.
 *
 * probe_shapes inlines the same walk into one graph whose output is every
 * site's input and output, and runs it once on zeros: a shared module
 * called twice is probed twice, with the shapes of each call.
 */
#include "graph_internal.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "mutorch/shim_graph.h"

namespace mtgraph {

namespace {

using torch::jit::Block;

/* Names of element-wise / shape-preserving activations, with leading and
 * trailing underscores dropped (aten::relu_, aten::_softmax). */
const std::set<std::string> &activation_names()
{
	static const std::set<std::string> names = {
		"relu", "relu6", "elu", "selu", "celu", "leaky_relu", "gelu",
		"tanh", "sigmoid", "softmax", "log_softmax", "softmin",
		"softplus", "softsign", "silu", "mish", "hardswish",
		"hardsigmoid", "hardtanh", "logsigmoid", "log_sigmoid", "prelu",
		"rrelu", "tanhshrink", "hardshrink", "softshrink", "threshold",
	};
	return names;
}

std::string strip_underscores(std::string s)
{
	while (!s.empty() && s.front() == '_')
		s.erase(0, 1);
	while (!s.empty() && s.back() == '_')
		s.pop_back();
	return s;
}

bool is_tensor(const Value *v)
{
	return v->type()->kind() == c10::TypeKind::TensorType;
}

torch::jit::Function *called_function(const Node *n)
{
	auto fty = n->input(0)->type()->cast<c10::FunctionType>();
	return fty ? fty->function() : nullptr;
}

torch::jit::GraphFunction *method_function(const Node *call)
{
	auto cls = call->input(0)->type()->cast<c10::ClassType>();
	torch::jit::Function *fn = cls ? cls->findMethod(call->s(c10::attr::name)) : nullptr;
	return fn ? torch::jit::tryToGraphFunction(*fn) : nullptr;
}

/* The aten ops with a tensor result that a block runs, following calls
 * into functions and submodule methods (a few levels deep). */
void effective_ops(Block *block, std::vector<std::string> &ops, int depth, bool &opaque)
{
	for (Node *n : block->nodes()) {
		for (Block *b : n->blocks())
			effective_ops(b, ops, depth, opaque);
		torch::jit::GraphFunction *gf = nullptr;
		if (n->kind() == c10::prim::CallFunction) {
			torch::jit::Function *fn = called_function(n);
			gf = fn ? torch::jit::tryToGraphFunction(*fn) : nullptr;
		} else if (n->kind() == c10::prim::CallMethod) {
			gf = method_function(n);
		} else {
			if (n->kind().is_aten())
				for (const Value *o : n->outputs())
					if (is_tensor(o)) {
						ops.push_back(strip_underscores(n->kind().toUnqualString()));
						break;
					}
			continue;
		}
		if (!gf || depth <= 0) {
			opaque = true;
			continue;
		}
		effective_ops(gf->graph()->block(), ops, depth - 1, opaque);
	}
}

bool all_activations(Block *block)
{
	std::vector<std::string> ops;
	bool opaque = false;
	effective_ops(block, ops, 4, opaque);
	if (opaque || ops.empty())
		return false;
	for (const std::string &op : ops)
		if (!activation_names().count(op))
			return false;
	return true;
}

/* The attribute path from `self` to v through prim::GetAttr nodes
 * ("layer1", "0"); false when v is not reached that way. */
bool attr_path(const Value *v, const Value *self, std::vector<std::string> &path)
{
	path.clear();
	while (v != self) {
		const Node *n = v->node();
		if (n->kind() != c10::prim::GetAttr)
			return false;
		path.insert(path.begin(), n->s(c10::attr::name));
		v = n->input(0);
	}
	return true;
}

std::string join(const std::vector<std::string> &parts)
{
	std::string s;
	for (const std::string &p : parts)
		s += (s.empty() ? "" : ".") + p;
	return s;
}

/* forward, or a copy that a graph mutant specialised ("forward_mt",
 * "forward_mt2": graph.cpp), so that a mutant's sites are named alike. */
bool is_forward(const std::string &method)
{
	if (method == "forward")
		return true;
	if (method.compare(0, 10, "forward_mt") != 0)
		return false;
	for (size_t i = 10; i < method.size(); i++)
		if (method[i] < '0' || method[i] > '9')
			return false;
	return true;
}

bool has_submodules(const c10::ClassTypePtr &cls)
{
	for (size_t i = 0; i < cls->numAttributes(); i++) {
		auto sub = cls->getAttribute(i)->cast<c10::ClassType>();
		if (sub && sub->is_module())
			return true;
	}
	return false;
}

/* Call counts of one walked forward (a module's forward and the methods of
 * its own that it calls). */
struct Counters {
	std::map<std::string, int> module_calls, named_calls;
};

using value_env = std::unordered_map<const Value *, Value *>;

class Walker {
public:
	Walker(Tree &t, Graph *probe) : tree(t), out(probe) {}

	/* Walk graph g (a method of the module at `modpath`, named `prefix`
	 * in site names); env maps g's values to the probe graph's. */
	void walk(Graph &g, const std::string &prefix, const std::string &modpath, int depth,
		  Counters &counters, value_env &env, int guard)
	{
		if (guard > 64)
			throw std::runtime_error("the module tree is more than 64 calls deep");
		const Value *self = g.inputs().at(0);
		for (Node *n : g.block()->nodes()) {
			if (n->kind() == c10::prim::CallMethod && descend_call(n, self, prefix, modpath,
									       depth, counters, env, guard))
				continue;
			Site s;
			bool site = leaf_site(n, s, prefix, modpath, counters);
			clone(n, env);
			if (site) {
				s.caller = prefix;
				s.module = s.kind == MT_SITE_MODULE ? s.module : modpath;
				s.depth = depth;
				add_site(std::move(s), n, env);
			}
		}
	}

	std::vector<Value *> probe_values; /* per site: input, output */

private:
	Tree &tree;
	Graph *out;
	std::vector<Node *> chain;
	std::set<std::string> used;

	void clone(Node *n, value_env &env)
	{
		if (!out)
			return;
		Node *c = out->insertNode(out->createClone(n, [&](Value *v) -> Value * {
			auto it = env.find(v);
			if (it == env.end())
				throw std::runtime_error("graph walk: value %" + v->debugName() +
							 " is not defined");
			return it->second;
		}));
		for (size_t i = 0; i < n->outputs().size(); i++)
			env[n->output(i)] = c->output(i);
	}

	/* Record s at node n; its output is not known yet when the call is
	 * about to be walked into (pending: the caller fills it in). */
	void add_site(Site s, Node *n, value_env &env, bool pending = false)
	{
		s.node = n;
		s.calls = chain;
		while (used.count(s.name))
			s.name += "'"; /* a submodule literally named "relu@1" */
		used.insert(s.name);
		if (out) {
			probe_values.push_back(env.at(n->input(s.tensor_input)));
			probe_values.push_back(pending ? nullptr : env.at(n->output()));
		}
		tree.sites.push_back(std::move(s));
	}

	/* A prim::CallMethod: walk into the callee when it is a method of
	 * this module or the forward of a module with submodules (returns
	 * true: done); otherwise the caller treats it as a leaf call. */
	bool descend_call(Node *n, const Value *self, const std::string &prefix,
			  const std::string &modpath, int depth, Counters &counters,
			  value_env &env, int guard)
	{
		std::vector<std::string> path;
		torch::jit::GraphFunction *fn = method_function(n);
		if (!fn || !attr_path(n->input(0), self, path))
			return false;
		std::shared_ptr<Graph> callee = fn->graph();
		if (path.empty()) { /* self._forward_impl(x): same module, same names */
			enter(n, *callee, prefix, modpath, depth, counters, env, guard);
			return true;
		}
		auto cls = n->input(0)->type()->cast<c10::ClassType>();
		if (!cls || !has_submodules(cls))
			return false;
		const std::string attr = join(path);
		Site s;
		bool site = module_site(n, s);
		std::string callname = call_name(attr, counters);
		std::string name = prefix.empty() ? callname : prefix + "." + callname;
		std::string sub = modpath.empty() ? attr : modpath + "." + attr;
		size_t slot = probe_values.size();
		if (site) { /* before the sites inside it: forward order */
			s.name = name;
			s.module = sub;
			s.caller = prefix;
			s.depth = depth;
			add_site(std::move(s), n, env, true);
		}
		Counters inner;
		enter(n, *callee, name, sub, depth + 1, inner, env, guard);
		if (site && out)
			probe_values[slot + 1] = env.at(n->output());
		return true;
	}

	void enter(Node *n, Graph &callee, const std::string &prefix, const std::string &modpath,
		   int depth, Counters &counters, value_env &env, int guard)
	{
		value_env inner;
		if (out)
			for (size_t i = 0; i < callee.inputs().size(); i++)
				inner[callee.inputs()[i]] = env.at(n->input(i));
		chain.push_back(n);
		walk(callee, prefix, modpath, depth, counters, inner, guard + 1);
		chain.pop_back();
		if (out)
			for (size_t i = 0; i < n->outputs().size(); i++)
				env[n->output(i)] = inner.at(callee.outputs()[i]);
	}

	std::string call_name(const std::string &attr, Counters &counters)
	{
		int count = ++counters.module_calls[attr];
		return count == 1 ? attr : attr + "@" + std::to_string(count);
	}

	/* Is module call n (forward(self, x) -> tensor) a site? Fills s. */
	bool module_site(Node *n, Site &s)
	{
		if (!is_forward(n->s(c10::attr::name)) || n->inputs().size() != 2 ||
		    !is_tensor(n->input(1)) || n->outputs().size() != 1 || !is_tensor(n->output()))
			return false;
		s.kind = MT_SITE_MODULE;
		s.target = n->input(0)->type()->str();
		s.tensor_input = 1;
		torch::jit::GraphFunction *gf = method_function(n);
		s.is_activation = gf && all_activations(gf->graph()->block());
		return true;
	}

	/* A site that is not walked into: a layer's call, a function, an op. */
	bool leaf_site(Node *n, Site &s, const std::string &prefix, const std::string &modpath,
		       Counters &counters)
	{
		if (n->outputs().size() != 1 || !is_tensor(n->output()))
			return false;
		std::string base;
		if (n->kind() == c10::prim::CallMethod) {
			std::vector<std::string> path;
			const Value *self = n->owningGraph()->inputs().at(0);
			if (!attr_path(n->input(0), self, path) || path.empty() ||
			    !module_site(n, s))
				return false;
			std::string callname = call_name(join(path), counters);
			s.name = prefix.empty() ? callname : prefix + "." + callname;
			s.module = modpath.empty() ? join(path) : modpath + "." + join(path);
			return true;
		}
		if (n->kind() == c10::prim::CallFunction) {
			torch::jit::Function *fn = called_function(n);
			if (!fn || n->inputs().size() < 2 || !is_tensor(n->input(1)))
				return false;
			base = strip_underscores(fn->name());
			s.kind = MT_SITE_FUNCTION;
			s.target = fn->qualname().qualifiedName();
			s.tensor_input = 1;
			auto *gf = torch::jit::tryToGraphFunction(*fn);
			s.is_activation = activation_names().count(base) ||
					  (gf && all_activations(gf->graph()->block()));
		} else if (n->kind().is_aten()) {
			if (n->inputs().empty() || !is_tensor(n->input(0)))
				return false;
			base = strip_underscores(n->kind().toUnqualString());
			s.kind = MT_SITE_OP;
			s.target = n->kind().toQualString();
			s.tensor_input = 0;
			s.is_activation = activation_names().count(base) > 0;
		} else {
			return false;
		}
		std::string callname = base + "@" + std::to_string(++counters.named_calls[base]);
		s.name = prefix.empty() ? callname : prefix + ":" + callname;
		return true;
	}
};

/* Count the call paths that run each method graph (every block). */
void count_paths(Graph &g, std::unordered_map<const Graph *, int> &paths, int guard);

void count_block(Block *b, std::unordered_map<const Graph *, int> &paths, int guard)
{
	for (Node *n : b->nodes()) {
		for (Block *sub : n->blocks())
			count_block(sub, paths, guard);
		if (n->kind() != c10::prim::CallMethod)
			continue;
		torch::jit::GraphFunction *fn = method_function(n);
		if (!fn)
			continue;
		std::shared_ptr<Graph> callee = fn->graph();
		paths[callee.get()]++;
		count_paths(*callee, paths, guard + 1);
	}
}

void count_paths(Graph &g, std::unordered_map<const Graph *, int> &paths, int guard)
{
	if (guard > 64)
		throw std::runtime_error("the module tree is more than 64 calls deep");
	count_block(g.block(), paths, guard);
}

} // namespace

std::shared_ptr<Graph> forward_graph(torch::jit::Module &m)
{
	return torch::jit::toGraphFunction(m.get_method("forward").function()).graph();
}

std::shared_ptr<Graph> method_graph(const Node *call)
{
	torch::jit::GraphFunction *fn = method_function(call);
	if (!fn)
		throw std::runtime_error("internal: a call on the site's path has no graph");
	return fn->graph();
}

Tree walk_tree(torch::jit::Module &m)
{
	Tree t;
	std::shared_ptr<Graph> g = forward_graph(m);
	Walker w(t, nullptr);
	Counters counters;
	value_env env;
	w.walk(*g, "", "", 0, counters, env, 0);
	t.paths[g.get()] = 1;
	count_paths(*g, t.paths, 0);
	return t;
}

void probe_shapes(torch::jit::Module &m, Tree &t, const std::vector<int64_t> &input_shape)
{
	if (t.sites.empty())
		return;
	std::shared_ptr<Graph> g = forward_graph(m);
	auto probe = std::make_shared<Graph>();
	value_env env;
	for (size_t i = 0; i < g->inputs().size(); i++)
		env[g->inputs()[i]] = probe->addInput()->copyMetadata(g->inputs()[i]);
	Tree again;
	Walker w(again, probe.get());
	Counters counters;
	w.walk(*g, "", "", 0, counters, env, 0);
	if (again.sites.size() != t.sites.size())
		throw std::runtime_error("internal: the shape probe found other sites");
	probe->registerOutput(probe->insertNode(probe->createTuple(w.probe_values))->output());
	probe->lint();

	bool was_training = m.is_training();
	m.eval();
	torch::NoGradGuard no_grad;
	torch::jit::GraphFunction fn("mt_shape_probe", probe, nullptr,
				     torch::jit::ExecutorExecutionMode::SIMPLE);
	torch::jit::Stack stack{m._ivalue(), torch::zeros(input_shape)};
	try {
		fn.run(stack);
	} catch (...) {
		m.train(was_training);
		throw;
	}
	m.train(was_training);
	const auto &elements = stack.back().toTupleRef().elements();
	if (elements.size() != 2 * t.sites.size())
		throw std::runtime_error("internal: shape probe returned a tuple of another size");
	for (size_t i = 0; i < t.sites.size(); i++) {
		auto in = elements[2 * i].toTensor().sizes();
		auto out = elements[2 * i + 1].toTensor().sizes();
		t.sites[i].in_shape.assign(in.begin(), in.end());
		t.sites[i].out_shape.assign(out.begin(), out.end());
	}
}

} // namespace mtgraph
