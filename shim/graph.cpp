/*
 * Structural model-level mutation operators on the TorchScript forward
 * graph: LD (remove a shape-preserving call), LAm (repeat a shape-preserving
 * call), AFRm (an activation call becomes the identity). See
 * include/mutorch/shim_graph.h and docs/operators.md.
 *
 * How an edit is made safely in libtorch 1.13:
 *  - Module::clone() gives the copy its own class types and its own copy of
 *    every method graph, so editing the clone's forward graph leaves the
 *    source untouched; the clone has never run, so no executor holds a plan
 *    of the old graph.
 *  - Shapes come from running the clone (eval mode, no grad) through a
 *    throw-away GraphFunction over a copy of forward whose output is a tuple
 *    of every site's input and output.
 *  - The edit is replaceAllUsesWith + destroy (LD, AFRm) or createClone +
 *    insertAfter (LAm), then dead-code elimination of the dangling GetAttr.
 *  - The edited module is saved to memory and loaded again: the result is
 *    exactly what PyTorch will load, with a fresh executor, and a graph that
 *    cannot be printed fails here instead of in mt_module_save.
 */
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/script.h>

#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/shim_graph.h"
#include "shim_internal.hpp"

using mtshim::fail;
using mtshim::guard;
using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

namespace {

struct Site {
	Node *node = nullptr;
	std::string name;
	mt_site_kind kind = MT_SITE_OP;
	std::string target;
	size_t tensor_input = 0; /* which input carries the tensor */
	bool is_activation = false;
	std::vector<int64_t> in_shape, out_shape;
};

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

/* The aten ops with a tensor result that a block runs, following calls
 * into functions and submodule methods (a few levels deep). */
void effective_ops(Block *block, std::vector<std::string> &ops, int depth, bool &opaque)
{
	for (Node *n : block->nodes()) {
		for (Block *b : n->blocks())
			effective_ops(b, ops, depth, opaque);
		if (n->kind() == c10::prim::CallFunction) {
			torch::jit::Function *fn = called_function(n);
			auto *gf = fn ? torch::jit::tryToGraphFunction(*fn) : nullptr;
			if (!gf || depth <= 0) {
				opaque = true;
				continue;
			}
			effective_ops(gf->graph()->block(), ops, depth - 1, opaque);
		} else if (n->kind() == c10::prim::CallMethod) {
			auto cls = n->input(0)->type()->cast<c10::ClassType>();
			torch::jit::Function *fn =
				cls ? cls->findMethod(n->s(c10::attr::name)) : nullptr;
			auto *gf = fn ? torch::jit::tryToGraphFunction(*fn) : nullptr;
			if (!gf || depth <= 0) {
				opaque = true;
				continue;
			}
			effective_ops(gf->graph()->block(), ops, depth - 1, opaque);
		} else if (n->kind().is_aten()) {
			for (const Value *o : n->outputs())
				if (is_tensor(o)) {
					ops.push_back(strip_underscores(n->kind().toUnqualString()));
					break;
				}
		}
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

/* The sites of a forward graph's top-level block, in order. */
std::vector<Site> find_sites(Graph &g)
{
	std::vector<Site> sites;
	std::map<std::string, int> module_calls, named_calls;
	std::set<std::string> used;
	Value *self = g.inputs().at(0);
	for (Node *n : g.block()->nodes()) {
		Site s;
		s.node = n;
		std::string base;
		if (n->outputs().size() != 1 || !is_tensor(n->output()))
			continue;
		if (n->kind() == c10::prim::CallMethod) {
			Node *getattr = n->input(0)->node();
			if (n->s(c10::attr::name) != "forward" ||
			    getattr->kind() != c10::prim::GetAttr || getattr->input(0) != self ||
			    n->inputs().size() != 2 || !is_tensor(n->input(1)))
				continue;
			base = getattr->s(c10::attr::name);
			s.kind = MT_SITE_MODULE;
			s.target = n->input(0)->type()->str();
			s.tensor_input = 1;
			int count = ++module_calls[base];
			s.name = count == 1 ? base : base + "@" + std::to_string(count);
			auto cls = n->input(0)->type()->cast<c10::ClassType>();
			torch::jit::Function *fn = cls ? cls->findMethod("forward") : nullptr;
			auto *gf = fn ? torch::jit::tryToGraphFunction(*fn) : nullptr;
			s.is_activation = gf && all_activations(gf->graph()->block());
		} else if (n->kind() == c10::prim::CallFunction) {
			torch::jit::Function *fn = called_function(n);
			if (!fn || n->inputs().size() < 2 || !is_tensor(n->input(1)))
				continue;
			base = strip_underscores(fn->name());
			s.kind = MT_SITE_FUNCTION;
			s.target = fn->qualname().qualifiedName();
			s.tensor_input = 1;
			s.name = base + "@" + std::to_string(++named_calls[base]);
			auto *gf = torch::jit::tryToGraphFunction(*fn);
			s.is_activation = activation_names().count(base) ||
					  (gf && all_activations(gf->graph()->block()));
		} else if (n->kind().is_aten()) {
			if (n->inputs().empty() || !is_tensor(n->input(0)))
				continue;
			base = strip_underscores(n->kind().toUnqualString());
			s.kind = MT_SITE_OP;
			s.target = n->kind().toQualString();
			s.tensor_input = 0;
			s.name = base + "@" + std::to_string(++named_calls[base]);
			s.is_activation = activation_names().count(base) > 0;
		} else {
			continue;
		}
		/* a submodule literally named "relu" could collide with the
		 * first functional relu's count: keep names unique */
		while (used.count(s.name))
			s.name += "'";
		used.insert(s.name);
		sites.push_back(std::move(s));
	}
	return sites;
}

std::shared_ptr<Graph> forward_graph(torch::jit::Module &m)
{
	return torch::jit::toGraphFunction(m.get_method("forward").function()).graph();
}

/* Fill every site's input and output shape by running `m` (which the
 * caller owns and may change: a clone) on zeros of input_shape. */
void probe_shapes(torch::jit::Module &m, std::vector<Site> &sites,
		  const std::vector<int64_t> &input_shape)
{
	auto g = forward_graph(m)->copy();
	std::vector<Site> copy_sites = find_sites(*g);
	if (copy_sites.size() != sites.size())
		throw std::runtime_error("internal: the graph copy has other sites");
	if (sites.empty())
		return;
	std::vector<Value *> values;
	for (const Site &s : copy_sites) {
		values.push_back(s.node->input(s.tensor_input));
		values.push_back(s.node->output());
	}
	Node *tuple = g->createTuple(values);
	tuple->insertBefore(g->return_node());
	g->eraseOutput(0);
	g->registerOutput(tuple->output());

	bool was_training = m.is_training();
	m.eval();
	torch::NoGradGuard no_grad;
	torch::jit::GraphFunction probe("mt_shape_probe", g, nullptr);
	torch::jit::Stack stack{m._ivalue(), torch::zeros(input_shape)};
	probe.run(stack);
	m.train(was_training);
	const auto &elements = stack.back().toTupleRef().elements();
	if (elements.size() != 2 * sites.size())
		throw std::runtime_error("internal: shape probe returned a tuple of another size");
	for (size_t i = 0; i < sites.size(); i++) {
		auto in = elements[2 * i].toTensor().sizes();
		auto out = elements[2 * i + 1].toTensor().sizes();
		sites[i].in_shape.assign(in.begin(), in.end());
		sites[i].out_shape.assign(out.begin(), out.end());
	}
}

std::string shape_text(const std::vector<int64_t> &shape)
{
	std::string s = "[";
	for (size_t i = 0; i < shape.size(); i++)
		s += (i ? ", " : "") + std::to_string(shape[i]);
	return s + "]";
}

/* Why `op` cannot be applied at s ("" when it can). */
std::string refusal(const Site &s, mt_graph_op op)
{
	bool same = s.in_shape == s.out_shape;
	std::string change = "changes the shape " + shape_text(s.in_shape) + " -> " +
			     shape_text(s.out_shape);
	switch (op) {
	case MT_GRAPH_LD:
		return same ? "" : change + ", expected a call whose input and output shapes match";
	case MT_GRAPH_LAM:
		return same ? "" : change + ", expected a shape-preserving call to repeat";
	case MT_GRAPH_AFRM:
		if (!s.is_activation)
			return "'" + s.target +
			       "' is not an activation, expected relu, tanh, sigmoid, elu, leaky_relu, gelu, softmax or similar";
		return same ? "" : change + ", expected a shape-preserving activation";
	default:
		return "unknown operator";
	}
}

std::vector<int64_t> checked_shape(const int64_t *shape, int ndim, const char *who)
{
	if (!shape || ndim < 1 || ndim > MT_MAX_DIMS)
		throw std::invalid_argument(std::string(who) + ": input shape has " +
					    std::to_string(ndim) +
					    " dimensions, expected 1 to 8 (with the batch dimension)");
	std::vector<int64_t> v(shape, shape + ndim);
	for (int64_t d : v)
		if (d < 1)
			throw std::invalid_argument(std::string(who) + ": input shape " +
						    shape_text(v) + " has a dimension < 1");
	return v;
}

torch::jit::Module clone_module(const torch::jit::Module &src)
{
	torch::NoGradGuard no_grad;
	return src.clone();
}

void copy_text(char *dst, size_t len, const std::string &src)
{
	std::snprintf(dst, len, "%s", src.c_str());
}

const char *const op_names[MT_GRAPH__COUNT] = {"LD", "LAm", "AFRm"};

} // namespace

extern "C" {

const char *mt_graph_op_name(mt_graph_op op)
{
	return op >= 0 && op < MT_GRAPH__COUNT ? op_names[op] : "?";
}

int mt_graph_op_from_name(mt_graph_op *op, const char *name)
{
	for (int i = 0; i < MT_GRAPH__COUNT; i++)
		if (name && std::strcmp(name, op_names[i]) == 0) {
			*op = (mt_graph_op)i;
			return 0;
		}
	return mt_error_set(MT_EINVALID, "graph operator '%s' is not known, expected LD, LAm or AFRm",
			    name ? name : "(null)");
}

int mt_graph_sites(mt_graph_site **out, size_t *count, const mt_module *m,
		   const int64_t *input_shape, int ndim)
{
	*out = nullptr;
	*count = 0;
	return guard("mt_graph_sites", [&] {
		std::vector<int64_t> shape = checked_shape(input_shape, ndim, "mt_graph_sites");
		torch::jit::Module clone = clone_module(m->module);
		std::vector<Site> sites = find_sites(*forward_graph(clone));
		probe_shapes(clone, sites, shape);
		auto *list = static_cast<mt_graph_site *>(
			std::calloc(sites.size() ? sites.size() : 1, sizeof(mt_graph_site)));
		if (!list)
			throw std::bad_alloc();
		for (size_t i = 0; i < sites.size(); i++) {
			const Site &s = sites[i];
			mt_graph_site &d = list[i];
			copy_text(d.name, sizeof(d.name), s.name);
			copy_text(d.target, sizeof(d.target), s.target);
			d.kind = s.kind;
			d.is_activation = s.is_activation;
			d.in_ndim = (int)std::min<size_t>(s.in_shape.size(), MT_MAX_DIMS);
			d.out_ndim = (int)std::min<size_t>(s.out_shape.size(), MT_MAX_DIMS);
			for (int k = 0; k < d.in_ndim; k++)
				d.in_shape[k] = s.in_shape[k];
			for (int k = 0; k < d.out_ndim; k++)
				d.out_shape[k] = s.out_shape[k];
			for (int op = 0; op < MT_GRAPH__COUNT; op++) {
				std::string why = refusal(s, (mt_graph_op)op);
				d.applicable[op] = why.empty();
				copy_text(d.reason[op], sizeof(d.reason[op]), why);
			}
		}
		*out = list;
		*count = sites.size();
		return 0;
	});
}

int mt_graph_mutate(mt_module **out, const mt_module *m, mt_graph_op op,
		    const char *site, const int64_t *input_shape, int ndim)
{
	*out = nullptr;
	return guard("mt_graph_mutate", [&]() -> int {
		if (op < 0 || op >= MT_GRAPH__COUNT)
			return fail(MT_EINVALID, "mt_graph_mutate: unknown operator " +
						     std::to_string((int)op) +
						     ", expected LD, LAm or AFRm");
		const std::string opn = op_names[op];
		if (!site || !*site)
			return fail(MT_EINVALID, opn + ": no site given, expected a site name");
		std::vector<int64_t> shape = checked_shape(input_shape, ndim, opn.c_str());
		torch::jit::Module clone = clone_module(m->module);
		std::shared_ptr<Graph> graph = forward_graph(clone);
		std::vector<Site> sites = find_sites(*graph);
		probe_shapes(clone, sites, shape);

		const Site *target = nullptr;
		std::string names;
		for (const Site &s : sites) {
			names += (names.empty() ? "" : ", ") + s.name;
			if (s.name == site)
				target = &s;
		}
		if (!target)
			return fail(MT_ENOTFOUND, opn + ": site '" + site +
							  "' not found in forward, expected one of " +
							  (names.empty() ? "(no sites)" : names));
		std::string why = refusal(*target, op);
		if (!why.empty())
			return fail(MT_EINVALID, opn + ": site '" + site + "': " + why +
							 "; not mutated");

		Node *n = target->node;
		Value *input = n->input(target->tensor_input);
		if (op == MT_GRAPH_LAM) {
			Node *copy = graph->createClone(n, [](Value *v) { return v; });
			copy->insertAfter(n);
			n->output()->replaceAllUsesWith(copy->output());
			copy->replaceInput(target->tensor_input, n->output());
		} else {
			/* LD and AFRm: the call's result is its input */
			n->output()->replaceAllUsesWith(input);
			n->destroy();
		}
		torch::jit::EliminateDeadCode(graph);
		graph->lint();

		std::stringstream buffer;
		clone.save(buffer);
		buffer.seekg(0);
		torch::jit::Module loaded = torch::jit::load(buffer);
		mtshim::choose_executor(loaded);
		*out = new mt_module{std::move(loaded)};
		return 0;
	});
}

} // extern "C"
