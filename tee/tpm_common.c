/* Shared TPM 2.0 helpers over tpm2-tss ESYS: open through a TCTI, quote and
 * read the 24 SHA-256 PCRs, export the AK, NV read/define/write, PCR extend. */
#include "tpm_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "hex.h"
#include "tee_parse.h"
#include "tpm_deadline.h"
#include "tss2_loader.h"
#include "validate.h"

#define QUOTE_ATTEMPTS 3      /* a PCR may move between the quote and the read */
#define NV_CHUNK_FALLBACK 512 /* if the TPM does not say its NV buffer size */

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;   /* the deadline TCTI in front of the real one */
	ESYS_CONTEXT *esys;
	long timeout_ms;
	char tcti_name[TEE_PATH_MAX];
};

/* A TPM that once let a command time out is given up for the rest of the
 * run: auto-detection and the evidence would otherwise each wait again. */
static char given_up_tcti[TEE_PATH_MAX];
static bool given_up;

static const char *shown_tcti(const struct tpm *t)
{
	return t->tcti_name[0] ? t->tcti_name : "default";
}

/* Remember a TPM that let a command time out, and say so. */
static int give_up(struct tpm *t, struct err *e, const char *cmd)
{
	if (!given_up) {
		snprintf(given_up_tcti, sizeof(given_up_tcti), "%s", t->tcti_name);
		given_up = true;
	}
	return err_set(e, CVM_E_TEE, "%s: the TPM (TCTI '%s') did not answer within %ld ms "
		       "([tee] tpm_timeout); giving up on it", cmd, shown_tcti(t), t->timeout_ms);
}

/* An error for a failed TPM command: what (printf-style) names the command,
 * then the TSS's reason, or the timeout when the TPM stopped answering. */
static int __attribute__((format(printf, 4, 5)))
tpm_fail(struct tpm *t, struct err *e, TSS2_RC rc, const char *what, ...)
{
	char cmd[160];
	va_list ap;

	va_start(ap, what);
	vsnprintf(cmd, sizeof(cmd), what, ap);
	va_end(ap);
	if (tpm_deadline_expired(t->tcti))
		return give_up(t, e, cmd);
	return err_set(e, CVM_E_TEE, "%s: %s", cmd, Tss2_RC_Decode(rc));
}

const char *tpm_default_device(void)
{
	return path_exists("/dev/tpmrm0") ? "/dev/tpmrm0"
	       : path_exists("/dev/tpm0") ? "/dev/tpm0" : NULL;
}

static void pick_default_tcti(char *out, size_t len)
{
	const char *dev = tpm_default_device();

	if (dev)
		snprintf(out, len, "device:%s", dev);
	else
		out[0] = '\0';
}

int tpm_open(const struct tee_options *cfg, struct tpm **out, struct err *e)
{
	CLEANUP(tpm_closep) struct tpm *t = calloc(1, sizeof(*t));
	bool timed_out;
	TSS2_RC rc;

	if (tss2_load(e))
		return e->code;
	if (!t)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	/* tpm2-tss prints its own ERROR lines on stderr (e.g. for a probe of an
	 * absent handle); cvmboot reports errors itself. TSS2_LOG set by the
	 * operator wins. */
	setenv("TSS2_LOG", "all+none", 0);
	if (cfg->tpm_tcti[0])
		snprintf(t->tcti_name, sizeof(t->tcti_name), "%s", cfg->tpm_tcti);
	else
		pick_default_tcti(t->tcti_name, sizeof(t->tcti_name));
	t->timeout_ms = cfg->tpm_timeout_ms;
	if (given_up && strcmp(given_up_tcti, t->tcti_name) == 0) {
		err_set(e, CVM_E_TEE, "the TPM (TCTI '%s') did not answer within %ld ms earlier "
			"in this run ([tee] tpm_timeout); not asking it again", shown_tcti(t),
			t->timeout_ms);
		return e->code;
	}
	rc = tpm_deadline_open(t->tcti_name[0] ? t->tcti_name : NULL, t->timeout_ms, &t->tcti,
			       &timed_out);
	if (rc != TSS2_RC_SUCCESS) {
		if (timed_out)
			give_up(t, e, "opening the TPM");
		else
			err_set(e, CVM_E_TEE, "cannot open the TPM (TCTI '%s'): %s", shown_tcti(t),
				Tss2_RC_Decode(rc));
		return e->code;
	}
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		err_set(e, CVM_E_TEE, "cannot talk to the TPM (TCTI '%s'): %s", shown_tcti(t),
			Tss2_RC_Decode(rc));
		return e->code;
	}
	*out = TAKE_PTR(t);
	return 0;
}

void tpm_close(struct tpm *t)
{
	if (!t)
		return;
	if (t->esys)
		Esys_Finalize(&t->esys);
	tpm_deadline_close(t->tcti);
	free(t);
}

int tpm_handle_exists(struct tpm *t, uint32_t handle, bool *exists, struct err *e)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc;

	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				TPM2_CAP_HANDLES, handle, 1, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, e, rc, "TPM2_GetCapability(handles)");
	*exists = cap->data.handles.count >= 1 && cap->data.handles.handle[0] == handle;
	Esys_Free(cap);
	return 0;
}

static int tr_from_handle(struct tpm *t, uint32_t handle, ESYS_TR *tr, struct err *e)
{
	TSS2_RC rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE,
					   ESYS_TR_NONE, tr);

	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, e, rc, "TPM handle 0x%08x", handle);
	return 0;
}

/* The selection of PCR 0..23 in the SHA-256 bank, as one TPMS_PCR_SELECTION. */
static void all_pcrs_selection(TPML_PCR_SELECTION *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel->pcrSelections[0].sizeofSelect = 3;
	sel->pcrSelections[0].pcrSelect[0] = 0xff;
	sel->pcrSelections[0].pcrSelect[1] = 0xff;
	sel->pcrSelections[0].pcrSelect[2] = 0xff;
}

/* Copy the values of one TPM2_PCR_Read answer into pcrs; clears the bits it
 * served from want. Returns the number of PCRs taken, -1 if malformed. */
int take_pcr_values(const TPML_PCR_SELECTION *got, const TPML_DIGEST *values,
		    TPMS_PCR_SELECTION *want, unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN])
{
	uint32_t k = 0;

	for (uint32_t s = 0; s < got->count; s++) {
		const TPMS_PCR_SELECTION *g = &got->pcrSelections[s];

		if (g->hash != TPM2_ALG_SHA256)
			return -1;
		for (int pcr = 0; pcr < TPM_NUM_PCRS && pcr / 8 < g->sizeofSelect; pcr++) {
			if (!(g->pcrSelect[pcr / 8] & (1u << (pcr % 8))))
				continue;
			if (k >= values->count || values->digests[k].size != TPM_SHA256_LEN)
				return -1;
			memcpy(pcrs[pcr], values->digests[k].buffer, TPM_SHA256_LEN);
			want->pcrSelect[pcr / 8] &= (BYTE) ~(1u << (pcr % 8));
			k++;
		}
	}
	return k == values->count ? (int)k : -1;
}

static bool selection_empty(const TPMS_PCR_SELECTION *s)
{
	return !s->pcrSelect[0] && !s->pcrSelect[1] && !s->pcrSelect[2];
}

int tpm_read_pcrs(struct tpm *t, unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN], struct err *e)
{
	TPML_PCR_SELECTION want;

	all_pcrs_selection(&want);
	/* At most 8 values per answer: 3 rounds; bound the loop anyway. */
	for (int round = 0; round < TPM_NUM_PCRS && !selection_empty(&want.pcrSelections[0]);
	     round++) {
		TPML_PCR_SELECTION *got = NULL;
		TPML_DIGEST *values = NULL;
		UINT32 counter;
		TSS2_RC rc;
		int n;

		rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &want,
				   &counter, &got, &values);
		if (rc != TSS2_RC_SUCCESS)
			return tpm_fail(t, e, rc, "TPM2_PCR_Read(sha256:0-23)");
		n = take_pcr_values(got, values, &want.pcrSelections[0], pcrs);
		Esys_Free(got);
		Esys_Free(values);
		if (n < 0)
			return err_set(e, CVM_E_TEE, "TPM2_PCR_Read: malformed answer");
		if (n == 0)
			return err_set(e, CVM_E_TEE,
				       "TPM2_PCR_Read: the TPM has no SHA-256 PCR bank with PCR 0-23 allocated");
	}
	if (!selection_empty(&want.pcrSelections[0]))
		return err_set(e, CVM_E_TEE, "TPM2_PCR_Read: not all 24 SHA-256 PCRs returned");
	return 0;
}

static void sha256_pcrs(const unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN],
			unsigned char out[TPM_SHA256_LEN])
{
	EVP_Digest(pcrs, (size_t)TPM_NUM_PCRS * TPM_SHA256_LEN, out, NULL, EVP_sha256(), NULL);
}

static int attest_fail(struct err *e, const char *msg)
{
	err_set(e, CVM_E_TEE, "%s", msg);
	return -1;
}

/* Check the quote's TPMS_ATTEST: a quote, our qualifying data, and the PCR
 * digest of the values we read. 1 = consistent, 0 = PCR digest differs. */
int check_attest(const struct tpm_quote *q, const unsigned char *qualifying,
		 size_t qualifying_len, struct err *e)
{
	TPMS_ATTEST attest;
	size_t off = 0;
	unsigned char digest[TPM_SHA256_LEN];
	TSS2_RC rc;

	memset(&attest, 0, sizeof(attest));
	rc = Tss2_MU_TPMS_ATTEST_Unmarshal(q->message, q->message_len, &off, &attest);
	if (rc != TSS2_RC_SUCCESS || off != q->message_len)
		return attest_fail(e, "TPM quote: cannot parse TPMS_ATTEST");
	if (attest.magic != TPM2_GENERATED_VALUE || attest.type != TPM2_ST_ATTEST_QUOTE)
		return attest_fail(e, "TPM quote: not a TPM-generated quote");
	if (attest.extraData.size != qualifying_len ||
	    memcmp(attest.extraData.buffer, qualifying, qualifying_len) != 0)
		return attest_fail(e, "TPM quote: qualifying data not as requested");
	sha256_pcrs(q->pcrs, digest);
	if (attest.attested.quote.pcrDigest.size != TPM_SHA256_LEN)
		return attest_fail(e, "TPM quote: PCR digest is not SHA-256");
	return memcmp(attest.attested.quote.pcrDigest.buffer, digest, TPM_SHA256_LEN) == 0;
}

static int store_quote(struct tpm_quote *q, const TPM2B_ATTEST *quoted, const TPMT_SIGNATURE *sig,
		       struct err *e)
{
	unsigned char buf[sizeof(TPMT_SIGNATURE) + 16];
	size_t off = 0;

	if (sig->sigAlg != TPM2_ALG_RSASSA || sig->signature.rsassa.hash != TPM2_ALG_SHA256)
		return err_set(e, CVM_E_TEE,
			       "TPM quote: the AK signed with algorithm 0x%04x/hash 0x%04x, "
			       "expected RSASSA-SHA256 (an RSA signing AK)",
			       sig->sigAlg, sig->signature.rsassa.hash);
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return err_set(e, CVM_E_TEE, "TPM quote: cannot marshal the signature");
	q->message = malloc(quoted->size ? quoted->size : 1);
	q->signature = malloc(off);
	q->raw_sig = malloc(sig->signature.rsassa.sig.size ? sig->signature.rsassa.sig.size : 1);
	if (!q->message || !q->signature || !q->raw_sig)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	memcpy(q->message, quoted->attestationData, quoted->size);
	q->message_len = quoted->size;
	memcpy(q->signature, buf, off);
	q->signature_len = off;
	memcpy(q->raw_sig, sig->signature.rsassa.sig.buffer, sig->signature.rsassa.sig.size);
	q->raw_sig_len = sig->signature.rsassa.sig.size;
	return 0;
}

static int quote_once(struct tpm *t, ESYS_TR ak, bool rsassa_sha256, const TPM2B_DATA *qdata,
		      struct tpm_quote *q, struct err *e)
{
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
	TPML_PCR_SELECTION sel;
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *sig = NULL;
	TSS2_RC rc;
	int r;

	if (rsassa_sha256) {
		scheme.scheme = TPM2_ALG_RSASSA;
		scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
	}
	all_pcrs_selection(&sel);
	rc = Esys_Quote(t->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, qdata, &scheme,
			&sel, &quoted, &sig);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, e, rc, "TPM2_Quote");
	r = store_quote(q, quoted, sig, e);
	Esys_Free(quoted);
	Esys_Free(sig);
	if (r)
		return r;
	return tpm_read_pcrs(t, q->pcrs, e);
}

int tpm_quote_pcrs(struct tpm *t, uint32_t ak_handle, bool rsassa_sha256,
		   const unsigned char *qualifying, size_t qualifying_len, struct tpm_quote *q,
		   struct err *e)
{
	TPM2B_DATA qdata = { 0 };
	ESYS_TR ak = ESYS_TR_NONE;
	int rc = 0;

	memset(q, 0, sizeof(*q));
	if (qualifying_len > TPM_QUALIFYING_DATA_MAX || qualifying_len > sizeof(qdata.buffer))
		return err_set(e, CVM_E_TEE, "TPM quote: qualifying data too long (%zu bytes)",
			       qualifying_len);
	qdata.size = (UINT16)qualifying_len;
	memcpy(qdata.buffer, qualifying, qualifying_len);
	if (tr_from_handle(t, ak_handle, &ak, e))
		return e->code;
	for (int attempt = 1; attempt <= QUOTE_ATTEMPTS; attempt++) {
		int same;

		tpm_quote_clear(q);
		if ((rc = quote_once(t, ak, rsassa_sha256, &qdata, q, e)))
			break;
		same = check_attest(q, qualifying, qualifying_len, e);
		if (same < 0) {
			rc = e->code;
			break;
		}
		if (same == 1)
			break;
		rc = err_set(e, CVM_E_TEE, "TPM quote: PCRs kept changing while quoting "
			     "(%d attempts)", attempt);
	}
	Esys_TR_Close(t->esys, &ak);
	if (rc)
		tpm_quote_clear(q);
	return rc;
}

void tpm_quote_clear(struct tpm_quote *q)
{
	free(q->message);
	free(q->signature);
	free(q->raw_sig);
	memset(q, 0, sizeof(*q));
}

EVP_PKEY *rsa_public_from_tpm(const TPMT_PUBLIC *pub)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL);
	BIGNUM *exp = BN_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;
	/* An exponent of 0 in a TPM public area means the default 65537. */
	UINT32 e_val = pub->parameters.rsaDetail.exponent ? pub->parameters.rsaDetail.exponent
							   : 65537;

	if (bld && n && exp && ctx && BN_set_word(exp, e_val) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, exp) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(exp);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static int spki_der(EVP_PKEY *pkey, unsigned char **der, size_t *der_len, struct err *e)
{
	unsigned char *p;
	int len = i2d_PUBKEY(pkey, NULL);

	if (len <= 0 || !(*der = malloc((size_t)len)))
		return err_set(e, CVM_E_INTERNAL, "cannot encode the AK public key");
	p = *der;
	if (i2d_PUBKEY(pkey, &p) != len) {
		free(*der);
		*der = NULL;
		return err_set(e, CVM_E_INTERNAL, "cannot encode the AK public key");
	}
	*der_len = (size_t)len;
	return 0;
}

int tpm_ak_public_der(struct tpm *t, uint32_t ak_handle, unsigned char **der, size_t *der_len,
		      struct err *e)
{
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR ak = ESYS_TR_NONE;
	EVP_PKEY *pkey = NULL;
	TSS2_RC rc;
	int r;

	if (tr_from_handle(t, ak_handle, &ak, e))
		return e->code;
	rc = Esys_ReadPublic(t->esys, ak, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL,
			     NULL);
	Esys_TR_Close(t->esys, &ak);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, e, rc, "TPM2_ReadPublic(AK)");
	if (pub->publicArea.type != TPM2_ALG_RSA ||
	    !(pub->publicArea.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
		Esys_Free(pub);
		return err_set(e, CVM_E_TEE, "the key at 0x%08x is not an RSA signing key "
			       "(an AK must be RSA with the sign attribute)", ak_handle);
	}
	pkey = rsa_public_from_tpm(&pub->publicArea);
	Esys_Free(pub);
	if (!pkey)
		return err_set(e, CVM_E_TEE, "the AK at 0x%08x has an unusable RSA public key",
			       ak_handle);
	r = spki_der(pkey, der, der_len, e);
	EVP_PKEY_free(pkey);
	return r;
}

int tpm_nv_size(struct tpm *t, uint32_t index, size_t *size, struct err *e)
{
	TPM2B_NV_PUBLIC *pub = NULL;
	ESYS_TR tr = ESYS_TR_NONE;
	TSS2_RC rc;

	if (tr_from_handle(t, index, &tr, e))
		return e->code;
	rc = Esys_NV_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
	Esys_TR_Close(t->esys, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, e, rc, "TPM2_NV_ReadPublic(0x%08x)", index);
	*size = pub->nvPublic.dataSize;
	Esys_Free(pub);
	return 0;
}

static size_t nv_chunk_size(struct tpm *t)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	size_t chunk = NV_CHUNK_FALLBACK;

	if (Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
			       TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more,
			       &cap) == TSS2_RC_SUCCESS) {
		if (cap->data.tpmProperties.count >= 1 &&
		    cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
		    cap->data.tpmProperties.tpmProperty[0].value >= 64)
			chunk = cap->data.tpmProperties.tpmProperty[0].value;
		Esys_Free(cap);
	}
	if (chunk > TPM2_MAX_NV_BUFFER_SIZE)
		chunk = TPM2_MAX_NV_BUFFER_SIZE;
	return chunk;
}

int tpm_nv_read(struct tpm *t, uint32_t index, size_t len, unsigned char **out, struct err *e)
{
	ESYS_TR tr = ESYS_TR_NONE;
	size_t chunk = nv_chunk_size(t), off = 0;
	unsigned char *buf;

	if (len > UINT16_MAX)
		return err_set(e, CVM_E_TEE, "NV index 0x%08x: %zu bytes is too large", index, len);
	if (!(buf = malloc(len ? len : 1)))
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	if (tr_from_handle(t, index, &tr, e)) {
		free(buf);
		return e->code;
	}
	while (off < len) {
		TPM2B_MAX_NV_BUFFER *data = NULL;
		UINT16 want = (UINT16)(len - off < chunk ? len - off : chunk);
		TSS2_RC rc = Esys_NV_Read(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD,
					  ESYS_TR_NONE, ESYS_TR_NONE, want, (UINT16)off, &data);

		if (rc != TSS2_RC_SUCCESS || data->size != want) {
			if (rc == TSS2_RC_SUCCESS)
				err_set(e, CVM_E_TEE, "TPM2_NV_Read(0x%08x): short read", index);
			else
				tpm_fail(t, e, rc, "TPM2_NV_Read(0x%08x, offset %zu)", index, off);
			Esys_Free(data);
			Esys_TR_Close(t->esys, &tr);
			free(buf);
			return e->code;
		}
		memcpy(buf + off, data->buffer, want);
		off += want;
		Esys_Free(data);
	}
	Esys_TR_Close(t->esys, &tr);
	*out = buf;
	return 0;
}

static int nv_define(struct tpm *t, uint32_t index, size_t len, ESYS_TR *tr, struct err *e)
{
	TPM2B_AUTH no_auth = { 0 };
	TPM2B_NV_PUBLIC pub = { 0 };
	TSS2_RC rc;

	pub.nvPublic.nvIndex = index;
	pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
	pub.nvPublic.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD;
	pub.nvPublic.dataSize = (UINT16)len;
	rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				 ESYS_TR_NONE, &no_auth, &pub, tr);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, e, rc, "TPM2_NV_DefineSpace(0x%08x, %zu bytes)", index, len);
	return 0;
}

/* A handle for index holding exactly len bytes: existing, or (re)defined. */
static int nv_index_for_write(struct tpm *t, uint32_t index, size_t len, ESYS_TR *tr,
			      struct err *e)
{
	bool exists;
	size_t size;
	TSS2_RC rc;

	if (tpm_handle_exists(t, index, &exists, e))
		return e->code;
	if (!exists)
		return nv_define(t, index, len, tr, e);
	if (tpm_nv_size(t, index, &size, e) || tr_from_handle(t, index, tr, e))
		return e->code;
	if (size == len)
		return 0;
	rc = Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_OWNER, *tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				   ESYS_TR_NONE);
	if (rc != TSS2_RC_SUCCESS) {
		Esys_TR_Close(t->esys, tr);
		return tpm_fail(t, e, rc, "TPM2_NV_UndefineSpace(0x%08x)", index);
	}
	*tr = ESYS_TR_NONE; /* UndefineSpace released it */
	return nv_define(t, index, len, tr, e);
}

int tpm_nv_write_define(struct tpm *t, uint32_t index, const unsigned char *data, size_t len,
			struct err *e)
{
	ESYS_TR tr = ESYS_TR_NONE;
	size_t chunk = nv_chunk_size(t), off = 0;

	if (len == 0 || len > TPM2_MAX_NV_BUFFER_SIZE)
		return err_set(e, CVM_E_TEE, "NV index 0x%08x: cannot write %zu bytes", index, len);
	if (nv_index_for_write(t, index, len, &tr, e))
		return e->code;
	while (off < len) {
		TPM2B_MAX_NV_BUFFER buf = { 0 };
		TSS2_RC rc;

		buf.size = (UINT16)(len - off < chunk ? len - off : chunk);
		memcpy(buf.buffer, data + off, buf.size);
		rc = Esys_NV_Write(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				   ESYS_TR_NONE, &buf, (UINT16)off);
		if (rc != TSS2_RC_SUCCESS) {
			Esys_TR_Close(t->esys, &tr);
			return tpm_fail(t, e, rc, "TPM2_NV_Write(0x%08x)", index);
		}
		off += buf.size;
	}
	Esys_TR_Close(t->esys, &tr);
	return 0;
}

int tpm_pcr_extend_sha256(struct tpm *t, int pcr, const unsigned char digest[TPM_SHA256_LEN],
			  struct err *e)
{
	TPML_DIGEST_VALUES values = { 0 };
	TSS2_RC rc;

	if (pcr < 0 || pcr >= TPM_NUM_PCRS)
		return err_set(e, CVM_E_CONFIG, "PCR %d does not exist (0-23)", pcr);
	values.count = 1;
	values.digests[0].hashAlg = TPM2_ALG_SHA256;
	memcpy(values.digests[0].digest.sha256, digest, TPM_SHA256_LEN);
	rc = Esys_PCR_Extend(t->esys, (ESYS_TR)(ESYS_TR_PCR0 + (ESYS_TR)pcr), ESYS_TR_PASSWORD,
			     ESYS_TR_NONE, ESYS_TR_NONE, &values);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, e, rc, "TPM2_PCR_Extend(PCR%d)", pcr);
	return 0;
}

int tpm_seal_event(const struct tee_options *cfg, const unsigned char *event, size_t event_len,
		   char *what, size_t what_len, struct err *e)
{
	unsigned char digest[TPM_SHA256_LEN];
	CLEANUP(tpm_closep) struct tpm *t = NULL;

	if (cfg->seal_pcr < 0 || cfg->seal_pcr >= TPM_NUM_PCRS)
		return err_set(e, CVM_E_CONFIG, "seal_pcr %d is not a PCR (0-23)", cfg->seal_pcr);
	if (EVP_Digest(event, event_len, digest, NULL, EVP_sha256(), NULL) != 1)
		return err_set(e, CVM_E_INTERNAL, "SHA-256 failed");
	if (tpm_open(cfg, &t, e) || tpm_pcr_extend_sha256(t, cfg->seal_pcr, digest, e))
		return e->code;
	snprintf(what, what_len, "PCR%d (sha256)", cfg->seal_pcr);
	return 0;
}

json_t *tpm_pcrs_json(const unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN])
{
	json_t *arr = json_array();

	for (int i = 0; arr && i < TPM_NUM_PCRS; i++) {
		char *hex = hex_encode(pcrs[i], TPM_SHA256_LEN);

		if (!hex || json_array_append_new(arr, json_string(hex))) {
			free(hex);
			json_decref(arr);
			return NULL;
		}
		free(hex);
	}
	return arr;
}
