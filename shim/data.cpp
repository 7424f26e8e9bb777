/* Data into tensors: normalised pixels, and dicts of tensors saved by
 * torch.save. */
#include "shim_internal.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/unpickler.h>
#include <unordered_map>

#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/shim.h"
#include "mutorch/zip.h"

extern "C" int mt_tensor_from_pixels(mt_tensor **out, const void *pixels,
				     int pixels_f32, int64_t n,
				     const int64_t shape[3], double scale,
				     const double *mean, const double *std,
				     int nnorm)
{
	*out = NULL;
	return mtshim::guard("mt_tensor_from_pixels", [&] {
		int64_t c = shape[0], h = shape[1], w = shape[2];
		if (n < 0 || c <= 0 || h <= 0 || w <= 0)
			return mtshim::fail(MT_EINVALID,
					    "pixels: shape " + std::to_string(n) + " x " +
						    std::to_string(c) + " x " + std::to_string(h) +
						    " x " + std::to_string(w) +
						    ", expected positive dimensions");
		if (!(scale != 0) || (nnorm != 0 && nnorm != 1 && nnorm != c))
			return mtshim::fail(MT_EINVALID,
					    "pixels: scale must be non-zero and the number of "
					    "mean/std values (" + std::to_string(nnorm) +
						    ") 0, 1 or the channel count " + std::to_string(c));
		for (int i = 0; i < nnorm; i++)
			if (!(std[i] != 0))
				return mtshim::fail(MT_EINVALID,
						    "pixels: std[" + std::to_string(i) +
							    "] is 0, expected non-zero");
		at::Tensor raw = at::from_blob(const_cast<void *>(pixels), {n, c, h, w},
					       at::TensorOptions().dtype(
						       pixels_f32 ? at::kFloat : at::kByte));
		/* An own float copy, then the same ops in the same order as
		 * x.float().div(scale).sub(mean).div(std) in PyTorch, in place
		 * (the same kernels, so the same bits) to halve peak memory. */
		at::Tensor x = pixels_f32 ? raw.clone() : raw.to(at::kFloat);
		x.div_(scale);
		if (nnorm == 1) {
			x.sub_(mean[0]).div_(std[0]);
		} else if (nnorm > 1) {
			/* Like torchvision's Normalize: float32 tensors per
			 * channel, broadcast over h x w. */
			std::vector<float> m(mean, mean + nnorm), s(std, std + nnorm);
			auto opts = at::TensorOptions().dtype(at::kFloat);
			x.sub_(at::from_blob(m.data(), {1, c, 1, 1}, opts))
				.div_(at::from_blob(s.data(), {1, c, 1, 1}, opts));
		}
		*out = mtshim::wrap_tensor(std::move(x));
		return 0;
	});
}

namespace {

const c10::IValue *dict_get(const c10::impl::GenericDict &dict, const char *key)
{
	for (const auto &entry : dict)
		if (entry.key().isString() && entry.key().toStringRef() == key)
			return &entry.value();
	return nullptr;
}

/* The bytes of each storage record read from the archive, by data
 * pointer: libtorch sizes a storage by the element count in data.pkl, not
 * by the record it reads, so only the record tells what is really there. */
using record_sizes = std::unordered_map<const void *, size_t>;

/* torch::pickle_load (readArchiveAndTensors in libtorch 1.13) with a
 * read_record that remembers every record's size. */
c10::IValue load_dict_archive(const void *buf, size_t len, record_sizes &sizes)
{
	caffe2::serialize::PyTorchStreamReader reader(
		std::make_shared<caffe2::serialize::MemoryReadAdapter>(buf, (off_t)len));
	at::DataPtr pickle;
	size_t pickle_size = 0, done = 0;
	std::tie(pickle, pickle_size) = reader.getRecord("data.pkl");
	const char *pickle_bytes = (const char *)pickle.get();
	auto read = [&](char *dst, size_t n) -> size_t {
		if (done >= pickle_size)
			return 0;
		n = std::min(pickle_size - done, n);
		memcpy(dst, pickle_bytes + done, n);
		done += n;
		return n;
	};
	auto read_record = [&](const std::string &name) {
		at::DataPtr ptr;
		size_t size = 0;
		std::tie(ptr, size) = reader.getRecord("data/" + name);
		sizes[ptr.get()] = size;
		return ptr;
	};
	torch::jit::Unpickler unpickler(read, nullptr, nullptr, std::move(read_record),
					c10::nullopt);
	unpickler.set_version(reader.version());
	return unpickler.parse_ivalue();
}

/* Why a tensor's storage cannot hold what its sizes, strides and offset
 * address (libtorch's unpickler sets them from the file unchecked), or ""
 * when it can. Nothing here reads the tensor's data. */
std::string storage_problem(const at::Tensor &t, const record_sizes &records)
{
	if (!t.defined())
		return "is an undefined tensor";
	if (!t.device().is_cpu() || t.layout() != at::kStrided)
		return "is not a dense CPU tensor";
	auto sizes = t.sizes();
	auto strides = t.strides();
	int64_t offset = t.storage_offset();
	uint64_t last = 0, count = 1, bytes;
	if (offset < 0)
		return "has a negative storage offset";
	for (size_t i = 0; i < sizes.size(); i++)
		if (sizes[i] < 0 || strides[i] < 0)
			return "has a negative size or stride";
	for (size_t i = 0; i < sizes.size(); i++) {
		if (sizes[i] == 0)
			return std::string(); /* no element: nothing is read */
		if (__builtin_mul_overflow(count, (uint64_t)sizes[i], &count))
			return "has more elements than 2^64";
	}
	for (size_t i = 0; i < sizes.size(); i++) {
		uint64_t step;
		if (__builtin_mul_overflow((uint64_t)(sizes[i] - 1), (uint64_t)strides[i], &step) ||
		    __builtin_add_overflow(last, step, &last))
			return "has strides that overflow";
	}
	if (__builtin_add_overflow(last, (uint64_t)offset, &last) ||
	    __builtin_add_overflow(last, (uint64_t)1, &last) ||
	    __builtin_mul_overflow(last, (uint64_t)t.element_size(), &bytes))
		return "addresses more than 2^64 bytes";
	size_t have = 0;
	if (t.storage() && t.storage().data()) {
		auto it = records.find(t.storage().data());
		have = it == records.end() ? 0 : std::min(it->second, t.storage().nbytes());
	}
	if (have < bytes)
		return "addresses " + std::to_string(bytes) + " bytes (offset " +
		       std::to_string(offset) + ", shape " + c10::str(sizes) +
		       ") but its storage in the archive holds " + std::to_string(have) +
		       " bytes";
	return std::string();
}

const char expected_dict[] =
	"expected a dict {\"x\": tensor, \"y\": tensor} saved by torch.save";

} // namespace

extern "C" int mt_shim_load_tensor_dict_buffer(mt_tensor **x, mt_tensor **y,
					       const void *buf, size_t len,
					       const char *name)
{
	*x = *y = NULL;
	if (!name)
		name = "<buffer>";
	return mtshim::guard(name, [&] {
		std::string n(name);
		static const char zip_magic[4] = {'P', 'K', 3, 4};
		if (len < 4 || memcmp(buf, zip_magic, 4) != 0)
			return mtshim::fail(MT_EINVALID, n + ": not a torch.save file (not a zip archive); " +
							 expected_dict);
		/* libtorch's zip reader is not safe on untrusted bytes */
		if (mt_zip_check(buf, len, name, MT_ZIP_STORED_ONLY) < 0)
			return mtshim::fail_from_last(MT_EINVALID);
		c10::IValue v;
		record_sizes records;
		try {
			v = load_dict_archive(buf, len, records);
		} catch (const c10::Error &e) {
			std::string msg = e.what_without_backtrace();
			msg = msg.substr(0, msg.find('\n'));
			/* libtorch's unpickler asserts on an OrderedDict */
			if (msg.find("GenericDict") != std::string::npos)
				return mtshim::fail(MT_EINVALID, n + ": holds an OrderedDict or another object, " +
								 expected_dict +
								 " (save a state dict as dict(...))");
			return mtshim::fail(MT_EINVALID, n + ": cannot read as a torch.save file (" +
							 msg + "); " + expected_dict);
		}
		if (!v.isGenericDict())
			return mtshim::fail(MT_EINVALID, n + ": holds a " + v.tagKind() +
							 ", " + expected_dict +
							 " (a plain dict, not an OrderedDict)");
		auto dict = v.toGenericDict();
		const c10::IValue *xv = dict_get(dict, "x"), *yv = dict_get(dict, "y");
		for (const char *key : {"x", "y"}) {
			const c10::IValue *val = key[0] == 'x' ? xv : yv;
			if (!val)
				return mtshim::fail(MT_EINVALID, n + ": key '" + key +
								 "' is missing; " + expected_dict);
			if (!val->isTensor())
				return mtshim::fail(MT_EINVALID, n + ": key '" + key + "' is a " +
								 val->tagKind() + ", expected a tensor");
		}
		at::Tensor xt = xv->toTensor(), yt = yv->toTensor();
		for (const char *key : {"x", "y"}) {
			std::string problem = storage_problem(key[0] == 'x' ? xt : yt, records);
			if (!problem.empty())
				return mtshim::fail(MT_EINVALID, n + ": key '" + key + "' " + problem);
		}
		int64_t count = xt.dim() > 0 ? xt.size(0) : 0;
		if (xt.dim() == 2)
			xt = xt.reshape({count, 1, 1, xt.size(1)});
		else if (xt.dim() == 3)
			xt = xt.reshape({count, 1, xt.size(1), xt.size(2)});
		else if (xt.dim() != 4)
			return mtshim::fail(MT_EINVALID, n + ": key 'x' has shape " +
							 c10::str(xt.sizes()) +
							 ", expected 2-D (n x d), 3-D (n x h x w) or 4-D (n x c x h x w)");
		if (yt.dim() != 1 || yt.size(0) != count)
			return mtshim::fail(MT_EINVALID, n + ": key 'y' has shape " +
							 c10::str(yt.sizes()) + ", expected [" +
							 std::to_string(count) + "] (one label per sample of x)");
		if (!at::isIntegralType(yt.scalar_type(), /*includeBool=*/false))
			return mtshim::fail(MT_EINVALID, n + ": key 'y' has dtype " +
							 std::string(c10::toString(yt.scalar_type())) +
							 ", expected integer class labels");
		switch (xt.scalar_type()) {
		case at::kByte: case at::kChar: case at::kShort: case at::kInt: case at::kLong:
		case at::kHalf: case at::kBFloat16: case at::kFloat: case at::kDouble:
			break;
		default:
			return mtshim::fail(MT_EINVALID, n + ": key 'x' has dtype " +
							 std::string(c10::toString(xt.scalar_type())) +
							 ", expected an integer or floating-point tensor");
		}
		/* Datasets hold uint8 or float32 pixels. */
		if (xt.scalar_type() != at::kByte)
			xt = xt.to(at::kFloat);
		*x = mtshim::wrap_tensor(xt.contiguous());
		*y = mtshim::wrap_tensor(yt.to(at::kLong).contiguous());
		return 0;
	});
}

extern "C" int mt_shim_load_tensor_dict(mt_tensor **x, mt_tensor **y,
					const char *path)
{
	void *buf = NULL;
	size_t len = 0;
	int error;

	*x = *y = NULL;
	if ((error = mt_io_read_file(&buf, &len, path)) < 0)
		return mtshim::fail_from_last(error);
	error = mt_shim_load_tensor_dict_buffer(x, y, buf, len, path);
	free(buf);
	return error;
}
