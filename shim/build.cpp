/* mt_module_build: a TorchScript module from an architecture description.
 *
 * Each layer becomes a real submodule "<kind>_<index>" with its own
 * TorchScript forward (Module::define), PyTorch's parameter and buffer
 * names and a "training" attribute, so the result trains, mutates, saves
 * and loads in PyTorch exactly like a scripted nn.Sequential-style model.
 * Initialisers replicate torch.nn.init's arithmetic, so MT_INIT_DEFAULT
 * draws the same numbers as nn.Linear/nn.Conv2d's reset_parameters. */
#include "shim_internal.hpp"

#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>

#include <ATen/CPUGeneratorImpl.h>

#include "mutorch/error.h"
#include "mutorch/recipe.h"
#include "mutorch/shim.h"

namespace {

/* The recipe vocabulary's name ("conv2d"), or nullptr out of range. */
const char *kind_name(mt_layer_kind kind)
{
	if ((int)kind < 0 || kind >= MT_LAYER__COUNT)
		return nullptr;
	return mt_layer_kind_name(kind);
}

/* A float literal TorchScript parses back to the same double. */
std::string float_literal(double v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%.17g", v);
	std::string s(buf);
	if (s.find_first_of(".eEn") == std::string::npos)
		s += ".0";
	return s;
}

std::string pair(int64_t v)
{
	return "[" + std::to_string(v) + ", " + std::to_string(v) + "]";
}

struct Fans {
	double in, out;
};

/* torch.nn.init._calculate_fan_in_and_fan_out */
Fans fans(const at::Tensor &w)
{
	double receptive = 1;
	for (int64_t d = 2; d < w.dim(); d++)
		receptive *= (double)w.size(d);
	return {(double)w.size(1) * receptive, (double)w.size(0) * receptive};
}

void init_weight(at::Tensor &w, at::Tensor *b, mt_init_kind init,
		 at::Generator &gen)
{
	Fans f = fans(w);
	switch (init) {
	case MT_INIT_DEFAULT: {
		/* kaiming_uniform_(w, a=math.sqrt(5)), then the bias from
		 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with Python's
		 * arithmetic step by step. */
		double a = std::sqrt(5.0);
		double gain = std::sqrt(2.0 / (1 + a * a));
		double std_ = gain / std::sqrt(f.in);
		double bound = std::sqrt(3.0) * std_;
		w.uniform_(-bound, bound, gen);
		if (b) {
			double bb = f.in > 0 ? 1 / std::sqrt(f.in) : 0;
			b->uniform_(-bb, bb, gen);
		}
		return;
	}
	case MT_INIT_XAVIER_UNIFORM: {
		double std_ = 1.0 * std::sqrt(2.0 / (f.in + f.out));
		double a = std::sqrt(3.0) * std_;
		w.uniform_(-a, a, gen);
		break;
	}
	case MT_INIT_XAVIER_NORMAL:
		w.normal_(0, 1.0 * std::sqrt(2.0 / (f.in + f.out)), gen);
		break;
	case MT_INIT_KAIMING_UNIFORM: {
		double std_ = std::sqrt(2.0) / std::sqrt(f.in);
		double bound = std::sqrt(3.0) * std_;
		w.uniform_(-bound, bound, gen);
		break;
	}
	case MT_INIT_KAIMING_NORMAL:
		w.normal_(0, std::sqrt(2.0) / std::sqrt(f.in), gen);
		break;
	case MT_INIT_NORMAL:
		w.normal_(0, 0.01, gen);
		break;
	case MT_INIT_UNIFORM:
		w.uniform_(-0.05, 0.05, gen);
		break;
	case MT_INIT_ZEROS:
		w.zero_();
		break;
	default:
		throw std::invalid_argument("unknown initialiser " +
					    std::to_string((int)init));
	}
	if (b)
		b->zero_();
}

int check_positive(const char *what, int64_t v, size_t index, const char *kind)
{
	if (v > 0)
		return 0;
	return mtshim::fail(MT_EINVALID,
			    "architecture layer " + std::to_string(index) + " (" + kind +
				    "): " + what + " is " + std::to_string(v) +
				    ", expected > 0");
}

int check_layer(const mt_layer &l, size_t i, const char *kind)
{
	int e = 0;
	switch (l.kind) {
	case MT_LAYER_LINEAR:
		if ((e = check_positive("in", l.in, i, kind)) < 0 ||
		    (e = check_positive("out", l.out, i, kind)) < 0)
			return e;
		break;
	case MT_LAYER_CONV2D:
		if ((e = check_positive("in", l.in, i, kind)) < 0 ||
		    (e = check_positive("out", l.out, i, kind)) < 0 ||
		    (e = check_positive("kernel", l.kernel, i, kind)) < 0 ||
		    (e = check_positive("stride", l.stride, i, kind)) < 0 ||
		    (e = check_positive("dilation", l.dilation, i, kind)) < 0 ||
		    (e = check_positive("groups", l.groups, i, kind)) < 0)
			return e;
		if (l.padding < 0 || l.in % l.groups || l.out % l.groups)
			return mtshim::fail(MT_EINVALID,
					    "architecture layer " + std::to_string(i) +
						    " (conv2d): padding must be >= 0 and groups must divide in and out");
		break;
	case MT_LAYER_MAXPOOL2D:
	case MT_LAYER_AVGPOOL2D:
		if ((e = check_positive("kernel", l.kernel, i, kind)) < 0 ||
		    (e = check_positive("stride", l.stride, i, kind)) < 0)
			return e;
		if (l.padding < 0 || l.padding * 2 > l.kernel)
			return mtshim::fail(MT_EINVALID,
					    "architecture layer " + std::to_string(i) + " (" + kind +
						    "): padding must be between 0 and kernel/2");
		break;
	case MT_LAYER_BATCHNORM1D:
	case MT_LAYER_BATCHNORM2D:
		if ((e = check_positive("features", l.in, i, kind)) < 0)
			return e;
		if (!(l.eps > 0) || !(l.momentum >= 0 && l.momentum <= 1))
			return mtshim::fail(MT_EINVALID,
					    "architecture layer " + std::to_string(i) + " (" + kind +
						    "): expected eps > 0 and momentum in [0, 1]");
		break;
	case MT_LAYER_DROPOUT:
		if (!(l.p >= 0 && l.p <= 1))
			return mtshim::fail(MT_EINVALID,
					    "architecture layer " + std::to_string(i) +
						    " (dropout): p is " + float_literal(l.p) +
						    ", expected a probability in [0, 1]");
		break;
	default:
		break;
	}
	return 0;
}

/* The TorchScript forward of one layer. */
std::string layer_source(const mt_layer &l)
{
	std::string body;
	const char *bias = l.bias ? "self.bias" : "None";
	switch (l.kind) {
	case MT_LAYER_LINEAR:
		body = std::string("torch.linear(x, self.weight, ") + bias + ")";
		break;
	case MT_LAYER_CONV2D:
		body = std::string("torch.conv2d(x, self.weight, ") + bias + ", " +
		       pair(l.stride) + ", " + pair(l.padding) + ", " +
		       pair(l.dilation) + ", " + std::to_string(l.groups) + ")";
		break;
	case MT_LAYER_MAXPOOL2D:
		body = "torch.max_pool2d(x, " + pair(l.kernel) + ", " + pair(l.stride) +
		       ", " + pair(l.padding) + ", [1, 1], False)";
		break;
	case MT_LAYER_AVGPOOL2D:
		body = "torch.avg_pool2d(x, " + pair(l.kernel) + ", " + pair(l.stride) +
		       ", " + pair(l.padding) + ", False, True, None)";
		break;
	case MT_LAYER_FLATTEN:
		body = "torch.flatten(x, 1)";
		break;
	case MT_LAYER_DROPOUT:
		body = "torch.dropout(x, " + float_literal(l.p) + ", self.training)";
		break;
	case MT_LAYER_BATCHNORM1D:
	case MT_LAYER_BATCHNORM2D:
		/* nn.BatchNorm's forward with a momentum: count batches in
		 * training, then the functional op. */
		return "def forward(self, x):\n"
		       "    if self.training:\n"
		       "        self.num_batches_tracked.add_(1)\n"
		       "    return torch.batch_norm(x, self.weight, self.bias, "
		       "self.running_mean, self.running_var, self.training, " +
		       float_literal(l.momentum) + ", " + float_literal(l.eps) +
		       ", False)\n";
	case MT_LAYER_RELU:
		body = "torch.relu(x)";
		break;
	case MT_LAYER_LEAKY_RELU:
		body = "torch.leaky_relu(x, " + float_literal(l.alpha) + ")";
		break;
	case MT_LAYER_ELU:
		body = "torch.elu(x, " + float_literal(l.alpha) + ")";
		break;
	case MT_LAYER_GELU:
		body = "torch.gelu(x)";
		break;
	case MT_LAYER_TANH:
		body = "torch.tanh(x)";
		break;
	case MT_LAYER_SIGMOID:
		body = "torch.sigmoid(x)";
		break;
	case MT_LAYER_SOFTMAX:
		body = "torch.softmax(x, " + std::to_string(l.dim) + ")";
		break;
	default:
		throw std::invalid_argument("unknown layer kind " +
					    std::to_string((int)l.kind));
	}
	return "def forward(self, x):\n    return " + body + "\n";
}

at::Tensor new_param(at::IntArrayRef sizes)
{
	return at::empty(sizes, at::TensorOptions().dtype(at::kFloat));
}

/* Parameters and buffers of one layer, initialised from gen. */
void add_tensors(torch::jit::Module &layer, const mt_layer &l,
		 mt_init_kind init, at::Generator &gen)
{
	switch (l.kind) {
	case MT_LAYER_LINEAR:
	case MT_LAYER_CONV2D: {
		at::Tensor w = l.kind == MT_LAYER_LINEAR
				       ? new_param({l.out, l.in})
				       : new_param({l.out, l.in / l.groups, l.kernel,
						    l.kernel});
		at::Tensor b;
		if (l.bias)
			b = new_param({l.out});
		init_weight(w, l.bias ? &b : nullptr, init, gen);
		layer.register_parameter("weight", w.set_requires_grad(true), false);
		if (l.bias)
			layer.register_parameter("bias", b.set_requires_grad(true), false);
		break;
	}
	case MT_LAYER_BATCHNORM1D:
	case MT_LAYER_BATCHNORM2D:
		layer.register_parameter("weight", at::ones({l.in}).set_requires_grad(true),
					 false);
		layer.register_parameter("bias", at::zeros({l.in}).set_requires_grad(true),
					 false);
		layer.register_buffer("running_mean", at::zeros({l.in}));
		layer.register_buffer("running_var", at::ones({l.in}));
		layer.register_buffer("num_batches_tracked",
				      at::zeros({}, at::TensorOptions().dtype(at::kLong)));
		break;
	default:
		break;
	}
}

/* All built classes live in one compilation unit; the Module constructor
 * mangles names that are taken, so any number of models can be built in
 * one process. The mutex guards that shared unit. */
std::mutex build_mutex;
std::shared_ptr<torch::jit::CompilationUnit> build_unit()
{
	static auto cu = std::make_shared<torch::jit::CompilationUnit>();
	return cu;
}

} // namespace

extern "C" int mt_module_build(mt_module **out, const mt_arch *arch,
			       mt_init_kind init, uint64_t seed)
{
	*out = NULL;
	return mtshim::guard("mt_module_build", [&] {
		if (!arch || arch->nlayers == 0)
			return mtshim::fail(MT_EINVALID,
					    "architecture: no layers, expected at least one");
		if ((int)init < MT_INIT_DEFAULT || init > MT_INIT_ZEROS)
			return mtshim::fail(MT_EINVALID,
					    "unknown initialiser " + std::to_string((int)init));
		for (size_t i = 0; i < arch->nlayers; i++) {
			const char *kind = kind_name(arch->layers[i].kind);
			if (!kind)
				return mtshim::fail(MT_EINVALID,
						    "architecture layer " + std::to_string(i) +
							    ": unknown kind " +
							    std::to_string((int)arch->layers[i].kind));
			int e = check_layer(arch->layers[i], i, kind);
			if (e < 0)
				return e;
		}

		/* A private generator: building a model does not disturb the
		 * global stream, and the same seed gives the same draws as
		 * torch.manual_seed(seed) followed by the same layers in
		 * PyTorch. */
		at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
		std::lock_guard<std::mutex> lock(build_mutex);
		auto cu = build_unit();
		at::NoGradGuard no_grad;
		torch::jit::Module top(c10::QualifiedName("__torch__.mutorch.Model"), cu,
				       true);
		top.register_attribute("training", c10::BoolType::get(), true);
		std::string forward = "def forward(self, x):\n";
		for (size_t i = 0; i < arch->nlayers; i++) {
			const mt_layer &l = arch->layers[i];
			std::string name =
				std::string(kind_name(l.kind)) + "_" + std::to_string(i);
			torch::jit::Module layer(
				c10::QualifiedName("__torch__.mutorch." + name), cu, true);
			layer.register_attribute("training", c10::BoolType::get(), true);
			add_tensors(layer, l, init, gen);
			layer.define(layer_source(l));
			top.register_module(name, layer);
			forward += "    x = self." + name + ".forward(x)\n";
		}
		forward += "    return x\n";
		top.define(forward);
		mtshim::choose_executor(top);
		*out = new mt_module{std::move(top)};
		return 0;
	});
}
