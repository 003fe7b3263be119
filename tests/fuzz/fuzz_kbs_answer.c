/* libFuzzer harness: a KBS answer body read as each of its three kinds: an
 * RFC 7807 problem (non-200), the auth challenge, the attest token. */
#include <ctype.h>
#include <jansson.h>

#include "fuzz.h"
#include "kbs_parse.h"

static void check_printable(const char *s, size_t room)
{
	size_t n = strnlen(s, room);

	FUZZ_CHECK(n < room, "message not NUL-terminated");
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(isprint((unsigned char)s[i]), "byte 0x%02x of a KBS string reached a message",
			   (unsigned char)s[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* http.c hands over bodies NUL-terminated, with their length. */
	struct http_response r = { .status = 401, .body = fuzz_cstr(data, size), .body_len = size,
				   .retry_after_ms = -1 };
	char problem[700], said[640];
	struct err e = { 0 };
	json_t *answer;

	describe_problem(&r, problem, sizeof(problem), said, sizeof(said));
	check_printable(problem, sizeof(problem));
	check_printable(said, sizeof(said));

	answer = parse_json_object(&r, "auth", &e);
	FUZZ_CHECK(!answer == (e.code == CVM_E_PROTOCOL), "JSON object %p with error %d", (void *)answer,
		   e.code);
	if (answer) {
		struct err he = { 0 };
		const char *token = json_string_value(json_object_get(answer, "token"));

		fuzz_check_err(check_selected_hash(json_object_get(answer, "extra-params"), &he), &he);
		if (token)
			(void)token_expiry(token);
		json_decref(answer);
	}
	/* The body itself as a token (a JWT with any payload). */
	(void)token_expiry(r.body);
	free(r.body);
	return 0;
}
