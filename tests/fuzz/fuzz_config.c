/* mutorch.yml text through mt_config_load_buffer (the architecture
 * language and its shape check included). */
#include <stddef.h>
#include <stdint.h>

#include "mutorch/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mt_config *cfg = NULL;

	if (mt_config_load_buffer(&cfg, (const char *)data, size, "mutorch.yml", "/base") == 0)
		mt_config_free(cfg);
	return 0;
}
