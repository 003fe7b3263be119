/* libFuzzer harness: the GHCB certificate table (host-supplied: entries of
 * GUID, offset, length, ended by a zero GUID) as snp_cert_table_to_json reads it. */
#include <jansson.h>

#include "fuzz.h"
#include "snp_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *out = NULL;
	struct err e = { 0 };
	int rc = snp_cert_table_to_json(data, size, &out, &e);

	fuzz_check_err(rc, &e);
	FUZZ_CHECK(!rc == (out != NULL), "rc %d with output %p", rc, (void *)out);
	if (out) {
		size_t i;
		json_t *entry;

		FUZZ_CHECK(json_is_null(out) || json_array_size(out) > 0, "empty chain not null");
		json_array_foreach(out, i, entry)
			FUZZ_CHECK(json_array_size(json_object_get(entry, "data")) <= size,
				   "certificate %zu larger than the table", i);
	}
	json_decref(out);
	return 0;
}
