/* Unit tests for luks/cipher_allow.c: the entries of [luks] allowed_ciphers,
 * null ciphers in any spelling, and matching a LUKS2 segment. */
#include <string.h>

#include "check.h"
#include "cipher_allow.h"

static void parses(const char *s, const char *enc, unsigned bits, const char *integrity)
{
	struct cipher_entry c;
	const char *why = cipher_entry_parse(s, &c);

	CHECK(!why, "%s: %s", s, why ? why : "");
	CHECK(!strcmp(c.encryption, enc) && c.key_bits == bits && !strcmp(c.integrity, integrity),
	      "%s: got %s / %u / %s", s, c.encryption, c.key_bits, c.integrity);
}

static void refuses(const char *s, const char *want)
{
	struct cipher_entry c;
	const char *why = cipher_entry_parse(s, &c);

	CHECK(why && strstr(why, want), "%s: got %s, want %s", s, why ? why : "(accepted)", want);
}

static void test_parse(void)
{
	parses("aes-xts-plain64:512", "aes-xts-plain64", 512, "");
	parses("aes-xts-plain64:768:hmac(sha256)", "aes-xts-plain64", 768, "hmac(sha256)");
	parses("aes-gcm-random:256:aead", "aes-gcm-random", 256, "aead");
	parses("aes-cbc-essiv:sha256:256", "aes-cbc-essiv:sha256", 256, "");
	parses("capi:xts(aes)-plain64:512", "capi:xts(aes)-plain64", 512, "");
	refuses("aes-xts-plain64", "expected ENCRYPTION:KEYBITS");
	refuses(":512", "bad encryption name");
	refuses("aes xts:512", "bad encryption name");
	refuses("aes-xts-plain64:512:", "bad integrity name");
	refuses("aes-xts-plain64:512:hmac:sha256", "bad integrity name");
	refuses("aes-xts-plain64:100", "key size out of range");
	refuses("aes-xts-plain64:513", "key size out of range");
	refuses("aes-xts-plain64:99999", "key size out of range");
	refuses("aes-xts-plain64:5x", "expected ENCRYPTION:KEYBITS");
	refuses("cipher_null-ecb:512", "null cipher");
	refuses("CIPHER_NULL:256", "null cipher");
	refuses("capi:ecb(cipher_null)-plain:512", "null cipher");
	refuses("aes-xts-plain64:512:Null", "null cipher");
}

static void test_match(void)
{
	struct cipher_allow a;
	char buf[128];

	cipher_allow_default(&a);
	CHECK(cipher_allow_has(&a, "aes-xts-plain64", 512, ""), "default");
	CHECK(!cipher_allow_has(&a, "aes-xts-plain64", 256, ""), "key size must match");
	CHECK(!cipher_allow_has(&a, "aes-xts-plain64", 512, "hmac(sha256)"), "integrity must match");
	CHECK(!cipher_allow_has(&a, "AES-XTS-PLAIN64", 512, ""), "names are exact");
	CHECK(!cipher_allow_has(&a, "cipher_null-ecb", 512, ""), "null");
	/* Even an entry smuggled into the list by hand does not admit a null cipher. */
	strcpy(a.entries[0].encryption, "cipher_null-ecb");
	CHECK(!cipher_allow_has(&a, "cipher_null-ecb", 512, ""), "null in the list");
	cipher_allow_default(&a);
	CHECK(!cipher_entry_parse("aes-xts-plain64:768:hmac(sha256)", &a.entries[a.n++]), "parse");
	cipher_allow_format(&a, buf, sizeof(buf));
	CHECK(!strcmp(buf, "aes-xts-plain64:512 aes-xts-plain64:768:hmac(sha256)"), "%s", buf);
	cipher_allow_format(&a, buf, 10);
	CHECK(strlen(buf) == 9, "truncated: %s", buf);
}

static void test_null_names(void)
{
	CHECK(cipher_name_is_null("cipher_null"), "cipher_null");
	CHECK(cipher_name_is_null("ecb(cipher_null)"), "capi");
	CHECK(cipher_name_is_null("Cipher_Null-ECB"), "case");
	CHECK(!cipher_name_is_null("aes-xts-plain64"), "aes");
	CHECK(!cipher_name_is_null(""), "empty");
}

int main(void)
{
	test_parse();
	test_match();
	test_null_names();
	return check_report("cipher_allow");
}
