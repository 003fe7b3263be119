/* libFuzzer harness: strict base64 and base64url decoding (JWE members, the
 * JWT payload, evidence). A decode that succeeds must re-encode to the
 * input (strictness: one encoding per byte string); encoding the input must
 * decode back to it. */
#include "b64.h"
#include "fuzz.h"

static void roundtrip_decoded(const uint8_t *data, size_t size, bool url)
{
	unsigned char *out = NULL;
	size_t outlen = 0, cmp = size;
	char *again;

	if (b64_decode((const char *)data, size, url, &out, &outlen) < 0) {
		FUZZ_CHECK(out == NULL, "failed decode left a buffer");
		return;
	}
	FUZZ_CHECK(outlen <= size / 4 * 3 + 2, "%zu bytes out of %zu characters", outlen, size);
	again = b64_encode(out, outlen, url);
	FUZZ_CHECK(again != NULL, "encode failed");
	if (url)   /* padding is optional in base64url, never written */
		while (cmp && data[cmp - 1] == '=')
			cmp--;
	FUZZ_CHECK(strlen(again) == cmp && memcmp(again, data, cmp) == 0,
		   "decode then encode changed the text (%s)", url ? "url" : "standard");
	free(again);
	free(out);
}

static void roundtrip_encoded(const uint8_t *data, size_t size, bool url)
{
	char *text = b64_encode(data, size, url);
	unsigned char *out = NULL;
	size_t outlen = 0;

	FUZZ_CHECK(text != NULL, "encode failed");
	FUZZ_CHECK(b64_decode(text, strlen(text), url, &out, &outlen) == 0, "own encoding refused");
	FUZZ_CHECK(outlen == size && (size == 0 || memcmp(out, data, size) == 0),
		   "encode then decode changed the bytes");
	free(out);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	roundtrip_decoded(data, size, false);
	roundtrip_decoded(data, size, true);
	roundtrip_encoded(data, size, false);
	roundtrip_encoded(data, size, true);
	return 0;
}
