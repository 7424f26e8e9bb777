/* The C API over libtorch, its foundation: the exception boundary and the
 * last error, dtypes, threads and seeds, and tensors. TorchScript modules
 * are in module.cpp, training in train.cpp.
 * Every extern "C" function runs its body through mtshim::guard, so no C++
 * exception crosses into C. */
#include "shim_internal.hpp"

#include <torch/version.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <ATen/Parallel.h>

#include <dlfcn.h>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "mutorch/error.h"
#include "mutorch/shim.h"

#define MT_SHIM_ERROR_MAX 2048

static thread_local char shim_last_error[MT_SHIM_ERROR_MAX];

namespace mtshim {

static int failv(int code, const char *fmt, va_list ap)
{
	vsnprintf(shim_last_error, sizeof(shim_last_error), fmt, ap);
	mt_error_set(code, "%s", shim_last_error);
	return code;
}

int failf(int code, const char *fmt, ...)
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
void short_message(char *dst, size_t cap, const char *msg)
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
	} catch (const model_error &e) {
		/* The model's fault (exit 3), not mutorch's: see model_error. */
		return failf(MT_EINVALID, "%s", e.what());
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

} /* extern "C" */
