/* IDX images + labels (gzip or plain) through mt_dataset_load_idx_buffer. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_split.h"
#include "mutorch/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *images, *labels;
	size_t images_len, labels_len;
	mt_dataset *ds = NULL;

	fuzz_split(data, size, &images, &images_len, &labels, &labels_len);
	if (mt_dataset_load_idx_buffer(&ds, images, images_len, "images", labels,
				       labels_len, "labels", 0) == 0)
		mt_dataset_free(ds);
	return 0;
}
