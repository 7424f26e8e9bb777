/* The C API over libtorch: errors, threads and seeds, tensors, TorchScript
 * modules (load, save, clone, parameters, inference) and training.
 * Every extern "C" function runs its body through mtshim::guard, so no C++
 * exception crosses into C. */
#include "shim_internal.hpp"

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim.h>
#include <torch/version.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <dlfcn.h>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include "mutorch/io.h"

#define MT_SHIM_ERROR_MAX 2048

static thread_local char shim_last_error[MT_SHIM_ERROR_MAX];

struct mt_optimizer {
	std::unique_ptr<torch::optim::Optimizer> optimizer;
	/* The module's parameters, in order: the penalties, gradient
	 * clipping and zeroing use them without asking the module again. */
	std::vector<at::Tensor> params;
};

namespace mtshim {

static int failv(int code, const char *fmt, va_list ap)
{
	vsnprintf(shim_last_error, sizeof(shim_last_error), fmt, ap);
	mt_error_set(code, "%s", shim_last_error);
	return code;
}

static int failf(int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static int failf(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	failv(code, fmt, ap);
	va_end(ap);
	return code;
}

int fail(int code, const std::string &message)
{
	return failf(code, "%s", message.c_str());
}

int fail_from_last(int code)
{
	snprintf(shim_last_error, sizeof(shim_last_error), "%s", mt_error_last());
	return code;
}

/* The line of a (possibly multi-line) libtorch message worth showing: the
 * first one, except for TorchScript interpreter errors, whose cause is on
 * the last "...Error: " line. No allocation: this runs while reporting
 * std::bad_alloc too. */
static void short_message(char *dst, size_t cap, const char *msg)
{
	const char *line, *end;
	static const char interp[] =
		"The following operation failed in the TorchScript interpreter";
	while (*msg == '\n' || *msg == ' ')
		msg++;
	line = msg;
	if (strncmp(msg, interp, sizeof(interp) - 1) == 0) {
		for (const char *p = msg; (p = strstr(p, "Error: ")); p++) {
			const char *start = p;
			while (start > msg && start[-1] != '\n')
				start--;
			line = start;
		}
	}
	end = strchr(line, '\n');
	size_t n = end ? (size_t)(end - line) : strlen(line);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, line, n);
	dst[n] = '\0';
}

int fail_current_exception(const char *context)
{
	char msg[1024];
	try {
		throw;
	} catch (const c10::Error &e) {
		short_message(msg, sizeof(msg), e.what_without_backtrace());
		return failf(MT_ETORCH, "%s: %s", context, msg);
	} catch (const std::bad_alloc &) {
		return failf(MT_ENOMEM, "%s: out of memory", context);
	} catch (const std::exception &e) {
		short_message(msg, sizeof(msg), e.what());
		return failf(MT_ETORCH, "%s: %s", context, msg);
	} catch (...) {
		return failf(MT_ERROR, "%s: unknown C++ exception", context);
	}
}

at::ScalarType scalar_type(mt_dtype dtype)
{
	switch (dtype) {
	case MT_DTYPE_FLOAT32: return at::kFloat;
	case MT_DTYPE_FLOAT64: return at::kDouble;
	case MT_DTYPE_FLOAT16: return at::kHalf;
	case MT_DTYPE_BFLOAT16: return at::kBFloat16;
	case MT_DTYPE_INT64: return at::kLong;
	case MT_DTYPE_INT32: return at::kInt;
	case MT_DTYPE_UINT8: return at::kByte;
	case MT_DTYPE_BOOL: return at::kBool;
	default: break;
	}
	throw std::invalid_argument("unsupported dtype " +
				    std::to_string((int)dtype));
}

mt_dtype from_scalar_type(at::ScalarType type)
{
	switch (type) {
	case at::kFloat: return MT_DTYPE_FLOAT32;
	case at::kDouble: return MT_DTYPE_FLOAT64;
	case at::kHalf: return MT_DTYPE_FLOAT16;
	case at::kBFloat16: return MT_DTYPE_BFLOAT16;
	case at::kLong: return MT_DTYPE_INT64;
	case at::kInt: return MT_DTYPE_INT32;
	case at::kByte: return MT_DTYPE_UINT8;
	case at::kBool: return MT_DTYPE_BOOL;
	default: return MT_DTYPE_OTHER;
	}
}

mt_tensor *wrap_tensor(at::Tensor t)
{
	return new mt_tensor{std::move(t)};
}

} // namespace mtshim

using mtshim::failf;
using mtshim::guard;

extern "C" {

const char *mt_shim_last_error(void)
{
	return shim_last_error;
}

/* ---- threads, seeds ------------------------------------------------------ */

int mt_shim_init(int threads, uint64_t seed, int deterministic)
{
	return guard("mt_shim_init", [&] {
		static std::once_flag interop_once;
		if (threads <= 0)
			threads = 1;
		at::set_num_threads(threads);
		/* ATen does not tell an OpenBLAS (pthread build, Debian's
		 * libblas.so.3 alternative) how many threads to use: it would
		 * use every core, oversubscribe parallel workers and change
		 * results with the machine. Found at run time, since the
		 * BLAS is whatever the alternative points to. */
		using blas_threads_fn = void (*)(int);
		if (auto set_blas = (blas_threads_fn)dlsym(RTLD_DEFAULT,
							   "openblas_set_num_threads"))
			set_blas(threads);
		/* libtorch allows this once per process, and only before any
		 * inter-op work: a later call keeps the first setting. */
		std::call_once(interop_once, [&] {
			try {
				at::set_num_interop_threads(threads);
			} catch (...) {
			}
		});
		torch::manual_seed(seed);
		at::globalContext().setDeterministicAlgorithms(deterministic != 0,
							       false);
		/* The profiling graph executor spends the first calls of every
		 * module profiling and then re-optimising its graph: costly for
		 * the short-lived modules of a mutation run (a graph mutant is
		 * evaluated once) and no faster afterwards on CPU. The simple
		 * executor runs the graph as it is, like eager PyTorch. */
		torch::jit::getProfilingMode() = false;
		torch::jit::getExecutorMode() = false;
		return 0;
	});
}

int mt_shim_manual_seed(uint64_t seed)
{
	return guard("mt_shim_manual_seed", [&] {
		torch::manual_seed(seed);
		return 0;
	});
}

int mt_shim_threads(void)
{
	return at::get_num_threads();
}

const char *mt_shim_torch_version(void)
{
	return TORCH_VERSION;
}

/* ---- tensors --------------------------------------------------------------- */

int mt_tensor_from_data(mt_tensor **out, const void *data, mt_dtype dtype,
			const int64_t *shape, int ndim)
{
	*out = NULL;
	return guard("mt_tensor_from_data", [&] {
		if (ndim < 0 || ndim > MT_MAX_DIMS || (ndim > 0 && !shape))
			return failf(MT_EINVALID,
				     "mt_tensor_from_data: ndim %d, expected 0 to %d",
				     ndim, MT_MAX_DIMS);
		std::vector<int64_t> sizes(shape, shape + ndim);
		for (int i = 0; i < ndim; i++)
			if (sizes[i] < 0)
				return failf(MT_EINVALID,
					     "mt_tensor_from_data: dimension %d is %lld, expected >= 0",
					     i, (long long)sizes[i]);
		at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(
							mtshim::scalar_type(dtype)));
		size_t bytes = (size_t)t.numel() * t.element_size();
		if (bytes > 0) {
			if (!data)
				return failf(MT_EINVALID,
					     "mt_tensor_from_data: data is NULL");
			memcpy(t.data_ptr(), data, bytes);
		}
		*out = mtshim::wrap_tensor(std::move(t));
		return 0;
	});
}

void mt_tensor_free(mt_tensor *t)
{
	delete t;
}

int mt_tensor_ndim(const mt_tensor *t)
{
	return t ? (int)t->tensor.dim() : -1;
}

int64_t mt_tensor_dim(const mt_tensor *t, int i)
{
	if (!t || i < 0 || i >= t->tensor.dim())
		return -1;
	return t->tensor.size(i);
}

int64_t mt_tensor_numel(const mt_tensor *t)
{
	return t ? t->tensor.numel() : 0;
}

mt_dtype mt_tensor_dtype(const mt_tensor *t)
{
	return t ? mtshim::from_scalar_type(t->tensor.scalar_type())
		 : MT_DTYPE_OTHER;
}

int mt_tensor_copy_out(const mt_tensor *t, void *dst, mt_dtype dtype,
		       int64_t numel)
{
	return guard("mt_tensor_copy_out", [&] {
		if (t->tensor.numel() != numel)
			return failf(MT_EINVALID,
				     "mt_tensor_copy_out: tensor has %lld elements, buffer %lld",
				     (long long)t->tensor.numel(), (long long)numel);
		at::Tensor c = t->tensor.detach()
				       .to(mtshim::scalar_type(dtype))
				       .contiguous();
		if (numel > 0)
			memcpy(dst, c.data_ptr(), (size_t)numel * c.element_size());
		return 0;
	});
}

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
		std::istringstream in(std::string((const char *)buf, len));
		torch::jit::Module module;
		try {
			module = torch::jit::load(in, torch::Device(torch::kCPU));
		} catch (const c10::Error &e) {
			char msg[1024];
			mtshim::short_message(msg, sizeof(msg),
					      e.what_without_backtrace());
			return failf(MT_EINVALID,
				     "%s: not a TorchScript archive (%s)", name, msg);
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

static at::Tensor forward_tensor(torch::jit::Module &module, const at::Tensor &x)
{
	std::vector<c10::IValue> inputs{x};
	c10::IValue r = module.forward(std::move(inputs));
	if (!r.isTensor())
		throw std::runtime_error("forward returned " + r.tagKind() +
					 ", expected a tensor");
	return r.toTensor();
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

int mt_module_predict(int64_t *labels, float *logits, int64_t *nout,
		      mt_module *m, const mt_tensor *inputs,
		      int64_t batch_size)
{
	if (nout)
		*nout = 0;
	return guard("mt_module_predict", [&] {
		/* Inference mode: no autograd bookkeeping at all (cheaper than
		 * NoGradGuard's no-grad). */
		c10::InferenceMode inference;
		const at::Tensor &x = inputs->tensor;
		if (x.dim() < 1)
			return failf(MT_EINVALID, "mt_module_predict: input is a scalar, expected a batch");
		int64_t n = x.size(0), width = 0;
		if (batch_size <= 0)
			batch_size = n > 0 ? n : 1;
		m->module.eval();
		for (int64_t start = 0; start < n; start += batch_size) {
			int64_t len = std::min(batch_size, n - start);
			at::Tensor out = forward_tensor(m->module, x.narrow(0, start, len));
			if (out.dim() != 2 || out.size(0) != len)
				return failf(MT_EINVALID,
					     "mt_module_predict: model output has shape %s for a batch of %lld, expected batch x classes",
					     c10::str(out.sizes()).c_str(), (long long)len);
			if (start == 0)
				width = out.size(1);
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
			*nout = width;
		return 0;
	});
}

/* ---- training ------------------------------------------------------------------ */

static bool finite_positive(double v)
{
	return std::isfinite(v) && v > 0;
}

int mt_optimizer_new(mt_optimizer **out, mt_module *m,
		     const mt_optim_config *c)
{
	*out = NULL;
	return guard("mt_optimizer_new", [&] {
		namespace optim = torch::optim;
		if (!finite_positive(c->lr))
			return failf(MT_EINVALID,
				     "optimizer: lr is %g, expected a positive number", c->lr);
		auto holder = std::make_unique<mt_optimizer>();
		for (at::Tensor p : m->module.parameters(true)) {
			/* Leaves only: a loaded or cloned module may have them
			 * off, and an optimizer needs them on. */
			if (!p.requires_grad())
				p.set_requires_grad(true);
			holder->params.push_back(p);
		}
		if (holder->params.empty())
			return failf(MT_EINVALID,
				     "optimizer: the module has no parameters to train");
		const auto &ps = holder->params;
		switch (c->kind) {
		case MT_OPTIM_SGD:
			holder->optimizer = std::make_unique<optim::SGD>(
				ps, optim::SGDOptions(c->lr)
					    .momentum(c->momentum)
					    .dampening(c->dampening)
					    .nesterov(c->nesterov != 0)
					    .weight_decay(c->weight_decay));
			break;
		case MT_OPTIM_ADAM:
			holder->optimizer = std::make_unique<optim::Adam>(
				ps, optim::AdamOptions(c->lr)
					    .betas(std::make_tuple(c->beta1, c->beta2))
					    .eps(c->eps)
					    .weight_decay(c->weight_decay)
					    .amsgrad(c->amsgrad != 0));
			break;
		case MT_OPTIM_ADAMW:
			holder->optimizer = std::make_unique<optim::AdamW>(
				ps, optim::AdamWOptions(c->lr)
					    .betas(std::make_tuple(c->beta1, c->beta2))
					    .eps(c->eps)
					    .weight_decay(c->weight_decay)
					    .amsgrad(c->amsgrad != 0));
			break;
		case MT_OPTIM_RMSPROP:
			holder->optimizer = std::make_unique<optim::RMSprop>(
				ps, optim::RMSpropOptions(c->lr)
					    .alpha(c->alpha)
					    .eps(c->eps)
					    .weight_decay(c->weight_decay)
					    .momentum(c->momentum));
			break;
		case MT_OPTIM_ADAGRAD:
			holder->optimizer = std::make_unique<optim::Adagrad>(
				ps, optim::AdagradOptions(c->lr)
					    .lr_decay(c->lr_decay)
					    .weight_decay(c->weight_decay)
					    .eps(c->eps));
			break;
		default:
			return failf(MT_EINVALID, "optimizer: unknown kind %d",
				     (int)c->kind);
		}
		*out = holder.release();
		return 0;
	});
}

void mt_optimizer_free(mt_optimizer *opt)
{
	delete opt;
}

static at::Tensor compute_loss(const at::Tensor &out, const at::Tensor &y,
			       const mt_train_options *o,
			       const std::vector<at::Tensor> &params)
{
	at::Tensor loss;
	switch (o->loss) {
	case MT_LOSS_CROSS_ENTROPY:
		loss = at::cross_entropy_loss(out, y);
		break;
	case MT_LOSS_NLL:
		loss = at::nll_loss(out, y);
		break;
	case MT_LOSS_MSE: {
		int64_t classes = o->num_classes > 0 ? o->num_classes
						     : (out.dim() == 2 ? out.size(1) : 0);
		at::Tensor target = at::one_hot(y, classes).to(out.scalar_type());
		loss = at::mse_loss(out, target);
		break;
	}
	default:
		throw std::invalid_argument("unknown loss kind " +
					    std::to_string((int)o->loss));
	}
	if (o->l1 != 0) {
		at::Tensor sum = params[0].abs().sum();
		for (size_t i = 1; i < params.size(); i++)
			sum = sum + params[i].abs().sum();
		loss = loss + o->l1 * sum;
	}
	if (o->l2 != 0) {
		at::Tensor sum = params[0].pow(2).sum();
		for (size_t i = 1; i < params.size(); i++)
			sum = sum + params[i].pow(2).sum();
		loss = loss + o->l2 * sum;
	}
	return loss;
}

/* zero_grad (to None), forward, loss, backward, clip, step. Returns the
 * loss; a non-finite loss returns before backward, so the weights stay as
 * they were. */
static double train_batch(mt_module *m, mt_optimizer *opt, const at::Tensor &x,
			  const at::Tensor &y, const mt_train_options *o)
{
	for (at::Tensor &p : opt->params)
		p.mutable_grad().reset();
	at::Tensor out = forward_tensor(m->module, x);
	at::Tensor loss = compute_loss(out, y, o, opt->params);
	double value = loss.item<double>();
	if (!std::isfinite(value))
		return value;
	loss.backward();
	if (o->grad_clip > 0)
		torch::nn::utils::clip_grad_norm_(opt->params, o->grad_clip);
	opt->optimizer->step();
	return value;
}

static at::Tensor as_labels(const at::Tensor &y)
{
	return y.scalar_type() == at::kLong ? y : y.to(at::kLong);
}

int mt_train_step(double *loss, mt_module *m, mt_optimizer *opt,
		  const mt_tensor *x, const mt_tensor *y,
		  const mt_train_options *o)
{
	*loss = NAN;
	return guard("mt_train_step", [&] {
		m->module.train(true);
		double value = train_batch(m, opt, x->tensor, as_labels(y->tensor), o);
		*loss = value;
		if (!std::isfinite(value))
			return failf(MT_EDIVERGED, "training diverged: the loss is %g",
				     value);
		return 0;
	});
}

int mt_train_epoch(mt_epoch_stats *stats, mt_module *m, mt_optimizer *opt,
		   const mt_tensor *x, const mt_tensor *y,
		   const int64_t *order, int64_t n, const mt_train_options *o)
{
	memset(stats, 0, sizeof(*stats));
	return guard("mt_train_epoch", [&] {
		auto t0 = std::chrono::steady_clock::now();
		const at::Tensor &xs = x->tensor;
		if (o->batch_size <= 0)
			return failf(MT_EINVALID,
				     "mt_train_epoch: batch_size is %lld, expected > 0",
				     (long long)o->batch_size);
		if (xs.dim() < 1 || y->tensor.dim() != 1 ||
		    y->tensor.size(0) != xs.size(0))
			return failf(MT_EINVALID,
				     "mt_train_epoch: x has shape %s and y %s, expected the same number of samples",
				     c10::str(xs.sizes()).c_str(),
				     c10::str(y->tensor.sizes()).c_str());
		int64_t count = xs.size(0);
		for (int64_t i = 0; i < n; i++)
			if (order[i] < 0 || order[i] >= count)
				return failf(MT_EINVALID,
					     "mt_train_epoch: order[%lld] = %lld, expected an index in [0, %lld)",
					     (long long)i, (long long)order[i],
					     (long long)count);
		at::Tensor ys = as_labels(y->tensor);
		/* A view of the caller's array: batches are gathered with
		 * index_select, never copied sample by sample. */
		at::Tensor index = at::from_blob(const_cast<int64_t *>(order), {n},
						 at::TensorOptions().dtype(at::kLong));
		m->module.train(true);
		double loss_sum = 0;
		int error = 0;
		for (int64_t start = 0; start < n; start += o->batch_size) {
			int64_t len = std::min(o->batch_size, n - start);
			at::Tensor idx = index.narrow(0, start, len);
			double loss = train_batch(m, opt, xs.index_select(0, idx),
						  ys.index_select(0, idx), o);
			if (!std::isfinite(loss)) {
				stats->diverged = 1;
				error = failf(MT_EDIVERGED,
					      "training diverged: the loss of batch %lld is %g",
					      (long long)stats->batches, loss);
				break;
			}
			loss_sum += loss * (double)len;
			stats->samples += len;
			stats->batches++;
			if (o->progress) {
				int stop = o->progress(o->progress_ctx, stats->samples,
						       n, loss);
				if (stop) {
					error = stop < 0 ? mtshim::fail_from_last(stop) : 0;
					break;
				}
			}
		}
		stats->mean_loss = stats->samples > 0 ? loss_sum / (double)stats->samples
						      : 0.0;
		stats->seconds = std::chrono::duration<double>(
					 std::chrono::steady_clock::now() - t0)
					 .count();
		return error;
	});
}

} /* extern "C" */
