/* Shared by the partial-evaluation files (never included outside shim/):
 * partial.cpp finds the cut and builds the graphs, partial_cache.cpp fills
 * the cache and runs them. See partial.cpp for how the forward is split. */
#ifndef MUTORCH_SHIM_PARTIAL_INTERNAL_HPP
#define MUTORCH_SHIM_PARTIAL_INTERNAL_HPP

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mutorch/shim.h"

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::GraphFunction;
using torch::jit::Node;
using torch::jit::Value;

namespace mtpartial {

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

} // namespace mtpartial

struct mt_partial {
	mt_module *module = nullptr;
	mtpartial::forward_graph fwd;
	size_t cut = 0;
	std::vector<Value *> live; /* values of fwd.graph live at the cut */
	std::unique_ptr<GraphFunction> prefix, suffix, profile;
	/* Does the suffix write (in place) into a live value? Then it gets a
	 * copy, so the cache stays what the prefix computed. */
	bool suffix_writes_live = false;
	/* Per-node share of work: 1 each until a cache measures MACs (once
	 * per module: a cache filled from an earlier cut copies its figures). */
	std::vector<double> node_work;
	bool work_measured = false;
	/* profile slots: per top-level node, the tuple indices of its output
	 * and of the operand that sets its MACs per output (-1: none). */
	std::vector<std::pair<int, int>> profile_slots;

	std::vector<std::vector<at::Tensor>> batches;
	int64_t count = 0, batch_size = 0, num_outputs = 0;
	size_t cache_bytes = 0;
};

/* partial.cpp, used by partial_cache.cpp. */
namespace mtpartial {

/* mtshim::fail with a printf format (messages up to 1023 bytes). */
int failf(int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Values defined at top level before `cut` (or the input x) and used at or
 * after it, excluding what the suffix recomputes. */
std::vector<Value *> live_values(const forward_graph &f, size_t cut);

/* Segment: (self, live values at `cut`...) -> (live values at `end`...):
 * builds a later cut's cache from an earlier one's. */
std::shared_ptr<Graph> segment_graph(const forward_graph &f, size_t cut,
				     const std::vector<Value *> &live, size_t end,
				     const std::vector<Value *> &end_live);

/* Prefix: (self, x) -> (live values...) */
std::shared_ptr<Graph> prefix_graph(const forward_graph &f, size_t cut,
				    const std::vector<Value *> &live);

/* Profile: (self, x) -> every top-level tensor result and the operand that
 * fixes its multiply-adds; slots says where each node's are. */
std::shared_ptr<Graph> profile_graph(const forward_graph &f,
				     std::vector<std::pair<int, int>> &slots);

/* A function "__torch__.mutorch.<name>" running graph g. */
std::unique_ptr<GraphFunction> make_function(const char *name,
					     std::shared_ptr<Graph> g);

/* aten's convolutions (their MACs per output are the weight's numel over
 * its output channels). */
bool is_conv(c10::Symbol k);

} // namespace mtpartial

#endif
