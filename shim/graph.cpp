/*
 * Structural model-level mutation operators on the TorchScript forward
 * graph: LD (remove a shape-preserving call), LAm (repeat a shape-preserving
 * call), AFRm (an activation call becomes the identity), at a site anywhere
 * in the module tree (graph_tree.cpp finds the sites). See
 * include/mutorch/shim_graph.h and docs/operators.md.
 *
 * How an edit is made safely in libtorch 1.13:
 *  - Module::clone() gives the copy its own class types and its own copy of
 *    every method graph, so editing the clone's graphs leaves the source
 *    untouched; the clone has never run, so no executor holds a plan of an
 *    old graph. Instances that share a type in the source share the cloned
 *    type (and its one graph per method) in the clone.
 *  - A method graph that more than one call path runs is specialised along
 *    the site's path: a copy becomes a new method of the same type
 *    ("forward_mt"), and the one call on the path is redirected to it, so
 *    the edit reaches exactly that call.
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

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "graph_internal.hpp"
#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/shim_graph.h"
#include "shim_internal.hpp"

using mtgraph::Site;
using mtgraph::Tree;
using mtshim::fail;
using mtshim::guard;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

namespace {

std::string shape_text(const std::vector<int64_t> &shape)
{
	std::string s = "[";
	for (size_t i = 0; i < shape.size(); i++)
		s += (i ? ", " : "") + std::to_string(shape[i]);
	return s + "]";
}

/* "Conv2d" for "__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d". */
std::string short_name(const std::string &qualified)
{
	size_t dot = qualified.rfind('.');
	return dot == std::string::npos ? qualified : qualified.substr(dot + 1);
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
			return "'" + short_name(s.target) +
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

void fill_site(mt_graph_site &d, const Site &s)
{
	copy_text(d.name, sizeof(d.name), s.name);
	copy_text(d.module, sizeof(d.module), s.module);
	copy_text(d.caller, sizeof(d.caller), s.caller);
	copy_text(d.target, sizeof(d.target), s.target);
	d.depth = s.depth;
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

/* The call whose forward would hold a site of this name: up to the last
 * '.' or ':' ("layer1.0" for "layer1.0.relu@2" and "layer1.0:add@1"). */
std::string holder(const std::string &name)
{
	size_t cut = name.find_last_of(".:");
	return cut == std::string::npos ? "" : name.substr(0, cut);
}

std::string where(const std::string &h)
{
	return h.empty() ? "the model's forward" : "the forward of " + h;
}

/* Up to 12 names, then how many more. */
std::string name_list(const std::vector<std::string> &names)
{
	std::string s;
	for (size_t i = 0; i < names.size() && i < 12; i++)
		s += (i ? ", " : "") + names[i];
	if (names.size() > 12)
		s += ", ... (" + std::to_string(names.size()) + " in all)";
	return s;
}

std::string explain(const mt_graph_site *sites, size_t count, mt_graph_op op,
		    const std::string &name, int *code)
{
	const std::string opn = op_names[op];
	const mt_graph_site *hit = nullptr;
	for (size_t i = 0; i < count && !hit; i++)
		if (name == sites[i].name)
			hit = &sites[i];
	if (!hit) {
		/* The sites of the nearest module that holds any. */
		std::string h = name;
		std::vector<std::string> near;
		while (near.empty()) {
			h = holder(h);
			for (size_t i = 0; i < count; i++)
				if (h == sites[i].caller)
					near.push_back(sites[i].name);
			if (h.empty())
				break;
		}
		*code = MT_ENOTFOUND;
		return "no site '" + name + "' in the module tree; the sites in " + where(h) +
		       " are " + (near.empty() ? std::string("(none)") : name_list(near)) +
		       " (`mutorch sites` lists every site)";
	}
	if (hit->applicable[op]) {
		*code = 0;
		return "";
	}
	const std::string h = hit->caller;
	std::vector<std::string> here, all;
	for (size_t i = 0; i < count; i++)
		if (sites[i].applicable[op]) {
			all.push_back(sites[i].name);
			if (h == sites[i].caller)
				here.push_back(sites[i].name);
		}
	std::string valid = !here.empty() ? opn + " applies in " + where(h) + " to " + name_list(here)
			  : all.empty()   ? opn + " applies to no site of this model"
					  : opn + " applies to no site in " + where(h) + "; elsewhere to " +
					      name_list(all);
	*code = MT_EINVALID;
	return "site '" + name + "' (" + short_name(hit->target) + ", in " + where(h) + "): " + hit->reason[op] +
	       "; " + valid;
}

/* Make the method graphs on s's call path private to that path where
 * other paths run them too (graph_internal.hpp); returns the node to edit,
 * in the graph it now lives in. */
Node *specialise(const Tree &t, const Site &s)
{
	Node *cur = s.calls.empty() ? s.node : s.calls[0];
	for (size_t i = 0; i < s.calls.size(); i++) {
		Node *call = cur;
		Node *next = i + 1 < s.calls.size() ? s.calls[i + 1] : s.node;
		std::shared_ptr<Graph> callee = mtgraph::method_graph(call);
		size_t pos = 0;
		for (Node *n : callee->block()->nodes()) {
			if (n == next)
				break;
			pos++;
		}
		auto found = t.paths.find(callee.get());
		if (found == t.paths.end() || found->second > 1) {
			auto cls = call->input(0)->type()->expect<c10::ClassType>();
			const std::string method = call->s(c10::attr::name);
			std::string name = method + "_mt";
			for (int k = 2; cls->findMethod(name) || cls->hasAttribute(name); k++)
				name = method + "_mt" + std::to_string(k);
			callee = callee->copy();
			torch::jit::Function *fn = cls->compilation_unit()->create_function(
				c10::QualifiedName(*cls->name(), name), callee);
			cls->addMethod(fn);
			call->s_(c10::attr::name, name);
		}
		auto nodes = callee->block()->nodes();
		auto it = nodes.begin();
		for (size_t k = 0; k < pos && it != nodes.end(); k++)
			++it;
		if (it == nodes.end())
			throw std::runtime_error("internal: the site's call is not in its graph");
		cur = *it;
	}
	return cur;
}

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

int mt_graph_site_explain(char *buf, size_t len, const mt_graph_site *sites, size_t count,
			  mt_graph_op op, const char *site)
{
	if (len)
		buf[0] = '\0';
	return guard("mt_graph_site_explain", [&]() -> int {
		if (op < 0 || op >= MT_GRAPH__COUNT)
			return fail(MT_EINVALID, "unknown graph operator " + std::to_string((int)op) +
							 ", expected LD, LAm or AFRm");
		int code = 0;
		std::string text = explain(sites, count, op, site ? site : "", &code);
		if (len)
			copy_text(buf, len, text);
		return code;
	});
}

int mt_graph_sites(mt_graph_site **out, size_t *count, const mt_module *m,
		   const int64_t *input_shape, int ndim)
{
	*out = nullptr;
	*count = 0;
	return guard("mt_graph_sites", [&] {
		std::vector<int64_t> shape = checked_shape(input_shape, ndim, "mt_graph_sites");
		torch::jit::Module clone = clone_module(m->module);
		Tree t = mtgraph::walk_tree(clone);
		mtgraph::probe_shapes(clone, t, shape);
		auto *list = static_cast<mt_graph_site *>(
			std::calloc(t.sites.empty() ? 1 : t.sites.size(), sizeof(mt_graph_site)));
		if (!list)
			throw std::bad_alloc();
		for (size_t i = 0; i < t.sites.size(); i++)
			fill_site(list[i], t.sites[i]);
		*out = list;
		*count = t.sites.size();
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
		Tree t = mtgraph::walk_tree(clone);
		mtgraph::probe_shapes(clone, t, shape);

		const Site *target = nullptr;
		std::vector<mt_graph_site> list(t.sites.size());
		for (size_t i = 0; i < t.sites.size(); i++) {
			fill_site(list[i], t.sites[i]);
			if (t.sites[i].name == site)
				target = &t.sites[i];
		}
		int code = 0;
		std::string why = explain(list.data(), list.size(), op, site, &code);
		if (code < 0)
			return fail(code, opn + ": " + why + (code == MT_EINVALID ? "; not mutated" : ""));

		Node *n = specialise(t, *target);
		Graph *graph = n->owningGraph();
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
		torch::jit::EliminateDeadCode(graph->block());
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
