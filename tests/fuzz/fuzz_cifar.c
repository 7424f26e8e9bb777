/* A CIFAR-10 binary batch through mt_dataset_load_cifar10_buffer. */
#include <stddef.h>
#include <stdint.h>

#include "mutorch/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mt_dataset *ds = NULL;

	if (mt_dataset_load_cifar10_buffer(&ds, data, size, "batch.bin") == 0)
		mt_dataset_free(ds);
	return 0;
}
