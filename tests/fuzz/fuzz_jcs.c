/* libFuzzer harness: RFC 8785 canonicalisation of any JSON value. Besides
 * memory safety it checks what makes JCS useful for a digest: the output
 * reads back as JSON and canonicalises to itself, and reading numbers as
 * integers or as doubles gives the same canonical form. */
#include <jansson.h>

#include "fuzz.h"
#include "jcs.h"

#define FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

static char *canonical_of(const char *text, size_t len, size_t flags, bool *parsed)
{
	json_t *v = json_loadb(text, len, flags, NULL);
	char *s = v ? jcs_serialize(v) : NULL;

	*parsed = v != NULL;
	json_decref(v);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool parsed, parsed2, parsed_real;
	char *canon = canonical_of((const char *)data, size, FLAGS, &parsed);
	char *again, *as_real;

	if (!canon)
		return 0;
	/* Idempotent. jansson cannot read an integer beyond 64 bits (1e20 is
	 * "100000000000000000000" in ES form); such output is read as doubles. */
	again = canonical_of(canon, strlen(canon), FLAGS, &parsed2);
	if (!parsed2)
		again = canonical_of(canon, strlen(canon), FLAGS | JSON_DECODE_INT_AS_REAL, &parsed2);
	FUZZ_CHECK(parsed2, "canonical form does not read back: %s", canon);
	FUZZ_CHECK(again && strcmp(again, canon) == 0, "not idempotent:\n  %s\n  %s", canon,
		   again ? again : "(refused)");
	/* Integers are JSON numbers like any other. */
	as_real = canonical_of((const char *)data, size, FLAGS | JSON_DECODE_INT_AS_REAL, &parsed_real);
	FUZZ_CHECK(as_real && strcmp(as_real, canon) == 0, "integers and doubles differ:\n  %s\n  %s",
		   canon, as_real ? as_real : "(refused)");
	free(as_real);
	free(again);
	free(canon);
	return 0;
}
