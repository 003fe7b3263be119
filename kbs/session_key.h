/* The TEE key pair: generated fresh per run, exported as the JWK that goes
 * into the runtime data (kbs-protocol.md section 3). */
#ifndef CVMBOOT_SESSION_KEY_H
#define CVMBOOT_SESSION_KEY_H

#include <jansson.h>
#include <openssl/evp.h>

#include "err.h"

/* The session key's algorithm ([kbs] key_alg). */
enum key_alg {
	KEY_EC_P256 = 0,  /* "ec-p256" (default) */
	KEY_EC_P521,      /* "ec-p521" */
	KEY_RSA_OAEP_256, /* "rsa-oaep-256": RSA-3072 */
};

/* New key pair for alg (P-256, P-521 or RSA-3072). */
int tee_key_generate(enum key_alg alg, EVP_PKEY **out, struct err *e);
/* The public JWK with exactly the members Trustee expects (EC: kty, crv,
 * alg, x, y padded to the field size; RSA: kty, alg, n, e). */
json_t *tee_key_jwk(EVP_PKEY *key, enum key_alg alg, struct err *e);

#endif
