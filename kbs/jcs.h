/* RFC 8785 JSON Canonicalization Scheme, and the runtime-data digest that
 * binds the TEE key to the evidence (kbs-protocol.md section 2). */
#ifndef CVMBOOT_JCS_H
#define CVMBOOT_JCS_H

#include <jansson.h>
#include <stddef.h>

/* Canonical form of v; malloc'ed, NULL on error (e.g. non-finite numbers). */
char *jcs_serialize(const json_t *v);

/* SHA-384(JCS({"additional-evidence":..., "nonce":..., "tee-pubkey":jwk})).
 * Returns 0 or -1. */
int runtime_data_digest(const char *nonce, const json_t *jwk,
			const char *additional_evidence, unsigned char out[48]);

#endif
