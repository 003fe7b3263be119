/* Unit tests for kbs/session_key.c: fresh keys, and JWKs with exactly the
 * members Trustee expects and coordinates padded to the field size (a
 * coordinate with a leading zero byte must keep it). */
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "session_key.h"

#include "check.h"

/* The JWK has exactly these members, all strings. */
static int has_exactly(const json_t *jwk, const char *const *names, size_t n)
{
	if (!json_is_object(jwk) || json_object_size(jwk) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!json_is_string(json_object_get(jwk, names[i])))
			return 0;
	return 1;
}

static unsigned char *decode_member(const json_t *jwk, const char *name, size_t *len)
{
	const json_t *v = json_object_get(jwk, name);
	unsigned char *out = NULL;

	*len = 0;
	if (!json_is_string(v) || b64_decode(json_string_value(v), json_string_length(v), 1, &out, len) < 0)
		return NULL;
	return out;
}

/* Generate count keys; check each JWK against the key's own encoded point.
 * Returns how many coordinates had a leading zero byte. */
static int check_ec_keys(enum key_alg alg, const char *crv, size_t field, int count)
{
	static const char *const members[] = { "kty", "crv", "alg", "x", "y" };
	int leading_zero = 0;

	for (int i = 0; i < count; i++) {
		EVP_PKEY *key = NULL;
		json_t *jwk = NULL;
		struct err e = { 0 };
		unsigned char *x = NULL, *y = NULL, point[1 + 2 * 66];
		size_t xlen = 0, ylen = 0, plen = 0;

		if (tee_key_generate(alg, &key, &e) != 0 || !key) {
			CHECK(0, "generate %s: %s", crv, e.msg);
			break;
		}
		jwk = tee_key_jwk(key, alg, &e);
		CHECK(jwk != NULL, "jwk %s: %s", crv, e.msg);
		if (!jwk) {
			EVP_PKEY_free(key);
			break;
		}
		CHECK(has_exactly(jwk, members, 5), "%s JWK members wrong", crv);
		CHECK(strcmp(json_string_value(json_object_get(jwk, "kty")), "EC") == 0, "kty");
		CHECK(strcmp(json_string_value(json_object_get(jwk, "crv")), crv) == 0, "crv");
		CHECK(strcmp(json_string_value(json_object_get(jwk, "alg")), "ECDH-ES+A256KW") == 0, "alg");
		x = decode_member(jwk, "x", &xlen);
		y = decode_member(jwk, "y", &ylen);
		CHECK(x && xlen == field, "%s key %d: x decodes to %zu bytes, want %zu", crv, i, xlen, field);
		CHECK(y && ylen == field, "%s key %d: y decodes to %zu bytes, want %zu", crv, i, ylen, field);
		CHECK(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
						      sizeof(point), &plen) == 1 && plen == 1 + 2 * field,
		      "encoded point of %zu bytes", plen);
		if (x && y && xlen == field && ylen == field && plen == 1 + 2 * field) {
			CHECK(point[0] == 4 && memcmp(point + 1, x, field) == 0 &&
			      memcmp(point + 1 + field, y, field) == 0, "%s key %d: JWK point differs from the key", crv, i);
			leading_zero += (x[0] == 0) + (y[0] == 0);
		}
		free(x);
		free(y);
		json_decref(jwk);
		EVP_PKEY_free(key);
	}
	return leading_zero;
}

static void test_p256_many(void)
{
	int lz = check_ec_keys(KEY_EC_P256, "P-256", 32, 2000);

	printf("P-256: 2000 keys, %d coordinates with a leading zero byte\n", lz);
	/* ~15.6 expected; none at all would mean the case was never exercised
	 * (probability about e^-15.6). */
	CHECK(lz > 0, "no coordinate with a leading zero byte in 4000");
}

static void test_p521(void)
{
	/* P-521 coordinates are 521 bits: the top byte is 0 or 1, so the
	 * 66-byte padding is needed on every key. */
	int lz = check_ec_keys(KEY_EC_P521, "P-521", 66, 100);

	printf("P-521: 100 keys, %d coordinates with a leading zero byte\n", lz);
	CHECK(lz > 0, "P-521 coordinates never started with a zero byte");
}

static void test_rsa(void)
{
	static const char *const members[] = { "kty", "alg", "n", "e" };
	EVP_PKEY *key = NULL;
	struct err e = { 0 };
	json_t *jwk;
	unsigned char *n = NULL, *ex = NULL;
	size_t nlen = 0, elen = 0;
	BIGNUM *bn = NULL, *bn_jwk;

	CHECK(tee_key_generate(KEY_RSA_OAEP_256, &key, &e) == 0 && key, "RSA generate: %s", e.msg);
	if (!key)
		return;
	CHECK(EVP_PKEY_get_bits(key) == 3072, "RSA key of %d bits", EVP_PKEY_get_bits(key));
	jwk = tee_key_jwk(key, KEY_RSA_OAEP_256, &e);
	CHECK(jwk && has_exactly(jwk, members, 4), "RSA JWK members: %s", e.msg);
	if (jwk) {
		CHECK(strcmp(json_string_value(json_object_get(jwk, "kty")), "RSA") == 0, "kty");
		CHECK(strcmp(json_string_value(json_object_get(jwk, "alg")), "RSA-OAEP-256") == 0, "alg");
		CHECK(strcmp(json_string_value(json_object_get(jwk, "e")), "AQAB") == 0, "e = %s",
		      json_string_value(json_object_get(jwk, "e")));
		n = decode_member(jwk, "n", &nlen);
		ex = decode_member(jwk, "e", &elen);
		CHECK(n && nlen == 384 && n[0] != 0, "n decodes to %zu bytes", nlen);
		CHECK(ex && elen == 3, "e decodes to %zu bytes", elen);
		CHECK(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &bn) == 1, "get n");
		bn_jwk = n ? BN_bin2bn(n, (int)nlen, NULL) : NULL;
		CHECK(bn && bn_jwk && BN_cmp(bn, bn_jwk) == 0, "JWK n differs from the key's modulus");
		BN_free(bn_jwk);
		BN_free(bn);
		free(n);
		free(ex);
	}
	json_decref(jwk);
	/* An RSA key asked for as EC is refused. */
	jwk = tee_key_jwk(key, KEY_EC_P256, &e);
	CHECK(jwk == NULL && e.code != 0, "RSA key exported as EC");
	json_decref(jwk);
	EVP_PKEY_free(key);
}

static void test_mismatch_and_fresh(void)
{
	EVP_PKEY *a = NULL, *b = NULL;
	struct err e = { 0 };
	json_t *j;

	CHECK(tee_key_generate(KEY_EC_P256, &a, &e) == 0, "generate");
	CHECK(tee_key_generate(KEY_EC_P256, &b, &e) == 0, "generate");
	CHECK(a && b && EVP_PKEY_eq(a, b) != 1, "two calls gave the same key");
	e.code = 0;
	j = tee_key_jwk(a, KEY_EC_P521, &e);
	CHECK(j == NULL && e.code != 0 && strstr(e.msg, "P-521"), "P-256 key exported as P-521: %s", e.msg);
	json_decref(j);
	e.code = 0;
	j = tee_key_jwk(a, KEY_RSA_OAEP_256, &e);
	CHECK(j == NULL && e.code != 0, "EC key exported as RSA");
	json_decref(j);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	e.code = 0;
	a = NULL;
	CHECK(tee_key_generate((enum key_alg)99, &a, &e) != 0 && a == NULL && e.code != 0,
	      "unknown algorithm accepted");
}

int main(void)
{
	test_p256_many();
	test_p521();
	test_rsa();
	test_mismatch_and_fresh();
	return check_report("session_key");
}
