/* Shared by the shim's translation units (never included outside shim/):
 * the handle structs and the exception boundary. */
#ifndef MUTORCH_SHIM_INTERNAL_HPP
#define MUTORCH_SHIM_INTERNAL_HPP

#include <torch/script.h>

#include <cstddef>
#include <stdexcept>
#include <string>

#include "mutorch/shim.h"

struct mt_module {
	torch::jit::Module module;
};

struct mt_tensor {
	at::Tensor tensor;
};

namespace mtshim {

/* An error of the model itself: its forward raised (TorchScript code that
 * fails, a shape that does not fit the input) or returned something that is
 * not a tensor. The model or its input is at fault, not mutorch, so
 * fail_current_exception maps it to MT_EINVALID (exit 3), with the message
 * as it is (callers prefix the model's file). */
struct model_error : std::runtime_error {
	using std::runtime_error::runtime_error;
};

/* Record an error (shim buffer and mutorch's last error); returns code. */
int fail(int code, const std::string &message);
int failf(int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Copy mutorch's last error (set by a C helper) into the shim's buffer. */
int fail_from_last(int code);

/* The line of a (possibly multi-line) libtorch message worth showing, into
 * dst (cap bytes): the first one, or for a TorchScript interpreter error
 * the last "...Error: " line. */
void short_message(char *dst, size_t cap, const char *msg);

/* Call inside a catch block: turn the exception in flight into a code and
 * "<context>: <first line of its message>". */
int fail_current_exception(const char *context);

/* Run body (returning int), turning any C++ exception into an error code.
 * context prefixes the message: a path, or the function's name. */
template <class Body> int guard(const char *context, Body &&body)
{
	try {
		return body();
	} catch (...) {
		return fail_current_exception(context);
	}
}

at::ScalarType scalar_type(mt_dtype dtype);
mt_dtype from_scalar_type(at::ScalarType type);

/* A new handle owning t, or throws std::bad_alloc. */
mt_tensor *wrap_tensor(at::Tensor t);

/* module.forward(x) that must return a tensor (module.cpp); whatever the
 * model's code raises, and an output that is not a tensor, is rethrown as
 * model_error (an allocation failure stays std::bad_alloc). */
at::Tensor forward_tensor(torch::jit::Module &module, const at::Tensor &x);

} // namespace mtshim

#endif
