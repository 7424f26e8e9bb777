/* Shared by the two-file dataset targets: the input is a 4-byte
 * little-endian length k, then k bytes of the first file (images, x), then
 * the second file (labels, y); k is taken modulo what is left, so every
 * input splits. */
#ifndef MUTORCH_FUZZ_SPLIT_H
#define MUTORCH_FUZZ_SPLIT_H

#include <stddef.h>
#include <stdint.h>

static void fuzz_split(const uint8_t *data, size_t size, const uint8_t **a,
		       size_t *alen, const uint8_t **b, size_t *blen)
{
	uint32_t k = 0;
	if (size >= 4) {
		k = (uint32_t)data[0] | ((uint32_t)data[1] << 8) |
		    ((uint32_t)data[2] << 16) | ((uint32_t)data[3] << 24);
		data += 4;
		size -= 4;
	}
	*alen = size ? k % (size + 1) : 0;
	*a = data;
	*b = data + *alen;
	*blen = size - *alen;
}

#endif
