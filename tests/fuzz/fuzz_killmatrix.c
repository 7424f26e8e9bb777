/* A kill-matrix file (killmatrix.mtkm) through mt_killmatrix_deserialize. */
#include <stddef.h>
#include <stdint.h>

#include "mutorch/killmatrix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mt_killmatrix *km = NULL;

	if (mt_killmatrix_deserialize(&km, data, size, "killmatrix.mtkm") == 0)
		mt_killmatrix_free(km);
	return 0;
}
