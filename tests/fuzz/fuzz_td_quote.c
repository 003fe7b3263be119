/* libFuzzer harness: a TD quote (made by the quoting enclave on the host) as
 * the tdx backend reads it to find REPORTDATA, which it then compares. */
#include "fuzz.h"
#include "tee_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = { 0 };
	size_t off = 0;
	int rc = quote_report_data(data, size, &off, &e);

	fuzz_check_err(rc, &e);
	if (rc == 0)   /* tdx_evidence compares 64 bytes there */
		FUZZ_CHECK(off + 64 <= size, "REPORTDATA at %zu of a %zu-byte quote", off, size);
	return 0;
}
