/* libFuzzer harness: the Azure HCL report (read from vTPM NV, written by the
 * paravisor) through az_hcl_parse, and its variable data's user-data check. */
#include "az_vtpm.h"
#include "fuzz.h"
#include "tee_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct az_hcl h;
	struct err e = { 0 };
	int rc = az_hcl_parse(data, size, &h, &e);
	const unsigned char *end = data + size;

	fuzz_check_err(rc, &e);
	if (rc)
		return 0;
	FUZZ_CHECK(h.hw_report >= data && h.hw_report + h.hw_report_len <= end, "hardware report outside");
	FUZZ_CHECK(h.var_data >= data && h.var_data + h.var_data_len <= end, "variable data outside");
	/* Report data of 0..64 bytes: the first bytes of the hardware report. */
	(void)user_data_matches(&h, h.hw_report, h.hw_report[0] % 65);
	return 0;
}
