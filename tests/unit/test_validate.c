/* Unit tests for base/validate.c: every control byte and DEL refused,
 * printable ASCII and UTF-8 taken; paths that exist, are directories, are
 * files, or are missing; the one rule each for names (resources, secret
 * files, device-mapper), LUKS2 UUIDs and KBS URLs, at their boundaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "validate.h"

#include "check.h"

/* A string of n copies of c after prefix, in buf (of size >= strlen(prefix) + n + 1). */
static const char *fill(char *buf, const char *prefix, char c, size_t n)
{
	size_t p = strlen(prefix);

	memcpy(buf, prefix, p);
	memset(buf + p, c, n);
	buf[p + n] = '\0';
	return buf;
}

static void test_printable(void)
{
	char s[4];

	for (int c = 1; c < 256; c++) {
		snprintf(s, sizeof(s), "a%cb", c);
		CHECK(ascii_printable(s) == (c >= 0x20 && c < 0x7f), "byte 0x%02x: %d", c,
		      ascii_printable(s));
	}
	CHECK(ascii_printable(""), "empty string");
}

static void test_names(void)
{
	static const char *const good[] = { "a", "A", "0", "a.b_c-D9", "...", ".a", "a..",
					    "-", "_", "root", "cvmboot-1a2b3c4d", "control" };
	static const char *const bad[] = { "", ".", "..", "a b", "a/b", "/a", "a\\b", "a:b",
					   "a\nb", "a\tb", "caf\xc3\xa9", "a\x7f", "a*", "~a",
					   "a@b", "a+b" };
	char buf[VALIDATE_NAME_SIZE + 8];

	for (int c = 1; c < 256; c++) {
		bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		CHECK(name_char((char)c) == want, "byte 0x%02x: %d", c, name_char((char)c));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(name_valid(good[i]), "name '%s' refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!name_valid(bad[i]) && !mapper_name_valid(bad[i]), "name '%s' taken", bad[i]);
	CHECK(VALIDATE_NAME_SIZE == 64, "the documented limit is 63 bytes");
	CHECK(name_valid(fill(buf, "", 'n', VALIDATE_NAME_SIZE - 1)), "63-byte name refused");
	CHECK(!name_valid(fill(buf, "", 'n', VALIDATE_NAME_SIZE)), "64-byte name taken");
	CHECK(mapper_name_valid(fill(buf, "", 'm', VALIDATE_NAME_SIZE - 1)), "63-byte mapper refused");
	CHECK(!mapper_name_valid(fill(buf, "", 'm', VALIDATE_NAME_SIZE)), "64-byte mapper taken");
	/* /dev/mapper/control is device-mapper's own node: never a volume's name. */
	CHECK(!mapper_name_valid("control"), "mapper name 'control' taken");
	CHECK(mapper_name_valid("Control") && mapper_name_valid("control-1") &&
	      mapper_name_valid("root"), "mapper names refused");
}

static void test_uuids(void)
{
	static const char *const bad[] = {
		"", "0", "xyz", "../../etc/passwd",
		"0B8AD6C2-4A4C-4F4E-9BB1-6B43D4A2B1A1",  /* upper case: not as cryptsetup writes */
		"0b8ad6c2-4a4c-4f4e-9bb1-6b43d4a2b1aG",  /* not hex */
		"0b8ad6c24a4c4f4e9bb16b43d4a2b1a1",      /* no dashes */
		"0b8ad6c2-4a4c-4f4e-9bb1-6b43d4a2b1a",   /* one short */
		"0b8ad6c2-4a4c-4f4e-9bb1-6b43d4a2b1a1a", /* one over */
		"0b8ad6c2-4a4c-4f4e-9bb16-b43d4a2b1a1",  /* dash moved */
		"0b8ad6c2-4a4c-4f4e-9bb1-6b43d4a2b1a1\n",
		"0b8ad6c2-4a4c-4f4e-9bb1-6b43d4a2b1a1/",
		"{0b8ad6c2-4a4c-4f4e-9bb1-6b43d4a2b1a1}",
		"0b8ad6c2-4a4c-4f4e-9bb1-6b43d4a2b1a\xc3\xa9",
		"------------------------------------",
	};

	CHECK(uuid_valid("0b8ad6c2-4a4c-4f4e-9bb1-6b43d4a2b1a1"), "canonical UUID refused");
	CHECK(uuid_valid("00000000-0000-0000-0000-000000000000") &&
	      uuid_valid("ffffffff-ffff-ffff-ffff-ffffffffffff"), "edge digits refused");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!uuid_valid(bad[i]), "UUID '%s' taken", bad[i]);
}

static void expect_url(const char *url, bool want_http)
{
	bool is_http = !want_http;
	const char *why = url_check(url, &is_http);

	CHECK(!why && is_http == want_http, "URL '%s': %s, http %d", url, why ? why : "ok",
	      is_http);
}

static void refuse_url(const char *url, const char *want)
{
	bool is_http;
	const char *why = url_check(url, &is_http);

	CHECK(why && !strcmp(why, want), "URL '%s': got '%s', want '%s'", url,
	      why ? why : "(accepted)", want);
}

static void test_urls(void)
{
	char buf[VALIDATE_URL_SIZE + 16];

	expect_url("https://kbs", false);
	expect_url("http://kbs", true);
	expect_url("https://kbs.example.com:8080/api/", false);
	expect_url("https://kbs-1.example.com/", false);
	expect_url("http://127.0.0.1:1", true);
	expect_url("https://kbs:65535", false);
	expect_url("https://kbs:1/x", false);
	expect_url("https://[::1]", false);
	expect_url("https://[::1]:8080/kbs", false);
	expect_url("https://[fe80::1:2]/", false);
	expect_url("https://[::ffff:10.0.0.1]:443", false);
	expect_url("https://kbs/a%20b/~c", false);

	refuse_url("", "must start with https:// or http://");
	refuse_url("kbs.example.com", "must start with https:// or http://");
	refuse_url("ftp://kbs", "must start with https:// or http://");
	refuse_url("HTTPS://kbs", "must start with https:// or http://");
	refuse_url("https:/kbs", "must start with https:// or http://");
	refuse_url("https://", "has no host");
	refuse_url("http://", "has no host");
	refuse_url("https:///path", "has no host");
	refuse_url("https://:8080", "has no host");
	refuse_url("https://user@kbs", "must not contain credentials");
	refuse_url("https://user:pw@kbs/x", "must not contain credentials");
	refuse_url("https://kbs/x?y=1", "must not have a query or fragment");
	refuse_url("https://kbs/#frag", "must not have a query or fragment");
	refuse_url("https://kb s", "contains a space, a control character or a non-ASCII byte");
	refuse_url("https://kbs/\t", "contains a space, a control character or a non-ASCII byte");
	refuse_url("https://kbs/\x7f", "contains a space, a control character or a non-ASCII byte");
	refuse_url("https://kbs/caf\xc3\xa9", "contains a space, a control character or a non-ASCII byte");
	refuse_url("https://a_b", "bad host name");
	refuse_url("https://a*b", "bad host name");
	refuse_url("https://[::1", "bad IPv6 address");
	refuse_url("https://[]", "bad IPv6 address");
	refuse_url("https://[::g]", "bad IPv6 address");
	refuse_url("https://[::1]x", "bad port");
	refuse_url("https://kbs:", "bad port");
	refuse_url("https://kbs:0", "bad port");
	refuse_url("https://kbs:65536", "bad port");
	refuse_url("https://kbs:099999", "bad port");
	refuse_url("https://kbs:8o", "bad port");
	refuse_url("https://kbs:-1", "bad port");
	refuse_url("https://[::1]:0", "bad port");

	/* The one length limit: what [kbs] url and a LUKS2 token's kbs_urls hold. */
	CHECK(VALIDATE_URL_SIZE == 512, "the documented limit is 511 bytes");
	expect_url(fill(buf, "https://", 'a', VALIDATE_URL_SIZE - 1 - 8), false);
	CHECK(strlen(buf) == VALIDATE_URL_SIZE - 1, "%zu", strlen(buf));
	refuse_url(fill(buf, "https://", 'a', VALIDATE_URL_SIZE - 8), "too long (at most 511 bytes)");
	refuse_url(fill(buf, "http://", 'a', VALIDATE_URL_SIZE + 8), "too long (at most 511 bytes)");
}

int main(void)
{
	char dir[] = "/tmp/cvmboot-validate-XXXXXX", file[64], s[4];

	for (int c = 1; c < 256; c++) {
		bool want = c < 0x20 || c == 0x7f;

		snprintf(s, sizeof(s), "a%cb", c);
		CHECK(has_control_chars(s) == want, "byte 0x%02x: %d", c, has_control_chars(s));
	}
	CHECK(!has_control_chars(""), "empty string");
	CHECK(!has_control_chars("caf\xc3\xa9 = ok"), "UTF-8 text");
	CHECK(has_control_chars("end\n"), "trailing newline");

	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	snprintf(file, sizeof(file), "%s/f", dir);
	fclose(fopen(file, "w"));
	CHECK(path_exists(dir) && path_is_dir(dir), "directory %s", dir);
	CHECK(path_exists(file) && !path_is_dir(file), "file %s", file);
	CHECK(!path_exists("/nonexistent/x") && !path_is_dir("/nonexistent/x"), "missing path");
	unlink(file);
	rmdir(dir);
	CHECK(!path_exists(dir), "removed directory still seen");
	test_printable();
	test_names();
	test_uuids();
	test_urls();
	return check_report("validate");
}
