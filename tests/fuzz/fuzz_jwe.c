/* libFuzzer harness: a KBS resource answer (flattened JWE JSON) as
 * jwe_decrypt reads it, with fixed EC P-256, EC P-521 and RSA-2048 keys so
 * that mutations of the seeds (encrypted to them) reach ECDH, the Concat
 * KDF, key unwrap, RSA-OAEP and AES-GCM, not only the JSON checks. */
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "fuzz.h"
#include "fuzz_keys.h"
#include "jwe.h"

static EVP_PKEY *keys[3];

static EVP_PKEY *load_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	if (!key)
		abort();
	return key;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	keys[0] = load_key(fuzz_key_p256);
	keys[1] = load_key(fuzz_key_p521);
	keys[2] = load_key(fuzz_key_rsa2048);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct secret plain = { 0 };
		struct err e = { 0 };
		int rc = jwe_decrypt((const char *)data, size, keys[i], &plain, &e);

		fuzz_check_err(rc, &e);
		if (rc)
			FUZZ_CHECK(!plain.data && !plain.len, "failed decryption left a plaintext");
		else
			FUZZ_CHECK(plain.data != NULL, "success without a plaintext buffer");
		secret_clear(&plain);
	}
	return 0;
}
