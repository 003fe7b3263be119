/* libFuzzer harness: the CC event log (ACPI CCEL table, firmware-written,
 * host-reachable memory) as the tdx backend trims it before sending it. */
#include "fuzz.h"
#include "tee_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = { 0 };
	size_t used = (size_t)-1;
	int rc = ccel_used_length(data, size, &used, &e);

	fuzz_check_err(rc, &e);
	if (rc == 0)
		FUZZ_CHECK(used <= size, "used length %zu of a %zu-byte log", used, size);
	return 0;
}
