/* The "az-tdx-vtpm" TEE: an Azure TDX confidential VM seen through its
 * paravisor's vTPM (HCL report + AK quote + TD quote from the metadata service). */
#include "tee.h"

#include <stdlib.h>
#include <string.h>

#include "az_vtpm.h"
#include "b64.h"

#define TDQUOTE_PATH "/acc/tdquote"
#define TD_QUOTE_MAX (64 * 1024)

static int az_tdx_vtpm_detect(const struct tee_options *cfg, char *why, size_t why_len)
{
	return az_detect(cfg, AZ_REPORT_TYPE_TDX, why, why_len);
}

/* base64url, padded or not, bounded. */
static int decode_b64url(const char *s, unsigned char **out, size_t *out_len)
{
	size_t n = strlen(s);

	if (n > TD_QUOTE_MAX * 4 / 3 + 4)
		return -1;
	while (n > 0 && s[n - 1] == '=')
		n--;
	return b64_decode(s, n, true, out, out_len);
}

/* POST {"report": base64url(TDREPORT), unpadded} to the metadata service's
 * quote endpoint (az-tdx-vtpm crate src/imds.rs, base64_url::encode); it
 * answers {"quote": base64url}. */
static int fetch_td_quote(const struct tee_options *cfg, const struct az_hcl *h, unsigned char **quote,
			  size_t *quote_len, struct err *e)
{
	char *report = b64_encode(h->hw_report, h->hw_report_len, true);
	json_t *req = report ? json_pack("{s:s}", "report", report) : NULL;
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_t *answer = NULL;
	const char *b64;
	int rc;

	free(report);
	json_decref(req);
	if (!body)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	rc = az_imds_json(cfg, TDQUOTE_PATH, body, &answer, e);
	free(body);
	if (rc)
		return err_wrap(e, "fetching the TD quote");
	b64 = json_string_value(json_object_get(answer, "quote"));
	if (!b64 || decode_b64url(b64, quote, quote_len) || *quote_len < 48) {
		json_decref(answer);
		return err_set(e, CVM_E_TEE, "metadata service: no base64url TD quote in \"quote\"");
	}
	json_decref(answer);
	return 0;
}

static int az_tdx_vtpm_evidence(const struct tee_options *cfg, const unsigned char *rd, size_t len,
				json_t **evidence, struct err *e)
{
	struct tpm_quote q = { 0 };
	unsigned char *hcl = NULL, *td_quote = NULL;
	size_t hcl_len = 0, td_quote_len = 0;
	struct az_hcl h;
	int rc;

	rc = az_collect(cfg, AZ_REPORT_TYPE_TDX, rd, len, &hcl, &hcl_len, &q, e);
	if (!rc)
		rc = az_hcl_parse(hcl, hcl_len, &h, e);
	if (!rc)
		rc = fetch_td_quote(cfg, &h, &td_quote, &td_quote_len, e);
	if (!rc)
		rc = az_evidence_json(&q, hcl, hcl_len, "td_quote", td_quote, td_quote_len, evidence, e);
	tpm_quote_clear(&q);
	free(hcl);
	free(td_quote);
	if (rc)
		return err_wrap(e, "az-tdx-vtpm evidence");
	return 0;
}

const struct tee_backend tee_az_tdx_vtpm = {
	.name = "az-tdx-vtpm",
	.auto_detect = true,
	.detect = az_tdx_vtpm_detect,
	.evidence = az_tdx_vtpm_evidence,
	.seal = tpm_seal_event,
};
