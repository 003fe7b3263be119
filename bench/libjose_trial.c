/* The libjose trial (issue 11): decrypts the project's JWE vectors
 * (tests/unit/vectors/jwe_python.json, built with python3-cryptography) with
 * latchset/jose's jose_jwe_dec() and prints, per vector, whether libjose gave
 * the expected plaintext. Figures only; bench/libjose-trial.sh builds and runs
 * it. Usage: libjose_trial VECTORS.json */
#include <jose/jose.h>
#include <jose/openssl.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *jwk_from_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    json_t *jwk = key ? jose_openssl_jwk_from_EVP_PKEY(NULL, key) : NULL;

    EVP_PKEY_free(key);
    BIO_free(bio);
    return jwk;
}

/* The vector's "alg" header, for the table: decoded from "protected". */
static char *header_alg(const json_t *jwe)
{
    json_t *hdr = jose_b64_dec_load(json_object_get(jwe, "protected"));
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    char *copy = strdup(alg ? alg : "?");

    json_decref(hdr);
    return copy;
}

int main(int argc, char **argv)
{
    json_error_t error;
    json_t *vectors;
    size_t i, passed = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS.json\n", argv[0]);
        return 2;
    }
    vectors = json_load_file(argv[1], 0, &error);
    if (!json_is_array(vectors)) {
        fprintf(stderr, "%s: %s\n", argv[1], error.text);
        return 2;
    }
    printf("%-16s %-16s %s\n", "vector", "alg", "libjose");
    for (i = 0; i < json_array_size(vectors); i++) {
        json_t *v = json_array_get(vectors, i);
        const char *name = json_string_value(json_object_get(v, "name"));
        /* the expected plaintext is stored base64url-encoded */
        json_t *want_b64 = json_object_get(v, "plaintext");
        size_t want_len = jose_b64_dec(want_b64, NULL, 0);
        char *want = want_len != SIZE_MAX ? malloc(want_len + 1) : NULL;
        json_t *jwe = json_loads(json_string_value(json_object_get(v, "jwe")), 0, NULL);
        json_t *jwk = jwk_from_pem(json_string_value(json_object_get(v, "key")));
        char *alg = jwe ? header_alg(jwe) : strdup("?");
        size_t len = 0;
        char *got = NULL;
        const char *verdict;

        if (!want || jose_b64_dec(want_b64, want, want_len) != want_len)
            verdict = "vector's plaintext not decoded";
        else if (!jwk)
            verdict = "private key not converted to a JWK";
        else if (!jwe)
            verdict = "JWE not parsed";
        else if (!(got = jose_jwe_dec(NULL, jwe, NULL, jwk, &len)))
            verdict = "jose_jwe_dec failed";
        else if (len != want_len || memcmp(got, want, len) != 0)
            verdict = "wrong plaintext";
        else {
            verdict = "decrypted";
            passed++;
        }
        printf("%-16s %-16s %s\n", name ? name : "?", alg, verdict);
        if (got) {
            OPENSSL_cleanse(got, len);
            free(got);
        }
        free(want);
        free(alg);
        json_decref(jwe);
        json_decref(jwk);
    }
    printf("libjose decrypted %zu of %zu vectors\n", passed, json_array_size(vectors));
    json_decref(vectors);
    return 0;
}
