/* libFuzzer harness: hex decoding (evidence fields, the HCL user-data,
 * --report-data, config numbers) with a roomy and a tight output buffer. */
#include <ctype.h>

#include "fuzz.h"
#include "hex.h"

static void decode(const uint8_t *data, size_t size, size_t max)
{
	unsigned char *out = malloc(max ? max : 1);
	size_t len = 0;
	char *again;

	if (!out)
		abort();
	if (hex_decode((const char *)data, size, out, max, &len) == 0) {
		FUZZ_CHECK(len * 2 == size && len <= max, "%zu bytes from %zu digits (room %zu)", len,
			   size, max);
		again = hex_encode(out, len);
		FUZZ_CHECK(again != NULL, "encode failed");
		for (size_t i = 0; i < size; i++)
			FUZZ_CHECK(again[i] == tolower(data[i]), "digit %zu changed", i);
		free(again);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode(data, size, size / 2 + 1);
	decode(data, size, size / 4);
	return 0;
}
