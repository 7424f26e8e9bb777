/* Shared by the graph-operator files (never included outside shim/):
 * graph_tree.cpp walks the forward through the module tree and finds the
 * sites; graph.cpp decides what may be mutated and edits the graph. */
#ifndef MUTORCH_SHIM_GRAPH_INTERNAL_HPP
#define MUTORCH_SHIM_GRAPH_INTERNAL_HPP

#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mutorch/shim_graph.h"

namespace mtgraph {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

/* One call that an operator may change. `calls` are the prim::CallMethod
 * nodes that lead from the root's forward to the method graph holding
 * `node` (each in the graph the previous one calls); empty for a call in
 * the root's forward itself. The nodes are the walked module's own. */
struct Site {
	Node *node = nullptr;
	std::vector<Node *> calls;
	std::string name;   /* "layer1.0.relu@2", "layer1.0:add@1", "relu@3" */
	std::string module; /* the module it calls, or the one whose forward holds it */
	std::string caller; /* the call whose forward holds it ("" the model's) */
	int depth = 0;      /* calls.size() minus calls of the same module's methods */
	mt_site_kind kind = MT_SITE_OP;
	std::string target; /* the submodule's type, the function or the op */
	size_t tensor_input = 0;
	bool is_activation = false;
	std::vector<int64_t> in_shape, out_shape;
};

struct Tree {
	std::vector<Site> sites;
	/* How many call paths from the root's forward run each method graph
	 * (calls inside if/loop bodies included): a graph run by one path
	 * may be edited in place, others are specialised first. */
	std::unordered_map<const Graph *, int> paths;
};

/* The sites of m's forward through the module tree, in forward order. */
Tree walk_tree(torch::jit::Module &m);

/* Fill every site's input and output shape by running an inlined copy of
 * m's forward (eval mode, no grad) on zeros of input_shape; m is changed
 * only in its training flag, which is restored. */
void probe_shapes(torch::jit::Module &m, Tree &t, const std::vector<int64_t> &input_shape);

/* The graph of method `name` of the module type behind call node n. */
std::shared_ptr<Graph> method_graph(const Node *call);

/* The root's forward graph. */
std::shared_ptr<Graph> forward_graph(torch::jit::Module &m);

} // namespace mtgraph

#endif
