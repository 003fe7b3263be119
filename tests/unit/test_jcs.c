/* Unit tests for kbs/jcs.c: RFC 8785 canonical JSON (key order by UTF-16
 * code units, escapes, numbers) and the runtime-data digest. */
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jcs.h"

#include "check.h"

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* Parse json_text (jansson), canonicalize, compare with want. */
static void expect_jcs(const char *json_text, const char *want)
{
	json_error_t jerr;
	json_t *v = json_loads(json_text, JSON_DECODE_ANY, &jerr);
	char *got;

	CHECK(v != NULL, "test input does not parse: %s", jerr.text);
	if (!v)
		return;
	got = jcs_serialize(v);
	CHECK(got && strcmp(got, want) == 0, "JCS of %s\n  got  %s\n  want %s", json_text,
	      got ? got : "(null)", want);
	free(got);
	json_decref(v);
}

static void test_trustee_vector(void)
{
	json_t *v = json_loads("{\"b\":1,\"a\":\"test\",\"c\":{\"d\":\"e\"}}", 0, NULL);
	unsigned char md[48];
	unsigned int mdlen = 0;
	char *s = jcs_serialize(v), h[97];

	CHECK(s && strcmp(s, "{\"a\":\"test\",\"b\":1,\"c\":{\"d\":\"e\"}}") == 0, "got %s", s ? s : "(null)");
	if (s) {
		EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha384(), NULL);
		hex(md, 48, h);
		CHECK(strcmp(h, "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c"
			     "4597480a186427c813ca941da78870c3") == 0, "SHA-384 %s", h);
	}
	free(s);
	json_decref(v);
}

/* RFC 8785 section 3.2.3: sorting by UTF-16 code units puts the emoji
 * (surrogates D83D DE00) before U+FB33, unlike code point order. */
static void test_key_order_non_ascii(void)
{
	expect_jcs("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\","
		   "\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\","
		   "\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\","
		   "\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}",
		   "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
		   "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
		   "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
		   "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
	/* Prefixes sort first; U+FFFF after a supplementary character. */
	expect_jcs("{\"ab\":1,\"a\":2,\"\\uffff\":3,\"\\ud800\\udc00\":4,\"\":5}",
		   "{\"\":5,\"a\":2,\"ab\":1,\"\xf0\x90\x80\x80\":4,\"\xef\xbf\xbf\":3}");
	/* Nested objects are sorted too; arrays keep their order. */
	expect_jcs("{\"z\":[{\"y\":1,\"x\":2},3],\"a\":{\"c\":{},\"b\":[]}}",
		   "{\"a\":{\"b\":[],\"c\":{}},\"z\":[{\"x\":2,\"y\":1},3]}");
}

/* RFC 8785 section 3.2.4's example, numbers and string escapes included. */
static void test_rfc8785_example(void)
{
	expect_jcs("{\n  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n"
		   "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
		   "  \"literals\": [null, true, false]\n}",
		   "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
		   "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

static void test_escapes(void)
{
	/* Only the two-character escapes and \u00XX for other controls; DEL,
	 * '/', and non-ASCII go through as they are. */
	expect_jcs("\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f/\\u00e9\\u2028\"",
		   "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\xc3\xa9\xe2\x80\xa8\"");
	{
		json_t *s = json_stringn("a\0b", 3);   /* NUL inside a string */
		char *got = jcs_serialize(s);

		CHECK(got && strcmp(got, "\"a\\u0000b\"") == 0, "got %s", got ? got : "(null)");
		free(got);
		json_decref(s);
	}
}

static void test_literals_and_integers(void)
{
	expect_jcs("[true,false,null,0,-1,42,9007199254740992,-9007199254740992]",
		   "[true,false,null,0,-1,42,9007199254740992,-9007199254740992]");
	expect_jcs("[1.0,-0.0,100.0,1e2]", "[1,0,100,100]");
	expect_jcs("{}", "{}");
	expect_jcs("[]", "[]");
}

/* RFC 8785 3.2.2.3: numbers are IEEE doubles however they are spelt, so
 * the canonical form reads back to itself: 1e016 is 10000000000000000,
 * which jansson reads as an integer, and that must print the same again. */
static void test_big_integers_are_doubles(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "1e016", "10000000000000000" },
		{ "10000000000000000", "10000000000000000" },
		{ "9007199254740993", "9007199254740992" },        /* nearest double, as JSON.parse */
		{ "-9007199254740993", "-9007199254740992" },
		{ "-900719927976931348.1", "-900719927976931300" },
		{ "-900719927976931300", "-900719927976931300" },
		{ "9223372036854775807", "9223372036854776000" },  /* INT64_MAX */
		{ "-9223372036854775808", "-9223372036854776000" },
		{ "[12345678901234567,1.2345678901234567e16]", "[12345678901234568,12345678901234568]" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].in, JSON_DECODE_ANY, NULL);
		char *once = v ? jcs_serialize(v) : NULL, *twice = NULL;
		json_t *back = once ? json_loads(once, JSON_DECODE_ANY, NULL) : NULL;

		/* jansson reads no integer beyond 64 bits: those read as doubles. */
		if (once && !back)
			back = json_loads(once, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
		if (back)
			twice = jcs_serialize(back);
		CHECK(once && strcmp(once, cases[i].want) == 0, "JCS of %s: got %s, want %s",
		      cases[i].in, once ? once : "(refused)", cases[i].want);
		CHECK(twice && once && strcmp(twice, once) == 0, "JCS of %s does not re-read to itself: %s",
		      cases[i].in, twice ? twice : "(refused)");
		free(twice);
		json_decref(back);
		free(once);
		json_decref(v);
	}
}

static void test_rejects(void)
{
	json_t *bad = json_stringn_nocheck("\xff\xfe", 2);
	json_t *surrogate = json_stringn_nocheck("\xed\xa0\x80", 3);
	json_t *obj = json_object();
	char *s;

	s = jcs_serialize(bad);
	CHECK(s == NULL, "invalid UTF-8 must be refused");
	free(s);
	s = jcs_serialize(surrogate);
	CHECK(s == NULL, "UTF-8 encoded surrogate must be refused");
	free(s);
	json_object_set_new_nocheck(obj, "\xc0\x80", json_true());
	json_object_set_new(obj, "b", json_true());
	s = jcs_serialize(obj);
	CHECK(s == NULL, "overlong UTF-8 key must be refused");
	free(s);
	s = jcs_serialize(NULL);
	CHECK(s == NULL, "NULL value");
	json_decref(bad);
	json_decref(surrogate);
	json_decref(obj);
}

/* Every line of vectors/jcs_numbers.txt: IEEE bits -> ES string. */
static void test_number_vectors(void)
{
	const char *src = getenv("CVMBOOT_SRC");
	char path[4096], line[256], want[128];
	unsigned long long bits;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/unit/vectors/jcs_numbers.txt", src ? src : ".");
	f = fopen(path, "r");
	CHECK(f != NULL, "cannot open %s (set CVMBOOT_SRC)", path);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		double d;
		json_t *v;
		char *got;

		if (line[0] == '#' || sscanf(line, "%llx %127s", &bits, want) != 2)
			continue;
		memcpy(&d, &bits, sizeof(d));
		v = json_real(d);
		got = jcs_serialize(v);
		CHECK(got && strcmp(got, want) == 0, "%016llx: got %s want %s", bits, got ? got : "(null)", want);
		free(got);
		json_decref(v);
		n++;
	}
	fclose(f);
	CHECK(n > 2000, "only %d number vectors read", n);
}

static void test_runtime_data_digest(void)
{
	json_t *jwk = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256",
				"alg", "ECDH-ES+A256KW",
				"x", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
				"y", "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8");
	const char *nonce = "q1w2e3r4t5y6u7i8o9p0/+abcdefghijklmnopqrstu=";
	unsigned char d[48];
	char h[97];

	/* Expected values computed independently (Python json.dumps with
	 * sort_keys, compact separators, ensure_ascii=False; hashlib). */
	CHECK(runtime_data_digest(nonce, jwk, "", d) == 0, "digest failed");
	hex(d, 48, h);
	CHECK(strcmp(h, "d942295eac6753bcbc048f3ad4ffd52cb2e67f9a1a2bbc4277b1874eea4a3858"
		     "db4e4980f2cb089cffbeae826dd2e2d7") == 0, "digest %s", h);
	CHECK(runtime_data_digest(nonce, jwk, "{\"tpm\":\"x/y\"}", d) == 0, "digest failed");
	hex(d, 48, h);
	CHECK(strcmp(h, "fdfe3a396b56d9a4708e0f3a4fb84ecb949314982b4626f0f69c3b89be3887dd"
		     "1b8a0571271a2d5a5fc5b0aba74c4bf5") == 0, "digest with additional evidence %s", h);
	CHECK(runtime_data_digest(NULL, jwk, "", d) == -1, "NULL nonce accepted");
	json_decref(jwk);
}

int main(void)
{
	test_trustee_vector();
	test_key_order_non_ascii();
	test_rfc8785_example();
	test_escapes();
	test_literals_and_integers();
	test_big_integers_are_doubles();
	test_rejects();
	test_number_vectors();
	test_runtime_data_digest();
	return check_report("jcs");
}
