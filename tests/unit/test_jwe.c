/* Unit tests for kbs/jwe.c: RFC vectors for the building blocks (Concat
 * KDF, AES key wrap, A256GCM), round trips against JWEs built here with
 * OpenSSL directly (the KBS side, written independently of jwe.c), and
 * one negative case per check, each with the error it must give. */
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "jwe.h"
#include "session_key.h"

#include "check.h"

static const char plaintext_msg[] = "LUKS key material \x00\x01\x02 and more: 0123456789abcdef";

/* ---- RFC vectors ------------------------------------------------------ */

/* RFC 7518 Appendix C: Z, AlgorithmID "A128GCM", apu "Alice", apv "Bob",
 * 128-bit key -> VqqN6vgjbSBcIijNcacQGg. */
static const unsigned char rfc7518_z[32] = {
	158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156,
	251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196 };
static const unsigned char rfc7518_derived[16] = {
	86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16, 26 };

static EVP_PKEY *ec_key_from_b64(const char *group, const char *x64, const char *y64, const char *d64)
{
	unsigned char *x = NULL, *y = NULL, *d = NULL, point[65];
	size_t xl, yl, dl = 0;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;
	BIGNUM *priv = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;

	if (b64_decode(x64, strlen(x64), 1, &x, &xl) || b64_decode(y64, strlen(y64), 1, &y, &yl) ||
	    xl != 32 || yl != 32 || (d64 && b64_decode(d64, strlen(d64), 1, &d, &dl)))
		goto out;
	point[0] = 4;
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
	if (d) {
		priv = BN_bin2bn(d, (int)dl, NULL);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	if (ctx && params && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &key, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(priv);
	EVP_PKEY_CTX_free(ctx);
	free(x);
	free(y);
	free(d);
	return key;
}

static void test_concat_kdf_rfc7518(void)
{
	unsigned char out[16], z[32];
	size_t zlen = sizeof(z);
	EVP_PKEY *bob, *alice_epk;
	EVP_PKEY_CTX *ctx;

	CHECK(concat_kdf_sha256(rfc7518_z, 32, "A128GCM", (const unsigned char *)"Alice", 5,
				(const unsigned char *)"Bob", 3, out, sizeof(out)) == 0, "KDF failed");
	CHECK(memcmp(out, rfc7518_derived, 16) == 0, "RFC 7518 Appendix C derived key differs");

	/* The same Z from the appendix's keys: Bob's static key, Alice's epk. */
	bob = ec_key_from_b64("P-256", "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
			      "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
			      "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw");
	alice_epk = ec_key_from_b64("P-256", "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
				    "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps", NULL);
	CHECK(bob && alice_epk, "cannot import the RFC 7518 keys");
	ctx = bob ? EVP_PKEY_CTX_new_from_pkey(NULL, bob, NULL) : NULL;
	CHECK(ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, alice_epk) == 1 &&
	      EVP_PKEY_derive(ctx, z, &zlen) == 1 && zlen == 32 && memcmp(z, rfc7518_z, 32) == 0,
	      "ECDH of the RFC 7518 keys does not give its Z");
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(bob);
	EVP_PKEY_free(alice_epk);

	/* Multi-round output (> 32 bytes) and bad arguments. */
	{
		unsigned char long_out[48], first[32];

		CHECK(concat_kdf_sha256(rfc7518_z, 32, "X", NULL, 0, NULL, 0, long_out, 48) == 0, "48-byte KDF");
		CHECK(concat_kdf_sha256(rfc7518_z, 32, "X", NULL, 0, NULL, 0, first, 32) == 0, "32-byte KDF");
		/* keydatalen is part of the input, so the first block differs */
		CHECK(memcmp(long_out, first, 32) != 0, "keydatalen not hashed in");
		CHECK(concat_kdf_sha256(rfc7518_z, 32, NULL, NULL, 0, NULL, 0, first, 32) == -1, "NULL alg");
		CHECK(concat_kdf_sha256(rfc7518_z, 32, "X", NULL, 0, NULL, 0, first, 0) == -1, "zero length");
	}
}

static void test_aes_key_wrap_rfc3394(void)
{
	/* RFC 3394 4.6: 256-bit key data with a 256-bit KEK. */
	static const unsigned char kek[32] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F };
	static const unsigned char keydata[32] = {
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F };
	static const unsigned char wrapped[40] = {
		0x28, 0xC9, 0xF4, 0x04, 0xC4, 0xB8, 0x10, 0xF4, 0xCB, 0xCC, 0xB3, 0x5C, 0xFB, 0x87, 0xF8, 0x26,
		0x3F, 0x57, 0x86, 0xE2, 0xD8, 0x0E, 0xD3, 0x26, 0xCB, 0xC7, 0xF0, 0xE7, 0x1A, 0x99, 0xF4, 0x3B,
		0xFB, 0x98, 0x8B, 0x9B, 0x7A, 0x02, 0xDD, 0x21 };
	/* RFC 3394 4.1: 128-bit key data with a 128-bit KEK. */
	static const unsigned char wrapped41[24] = {
		0x1F, 0xA6, 0x8B, 0x0A, 0x81, 0x12, 0xB4, 0x47, 0xAE, 0xF3, 0x4B, 0xD8,
		0xFB, 0x5A, 0x7B, 0x82, 0x9D, 0x3E, 0x86, 0x23, 0x71, 0xD2, 0xCF, 0xE5 };
	unsigned char out[40], bad[40];
	size_t outlen = sizeof(out);

	CHECK(aes_key_unwrap(kek, 32, wrapped, 40, out, &outlen) == 0 && outlen == 32 &&
	      memcmp(out, keydata, 32) == 0, "RFC 3394 4.6 unwrap");
	outlen = sizeof(out);
	CHECK(aes_key_unwrap(kek, 16, wrapped41, 24, out, &outlen) == 0 && outlen == 16 &&
	      memcmp(out, keydata, 16) == 0, "RFC 3394 4.1 unwrap");
	memcpy(bad, wrapped, 40);
	bad[20] ^= 1;
	outlen = sizeof(out);
	memset(out, 0xAA, sizeof(out));
	CHECK(aes_key_unwrap(kek, 32, bad, 40, out, &outlen) == -1, "tampered wrap accepted");
	CHECK(out[0] == 0 && out[31] == 0, "output not wiped after a failed unwrap");
	outlen = sizeof(out);
	CHECK(aes_key_unwrap(kek, 32, wrapped, 39, out, &outlen) == -1, "length not a multiple of 8");
	outlen = 16;
	CHECK(aes_key_unwrap(kek, 32, wrapped, 40, out, &outlen) == -1, "output too small accepted");
	outlen = sizeof(out);
	CHECK(aes_key_unwrap(kek, 20, wrapped, 40, out, &outlen) == -1, "20-byte KEK accepted");
}

static void test_a256gcm_rfc7516(void)
{
	/* RFC 7516 Appendix A.1: CEK, IV, AAD (the protected header as sent),
	 * ciphertext and tag. */
	static const unsigned char cek[32] = {
		177, 161, 244, 128, 84, 143, 225, 115, 63, 180, 3, 255, 107, 154, 212, 246,
		138, 7, 110, 91, 112, 46, 34, 105, 47, 130, 203, 46, 122, 234, 64, 252 };
	static const unsigned char iv[12] = { 227, 197, 117, 252, 2, 219, 233, 68, 180, 225, 77, 219 };
	static const char aad[] = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ";
	static const unsigned char ct[63] = {
		229, 236, 166, 241, 53, 191, 115, 196, 174, 43, 73, 109, 39, 122, 233, 96,
		140, 206, 120, 52, 51, 237, 48, 11, 190, 219, 186, 80, 111, 104, 50, 142,
		47, 167, 59, 61, 181, 127, 196, 21, 40, 82, 242, 32, 123, 143, 168, 226,
		73, 216, 176, 144, 138, 247, 106, 60, 16, 205, 160, 109, 64, 63, 192 };
	static const unsigned char tag[16] = {
		92, 80, 104, 49, 133, 25, 161, 215, 173, 101, 219, 211, 136, 91, 210, 145 };
	static const char want[] = "The true sign of intelligence is not knowledge but imagination.";
	unsigned char out[63], badtag[16];

	CHECK(aes256gcm_decrypt(cek, iv, 12, (const unsigned char *)aad, strlen(aad), ct, 63, tag, out) == 0,
	      "RFC 7516 A.1 decrypt failed");
	CHECK(memcmp(out, want, 63) == 0, "RFC 7516 A.1 plaintext differs");
	memcpy(badtag, tag, 16);
	badtag[15] ^= 0x80;
	CHECK(aes256gcm_decrypt(cek, iv, 12, (const unsigned char *)aad, strlen(aad), ct, 63, badtag, out) == -1,
	      "bad tag accepted");
	CHECK(out[0] == 0 && out[62] == 0, "plaintext not wiped after a bad tag");
	CHECK(aes256gcm_decrypt(cek, iv, 12, (const unsigned char *)aad, strlen(aad) - 1, ct, 63, tag, out) == -1,
	      "changed AAD accepted");
}

/* ---- the KBS side: building JWEs with OpenSSL directly ---------------- */

struct jwe_opts {
	const char *aad;        /* aad member (base64url text), NULL for none */
	const char *apu, *apv;  /* base64url header members, NULL for none */
	const unsigned char *plain;
	size_t plain_len;
};

static char *b64u(const unsigned char *p, size_t n)
{
	return b64_encode(p, n, true);
}

static void set_b64(json_t *obj, const char *name, const unsigned char *p, size_t n)
{
	char *s = b64u(p, n);

	json_object_set_new(obj, name, json_string(s));
	free(s);
}

static size_t field_bytes(EVP_PKEY *key)
{
	int bits = EVP_PKEY_get_bits(key);

	return (size_t)(bits + 7) / 8;
}

static const char *jwk_curve(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_bits(key)) {
	case 256: return "P-256";
	case 384: return "P-384";
	case 521: return "P-521";
	}
	return "?";
}

/* The public EC key as a JWK object {"crv","kty","x","y"}. */
static json_t *ec_pub_jwk(EVP_PKEY *key)
{
	unsigned char point[1 + 2 * 66];
	size_t plen = 0, f = field_bytes(key);
	json_t *jwk;

	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point),
					    &plen) != 1 || plen != 1 + 2 * f)
		return NULL;
	jwk = json_pack("{s:s, s:s}", "crv", jwk_curve(key), "kty", "EC");
	set_b64(jwk, "x", point + 1, f);
	set_b64(jwk, "y", point + 1 + f, f);
	return jwk;
}

/* Concat KDF for one SHA-256 block, the KBS's own version. */
static void kbs_concat_kdf(const unsigned char *z, size_t zlen, const unsigned char *apu, size_t apulen,
			   const unsigned char *apv, size_t apvlen, unsigned char kek[32])
{
	static const char alg[] = "ECDH-ES+A256KW";
	unsigned char buf[4096];
	size_t n = 0;

#define BE32(v) do { buf[n++] = (unsigned char)((v) >> 24); buf[n++] = (unsigned char)((v) >> 16); \
		     buf[n++] = (unsigned char)((v) >> 8); buf[n++] = (unsigned char)(v); } while (0)
	BE32(1u);
	memcpy(buf + n, z, zlen); n += zlen;
	BE32((unsigned)strlen(alg));
	memcpy(buf + n, alg, strlen(alg)); n += strlen(alg);
	BE32((unsigned)apulen);
	if (apulen)
		memcpy(buf + n, apu, apulen);
	n += apulen;
	BE32((unsigned)apvlen);
	if (apvlen)
		memcpy(buf + n, apv, apvlen);
	n += apvlen;
	BE32(256u);
#undef BE32
	EVP_Digest(buf, n, kek, NULL, EVP_sha256(), NULL);
}

static int kbs_wrap_cek_ecdh(EVP_PKEY *recipient, json_t *hdr, const struct jwe_opts *o,
			     const unsigned char cek[32], unsigned char ek[40])
{
	char group[64] = "";
	EVP_PKEY *eph;
	EVP_PKEY_CTX *ctx;
	unsigned char z[66], kek[32], *apu = NULL, *apv = NULL;
	size_t zlen = sizeof(z), apulen = 0, apvlen = 0;
	EVP_CIPHER_CTX *c;
	int n = 0, fin = 0, ok;

	EVP_PKEY_get_utf8_string_param(recipient, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL);
	eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
	ok = eph && ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, recipient) == 1 &&
	     EVP_PKEY_derive(ctx, z, &zlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (ok) {
		json_object_set_new(hdr, "epk", ec_pub_jwk(eph));
		if (o->apu) {
			json_object_set_new(hdr, "apu", json_string(o->apu));
			b64_decode(o->apu, strlen(o->apu), 1, &apu, &apulen);
		}
		if (o->apv) {
			json_object_set_new(hdr, "apv", json_string(o->apv));
			b64_decode(o->apv, strlen(o->apv), 1, &apv, &apvlen);
		}
		kbs_concat_kdf(z, zlen, apu, apulen, apv, apvlen, kek);
		c = EVP_CIPHER_CTX_new();
		EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
		ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_wrap(), NULL, kek, NULL) == 1 &&
		     EVP_EncryptUpdate(c, ek, &n, cek, 32) == 1 && n == 40 &&
		     EVP_EncryptFinal_ex(c, ek + n, &fin) == 1;
		EVP_CIPHER_CTX_free(c);
	}
	free(apu);
	free(apv);
	EVP_PKEY_free(eph);
	return ok ? 0 : -1;
}

static int kbs_wrap_cek_rsa(EVP_PKEY *recipient, const unsigned char cek[32], unsigned char *ek, size_t *eklen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, recipient, NULL);
	int ok = ctx && EVP_PKEY_encrypt_init(ctx) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
		 EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 &&
		 EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1 &&
		 EVP_PKEY_encrypt(ctx, ek, eklen, cek, 32) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* A flattened JWE of o->plain for recipient, as a JSON object. */
static json_t *kbs_make_jwe(EVP_PKEY *recipient, const struct jwe_opts *o)
{
	unsigned char cek[32], iv[12], tag[16], ek[1024], *ct;
	size_t eklen = sizeof(ek);
	bool rsa = EVP_PKEY_is_a(recipient, "RSA");
	json_t *hdr = json_pack("{s:s, s:s}", "alg", rsa ? "RSA-OAEP-256" : "ECDH-ES+A256KW", "enc", "A256GCM");
	json_t *jwe = json_object();
	char *hdr_text, *prot, *aad;
	EVP_CIPHER_CTX *c;
	int n = 0, fin = 0, ok;

	RAND_bytes(cek, 32);
	RAND_bytes(iv, 12);
	if (rsa)
		ok = kbs_wrap_cek_rsa(recipient, cek, ek, &eklen) == 0;
	else
		ok = kbs_wrap_cek_ecdh(recipient, hdr, o, cek, ek) == 0, eklen = 40;
	hdr_text = json_dumps(hdr, JSON_COMPACT);
	prot = b64u((unsigned char *)hdr_text, strlen(hdr_text));
	if (o->aad) {
		aad = malloc(strlen(prot) + strlen(o->aad) + 2);
		sprintf(aad, "%s.%s", prot, o->aad);
	} else {
		aad = strdup(prot);
	}
	ct = malloc(o->plain_len + 1);
	c = EVP_CIPHER_CTX_new();
	ok = ok && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, cek, iv) == 1 &&
	     EVP_EncryptUpdate(c, NULL, &n, (unsigned char *)aad, (int)strlen(aad)) == 1 &&
	     (o->plain_len == 0 || EVP_EncryptUpdate(c, ct, &n, o->plain, (int)o->plain_len) == 1) &&
	     EVP_EncryptFinal_ex(c, ct, &fin) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
	EVP_CIPHER_CTX_free(c);
	json_object_set_new(jwe, "protected", json_string(prot));
	set_b64(jwe, "encrypted_key", ek, eklen);
	set_b64(jwe, "iv", iv, 12);
	set_b64(jwe, "ciphertext", ct, o->plain_len);
	set_b64(jwe, "tag", tag, 16);
	if (o->aad)
		json_object_set_new(jwe, "aad", json_string(o->aad));
	free(ct);
	free(aad);
	free(prot);
	free(hdr_text);
	json_decref(hdr);
	if (!ok) {
		json_decref(jwe);
		return NULL;
	}
	return jwe;
}

/* ---- driving jwe_decrypt ---------------------------------------------- */

/* Serialize jwe into an exactly-sized heap buffer (no NUL after it, so a
 * read past the end shows under ASan/valgrind) and decrypt it. */
static int run_decrypt(const json_t *jwe, EVP_PKEY *key, struct secret *plain, struct err *e)
{
	char *text = json_dumps(jwe, JSON_COMPACT);
	size_t len = strlen(text);
	char *body = malloc(len);
	int rc;

	memcpy(body, text, len);
	free(text);
	memset(e, 0, sizeof(*e));
	rc = jwe_decrypt(body, len, key, plain, e);
	free(body);
	return rc;
}

/* Decryption must fail with CVM_E_PROTOCOL and a message containing want. */
static void expect_error(const char *what, const json_t *jwe, EVP_PKEY *key, const char *want)
{
	struct secret plain = { (unsigned char *)"x", 99 };
	struct err e;
	int rc = run_decrypt(jwe, key, &plain, &e);

	CHECK(rc == CVM_E_PROTOCOL && e.code == CVM_E_PROTOCOL, "%s: rc %d code %d (%s)", what, rc, e.code, e.msg);
	CHECK(strstr(e.msg, want) != NULL, "%s: message \"%s\" does not mention \"%s\"", what, e.msg, want);
	CHECK(plain.data == NULL && plain.len == 0, "%s: output not cleared", what);
	if (getenv("TEST_VERBOSE"))
		printf("%-32s -> %s\n", what, e.msg);
	secret_clear(&plain);
}

static void expect_plain(const char *what, const json_t *jwe, EVP_PKEY *key, const unsigned char *want,
			 size_t wantlen)
{
	struct secret plain = { 0 };
	struct err e;
	int rc = run_decrypt(jwe, key, &plain, &e);

	CHECK(rc == 0, "%s: decrypt failed: %s", what, e.msg);
	CHECK(rc != 0 || (plain.len == wantlen && memcmp(plain.data, want, wantlen) == 0),
	      "%s: plaintext differs (%zu bytes, want %zu)", what, plain.len, wantlen);
	secret_clear(&plain);
}

/* Change a member of the protected header and re-encode it. */
static void edit_header(json_t *jwe, const char *name, json_t *value)
{
	const char *prot = json_string_value(json_object_get(jwe, "protected"));
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	json_t *hdr;
	char *text, *enc;

	b64_decode(prot, strlen(prot), 1, &raw, &rawlen);
	hdr = json_loadb((char *)raw, rawlen, 0, NULL);
	if (value)
		json_object_set_new(hdr, name, value);
	else
		json_object_del(hdr, name);
	text = json_dumps(hdr, JSON_COMPACT);
	enc = b64u((unsigned char *)text, strlen(text));
	json_object_set_new(jwe, "protected", json_string(enc));
	free(enc);
	free(text);
	free(raw);
	json_decref(hdr);
}

static json_t *header_of(const json_t *jwe)
{
	const char *prot = json_string_value(json_object_get(jwe, "protected"));
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	json_t *hdr;

	b64_decode(prot, strlen(prot), 1, &raw, &rawlen);
	hdr = json_loadb((char *)raw, rawlen, 0, NULL);
	free(raw);
	return hdr;
}

/* Flip one bit of a base64url member's decoded value. */
static void flip_member_bit(json_t *jwe, const char *name, size_t byte)
{
	const char *s = json_string_value(json_object_get(jwe, name));
	unsigned char *raw = NULL;
	size_t len = 0;

	b64_decode(s, strlen(s), 1, &raw, &len);
	if (byte < len)
		raw[byte] ^= 1;
	set_b64(jwe, name, raw, len);
	free(raw);
}

static void test_round_trips(EVP_PKEY *p256, EVP_PKEY *p521, EVP_PKEY *rsa)
{
	struct jwe_opts o = { .plain = (const unsigned char *)plaintext_msg, .plain_len = sizeof(plaintext_msg) };
	EVP_PKEY *keys[] = { p256, p521, rsa };
	const char *names[] = { "P-256", "P-521", "RSA" };

	for (int i = 0; i < 3; i++) {
		for (int rep = 0; rep < (i == 2 ? 3 : 50); rep++) {
			json_t *jwe = kbs_make_jwe(keys[i], &o);

			CHECK(jwe != NULL, "cannot build a %s JWE", names[i]);
			if (jwe)
				expect_plain(names[i], jwe, keys[i], o.plain, o.plain_len);
			json_decref(jwe);
		}
	}
	/* Empty plaintext, a 100 KiB one, apu/apv, an aad member, aad null. */
	{
		struct jwe_opts empty = { .plain = (const unsigned char *)"", .plain_len = 0 };
		json_t *jwe = kbs_make_jwe(p256, &empty);

		expect_plain("empty plaintext", jwe, p256, (const unsigned char *)"", 0);
		json_decref(jwe);
	}
	{
		size_t n = 100 * 1024;
		unsigned char *big = malloc(n);
		struct jwe_opts bo = { .plain = big, .plain_len = n };
		json_t *jwe;

		RAND_bytes(big, (int)n);
		jwe = kbs_make_jwe(rsa, &bo);
		expect_plain("100 KiB plaintext", jwe, rsa, big, n);
		json_decref(jwe);
		free(big);
	}
	{
		struct jwe_opts po = o;
		json_t *jwe;

		po.apu = "QWxpY2U";
		po.apv = "Qm9i";
		jwe = kbs_make_jwe(p256, &po);
		expect_plain("apu/apv", jwe, p256, o.plain, o.plain_len);
		/* apv is part of the KDF input: changing it must break the unwrap */
		edit_header(jwe, "apv", json_string("Qm9j"));
		expect_error("changed apv", jwe, p256, "key unwrap");
		json_decref(jwe);
	}
	{
		struct jwe_opts ao = o;
		json_t *jwe;

		ao.aad = "ZXh0cmE";
		jwe = kbs_make_jwe(p521, &ao);
		expect_plain("aad member", jwe, p521, o.plain, o.plain_len);
		json_object_del(jwe, "aad");
		expect_error("aad member dropped", jwe, p521, "tag does not verify");
		json_decref(jwe);
		jwe = kbs_make_jwe(p256, &o);
		json_object_set_new(jwe, "aad", json_null());
		expect_plain("aad null", jwe, p256, o.plain, o.plain_len);
		json_object_set_new(jwe, "aad", json_string("ZXh0cmE"));
		expect_error("aad member added", jwe, p256, "tag does not verify");
		json_object_set_new(jwe, "aad", json_integer(1));
		expect_error("aad not a string", jwe, p256, "\"aad\" is not a string");
		json_decref(jwe);
	}
}

static void test_negative_ec(EVP_PKEY *p256, EVP_PKEY *p521, EVP_PKEY *rsa)
{
	struct jwe_opts o = { .plain = (const unsigned char *)plaintext_msg, .plain_len = sizeof(plaintext_msg) };
	static const char *const required[] = { "protected", "encrypted_key", "iv", "ciphertext", "tag" };
	json_t *good = kbs_make_jwe(p256, &o), *jwe, *hdr, *epk;
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");

#define FRESH() (json_decref(jwe), jwe = json_deep_copy(good))
	jwe = json_deep_copy(good);

	expect_plain("unmodified", jwe, p256, o.plain, o.plain_len);

	flip_member_bit(jwe, "tag", 0);
	expect_error("tampered tag", jwe, p256, "tag does not verify");
	FRESH();
	flip_member_bit(jwe, "ciphertext", 5);
	expect_error("tampered ciphertext", jwe, p256, "tag does not verify");
	FRESH();
	flip_member_bit(jwe, "iv", 11);
	expect_error("tampered iv", jwe, p256, "tag does not verify");
	FRESH();
	edit_header(jwe, "kid", json_string("sneaky"));
	expect_error("tampered protected header", jwe, p256, "tag does not verify");
	FRESH();
	flip_member_bit(jwe, "encrypted_key", 3);
	expect_error("tampered encrypted_key", jwe, p256, "key unwrap");
	FRESH();
	expect_error("wrong recipient key", jwe, other, "key unwrap");

	/* The epk. */
	edit_header(jwe, "epk", ec_pub_jwk(p384));
	expect_error("epk on P-384", jwe, p256, "epk curve P-384 does not match our key (P-256)");
	FRESH();
	edit_header(jwe, "epk", ec_pub_jwk(p521));
	expect_error("epk on P-521", jwe, p256, "epk curve P-521 does not match our key (P-256)");
	FRESH();
	hdr = header_of(jwe);
	epk = json_object_get(hdr, "epk");
	{
		/* y + 1: (x, y+1) is not on the curve */
		const char *y = json_string_value(json_object_get(epk, "y"));
		unsigned char *raw = NULL;
		size_t len = 0;

		b64_decode(y, strlen(y), 1, &raw, &len);
		raw[len - 1] ^= 1;
		set_b64(epk, "y", raw, len);
		free(raw);
	}
	edit_header(jwe, "epk", json_incref(epk));
	expect_error("point not on curve", jwe, p256, "not on curve P-256");
	json_decref(hdr);
	FRESH();
	{
		/* x = p (the field prime) with some y: out of range */
		static const unsigned char p[32] = {
			0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

		hdr = header_of(jwe);
		epk = json_object_get(hdr, "epk");
		set_b64(epk, "x", p, 32);
		edit_header(jwe, "epk", json_incref(epk));
		expect_error("x = p", jwe, p256, "not on curve");
		json_decref(hdr);
	}
	FRESH();
	{
		unsigned char zero[32] = { 0 };

		hdr = header_of(jwe);
		epk = json_object_get(hdr, "epk");
		set_b64(epk, "x", zero, 32);
		set_b64(epk, "y", zero, 32);
		edit_header(jwe, "epk", json_incref(epk));
		expect_error("point (0,0)", jwe, p256, "not on curve");
		json_decref(hdr);
	}
	FRESH();
	hdr = header_of(jwe);
	epk = json_object_get(hdr, "epk");
	{
		unsigned char x31[31] = { 1 };

		set_b64(epk, "x", x31, 31);
		edit_header(jwe, "epk", json_incref(epk));
		expect_error("epk x of 31 bytes", jwe, p256, "epk x is 31 bytes, expected 32");
	}
	json_decref(hdr);
	FRESH();
	hdr = header_of(jwe);
	epk = json_object_get(hdr, "epk");
	json_object_set_new(epk, "kty", json_string("OKP"));
	edit_header(jwe, "epk", json_incref(epk));
	expect_error("epk kty OKP", jwe, p256, "epk kty \"OKP\" is not \"EC\"");
	json_object_del(epk, "kty");
	edit_header(jwe, "epk", json_incref(epk));
	expect_error("epk without kty", jwe, p256, "epk kty");
	json_decref(hdr);
	FRESH();
	edit_header(jwe, "epk", NULL);
	expect_error("no epk", jwe, p256, "no \"epk\"");
	FRESH();
	edit_header(jwe, "epk", json_string("x"));
	expect_error("epk not an object", jwe, p256, "epk is not a JSON object");
	FRESH();
	edit_header(jwe, "apu", json_integer(5));
	expect_error("apu not a string", jwe, p256, "\"apu\" is not a string");
	FRESH();
	edit_header(jwe, "apu", json_string("a+b"));
	expect_error("apu bad base64", jwe, p256, "\"apu\" is not valid base64url");

	/* alg / enc / header. */
	FRESH();
	edit_header(jwe, "alg", json_string("RSA1_5"));
	expect_error("alg RSA1_5", jwe, p256, "unsupported alg \"RSA1_5\"");
	FRESH();
	edit_header(jwe, "alg", json_string("dir"));
	expect_error("alg dir", jwe, p256, "unsupported alg \"dir\"");
	FRESH();
	edit_header(jwe, "alg", json_string("ECDH-ES"));
	expect_error("alg ECDH-ES", jwe, p256, "unsupported alg \"ECDH-ES\"");
	FRESH();
	edit_header(jwe, "alg", NULL);
	expect_error("no alg", jwe, p256, "no \"alg\"");
	FRESH();
	edit_header(jwe, "alg", json_true());
	expect_error("alg not a string", jwe, p256, "\"alg\" is not a string");
	FRESH();
	edit_header(jwe, "enc", json_string("A128CBC-HS256"));
	expect_error("enc A128CBC-HS256", jwe, p256, "unsupported enc \"A128CBC-HS256\"");
	FRESH();
	edit_header(jwe, "enc", json_string("A128GCM"));
	expect_error("enc A128GCM", jwe, p256, "unsupported enc \"A128GCM\"");
	FRESH();
	edit_header(jwe, "enc", NULL);
	expect_error("no enc", jwe, p256, "no \"enc\"");
	FRESH();
	edit_header(jwe, "zip", json_string("DEF"));
	expect_error("zip", jwe, p256, "zip");
	FRESH();
	edit_header(jwe, "crit", json_pack("[s]", "exp"));
	expect_error("crit", jwe, p256, "crit");
	FRESH();
	edit_header(jwe, "alg", json_string("RSA-OAEP-256"));
	expect_error("RSA alg for an EC key", jwe, p256, "needs an RSA key, but our TEE key is EC");
	FRESH();
	expect_error("EC JWE for an RSA key", jwe, rsa, "needs an EC key, but our TEE key is RSA");
	FRESH();
	expect_error("P-256 JWE for a P-521 key", jwe, p521, "epk curve P-256 does not match our key (P-521)");
	FRESH();
	json_object_set_new(jwe, "protected", json_string("e30"));   /* {} */
	expect_error("empty header", jwe, p256, "no \"alg\"");
	FRESH();
	json_object_set_new(jwe, "protected", json_string("WzFd"));   /* [1] */
	expect_error("header not an object", jwe, p256, "protected header is not a JSON object");
	FRESH();
	{
		char *enc = b64u((const unsigned char *)"{\"alg\":\"x\",\"alg\":\"y\"}", 21);

		json_object_set_new(jwe, "protected", json_string(enc));
		free(enc);
		expect_error("duplicate header member", jwe, p256, "protected header is not a JSON object");
	}

	/* Members of the JWE object. */
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		char want[64];

		FRESH();
		json_object_del(jwe, required[i]);
		snprintf(want, sizeof(want), "\"%s\" is missing", required[i]);
		expect_error(required[i], jwe, p256, want);
		FRESH();
		json_object_set_new(jwe, required[i], json_integer(12));
		snprintf(want, sizeof(want), "\"%s\" is not a string", required[i]);
		expect_error(required[i], jwe, p256, want);
		FRESH();
		json_object_set_new(jwe, required[i], json_string("AAAA*AAA"));
		snprintf(want, sizeof(want), "\"%s\" is not valid base64url", required[i]);
		expect_error(required[i], jwe, p256, want);
		FRESH();
		json_object_set_new(jwe, required[i], json_string("QQ="));
		expect_error(required[i], jwe, p256, want);
	}
	FRESH();
	{
		unsigned char ek32[32] = { 0 };

		set_b64(jwe, "encrypted_key", ek32, 32);
		expect_error("truncated encrypted_key", jwe, p256, "encrypted_key is 32 bytes, expected 40");
	}
	FRESH();
	{
		unsigned char iv16[16] = { 0 };

		set_b64(jwe, "iv", iv16, 16);
		expect_error("16-byte iv", jwe, p256, "iv is 16 bytes, expected 12");
	}
	FRESH();
	{
		unsigned char tag12[12] = { 0 };

		set_b64(jwe, "tag", tag12, 12);
		expect_error("12-byte tag", jwe, p256, "tag is 12 bytes, expected 16");
	}
	FRESH();
	json_object_set_new(jwe, "recipients", json_array());
	expect_error("general serialization", jwe, p256, "\"recipients\" is not supported");
	FRESH();
	json_object_set_new(jwe, "unprotected", json_object());
	expect_error("unprotected header", jwe, p256, "\"unprotected\" is not supported");
#undef FRESH
	json_decref(jwe);
	json_decref(good);
	EVP_PKEY_free(other);
	EVP_PKEY_free(p384);
}

static EVP_PKEY *vector_key(const char *name);

static void test_negative_rsa(EVP_PKEY *rsa, EVP_PKEY *p256)
{
	struct jwe_opts o = { .plain = (const unsigned char *)plaintext_msg, .plain_len = sizeof(plaintext_msg) };
	json_t *jwe = kbs_make_jwe(rsa, &o);
	char want[80];
	size_t mod = (size_t)EVP_PKEY_get_size(rsa);

	CHECK(jwe != NULL, "RSA JWE");
	if (!jwe)
		return;
	expect_error("RSA JWE for an EC key", jwe, p256, "needs an RSA key, but our TEE key is EC");
	flip_member_bit(jwe, "tag", 2);
	expect_error("RSA tampered tag", jwe, rsa, "tag does not verify");
	flip_member_bit(jwe, "tag", 2);
	expect_plain("RSA restored tag", jwe, rsa, o.plain, o.plain_len);
	flip_member_bit(jwe, "encrypted_key", 100);
	expect_error("RSA tampered encrypted_key", jwe, rsa, "RSA-OAEP-256 decryption of encrypted_key failed");
	{
		unsigned char *ek = calloc(1, mod - 1);

		set_b64(jwe, "encrypted_key", ek, mod - 1);
		snprintf(want, sizeof(want), "encrypted_key is %zu bytes, expected %zu", mod - 1, mod);
		expect_error("RSA truncated encrypted_key", jwe, rsa, want);
		free(ek);
	}
	json_decref(jwe);
	/* A wrong RSA key. */
	{
		EVP_PKEY *other = vector_key("RSA-2048");

		jwe = kbs_make_jwe(rsa, &o);
		expect_error("RSA wrong key size", jwe, other, "encrypted_key is 384 bytes, expected 256");
		json_decref(jwe);
		jwe = kbs_make_jwe(other, &o);
		expect_plain("RSA-2048 round trip", jwe, other, o.plain, o.plain_len);
		json_decref(jwe);
		EVP_PKEY_free(other);
	}
}

static void test_raw_input(EVP_PKEY *p256)
{
	struct secret plain = { 0 };
	struct err e = { 0 };
	size_t big = JWE_MAX_INPUT + 1;
	char *huge = malloc(big);
	int rc;

	memset(huge, ' ', big);
	rc = jwe_decrypt(huge, big, p256, &plain, &e);
	CHECK(rc == CVM_E_PROTOCOL && strstr(e.msg, "exceeds the limit"), "oversized input: %s", e.msg);
	free(huge);
	rc = jwe_decrypt("{\"protected\":", 13, p256, &plain, &e);
	CHECK(rc == CVM_E_PROTOCOL && strstr(e.msg, "not valid JSON"), "truncated JSON: %s", e.msg);
	rc = jwe_decrypt("[1,2]", 5, p256, &plain, &e);
	CHECK(rc == CVM_E_PROTOCOL && strstr(e.msg, "not a JSON object"), "array: %s", e.msg);
	rc = jwe_decrypt("{\"iv\":\"a\",\"iv\":\"b\"}", 19, p256, &plain, &e);
	CHECK(rc == CVM_E_PROTOCOL && strstr(e.msg, "not valid JSON"), "duplicate member: %s", e.msg);
	rc = jwe_decrypt("{} trailing", 11, p256, &plain, &e);
	CHECK(rc == CVM_E_PROTOCOL && strstr(e.msg, "not valid JSON"), "trailing garbage: %s", e.msg);
	rc = jwe_decrypt("", 0, p256, &plain, &e);
	CHECK(rc == CVM_E_PROTOCOL, "empty body: %s", e.msg);
	rc = jwe_decrypt(NULL, 0, p256, &plain, &e);
	CHECK(rc == CVM_E_PROTOCOL, "NULL body");
	CHECK(plain.data == NULL && plain.len == 0, "plain set after errors");
}

static json_t *load_python_vectors(void)
{
	const char *src = getenv("CVMBOOT_SRC");
	char path[4096];
	json_error_t jerr;
	json_t *cases;

	snprintf(path, sizeof(path), "%s/tests/unit/vectors/jwe_python.json", src ? src : ".");
	cases = json_load_file(path, 0, &jerr);
	CHECK(json_is_array(cases), "cannot read %s (set CVMBOOT_SRC): %s", path, jerr.text);
	return cases;
}

static EVP_PKEY *pem_key(const char *pem)
{
	BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	return key;
}

/* The private key of the vector case called name. */
static EVP_PKEY *vector_key(const char *name)
{
	json_t *cases = load_python_vectors();
	EVP_PKEY *key = NULL;

	for (size_t i = 0; i < json_array_size(cases) && !key; i++) {
		json_t *c = json_array_get(cases, i);

		if (json_is_string(json_object_get(c, "name")) &&
		    strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			key = pem_key(json_string_value(json_object_get(c, "key")));
	}
	json_decref(cases);
	CHECK(key != NULL, "no key for vector %s", name);
	return key;
}

/* JWEs built by python3-cryptography (vectors/gen_jwe_vectors.py): the same
 * wire format from an implementation that shares no code with ours. */
static void test_python_vectors(void)
{
	json_t *cases = load_python_vectors();
	size_t i;
	int done = 0;

	for (i = 0; i < json_array_size(cases); i++) {
		json_t *c = json_array_get(cases, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *text = json_string_value(json_object_get(c, "jwe"));
		const char *want64 = json_string_value(json_object_get(c, "plaintext"));
		unsigned char *want = NULL;
		size_t wantlen = 0;
		EVP_PKEY *key = pem_key(json_string_value(json_object_get(c, "key")));
		json_t *jwe = text ? json_loads(text, 0, NULL) : NULL;

		CHECK(name && key && jwe && want64 &&
		      b64_decode(want64, strlen(want64), 1, &want, &wantlen) == 0, "vector %zu unreadable", i);
		if (name && key && jwe && want) {
			expect_plain(name, jwe, key, want, wantlen);
			flip_member_bit(jwe, "tag", 0);
			expect_error(name, jwe, key, "tag does not verify");
			done++;
		}
		free(want);
		json_decref(jwe);
		EVP_PKEY_free(key);
	}
	CHECK(done >= 8, "only %d Python vectors checked", done);
	json_decref(cases);
}

int main(void)
{
	EVP_PKEY *p256 = NULL, *p521 = NULL, *rsa = NULL;
	struct err e = { 0 };

	test_concat_kdf_rfc7518();
	test_aes_key_wrap_rfc3394();
	test_a256gcm_rfc7516();

	/* EC keys as the agent makes them; the RSA-3072 key comes from the
	 * vectors file (RSA generation takes minutes under valgrind; the
	 * session_key test (test_session_key.c) covers it). */
	rsa = vector_key("RSA-OAEP-256");
	if (tee_key_generate(KEY_EC_P256, &p256, &e) || tee_key_generate(KEY_EC_P521, &p521, &e) || !rsa) {
		fprintf(stderr, "key setup failed: %s\n", e.msg);
		return 1;
	}
	test_round_trips(p256, p521, rsa);
	test_negative_ec(p256, p521, rsa);
	test_negative_rsa(rsa, p256);
	test_raw_input(p256);
	test_python_vectors();
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(rsa);
	return check_report("jwe");
}
