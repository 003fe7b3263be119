/* libFuzzer harness: one HTTP response header line as libcurl hands it over
 * (Retry-After as delta-seconds or an HTTP date, Content-Type), and the
 * whole input as a Retry-After value. */
#include "fuzz.h"
#include "http_header.h"
#include "retry.h"

#define NOW 1764547200LL /* 2025-12-01 00:00:00 UTC: fixed, for reproducible runs */
#define WEEK_MS (7L * 24 * 3600 * 1000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response r = { .retry_after_ms = -1 };
	char *value;
	long ms;

	http_header_parse(&r, (const char *)data, size, NOW);
	FUZZ_CHECK(r.retry_after_ms >= -1 && r.retry_after_ms <= WEEK_MS, "Retry-After %ld ms",
		   r.retry_after_ms);
	value = fuzz_cstr(data, size);
	ms = retry_after_parse_ms(value, NOW);
	FUZZ_CHECK(ms >= -1 && ms <= WEEK_MS, "Retry-After %ld ms", ms);
	free(value);
	return 0;
}
