/* Decryption of the KBS's resource responses: flattened JWE JSON with
 * alg ECDH-ES+A256KW or RSA-OAEP-256 and enc A256GCM. */
#ifndef CVMBOOT_JWE_H
#define CVMBOOT_JWE_H

#include <openssl/evp.h>
#include <stddef.h>

#include "err.h"
#include "secmem.h"

#define JWE_MAX_INPUT (1024 * 1024)

/* Decrypt body (len bytes, not necessarily NUL-terminated) with our TEE
 * private key. On success plain holds the plaintext (wipe with
 * secret_clear). Errors are CVM_E_PROTOCOL with a message naming the part. */
int jwe_decrypt(const char *body, size_t len, EVP_PKEY *key, struct secret *plain, struct err *e);

/* Building blocks, exposed for the unit tests (RFC vectors). All return 0 or -1. */
int concat_kdf_sha256(const unsigned char *z, size_t zlen, const char *alg_id,
		      const unsigned char *apu, size_t apulen,
		      const unsigned char *apv, size_t apvlen,
		      unsigned char *out, size_t outlen);
/* aes_key_unwrap: *outlen is the room in out on entry (at least inlen - 8)
 * and the unwrapped key length on return. */
int aes_key_unwrap(const unsigned char *kek, size_t keklen,
		   const unsigned char *in, size_t inlen,
		   unsigned char *out, size_t *outlen);
int aes256gcm_decrypt(const unsigned char key[32], const unsigned char *iv, size_t ivlen,
		      const unsigned char *aad, size_t aadlen,
		      const unsigned char *ct, size_t ctlen,
		      const unsigned char tag[16], unsigned char *out);

#endif
