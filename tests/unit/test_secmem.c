/* Unit tests for base/secmem.c: secret buffers are zeroed, in pages of
 * their own that core dumps leave out (VmFlags "dd") and, with the right to
 * lock memory, locked in RAM ("lo"); secret_clear unmaps them whole, even
 * after len was lowered, and is safe twice; private keys go to OpenSSL's
 * secure heap. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secmem.h"

#include "check.h"

/* ASan makes mlock a no-op (its shadow memory would be locked too). */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_WORKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLOCK_WORKS 0
#endif
#endif
#ifndef MLOCK_WORKS
#define MLOCK_WORKS 1
#endif

/* The VmFlags line of the mapping holding addr, "" if no mapping does. */
static const char *vm_flags(const void *addr)
{
	static char flags[512];
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	uintptr_t a = (uintptr_t)addr;
	int inside = 0;

	flags[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = a >= lo && a < hi;
		else if (inside && strncmp(line, "VmFlags:", 8) == 0)
			snprintf(flags, sizeof(flags), "%s", line + 8);
	}
	if (f)
		fclose(f);
	return flags;
}

static int has_flag(const char *flags, const char *flag)
{
	char padded[8];

	snprintf(padded, sizeof(padded), " %s", flag);
	return strstr(flags, padded) != NULL;
}

static void test_sizes(void)
{
	static const size_t sizes[] = { 0, 1, 32, 4000, 4096, 70000 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct secret s = { 0 };
		size_t n = sizes[i];
		const char *flags;
		int zero = 1;

		CHECK(secret_alloc(&s, n) != NULL && s.len == n, "alloc %zu", n);
		if (!s.data)
			continue;
		CHECK(((uintptr_t)s.data & 15) == 0, "%zu: data not 16-byte aligned", n);
		for (size_t k = 0; k < n; k++)
			zero &= s.data[k] == 0;
		CHECK(zero, "%zu: not zeroed", n);
		memset(s.data, 0xA5, n ? n : 1);
		flags = vm_flags(s.data);
		CHECK(has_flag(flags, "dd"), "%zu: no MADV_DONTDUMP (VmFlags:%s)", n, flags);
		if (MLOCK_WORKS && geteuid() == 0)
			CHECK(has_flag(flags, "lo"), "%zu: not locked (VmFlags:%s)", n, flags);
		CHECK(secret_live_count() == 1, "%zu: live %ld", n, secret_live_count());
		{
			unsigned char *was = s.data;

			s.len = n / 2; /* as cmd_luks does after reading a file */
			secret_clear(&s);
			CHECK(!s.data && s.len == 0, "%zu: not reset", n);
			CHECK(vm_flags(was)[0] == '\0', "%zu: still mapped after secret_clear", n);
		}
		CHECK(secret_live_count() == 0, "%zu: live %ld after clear", n, secret_live_count());
		secret_clear(&s);
	}
}

static void test_cleanup_attribute(void)
{
	unsigned char *addr;

	{
		struct secret s _cleanup_secret_ = { 0 };

		addr = secret_alloc(&s, 64);
		CHECK(addr && secret_live_count() == 1, "alloc");
	}
	CHECK(secret_live_count() == 0 && vm_flags(addr)[0] == '\0', "scope exit did not free");
}

/* With the secure heap, the private part of a fresh key (what session_key.c
 * makes) is allocated there, and given back when the key is freed. */
static void test_openssl_secure_heap(void)
{
	size_t before;
	EVP_PKEY *ec, *rsa;

	unsigned char warm[16];

	CHECK(secmem_init() && secmem_init(), "secure heap not set up (or not twice)");
	/* The random generators keep their state there for good: start them first. */
	CHECK(RAND_bytes(warm, sizeof(warm)) == 1 && RAND_priv_bytes(warm, sizeof(warm)) == 1,
	      "RAND");
	before = CRYPTO_secure_used();
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(ec && CRYPTO_secure_used() > before, "EC private key not on the secure heap");
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	CHECK(rsa && CRYPTO_secure_used() > before, "RSA private key not on the secure heap");
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	CHECK(CRYPTO_secure_used() == before, "secure heap not given back (%zu, was %zu)",
	      CRYPTO_secure_used(), before);
}

int main(void)
{
	struct secret none = { 0 };

	secret_clear(&none);
	secret_clear(NULL);
	test_sizes();
	test_cleanup_attribute();
	test_openssl_secure_heap();
	return check_report("secmem");
}
