/* The "tpm" TEE: a (v)TPM quote of the 24 SHA-256 PCRs signed by an RSA AK,
 * in the evidence format of guest-components' TPM attester. */
#include "tee.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "init_data_tpm.h"
#include "tpm_common.h"

/* Trustee's TPM verifier compares the quote's qualifying data with the
 * report data cut (or zero-padded) to 32 bytes
 * (trustee deps/verifier/src/tpm/mod.rs, TPM_REPORT_DATA_SIZE). */
#define TPM_REPORT_DATA_SIZE 32

static int tpm_detect(const struct tee_options *cfg, char *why, size_t why_len)
{
	struct tpm *t = NULL;
	struct err e = { 0 };
	bool ak = false;

	if (!cfg->tpm_tcti[0]) {
		const char *dev = tpm_default_device();

		if (!dev) {
			snprintf(why, why_len, "no /dev/tpmrm0 or /dev/tpm0 and no tpm_tcti configured");
			return 0;
		}
		snprintf(why, why_len, "%s exists", dev);
		return 1;
	}
	if (tpm_open(cfg, &t, &e) || tpm_handle_exists(t, cfg->tpm_ak_handle, &ak, &e)) {
		snprintf(why, why_len, "TPM at TCTI '%s' does not answer: %s", cfg->tpm_tcti, e.msg);
		tpm_close(t);
		return 0;
	}
	tpm_close(t);
	snprintf(why, why_len, "TPM answers at TCTI '%s'%s", cfg->tpm_tcti,
		 ak ? "" : " (but no AK at the configured handle)");
	return 1;
}

static json_t *quote_json(const struct tpm_quote *q)
{
	char *sig = b64_encode(q->signature, q->signature_len, false);
	char *msg = b64_encode(q->message, q->message_len, false);
	json_t *pcrs = tpm_pcrs_json(q->pcrs), *out = NULL;

	if (sig && msg && pcrs)
		out = json_pack("{s:s, s:s, s:O}", "signature", sig, "message", msg, "pcrs", pcrs);
	free(sig);
	free(msg);
	json_decref(pcrs);
	return out;
}

static int build_evidence(const struct tpm_quote *q, const unsigned char *ak_der, size_t ak_len,
			  json_t **evidence, struct err *e)
{
	json_t *quote = quote_json(q);
	char *ak = b64_encode(ak_der, ak_len, false);

	*evidence = NULL;
	if (quote && ak)
		*evidence = json_pack("{s:O, s:s}", "tpm_quote", quote, "ak_public", ak);
	json_decref(quote);
	free(ak);
	if (!*evidence)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	return 0;
}

static int check_ak_present(struct tpm *t, uint32_t handle, struct err *e)
{
	bool exists = false;

	if (tpm_handle_exists(t, handle, &exists, e))
		return e->code;
	if (!exists)
		return err_set(e, CVM_E_TEE,
			       "no AK at persistent handle 0x%08x (provision one with: "
			       "tpm2_createek -c ek.ctx -G rsa; tpm2_createak -C ek.ctx -c ak.ctx "
			       "-G rsa -g sha256 -s rsassa; tpm2_evictcontrol -c ak.ctx 0x%08x; "
			       "or set [tee] tpm_ak_handle)", handle, handle);
	return 0;
}

static int tpm_evidence(const struct tee_options *cfg, const unsigned char *report_data, size_t len,
			json_t **evidence, struct err *e)
{
	unsigned char qualifying[TPM_REPORT_DATA_SIZE] = { 0 };
	struct tpm_quote q = { 0 };
	unsigned char *ak_der = NULL;
	size_t ak_len = 0;
	struct tpm *t = NULL;
	int rc;

	memcpy(qualifying, report_data, len < sizeof(qualifying) ? len : sizeof(qualifying));
	if (tpm_open(cfg, &t, e))
		return e->code;
	rc = check_ak_present(t, cfg->tpm_ak_handle, e);
	if (!rc)
		rc = init_data_tpm_bind(t, cfg, e);
	if (!rc)
		rc = tpm_ak_public_der(t, cfg->tpm_ak_handle, &ak_der, &ak_len, e);
	if (!rc)
		rc = tpm_quote_pcrs(t, cfg->tpm_ak_handle, true, qualifying, sizeof(qualifying), &q, e);
	tpm_close(t);
	if (!rc)
		rc = build_evidence(&q, ak_der, ak_len, evidence, e);
	tpm_quote_clear(&q);
	free(ak_der);
	if (rc)
		return err_wrap(e, "tpm evidence");
	return 0;
}

const struct tee_backend tee_tpm = {
	.name = "tpm",
	.auto_detect = true,
	.detect = tpm_detect,
	.evidence = tpm_evidence,
	.seal = tpm_seal_event,
};
