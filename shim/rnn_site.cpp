/* A recurrent layer inside a module (mutorch/shim_rnn.h): the module's
 * inlined forward split around the layer's recurrent op. The prefix (every
 * top-level node before the op) runs once per test set and its results are
 * cached per batch: the op's arguments and every value the rest reads
 * (any IValue: tensors, ints, lists, submodules). For each mutant the op
 * runs step by step (rnn.cpp) and then the suffix (every node after it).
 * Both graphs run through GraphFunction with the module object as their
 * first input, so the suffix reads the module's current parameters. */
#include "shim_internal.hpp"
#include "rnn_internal.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/shim_rnn.h"

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::GraphFunction;
using torch::jit::Node;
using torch::jit::Value;

struct mt_rnn_site {
	mt_module *module = nullptr;
	std::string path;
	mtrnn::cell_kind kind = mtrnn::cell_kind::lstm;
	size_t nargs = 0;  /* the op's inputs, first in the prefix's tuple */
	/* Does the suffix write into a cached value in place? Then it gets
	 * copies, so that the cache stays what the prefix computed. */
	bool suffix_writes_live = false;
	std::unique_ptr<GraphFunction> prefix, suffix;
	std::vector<std::vector<c10::IValue>> batches;
	std::vector<int64_t> lens; /* inputs per batch */
	int64_t count = 0;
};

namespace {

using mtshim::failf;

/* Attribute paths ("lstm._flat_weights") of GetAttr chains from self. */
void collect_paths(std::unordered_map<const Value *, std::string> &paths, Block *b)
{
	for (Node *n : b->nodes()) {
		if (n->kind() == c10::prim::GetAttr) {
			auto it = paths.find(n->input(0));
			if (it != paths.end())
				paths[n->output()] = it->second.empty()
							    ? n->s(c10::attr::name)
							    : it->second + "." + n->s(c10::attr::name);
		}
		for (Block *sub : n->blocks())
			collect_paths(paths, sub);
	}
}

bool is_rnn_op(const Node *n, mtrnn::cell_kind *kind)
{
	c10::Symbol k = n->kind();
	if (k == c10::aten::lstm)
		*kind = mtrnn::cell_kind::lstm;
	else if (k == c10::aten::gru)
		*kind = mtrnn::cell_kind::gru;
	else if (k == c10::aten::rnn_tanh)
		*kind = mtrnn::cell_kind::rnn_tanh;
	else if (k == c10::aten::rnn_relu)
		*kind = mtrnn::cell_kind::rnn_relu;
	else
		return false;
	return true;
}

/* Do the op's params come from the submodule at path: its _flat_weights
 * (scripted nn.LSTM...) or a list of its parameters (traced)? */
bool params_of(const std::unordered_map<const Value *, std::string> &paths, const Node *op,
	       const std::string &path)
{
	const Value *params = op->input(2);
	auto it = paths.find(params);
	if (it != paths.end())
		return it->second == path + "._flat_weights";
	const Node *list = params->node();
	if (list->kind() != c10::prim::ListConstruct || list->inputs().empty())
		return false;
	for (const Value *v : list->inputs()) {
		auto p = paths.find(v);
		if (p == paths.end() || p->second.compare(0, path.size() + 1, path + ".") != 0)
			return false;
	}
	return true;
}

void find_ops(std::vector<Node *> &found, const std::unordered_map<const Value *, std::string> &paths,
	      Block *b, const std::string &path, mtrnn::cell_kind *kind)
{
	for (Node *n : b->nodes()) {
		mtrnn::cell_kind k;
		if (is_rnn_op(n, &k) && n->inputs().size() >= 3 && params_of(paths, n, path)) {
			found.push_back(n);
			*kind = k;
		}
		for (Block *sub : n->blocks())
			find_ops(found, paths, sub, path, kind);
	}
}

/* The top-level node that holds n (n itself at top level). */
Node *top_of(Node *n, const Block *top)
{
	while (n->owningBlock() != top)
		n = n->owningBlock()->owningNode();
	return n;
}

using value_env = std::unordered_map<Value *, Value *>;

void clone_into(Graph &g, Node *n, value_env &env)
{
	Node *c = g.insertNode(g.createClone(n, [&](Value *v) -> Value * {
		auto it = env.find(v);
		if (it == env.end())
			throw std::runtime_error("rnn site: value %" + v->debugName() +
						 " is not defined in the split graph");
		return it->second;
	}));
	for (size_t i = 0; i < n->outputs().size(); i++)
		env[n->outputs()[i]] = c->outputs()[i];
}

std::unique_ptr<GraphFunction> make_function(const char *name, std::shared_ptr<Graph> g)
{
	g->lint();
	return std::make_unique<GraphFunction>(
		c10::QualifiedName(std::string("__torch__.mutorch.") + name), g, nullptr);
}

/* The op's arguments from a cached batch (its first nargs values). */
mtrnn::rnn_args args_from(const mt_rnn_site *s, const std::vector<c10::IValue> &v)
{
	mtrnn::rnn_args a;
	a.kind = s->kind;
	a.input = v[0].toTensor();
	if (v[1].isTensor())
		a.hx.push_back(v[1].toTensor());
	else
		for (const c10::IValue &t : v[1].toListRef())
			a.hx.push_back(t.toTensor());
	for (const c10::IValue &t : v[2].toListRef())
		a.params.push_back(t.toTensor());
	a.has_biases = v[3].toBool();
	a.num_layers = v[4].toInt();
	a.dropout = v[5].toDouble();
	a.train = v[6].toBool();
	a.bidirectional = v[7].toBool();
	a.batch_first = v[8].toBool();
	return a;
}

std::vector<c10::IValue> run_prefix(mt_rnn_site *s, const at::Tensor &x)
{
	std::vector<c10::IValue> stack{s->module->module._ivalue(), x};
	s->prefix->run(stack);
	return stack.at(0).toTupleRef().elements().vec();
}

} // namespace

extern "C" {

int mt_rnn_site_new(mt_rnn_site **out, mt_module *m, const char *path)
{
	*out = NULL;
	return mtshim::guard("mt_rnn_site_new", [&] {
		auto s = std::make_unique<mt_rnn_site>();
		s->module = m;
		s->path = path;
		const auto &method = m->module.get_method("forward");
		std::shared_ptr<Graph> g = torch::jit::toGraphFunction(method.function()).graph()->copy();
		torch::jit::Inline(*g);
		if (g->inputs().size() != 2 || g->outputs().size() != 1)
			return failf(MT_EINVALID,
				     "recurrent layer '%s': forward takes %zu inputs and returns %zu values, expected forward(self, x) returning one",
				     path, g->inputs().size() - 1, g->outputs().size());
		std::unordered_map<const Value *, std::string> paths;
		paths[g->inputs()[0]] = "";
		collect_paths(paths, g->block());
		std::vector<Node *> ops;
		find_ops(ops, paths, g->block(), s->path, &s->kind);
		if (ops.empty())
			return failf(MT_EINVALID,
				     "recurrent layer '%s': forward calls no recurrent op (aten::lstm, gru, rnn_tanh, rnn_relu) with its weights",
				     path);
		if (ops.size() > 1)
			return failf(MT_EINVALID,
				     "recurrent layer '%s': forward calls it %zu times, expected once",
				     path, ops.size());
		Node *op = ops[0];
		if (op->owningBlock() != g->block())
			return failf(MT_EINVALID,
				     "recurrent layer '%s' is called inside a branch or loop of forward; dynamic operators need the call at the top level",
				     path);
		if (op->schema().overload_name() != "input")
			return failf(MT_EINVALID,
				     "recurrent layer '%s' runs on a PackedSequence; dynamic operators need a padded tensor",
				     path);
		s->nargs = op->inputs().size();

		/* Split: [0, cut) prefix, the op, (cut, end) suffix. */
		std::vector<Node *> nodes(g->nodes().begin(), g->nodes().end());
		size_t cut = std::find(nodes.begin(), nodes.end(), op) - nodes.begin();
		std::unordered_map<const Node *, size_t> index;
		for (size_t i = 0; i < nodes.size(); i++)
			index[nodes[i]] = i;
		auto used_after = [&](const Value *v) {
			for (const torch::jit::Use &u : v->uses()) {
				Node *t = top_of(u.user, g->block());
				auto it = index.find(t);
				if (it == index.end() || it->second > cut)
					return true; /* the return node, or a later node */
			}
			return false;
		};
		std::vector<Value *> live;
		if (used_after(g->inputs()[1]))
			live.push_back(g->inputs()[1]);
		for (size_t i = 0; i < cut; i++)
			for (Value *v : nodes[i]->outputs())
				if (used_after(v))
					live.push_back(v);

		auto pre = std::make_shared<Graph>();
		value_env env;
		env[g->inputs()[0]] = pre->addInput()->copyMetadata(g->inputs()[0]);
		env[g->inputs()[1]] = pre->addInput()->copyMetadata(g->inputs()[1]);
		for (size_t i = 0; i < cut; i++)
			clone_into(*pre, nodes[i], env);
		std::vector<Value *> outs;
		for (Value *v : op->inputs())
			outs.push_back(env.at(v));
		for (Value *v : live)
			outs.push_back(env.at(v));
		pre->registerOutput(pre->insertNode(pre->createTuple(outs))->output());

		auto suf = std::make_shared<Graph>();
		value_env senv;
		senv[g->inputs()[0]] = suf->addInput()->copyMetadata(g->inputs()[0]);
		for (Value *v : op->outputs())
			senv[v] = suf->addInput()->copyMetadata(v);
		for (Value *v : live)
			senv[v] = suf->addInput()->copyMetadata(v);
		for (size_t i = cut + 1; i < nodes.size(); i++)
			clone_into(*suf, nodes[i], senv);
		suf->registerOutput(senv.at(g->outputs()[0]));

		torch::jit::AliasDb alias(suf);
		for (size_t i = 1 + op->outputs().size(); i < suf->inputs().size(); i++)
			if (alias.hasWriters(suf->inputs()[i]))
				s->suffix_writes_live = true;
		s->prefix = make_function("rnn_prefix", pre);
		s->suffix = make_function("rnn_suffix", suf);
		*out = s.release();
		return 0;
	});
}

void mt_rnn_site_free(mt_rnn_site *s)
{
	delete s;
}

int mt_rnn_site_seq_len(int64_t *steps, mt_rnn_site *s, const int64_t *shape, int ndim)
{
	*steps = 0;
	return mtshim::guard("mt_rnn_site_seq_len", [&] {
		std::vector<int64_t> dims{1};
		dims.insert(dims.end(), shape, shape + ndim);
		c10::InferenceMode inference;
		s->module->module.eval();
		std::vector<c10::IValue> v = run_prefix(s, at::zeros(dims));
		*steps = mtrnn::steps(args_from(s, v));
		return 0;
	});
}

int mt_rnn_site_cache(mt_rnn_site *s, const mt_tensor *inputs, int64_t batch_size)
{
	return mtshim::guard("mt_rnn_site_cache", [&] {
		c10::InferenceMode inference;
		const at::Tensor &x = inputs->tensor;
		int64_t n = x.size(0);
		s->batches.clear();
		s->lens.clear();
		s->count = 0;
		if (batch_size <= 0)
			batch_size = n > 0 ? n : 1;
		s->module->module.eval();
		for (int64_t start = 0; start < n; start += batch_size) {
			int64_t len = std::min(batch_size, n - start);
			s->batches.push_back(run_prefix(s, x.narrow(0, start, len)));
			s->lens.push_back(len);
		}
		s->count = n;
		return 0;
	});
}

int mt_rnn_site_predict(int64_t *labels, float *logits, int64_t *nout, mt_rnn_site *s,
			const mt_rnn_mutation *mut)
{
	if (nout)
		*nout = 0;
	return mtshim::guard("mt_rnn_site_predict", [&] {
		c10::InferenceMode inference;
		int64_t at_row = 0, width = 0;
		for (size_t b = 0; b < s->batches.size(); b++) {
			const std::vector<c10::IValue> &v = s->batches[b];
			mtrnn::rnn_args a = args_from(s, v);
			int64_t T = mtrnn::steps(a);
			if (mut && mut->action != MT_RNN_NONE && mut->last >= T)
				return failf(MT_EINVALID,
					     "recurrent layer '%s': step %lld is past the end of its input (%lld time steps)",
					     s->path.c_str(), (long long)mut->last, (long long)T);
			std::vector<at::Tensor> r = mtrnn::run(a, mut);
			std::vector<c10::IValue> stack{s->module->module._ivalue()};
			for (const at::Tensor &t : r)
				stack.push_back(t);
			for (size_t i = s->nargs; i < v.size(); i++)
				stack.push_back(s->suffix_writes_live && v[i].isTensor()
							? c10::IValue(v[i].toTensor().clone())
							: v[i]);
			s->suffix->run(stack);
			if (stack.empty() || !stack[0].isTensor())
				return failf(MT_EINVALID, "recurrent layer '%s': forward returned no tensor",
					     s->path.c_str());
			at::Tensor out = stack[0].toTensor();
			int64_t len = s->lens[b];
			if (out.dim() != 2 || out.size(0) != len)
				return failf(MT_EINVALID,
					     "model output has shape %s for a batch of %lld, expected batch x classes",
					     c10::str(out.sizes()).c_str(), (long long)len);
			if (at_row == 0)
				width = out.size(1);
			at::Tensor pred = out.argmax(1).contiguous();
			memcpy(labels + at_row, pred.data_ptr<int64_t>(), (size_t)len * sizeof(int64_t));
			if (logits) {
				at::Tensor f = out.to(at::kFloat).contiguous();
				memcpy(logits + at_row * width, f.data_ptr<float>(),
				       (size_t)(len * width) * sizeof(float));
			}
			at_row += len;
		}
		if (nout)
			*nout = width;
		return 0;
	});
}

} /* extern "C" */
