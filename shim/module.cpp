/* The C API over libtorch: TorchScript modules (load, save, clone, their
 * parameters and buffers, forward and batched prediction). The shim's
 * errors, threads and tensors are in shim.cpp, training in train.cpp.
 * Every extern "C" function runs its body through mtshim::guard, so no C++
 * exception crosses into C. */
#include "shim_internal.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/shim.h"
#include "mutorch/zip.h"

namespace mtshim {

[[noreturn]] static void throw_model_error(const char *what)
{
	char msg[1024];
	short_message(msg, sizeof(msg), what);
	/* libtorch reports a failed allocation as a c10::Error: that is the
	 * machine running out of memory, not a fault of the model's code. */
	if (strstr(what, "can't allocate memory"))
		throw std::bad_alloc();
	throw model_error(std::string("the model's forward failed: ") + msg);
}

at::Tensor forward_tensor(torch::jit::Module &module, const at::Tensor &x)
{
	std::vector<c10::IValue> inputs{x};
	c10::IValue r;
	try {
		r = module.forward(std::move(inputs));
	} catch (const std::bad_alloc &) {
		throw;
	} catch (const c10::Error &e) {
		throw_model_error(e.what_without_backtrace());
	} catch (const std::exception &e) {
		throw_model_error(e.what());
	}
	if (!r.isTensor())
		throw model_error("the model's forward returned " + r.tagKind() +
				  ", expected one tensor of scores (batch x classes)");
	return r.toTensor();
}

} // namespace mtshim

using mtshim::failf;
using mtshim::forward_tensor;
using mtshim::guard;

extern "C" {

/* ---- modules ---------------------------------------------------------------- */

static const char zip_magic[4] = {'P', 'K', 3, 4};

int mt_module_load_buffer(mt_module **out, const void *buf, size_t len,
			  const char *name)
{
	*out = NULL;
	if (!name)
		name = "<buffer>";
	return guard(name, [&] {
		if (len < sizeof(zip_magic) || memcmp(buf, zip_magic, sizeof(zip_magic)))
			return failf(MT_EINVALID,
				     "%s: not a TorchScript archive (not a zip file), expected a file written by torch.jit.save",
				     name);
		if (mt_zip_check(buf, len, name, MT_ZIP_ALLOW_DEFLATE) < 0) return mtshim::fail_from_last(MT_EINVALID);
		std::istringstream in(std::string((const char *)buf, len));
		torch::jit::Module module;
		try {
			module = torch::jit::load(in, torch::Device(torch::kCPU));
		} catch (const std::bad_alloc &) {
			throw;
		} catch (const c10::Error &e) {
			char msg[1024];
			mtshim::short_message(msg, sizeof(msg),
					      e.what_without_backtrace());
			return failf(MT_EINVALID,
				     "%s: not a TorchScript archive (%s)", name, msg);
		} catch (const std::exception &e) {
			/* The archive's code is compiled while loading: a
			 * compile error (torch::jit::ErrorReport) is the
			 * file's fault. */
			char msg[1024];
			mtshim::short_message(msg, sizeof(msg), e.what());
			return failf(MT_EINVALID,
				     "%s: its TorchScript code does not compile (%s)",
				     name, msg);
		}
		/* The documented contract: whatever mode it was saved in. */
		module.train(true);
		*out = new mt_module{std::move(module)};
		return 0;
	});
}

int mt_module_load(mt_module **out, const char *path)
{
	void *buf = NULL;
	size_t len = 0;
	int error;

	*out = NULL;
	if ((error = mt_io_read_file(&buf, &len, path)) < 0)
		return mtshim::fail_from_last(error);
	error = mt_module_load_buffer(out, buf, len, path);
	free(buf);
	return error;
}

static std::string save_to_string(const mt_module *m)
{
	std::ostringstream os;
	m->module.save(os);
	return os.str();
}

int mt_module_save_buffer(const mt_module *m, void **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	return guard("mt_module_save_buffer", [&] {
		std::string s = save_to_string(m);
		void *copy = malloc(s.size() ? s.size() : 1);
		if (!copy)
			return failf(MT_ENOMEM, "mt_module_save_buffer: out of memory");
		memcpy(copy, s.data(), s.size());
		*buf = copy;
		*len = s.size();
		return 0;
	});
}

int mt_module_save(const mt_module *m, const char *path)
{
	return guard(path, [&] {
		std::string s = save_to_string(m);
		/* Atomic: a run killed mid-save never leaves half a model. */
		int error = mt_io_write_file_atomic(path, s.data(), s.size());
		return error < 0 ? mtshim::fail_from_last(error) : 0;
	});
}

int mt_module_clone(mt_module **out, const mt_module *src)
{
	*out = NULL;
	return guard("mt_module_clone", [&] {
		torch::jit::Module copy;
		{
			/* Outside NoGradGuard the copies would be non-leaf
			 * tensors, which an optimizer refuses. */
			torch::NoGradGuard no_grad;
			copy = src->module.clone();
		}
		for (at::Tensor p : copy.parameters(true))
			p.set_requires_grad(true);
		*out = new mt_module{std::move(copy)};
		return 0;
	});
}

void mt_module_free(mt_module *m)
{
	delete m;
}

int mt_module_set_training(mt_module *m, int training)
{
	return guard("mt_module_set_training", [&] {
		m->module.train(training != 0);
		return 0;
	});
}

static int fill_info(mt_tensor_info *info, const std::string &name,
		     const at::Tensor &t, int is_buffer)
{
	if (name.size() >= MT_MAX_NAME)
		return failf(MT_EINVALID, "tensor name '%s' is longer than %d bytes",
			     name.c_str(), MT_MAX_NAME - 1);
	if (t.dim() > MT_MAX_DIMS)
		return failf(MT_EINVALID, "tensor '%s' has %lld dimensions, at most %d supported",
			     name.c_str(), (long long)t.dim(), MT_MAX_DIMS);
	memset(info, 0, sizeof(*info));
	memcpy(info->name, name.c_str(), name.size() + 1);
	info->is_buffer = is_buffer;
	info->dtype = mtshim::from_scalar_type(t.scalar_type());
	info->ndim = (int)t.dim();
	for (int i = 0; i < info->ndim; i++)
		info->shape[i] = t.size(i);
	info->numel = t.numel();
	return 0;
}

int mt_module_tensors(mt_tensor_info **out, size_t *count, const mt_module *m)
{
	*out = NULL;
	*count = 0;
	return guard("mt_module_tensors", [&] {
		std::vector<mt_tensor_info> infos;
		int error;
		for (const auto &p : m->module.named_parameters(true)) {
			infos.emplace_back();
			if ((error = fill_info(&infos.back(), p.name, p.value, 0)) < 0)
				return error;
		}
		for (const auto &b : m->module.named_buffers(true)) {
			infos.emplace_back();
			if ((error = fill_info(&infos.back(), b.name, b.value, 1)) < 0)
				return error;
		}
		size_t bytes = infos.size() * sizeof(mt_tensor_info);
		mt_tensor_info *arr = (mt_tensor_info *)malloc(bytes ? bytes : 1);
		if (!arr)
			return failf(MT_ENOMEM, "mt_module_tensors: out of memory");
		if (bytes)
			memcpy(arr, infos.data(), bytes);
		*out = arr;
		*count = infos.size();
		return 0;
	});
}

/* The parameter or buffer called name (the tensor itself, not a copy). */
static bool find_tensor(at::Tensor *out, const torch::jit::Module &module,
			const char *name)
{
	for (const auto &p : module.named_parameters(true))
		if (p.name == name) {
			*out = p.value;
			return true;
		}
	for (const auto &b : module.named_buffers(true))
		if (b.name == name) {
			*out = b.value;
			return true;
		}
	return false;
}

static int lookup_tensor(at::Tensor *out, const torch::jit::Module &module,
			 const char *name, int64_t numel)
{
	if (!find_tensor(out, module, name))
		return failf(MT_ENOTFOUND,
			     "module has no parameter or buffer '%s'", name);
	if (out->numel() != numel)
		return failf(MT_EINVALID,
			     "tensor '%s' has %lld elements, the buffer %lld",
			     name, (long long)out->numel(), (long long)numel);
	return 0;
}

int mt_module_read_tensor(const mt_module *m, const char *name, float *dst,
			  int64_t numel)
{
	return guard(name, [&] {
		at::Tensor t;
		int error = lookup_tensor(&t, m->module, name, numel);
		if (error < 0)
			return error;
		at::Tensor f = t.detach().to(at::kFloat).contiguous();
		if (numel > 0)
			memcpy(dst, f.data_ptr<float>(), (size_t)numel * sizeof(float));
		return 0;
	});
}

int mt_module_write_tensor(mt_module *m, const char *name, const float *src,
			   int64_t numel)
{
	return guard(name, [&] {
		at::Tensor t;
		int error = lookup_tensor(&t, m->module, name, numel);
		if (error < 0)
			return error;
		torch::NoGradGuard no_grad;
		at::Tensor s = at::from_blob(const_cast<float *>(src), t.sizes(),
					     at::TensorOptions().dtype(at::kFloat));
		t.copy_(s); /* converts to t's dtype, in place */
		return 0;
	});
}

int mt_module_forward(mt_tensor **out, mt_module *m, const mt_tensor *input)
{
	*out = NULL;
	return guard("mt_module_forward", [&] {
		torch::NoGradGuard no_grad;
		*out = mtshim::wrap_tensor(forward_tensor(m->module, input->tensor));
		return 0;
	});
}

/* Predictions in batches; classes > 0: every batch's output must be
 * len x classes (logits then holds n * classes floats), else any width
 * that stays the same across batches. */
static int predict(int64_t *labels, float *logits, int64_t *nout,
		   mt_module *m, const mt_tensor *inputs, int64_t batch_size,
		   int64_t classes)
{
	/* Inference mode: no autograd bookkeeping at all (cheaper than
	 * NoGradGuard's no-grad). */
	c10::InferenceMode inference;
	const at::Tensor &x = inputs->tensor;
	if (x.dim() < 1)
		return failf(MT_EINVALID, "mt_module_predict: input is a scalar, expected a batch");
	int64_t n = x.size(0), width = classes > 0 ? classes : -1;
	if (batch_size <= 0)
		batch_size = n > 0 ? n : 1;
	m->module.eval();
	for (int64_t start = 0; start < n; start += batch_size) {
		int64_t len = std::min(batch_size, n - start);
		at::Tensor out = forward_tensor(m->module, x.narrow(0, start, len));
		if (out.dim() != 2 || out.size(0) != len) {
			if (classes > 0)
				return failf(MT_EINVALID,
					     "the model's output has shape %s for a batch of %lld inputs, expected %lld x %lld (data.classes)",
					     c10::str(out.sizes()).c_str(), (long long)len,
					     (long long)len, (long long)classes);
			return failf(MT_EINVALID,
				     "the model's output has shape %s for a batch of %lld inputs, expected batch x classes",
				     c10::str(out.sizes()).c_str(), (long long)len);
		}
		if (width < 0)
			width = out.size(1);
		if (out.size(1) != width && classes > 0)
			return failf(MT_EINVALID,
				     "the model has %lld outputs per input but data.classes is %lld: its forward must return one score per class",
				     (long long)out.size(1), (long long)width);
		if (out.size(1) != width)
			return failf(MT_EINVALID,
				     "the model's output has %lld scores per input for inputs %lld.., %lld for the first batch",
				     (long long)out.size(1), (long long)start, (long long)width);
		if (out.is_complex() || out.scalar_type() == at::kBool)
			return failf(MT_EINVALID,
				     "the model's output has dtype %s, expected real-valued scores",
				     c10::toString(out.scalar_type()));
		if (width == 0)
			return failf(MT_EINVALID, "the model's output has 0 scores per input");
		at::Tensor pred = out.argmax(1).contiguous();
		memcpy(labels + start, pred.data_ptr<int64_t>(),
		       (size_t)len * sizeof(int64_t));
		if (logits) {
			at::Tensor f = out.to(at::kFloat).contiguous();
			memcpy(logits + start * width, f.data_ptr<float>(),
			       (size_t)(len * width) * sizeof(float));
		}
	}
	if (nout)
		*nout = width < 0 ? 0 : width;
	return 0;
}

int mt_module_predict(int64_t *labels, float *logits, int64_t *nout,
		      mt_module *m, const mt_tensor *inputs,
		      int64_t batch_size)
{
	if (nout)
		*nout = 0;
	return guard("mt_module_predict", [&] {
		return predict(labels, logits, nout, m, inputs, batch_size, 0);
	});
}

int mt_module_predict_classes(int64_t *labels, float *logits, mt_module *m,
			      const mt_tensor *inputs, int64_t batch_size,
			      int64_t classes)
{
	return guard("mt_module_predict", [&] {
		if (classes <= 0)
			return failf(MT_EINVALID, "mt_module_predict_classes: %lld classes, expected at least 1",
				     (long long)classes);
		return predict(labels, logits, NULL, m, inputs, batch_size, classes);
	});
}
} /* extern "C" */
