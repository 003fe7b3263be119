/* libFuzzer harness: the kernel command line (rd.cvmboot.* options, the
 * kernel's quoting) read from a file as /proc/cmdline is, on top of the
 * defaults, then the cross-field checks. */
#include "fuzz_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_config_input(data, size, config_apply_cmdline_file);
}
