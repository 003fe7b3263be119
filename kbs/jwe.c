/* Decryption of the KBS's flattened-JSON JWE resource responses
 * (RFC 7516/7518): ECDH-ES+A256KW or RSA-OAEP-256, content A256GCM. */
#include "jwe.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cleanup.h"

#define JWE_IV_BYTES 12
#define JWE_TAG_BYTES 16
#define JWE_CEK_BYTES 32
#define JWE_WRAPPED_CEK_BYTES (JWE_CEK_BYTES + 8)
#define JWE_MAX_HEADER (64 * 1024)   /* decoded protected header */
#define JWE_MAX_PARTY_INFO 1024      /* decoded apu / apv */
#define KDF_MAX_OUT 1024

/* ---- building blocks ------------------------------------------------ */

static void put_be32(unsigned char b[4], uint32_t v)
{
	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

/* One length-prefixed field of the Concat KDF OtherInfo (RFC 7518 4.6.2). */
static int digest_field(EVP_MD_CTX *md, const unsigned char *p, size_t len)
{
	unsigned char be[4];

	put_be32(be, (uint32_t)len);
	return EVP_DigestUpdate(md, be, 4) == 1 && (len == 0 || EVP_DigestUpdate(md, p, len) == 1);
}

/* NIST SP 800-56A Concat KDF with SHA-256 as JWA uses it: for each round
 * SHA-256(counter || Z || AlgorithmID || PartyUInfo || PartyVInfo ||
 * SuppPubInfo = keydatalen in bits). */
int concat_kdf_sha256(const unsigned char *z, size_t zlen, const char *alg_id,
		      const unsigned char *apu, size_t apulen,
		      const unsigned char *apv, size_t apvlen,
		      unsigned char *out, size_t outlen)
{
	unsigned char block[32], be[4];
	EVP_MD_CTX *md;
	uint32_t counter;
	size_t done = 0;
	int rc = -1;

	if (!z || !alg_id || !out || outlen == 0 || outlen > KDF_MAX_OUT ||
	    zlen > UINT32_MAX || apulen > UINT32_MAX || apvlen > UINT32_MAX)
		return -1;
	md = EVP_MD_CTX_new();
	if (!md)
		return -1;
	for (counter = 1; done < outlen; counter++) {
		size_t take = outlen - done < sizeof(block) ? outlen - done : sizeof(block);

		put_be32(be, counter);
		if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(md, be, 4) != 1 ||
		    EVP_DigestUpdate(md, z, zlen) != 1 ||
		    !digest_field(md, (const unsigned char *)alg_id, strlen(alg_id)) ||
		    !digest_field(md, apu, apulen) ||
		    !digest_field(md, apv, apvlen))
			goto out;
		put_be32(be, (uint32_t)(outlen * 8));
		if (EVP_DigestUpdate(md, be, 4) != 1 ||
		    EVP_DigestFinal_ex(md, block, NULL) != 1)
			goto out;
		memcpy(out + done, block, take);
		done += take;
	}
	rc = 0;
out:
	OPENSSL_cleanse(block, sizeof(block));
	EVP_MD_CTX_free(md);
	if (rc)
		OPENSSL_cleanse(out, outlen);
	return rc;
}

static const EVP_CIPHER *aes_wrap_cipher(size_t keklen)
{
	switch (keklen) {
	case 16: return EVP_aes_128_wrap();
	case 24: return EVP_aes_192_wrap();
	case 32: return EVP_aes_256_wrap();
	}
	return NULL;
}

/* RFC 3394 AES key unwrap. *outlen: in, the room in out; out, the length. */
int aes_key_unwrap(const unsigned char *kek, size_t keklen,
		   const unsigned char *in, size_t inlen,
		   unsigned char *out, size_t *outlen)
{
	const EVP_CIPHER *cipher = aes_wrap_cipher(keklen);
	EVP_CIPHER_CTX *ctx;
	int n = 0, fin = 0, rc = -1;

	if (!cipher || !kek || !in || !out || !outlen || inlen < 24 || inlen % 8 != 0 ||
	    inlen > 4096 || *outlen < inlen - 8)
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_DecryptInit_ex(ctx, cipher, NULL, kek, NULL) == 1 &&
	    EVP_DecryptUpdate(ctx, out, &n, in, (int)inlen) == 1 &&
	    n == (int)(inlen - 8) &&
	    EVP_DecryptFinal_ex(ctx, out + n, &fin) == 1 && fin == 0) {
		*outlen = (size_t)n;
		rc = 0;
	} else {
		OPENSSL_cleanse(out, inlen - 8);
	}
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* AES-256-GCM decryption; out gets ctlen bytes, wiped if the tag fails. */
int aes256gcm_decrypt(const unsigned char key[32], const unsigned char *iv, size_t ivlen,
		      const unsigned char *aad, size_t aadlen,
		      const unsigned char *ct, size_t ctlen,
		      const unsigned char tag[16], unsigned char *out)
{
	EVP_CIPHER_CTX *ctx;
	int n = 0, fin = 0, rc = -1;

	if (!key || !iv || ivlen == 0 || ivlen > 128 || !tag || (ctlen && (!ct || !out)) ||
	    (aadlen && !aad) || ctlen > INT_MAX || aadlen > INT_MAX)
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, iv) != 1)
		goto out;
	if (aadlen && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (ctlen && (EVP_DecryptUpdate(ctx, out, &n, ct, (int)ctlen) != 1 || n != (int)ctlen))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out ? out + ctlen : NULL, &fin) != 1)
		goto out;
	rc = 0;
out:
	if (rc && out && ctlen)
		OPENSSL_cleanse(out, ctlen);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* ---- JWE parsing ----------------------------------------------------- */

/* Decode the base64url string member `name` of obj; `where` names the
 * object in messages ("" for the JWE itself, "epk ", ...). A missing member
 * is an error only if required (null counts as missing). */
static int b64url_member(const json_t *obj, const char *where, const char *name, bool required,
			 size_t maxlen, unsigned char **out, size_t *outlen, struct err *e)
{
	const json_t *v = json_object_get(obj, name);
	size_t len;

	*out = NULL;
	*outlen = 0;
	if (!v || json_is_null(v)) {
		if (required)
			return err_set(e, CVM_E_PROTOCOL, "JWE: %smember \"%s\" is missing", where, name);
		return 0;
	}
	if (!json_is_string(v))
		return err_set(e, CVM_E_PROTOCOL, "JWE: %smember \"%s\" is not a string", where, name);
	len = json_string_length(v);
	if (len > maxlen / 3 * 4 + 4)
		return err_set(e, CVM_E_PROTOCOL, "JWE: %smember \"%s\" is too long (%zu characters)",
			       where, name, len);
	if (b64_decode(json_string_value(v), len, true, out, outlen) < 0)
		return err_set(e, CVM_E_PROTOCOL, "JWE: %smember \"%s\" is not valid base64url",
			       where, name);
	if (*outlen > maxlen) {
		free(*out);
		*out = NULL;
		return err_set(e, CVM_E_PROTOCOL, "JWE: %smember \"%s\" is too long (%zu bytes)",
			       where, name, *outlen);
	}
	return 0;
}

/* A header member that must be a string, or NULL (error set) if it is not. */
static const char *header_string(const json_t *hdr, const char *name, struct err *e)
{
	const json_t *v = json_object_get(hdr, name);

	if (!v) {
		err_set(e, CVM_E_PROTOCOL, "JWE: protected header has no \"%s\"", name);
		return NULL;
	}
	if (!json_is_string(v)) {
		err_set(e, CVM_E_PROTOCOL, "JWE: protected header \"%s\" is not a string", name);
		return NULL;
	}
	return json_string_value(v);
}

struct curve {
	const char *jwk_name;   /* "P-256" */
	const char *ossl_name;  /* OpenSSL group name */
	size_t field_bytes;
};

static const struct curve curves[] = {
	{ "P-256", "prime256v1", 32 },
	{ "P-384", "secp384r1", 48 },
	{ "P-521", "secp521r1", 66 },
};

static const struct curve *our_curve(EVP_PKEY *key)
{
	char name[64] = "";

	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), NULL))
		return NULL;
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(name, curves[i].ossl_name) == 0 || strcmp(name, curves[i].jwk_name) == 0)
			return &curves[i];
	return NULL;
}

static const char *key_type_name(EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "EC"))
		return "EC";
	if (EVP_PKEY_is_a(key, "RSA"))
		return "RSA";
	return "of another type";
}

/* The sender's ephemeral public key from the header's epk, checked to be a
 * valid point on our curve. */
static int epk_load(const json_t *hdr, const struct curve *cv, EVP_PKEY **out, struct err *e)
{
	const json_t *epk = json_object_get(hdr, "epk");
	const json_t *kty, *crv;
	CLEANUP(freep) unsigned char *x = NULL;
	CLEANUP(freep) unsigned char *y = NULL;
	CLEANUP(freep) unsigned char *point = NULL;
	CLEANUP(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
	CLEANUP(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *check = NULL;
	size_t xlen, ylen;
	OSSL_PARAM params[3];
	EVP_PKEY *peer = NULL;

	*out = NULL;
	if (!epk)
		return err_set(e, CVM_E_PROTOCOL, "JWE: protected header has no \"epk\"");
	if (!json_is_object(epk))
		return err_set(e, CVM_E_PROTOCOL, "JWE: epk is not a JSON object");
	kty = json_object_get(epk, "kty");
	if (!json_is_string(kty))
		return err_set(e, CVM_E_PROTOCOL, "JWE: epk kty is missing or not a string");
	if (strcmp(json_string_value(kty), "EC") != 0)
		return err_set(e, CVM_E_PROTOCOL, "JWE: epk kty \"%.64s\" is not \"EC\"",
			       json_string_value(kty));
	crv = json_object_get(epk, "crv");
	if (!json_is_string(crv))
		return err_set(e, CVM_E_PROTOCOL, "JWE: epk crv is missing or not a string");
	if (strcmp(json_string_value(crv), cv->jwk_name) != 0)
		return err_set(e, CVM_E_PROTOCOL, "JWE: epk curve %.64s does not match our key (%s)",
			       json_string_value(crv), cv->jwk_name);
	if (b64url_member(epk, "epk ", "x", true, 1024, &x, &xlen, e) ||
	    b64url_member(epk, "epk ", "y", true, 1024, &y, &ylen, e))
		return e->code;
	if (xlen != cv->field_bytes || ylen != cv->field_bytes)
		return err_set(e, CVM_E_PROTOCOL, "JWE: epk %s is %zu bytes, expected %zu for %s",
			       xlen != cv->field_bytes ? "x" : "y",
			       xlen != cv->field_bytes ? xlen : ylen, cv->field_bytes, cv->jwk_name);
	point = malloc(1 + 2 * cv->field_bytes);
	if (!point)
		return err_set(e, CVM_E_INTERNAL, "JWE: out of memory");
	point[0] = 0x04;   /* uncompressed SEC1 point */
	memcpy(point + 1, x, xlen);
	memcpy(point + 1 + xlen, y, ylen);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						     (char *)cv->ossl_name, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point,
						      1 + 2 * cv->field_bytes);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1)
		return err_set(e, CVM_E_INTERNAL, "JWE: cannot set up EC key import");
	if (EVP_PKEY_fromdata(ctx, &peer, EVP_PKEY_PUBLIC_KEY, params) != 1 || !peer)
		return err_set(e, CVM_E_PROTOCOL, "JWE: epk point is not on curve %s", cv->jwk_name);
	check = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(peer);
		return err_set(e, CVM_E_PROTOCOL, "JWE: epk point is not on curve %s", cv->jwk_name);
	}
	*out = peer;
	return 0;
}

/* Z = ECDH(our private key, peer); z->len is the field size. */
static int ecdh_derive(EVP_PKEY *key, EVP_PKEY *peer, struct secret *z, struct err *e)
{
	CLEANUP(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	size_t len = 0;

	if (!ctx || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
	    EVP_PKEY_derive(ctx, NULL, &len) != 1 || len == 0 || len > 256)
		return err_set(e, CVM_E_PROTOCOL, "JWE: ECDH with the epk failed");
	if (!secret_alloc(z, len))
		return err_set(e, CVM_E_INTERNAL, "JWE: out of memory");
	if (EVP_PKEY_derive(ctx, z->data, &len) != 1 || len != z->len)
		return err_set(e, CVM_E_PROTOCOL, "JWE: ECDH with the epk failed");
	return 0;
}

/* ECDH-ES+A256KW (RFC 7518 4.6): Z from ECDH, KEK by Concat KDF, then
 * AES-256 key unwrap of encrypted_key into the CEK. */
static int cek_ecdh_es_a256kw(const json_t *hdr, EVP_PKEY *key, const unsigned char *ek,
			      size_t eklen, struct secret *cek, struct err *e)
{
	static const char alg[] = "ECDH-ES+A256KW";
	const struct curve *cv;
	CLEANUP(EVP_PKEY_freep) EVP_PKEY *peer = NULL;
	CLEANUP(secret_clear) struct secret z = { 0 };
	CLEANUP(secret_clear) struct secret kek = { 0 };
	CLEANUP(freep) unsigned char *apu = NULL;
	CLEANUP(freep) unsigned char *apv = NULL;
	size_t apulen, apvlen, cklen = JWE_CEK_BYTES;

	if (!EVP_PKEY_is_a(key, "EC"))
		return err_set(e, CVM_E_PROTOCOL, "JWE: alg %s needs an EC key, but our TEE key is %s",
			       alg, key_type_name(key));
	cv = our_curve(key);
	if (!cv)
		return err_set(e, CVM_E_PROTOCOL, "JWE: our EC key is on an unsupported curve");
	if (eklen != JWE_WRAPPED_CEK_BYTES)
		return err_set(e, CVM_E_PROTOCOL, "JWE: encrypted_key is %zu bytes, expected %d for %s",
			       eklen, JWE_WRAPPED_CEK_BYTES, alg);
	if (b64url_member(hdr, "protected header ", "apu", false, JWE_MAX_PARTY_INFO, &apu, &apulen, e) ||
	    b64url_member(hdr, "protected header ", "apv", false, JWE_MAX_PARTY_INFO, &apv, &apvlen, e))
		return e->code;
	if (epk_load(hdr, cv, &peer, e) || ecdh_derive(key, peer, &z, e))
		return e->code;
	if (!secret_alloc(&kek, 32) || !secret_alloc(cek, JWE_CEK_BYTES))
		return err_set(e, CVM_E_INTERNAL, "JWE: out of memory");
	if (concat_kdf_sha256(z.data, z.len, alg, apu, apulen, apv, apvlen, kek.data, kek.len) < 0)
		return err_set(e, CVM_E_INTERNAL, "JWE: Concat KDF failed");
	if (aes_key_unwrap(kek.data, kek.len, ek, eklen, cek->data, &cklen) < 0 ||
	    cklen != JWE_CEK_BYTES)
		return err_set(e, CVM_E_PROTOCOL,
			       "JWE: AES key unwrap of encrypted_key failed (integrity check: wrong key or tampered data)");
	return 0;
}

/* RSA-OAEP-256: RSAES-OAEP with SHA-256 and MGF1-SHA-256. */
static int cek_rsa_oaep_256(EVP_PKEY *key, const unsigned char *ek, size_t eklen,
			    struct secret *cek, struct err *e)
{
	CLEANUP(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
	CLEANUP(secret_clear) struct secret buf = { 0 };
	size_t modlen, outlen;

	if (!EVP_PKEY_is_a(key, "RSA"))
		return err_set(e, CVM_E_PROTOCOL, "JWE: alg RSA-OAEP-256 needs an RSA key, but our TEE key is %s",
			       key_type_name(key));
	modlen = (size_t)EVP_PKEY_get_size(key);
	if (eklen != modlen)
		return err_set(e, CVM_E_PROTOCOL, "JWE: encrypted_key is %zu bytes, expected %zu for RSA-OAEP-256",
			       eklen, modlen);
	if (!secret_alloc(&buf, modlen))
		return err_set(e, CVM_E_INTERNAL, "JWE: out of memory");
	outlen = buf.len;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!ctx || EVP_PKEY_decrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1)
		return err_set(e, CVM_E_INTERNAL, "JWE: cannot set up RSA-OAEP-256");
	if (EVP_PKEY_decrypt(ctx, buf.data, &outlen, ek, eklen) != 1)
		return err_set(e, CVM_E_PROTOCOL, "JWE: RSA-OAEP-256 decryption of encrypted_key failed");
	if (outlen != JWE_CEK_BYTES)
		return err_set(e, CVM_E_PROTOCOL, "JWE: CEK is %zu bytes, expected %d for A256GCM",
			       outlen, JWE_CEK_BYTES);
	if (!secret_alloc(cek, JWE_CEK_BYTES))
		return err_set(e, CVM_E_INTERNAL, "JWE: out of memory");
	memcpy(cek->data, buf.data, JWE_CEK_BYTES);
	return 0;
}

/* Parse and check the protected header; returns it, or NULL with e set. */
static json_t *protected_header(const json_t *jwe, const char **alg, struct err *e)
{
	CLEANUP(freep) unsigned char *raw = NULL;
	json_t *hdr;
	json_error_t jerr;
	const char *enc;
	size_t len;

	if (b64url_member(jwe, "", "protected", true, JWE_MAX_HEADER, &raw, &len, e))
		return NULL;
	hdr = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(hdr)) {
		json_decref(hdr);
		err_set(e, CVM_E_PROTOCOL, "JWE: protected header is not a JSON object%s%s",
			hdr ? "" : ": ", hdr ? "" : jerr.text);
		return NULL;
	}
	*alg = header_string(hdr, "alg", e);
	enc = *alg ? header_string(hdr, "enc", e) : NULL;
	if (!*alg || !enc)
		goto bad;
	if (strcmp(*alg, "ECDH-ES+A256KW") != 0 && strcmp(*alg, "RSA-OAEP-256") != 0) {
		err_set(e, CVM_E_PROTOCOL, "JWE: unsupported alg \"%.64s\" (expected ECDH-ES+A256KW or RSA-OAEP-256)",
			*alg);
		goto bad;
	}
	if (strcmp(enc, "A256GCM") != 0) {
		err_set(e, CVM_E_PROTOCOL, "JWE: unsupported enc \"%.64s\" (expected A256GCM)", enc);
		goto bad;
	}
	if (json_object_get(hdr, "zip")) {
		err_set(e, CVM_E_PROTOCOL, "JWE: compressed content (zip) is not supported");
		goto bad;
	}
	if (json_object_get(hdr, "crit")) {
		err_set(e, CVM_E_PROTOCOL, "JWE: critical header extensions (crit) are not supported");
		goto bad;
	}
	return hdr;
bad:
	json_decref(hdr);
	return NULL;
}

/* The GCM AAD: protected, or protected "." aad when aad is present. */
static unsigned char *content_aad(const json_t *jwe, size_t *len, struct err *e)
{
	const json_t *prot = json_object_get(jwe, "protected");
	const json_t *aad = json_object_get(jwe, "aad");
	size_t plen = json_string_length(prot), alen;
	unsigned char *out, *check = NULL;

	if (aad && !json_is_null(aad)) {
		if (!json_is_string(aad)) {
			err_set(e, CVM_E_PROTOCOL, "JWE: member \"aad\" is not a string");
			return NULL;
		}
		alen = json_string_length(aad);
		if (b64_decode(json_string_value(aad), alen, true, &check, len) < 0) {
			err_set(e, CVM_E_PROTOCOL, "JWE: member \"aad\" is not valid base64url");
			return NULL;
		}
		free(check);
		*len = plen + 1 + alen;
	} else {
		aad = NULL;
		*len = plen;
	}
	out = malloc(*len ? *len : 1);
	if (!out) {
		err_set(e, CVM_E_INTERNAL, "JWE: out of memory");
		return NULL;
	}
	memcpy(out, json_string_value(prot), plen);
	if (aad) {
		out[plen] = '.';
		memcpy(out + plen + 1, json_string_value(aad), json_string_length(aad));
	}
	return out;
}

static int check_top_level(const json_t *jwe, struct err *e)
{
	static const char *const unsupported[] = { "recipients", "unprotected", "header" };

	if (!json_is_object(jwe))
		return err_set(e, CVM_E_PROTOCOL, "JWE: not a JSON object");
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (json_object_get(jwe, unsupported[i]))
			return err_set(e, CVM_E_PROTOCOL,
				       "JWE: member \"%s\" is not supported (only flattened JWE with a protected header)",
				       unsupported[i]);
	return 0;
}

static int decrypt_parsed(const json_t *jwe, EVP_PKEY *key, struct secret *plain, struct err *e)
{
	CLEANUP(json_decrefp) json_t *hdr = NULL;
	CLEANUP(freep) unsigned char *ek = NULL;
	CLEANUP(freep) unsigned char *iv = NULL;
	CLEANUP(freep) unsigned char *tag = NULL;
	CLEANUP(freep) unsigned char *ct = NULL;
	CLEANUP(freep) unsigned char *aad = NULL;
	CLEANUP(secret_clear) struct secret cek = { 0 };
	size_t eklen, ivlen, taglen, ctlen, aadlen;
	const char *alg = NULL;
	int rc;

	if (check_top_level(jwe, e))
		return e->code;
	hdr = protected_header(jwe, &alg, e);
	if (!hdr)
		return e->code;
	if (b64url_member(jwe, "", "encrypted_key", true, 4096, &ek, &eklen, e) ||
	    b64url_member(jwe, "", "iv", true, 64, &iv, &ivlen, e) ||
	    b64url_member(jwe, "", "ciphertext", true, JWE_MAX_INPUT, &ct, &ctlen, e) ||
	    b64url_member(jwe, "", "tag", true, 64, &tag, &taglen, e))
		return e->code;
	if (ivlen != JWE_IV_BYTES)
		return err_set(e, CVM_E_PROTOCOL, "JWE: iv is %zu bytes, expected %d", ivlen, JWE_IV_BYTES);
	if (taglen != JWE_TAG_BYTES)
		return err_set(e, CVM_E_PROTOCOL, "JWE: tag is %zu bytes, expected %d", taglen, JWE_TAG_BYTES);
	aad = content_aad(jwe, &aadlen, e);
	if (!aad)
		return e->code;
	if (strcmp(alg, "ECDH-ES+A256KW") == 0)
		rc = cek_ecdh_es_a256kw(hdr, key, ek, eklen, &cek, e);
	else
		rc = cek_rsa_oaep_256(key, ek, eklen, &cek, e);
	if (rc)
		return rc;
	if (!secret_alloc(plain, ctlen))
		return err_set(e, CVM_E_INTERNAL, "JWE: out of memory");
	if (aes256gcm_decrypt(cek.data, iv, ivlen, aad, aadlen, ct, ctlen, tag, plain->data) < 0) {
		secret_clear(plain);
		return err_set(e, CVM_E_PROTOCOL, "JWE: tag does not verify (wrong key or tampered data)");
	}
	return 0;
}

int jwe_decrypt(const char *body, size_t len, EVP_PKEY *key, struct secret *plain, struct err *e)
{
	CLEANUP(json_decrefp) json_t *jwe = NULL;
	json_error_t jerr;
	int rc;

	if (!plain)
		return err_set(e, CVM_E_INTERNAL, "JWE: no output buffer");
	plain->data = NULL;
	plain->len = 0;
	if (!key)
		return err_set(e, CVM_E_INTERNAL, "JWE: no TEE key");
	if (!body || len > JWE_MAX_INPUT)
		return err_set(e, CVM_E_PROTOCOL, "JWE: response of %zu bytes exceeds the limit of %d bytes",
			       body ? len : 0, JWE_MAX_INPUT);
	jwe = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!jwe)
		return err_set(e, CVM_E_PROTOCOL, "JWE: not valid JSON: %s (line %d, column %d)",
			       jerr.text, jerr.line, jerr.column);
	rc = decrypt_parsed(jwe, key, plain, e);
	if (rc)
		secret_clear(plain);
	return rc;
}
