/* The zip check alone (core/zip.c), as for TorchScript models: deflate
 * allowed. Fast, so it gets many more executions than fuzz_torchdict. */
#include <stddef.h>
#include <stdint.h>

#include "mutorch/zip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mt_zip_check(data, size, "model.pt", MT_ZIP_ALLOW_DEFLATE);
	return 0;
}
