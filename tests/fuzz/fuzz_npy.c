/* NumPy x.npy + y.npy (gzip or plain) through mt_dataset_load_npy_buffer. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_split.h"
#include "mutorch/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *x, *y;
	size_t x_len, y_len;
	mt_dataset *ds = NULL;

	fuzz_split(data, size, &x, &x_len, &y, &y_len);
	if (mt_dataset_load_npy_buffer(&ds, x, x_len, "x.npy", y, y_len, "y.npy", 0) == 0)
		mt_dataset_free(ds);
	return 0;
}
