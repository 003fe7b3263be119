/* libFuzzer harness: /etc/cvmboot/cvmboot.conf (INI with [kbs], [resource.NAME]
 * ...) through config_load_file, then the cross-field checks. */
#include "fuzz_config.h"

static int read_file(struct config *c, const char *path, struct err *e)
{
	return config_load_file(c, path, true, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_config_input(data, size, read_file);
}
