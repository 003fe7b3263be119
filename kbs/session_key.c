/* The TEE key pair (fresh per run) and its public JWK exactly as Trustee
 * parses it (kbs-protocol.md section 3). */
#include "session_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

#define RSA_KEY_BITS 3072

int tee_key_generate(enum key_alg alg, EVP_PKEY **out, struct err *e)
{
	EVP_PKEY *key = NULL;

	*out = NULL;
	switch (alg) {
	case KEY_EC_P256:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case KEY_EC_P521:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
		break;
	case KEY_RSA_OAEP_256:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)RSA_KEY_BITS);
		break;
	default:
		return err_set(e, CVM_E_INTERNAL, "TEE key: unknown key algorithm %d", (int)alg);
	}
	if (!key)
		return err_set(e, CVM_E_INTERNAL, "TEE key: key generation failed");
	*out = key;
	return 0;
}

/* base64url of a big number: padded to width bytes, or minimal if width 0. */
static json_t *bn_param_b64url(EVP_PKEY *key, const char *param, int width)
{
	BIGNUM *bn = NULL;
	unsigned char *bytes = NULL;
	char *s = NULL;
	json_t *j = NULL;
	int len;

	if (!EVP_PKEY_get_bn_param(key, param, &bn))
		return NULL;
	len = width ? width : BN_num_bytes(bn);
	if (len <= 0 || BN_num_bytes(bn) > len)
		goto out;
	bytes = malloc((size_t)len);
	if (!bytes || BN_bn2binpad(bn, bytes, len) != len)
		goto out;
	s = b64_encode(bytes, (size_t)len, true);
	if (s)
		j = json_string(s);
out:
	free(s);
	free(bytes);
	BN_free(bn);
	return j;
}

static json_t *ec_jwk(EVP_PKEY *key, const char *crv, const char *group, int field_bytes,
		      struct err *e)
{
	char name[64] = "";
	json_t *x, *y;

	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name,
					    sizeof(name), NULL) ||
	    strcmp(name, group) != 0) {
		err_set(e, CVM_E_INTERNAL, "TEE key: not an EC %s key", crv);
		return NULL;
	}
	x = bn_param_b64url(key, OSSL_PKEY_PARAM_EC_PUB_X, field_bytes);
	y = bn_param_b64url(key, OSSL_PKEY_PARAM_EC_PUB_Y, field_bytes);
	if (!x || !y) {
		json_decref(x);
		json_decref(y);
		err_set(e, CVM_E_INTERNAL, "TEE key: cannot export the EC public point");
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "kty", "EC", "crv", crv,
			 "alg", "ECDH-ES+A256KW", "x", x, "y", y);
}

static json_t *rsa_jwk(EVP_PKEY *key, struct err *e)
{
	json_t *n, *ex;

	if (!EVP_PKEY_is_a(key, "RSA")) {
		err_set(e, CVM_E_INTERNAL, "TEE key: not an RSA key");
		return NULL;
	}
	n = bn_param_b64url(key, OSSL_PKEY_PARAM_RSA_N, 0);
	ex = bn_param_b64url(key, OSSL_PKEY_PARAM_RSA_E, 0);
	if (!n || !ex) {
		json_decref(n);
		json_decref(ex);
		err_set(e, CVM_E_INTERNAL, "TEE key: cannot export the RSA public key");
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o, s:o}", "kty", "RSA", "alg", "RSA-OAEP-256",
			 "n", n, "e", ex);
}

json_t *tee_key_jwk(EVP_PKEY *key, enum key_alg alg, struct err *e)
{
	json_t *jwk = NULL;

	if (!key) {
		err_set(e, CVM_E_INTERNAL, "TEE key: no key");
		return NULL;
	}
	switch (alg) {
	case KEY_EC_P256:
		jwk = ec_jwk(key, "P-256", "prime256v1", 32, e);
		break;
	case KEY_EC_P521:
		jwk = ec_jwk(key, "P-521", "secp521r1", 66, e);
		break;
	case KEY_RSA_OAEP_256:
		jwk = rsa_jwk(key, e);
		break;
	default:
		err_set(e, CVM_E_INTERNAL, "TEE key: unknown key algorithm %d", (int)alg);
		return NULL;
	}
	if (!jwk && e && !e->code)
		err_set(e, CVM_E_INTERNAL, "TEE key: out of memory building the JWK");
	return jwk;
}
