/* A torch.save dict {"x", "y"}: the zip check, then, on what passes it,
 * the shim's loader (libtorch's zip reader and unpickler, and the storage
 * checks) exactly as mt_shim_load_tensor_dict runs them. */
#include <stddef.h>
#include <stdint.h>

#include "mutorch/shim.h"
#include "mutorch/zip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mt_tensor *x = NULL, *y = NULL;

	if (mt_zip_check(data, size, "data.pt", MT_ZIP_STORED_ONLY) < 0)
		return 0;
	if (mt_shim_load_tensor_dict_buffer(&x, &y, data, size, "data.pt") == 0) {
		mt_tensor_free(x);
		mt_tensor_free(y);
	}
	return 0;
}
