/* libFuzzer harness: the TPM structures the agent reads itself, unmarshalled
 * as tpm2-tss does from a TPM's answer. The first byte picks which:
 *   0  a quote: [qualifying length][qualifying][24 SHA-256 PCRs][TPMS_ATTEST]
 *   1  a TPM2_PCR_Read answer: TPML_PCR_SELECTION, TPML_DIGEST
 *   2  the AK's TPM2B_PUBLIC (ReadPublic), made into an RSA key */
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "fuzz.h"
#include "tee_parse.h"
#define TSS2_LOADER_NO_REDIRECT /* its own calls link tpm2-tss directly */
#include "tss2_loader.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct err e = { 0 };

	setenv("TSS2_LOG", "all+NONE", 1);   /* tpm2-tss would log each bad input */
	if (tss2_load(&e)) {                 /* tpm_common.c calls it through dlopen */
		fprintf(stderr, "%s\n", e.msg);
		abort();
	}
	return 0;
}

static void quote(const uint8_t *data, size_t size)
{
	struct tpm_quote q = { 0 };
	struct err e = { 0 };
	size_t qlen, pcr_bytes = sizeof(q.pcrs), take;
	int r;

	if (size < 1)
		return;
	qlen = data[0];
	if (qlen > TPM_QUALIFYING_DATA_MAX || size < 1 + qlen)
		return;
	take = size - 1 - qlen < pcr_bytes ? size - 1 - qlen : pcr_bytes;
	memcpy(q.pcrs, data + 1 + qlen, take);
	q.message = (unsigned char *)data + 1 + qlen + take;
	q.message_len = size - 1 - qlen - take;
	r = check_attest(&q, data + 1, qlen, &e);
	if (getenv("CVMBOOT_FUZZ_VERBOSE"))
		fprintf(stderr, "verdict: check_attest %d %s\n", r, e.msg);
	FUZZ_CHECK(r == 1 || r == 0 || (r == -1 && e.code == CVM_E_TEE && e.msg[0]),
		   "check_attest returned %d (error %d)", r, e.code);
}

static void pcr_read(const uint8_t *data, size_t size)
{
	TPML_PCR_SELECTION got, want = { 0 };
	TPML_DIGEST values;
	unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN];
	size_t off = 0;
	int n;

	memset(&got, 0, sizeof(got));
	memset(&values, 0, sizeof(values));
	if (Tss2_MU_TPML_PCR_SELECTION_Unmarshal(data, size, &off, &got) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPML_DIGEST_Unmarshal(data, size, &off, &values) != TSS2_RC_SUCCESS)
		return;
	want.count = 1;
	want.pcrSelections[0].hash = TPM2_ALG_SHA256;
	want.pcrSelections[0].sizeofSelect = 3;
	memset(want.pcrSelections[0].pcrSelect, 0xff, 3);
	n = take_pcr_values(&got, &values, &want.pcrSelections[0], pcrs);
	if (getenv("CVMBOOT_FUZZ_VERBOSE"))
		fprintf(stderr, "verdict: take_pcr_values %d\n", n);
	FUZZ_CHECK(n >= -1 && n <= TPM_NUM_PCRS, "%d PCR values taken", n);
}

static void public_key(const uint8_t *data, size_t size)
{
	TPM2B_PUBLIC pub;
	size_t off = 0;
	EVP_PKEY *key;

	memset(&pub, 0, sizeof(pub));
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(data, size, &off, &pub) != TSS2_RC_SUCCESS)
		return;
	key = rsa_public_from_tpm(&pub.publicArea);
	if (getenv("CVMBOOT_FUZZ_VERBOSE"))
		fprintf(stderr, "verdict: rsa_public_from_tpm %s\n", key ? "key" : "none");
	if (key)
		FUZZ_CHECK(i2d_PUBKEY(key, NULL) > 0, "RSA key from the TPM does not encode");
	EVP_PKEY_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: quote(data + 1, size - 1); break;
	case 1: pcr_read(data + 1, size - 1); break;
	default: public_key(data + 1, size - 1); break;
	}
	return 0;
}
