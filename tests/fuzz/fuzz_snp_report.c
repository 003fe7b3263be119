/* libFuzzer harness: the SEV-SNP attestation report (binary, from the
 * firmware through the host) converted to Trustee's JSON form. Inputs of
 * another length are also tried cut or zero-padded to the report size, so
 * mutations reach the field checks rather than only the length check. */
#include <jansson.h>

#include "fuzz.h"
#include "snp_report.h"

static void convert(const unsigned char *report, size_t len)
{
	json_t *out = NULL;
	struct err e = { 0 };
	int rc = snp_report_to_json(report, len, &out, &e);

	fuzz_check_err(rc, &e);
	FUZZ_CHECK(!rc == (out != NULL), "rc %d with output %p", rc, (void *)out);
	if (out) {
		char *text = json_dumps(out, JSON_COMPACT);

		FUZZ_CHECK(text != NULL, "report JSON does not serialise");
		free(text);
	}
	json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char report[SNP_REPORT_SIZE] = { 0 };

	convert(data, size);
	if (size != SNP_REPORT_SIZE) {
		memcpy(report, data, size < sizeof(report) ? size : sizeof(report));
		convert(report, sizeof(report));
	}
	return 0;
}
