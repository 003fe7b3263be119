/* Unit tests for base/b64.c: RFC 4648 vectors, both alphabets, and the
 * strictness rules (bad characters, lengths, padding, trailing bits). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

#include "check.h"

/* Decode must succeed and give exactly want (wantlen bytes). */
static void expect_decode(const char *in, int url, const char *want, size_t wantlen)
{
	unsigned char *out = NULL;
	size_t outlen = 99;
	int rc = b64_decode(in, strlen(in), url, &out, &outlen);

	CHECK(rc == 0, "decode \"%s\" (url=%d) failed", in, url);
	if (rc == 0) {
		CHECK(outlen == wantlen && memcmp(out, want, wantlen) == 0,
		      "decode \"%s\" gave %zu bytes, want %zu", in, outlen, wantlen);
	}
	free(out);
}

static void expect_reject(const char *in, size_t len, int url, const char *why)
{
	unsigned char *out = (unsigned char *)"sentinel";
	size_t outlen = 99;

	CHECK(b64_decode(in, len, url, &out, &outlen) == -1, "\"%s\" (url=%d) accepted: %s", in, url, why);
	CHECK(out == NULL && outlen == 0, "rejected decode of \"%s\" left output set", in);
}

static void expect_encode(const char *in, size_t len, int url, const char *want)
{
	char *s = b64_encode((const unsigned char *)in, len, url);

	CHECK(s && strcmp(s, want) == 0, "encode gave \"%s\", want \"%s\"", s ? s : "(null)", want);
	free(s);
}

static void test_rfc4648_vectors(void)
{
	static const struct { const char *plain, *std, *url; } v[] = {
		{ "", "", "" },
		{ "f", "Zg==", "Zg" },
		{ "fo", "Zm8=", "Zm8" },
		{ "foo", "Zm9v", "Zm9v" },
		{ "foob", "Zm9vYg==", "Zm9vYg" },
		{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].plain);

		expect_encode(v[i].plain, n, 0, v[i].std);
		expect_encode(v[i].plain, n, 1, v[i].url);
		expect_decode(v[i].std, 0, v[i].plain, n);
		expect_decode(v[i].url, 1, v[i].plain, n);
		expect_decode(v[i].std, 1, v[i].plain, n);   /* url accepts padding */
	}
}

static void test_alphabets(void)
{
	const char bytes[] = "\xfb\xff\xbf";   /* encodes to the two last symbols */

	expect_encode(bytes, 3, 0, "+/+/");
	expect_encode(bytes, 3, 1, "-_-_");
	expect_decode("+/+/", 0, bytes, 3);
	expect_decode("-_-_", 1, bytes, 3);
	expect_reject("-_-_", 4, 0, "url symbols in STANDARD");
	expect_reject("+/+/", 4, 1, "STANDARD symbols in base64url");
}

static void test_all_bytes_round_trip(void)
{
	unsigned char in[256], *out = NULL;
	size_t outlen = 0;

	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	for (int url = 0; url <= 1; url++) {
		for (size_t n = 0; n <= sizeof(in); n += 37) {
			char *s = b64_encode(in, n, url);

			CHECK(s != NULL, "encode %zu bytes", n);
			if (!s)
				continue;
			CHECK(b64_decode(s, strlen(s), url, &out, &outlen) == 0 && outlen == n &&
			      memcmp(out, in, n) == 0, "round trip of %zu bytes (url=%d)", n, url);
			free(out);
			out = NULL;
			free(s);
		}
	}
}

static void test_strictness(void)
{
	expect_reject("Zg", 2, 0, "STANDARD without padding");
	expect_reject("Zg=", 3, 0, "STANDARD short padding");
	expect_reject("Zg=", 3, 1, "url partial padding");
	expect_reject("Zg===", 5, 1, "three padding characters");
	expect_reject("====", 4, 0, "only padding");
	expect_reject("Z===", 4, 0, "padding after one character");
	expect_reject("Z", 1, 1, "one character (6 bits)");
	expect_reject("Zm9vY", 5, 1, "length 1 mod 4");
	expect_reject("Zh", 2, 1, "non-zero trailing bits (4 bits)");
	expect_reject("Zh==", 4, 0, "non-zero trailing bits, STANDARD");
	expect_reject("Zm9=", 4, 0, "non-zero trailing bits (2 bits)");
	expect_reject("Zm9", 3, 1, "non-zero trailing bits (2 bits), url");
	expect_reject("Zm 9v", 5, 0, "space inside");
	expect_reject("Zm9v\n", 5, 0, "newline");
	expect_reject("Zm=v", 4, 0, "padding in the middle");
	expect_reject("Zg==Zg==", 8, 0, "padding then more data");
	expect_reject("Zm\0v", 4, 0, "NUL byte inside");
	expect_reject("Zm9\xc3", 4, 0, "non-ASCII byte");
	expect_reject("Zm9v*A==", 8, 0, "invalid symbol");
	expect_reject(NULL, 0, 0, "NULL input");
	/* the length argument bounds the input: only "Zm9v" is read here */
	{
		unsigned char *out = NULL;
		size_t outlen = 0;

		CHECK(b64_decode("Zm9vGARBAGE", 4, 0, &out, &outlen) == 0 && outlen == 3,
		      "bounded decode");
		free(out);
	}
}

int main(void)
{
	test_rfc4648_vectors();
	test_alphabets();
	test_all_bytes_round_trip();
	test_strictness();
	return check_report("b64");
}
