/* Shared code of the Azure paravisor vTPM backends (az-snp-vtpm, az-tdx-vtpm):
 * HCL report parsing, report-data binding through NV, quote, metadata service. */
#include "az_vtpm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "b64.h"
#include "clock.h"
#include "hex.h"
#include "init_data_tpm.h"
#include "tee.h"
#include "tee_parse.h"

#define HCL_SIGNATURE 0x414c4348u  /* "HCLA" little-endian */
#define FRESH_POLL_MS 100          /* re-read the HCL report every ... */
#define FRESH_WAIT_MS 5000         /* ... for at most this long */
#define IMDS_MAX_BODY (256 * 1024)
#define IMDS_ATTEMPTS 3

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int az_hcl_parse(const unsigned char *buf, size_t len, struct az_hcl *h, struct err *e)
{
	const unsigned char *req = buf + AZ_HCL_HEADER_LEN + AZ_HCL_HW_SLOT_LEN;
	uint32_t var_len;

	if (len < AZ_HCL_FIXED_LEN)
		return err_set(e, CVM_E_TEE, "HCL report too short (%zu bytes)", len);
	if (le32(buf) != HCL_SIGNATURE)
		return err_set(e, CVM_E_TEE, "not an HCL report (signature 0x%08x)", le32(buf));
	h->report_type = le32(req + 8);
	var_len = le32(req + 16);
	if (var_len > len - AZ_HCL_FIXED_LEN)
		return err_set(e, CVM_E_TEE, "HCL report: variable data (%u bytes) overruns the report",
			       var_len);
	if (h->report_type == AZ_REPORT_TYPE_SNP)
		h->hw_report_len = AZ_SNP_REPORT_LEN;
	else if (h->report_type == AZ_REPORT_TYPE_TDX)
		h->hw_report_len = AZ_TD_REPORT_LEN;
	else
		return err_set(e, CVM_E_TEE, "HCL report: unknown report type %u", h->report_type);
	h->hw_report = buf + AZ_HCL_HEADER_LEN;
	h->var_data = buf + AZ_HCL_FIXED_LEN;
	h->var_data_len = var_len;
	return 0;
}

static const char *type_name(uint32_t type)
{
	return type == AZ_REPORT_TYPE_SNP ? "SEV-SNP" : type == AZ_REPORT_TYPE_TDX ? "TDX" : "unknown";
}

/* Read the whole HCL report (bounded size); *buf is malloc'ed. */
static int read_hcl(struct tpm *t, unsigned char **buf, size_t *len, struct err *e)
{
	size_t size;

	if (tpm_nv_size(t, AZ_HCL_REPORT_NV, &size, e))
		return e->code;
	if (size < AZ_HCL_FIXED_LEN || size > AZ_HCL_MAX_LEN)
		return err_set(e, CVM_E_TEE, "HCL report NV index holds %zu bytes (expected %u..%u)",
			       size, AZ_HCL_FIXED_LEN, AZ_HCL_MAX_LEN);
	*len = size;
	return tpm_nv_read(t, AZ_HCL_REPORT_NV, size, buf, e);
}

static bool have_tpm(const struct tee_options *cfg)
{
	return cfg->tpm_tcti[0] || tpm_default_device();
}

int az_detect(const struct tee_options *cfg, uint32_t want_type, char *why, size_t why_len)
{
	struct tpm *t = NULL;
	struct err e = { 0 };
	unsigned char *buf = NULL;
	size_t len = 0;
	struct az_hcl h;
	bool exists = false;
	int found = 0;

	if (!have_tpm(cfg)) {
		snprintf(why, why_len, "no TPM (/dev/tpmrm0, /dev/tpm0 or tpm_tcti)");
		return 0;
	}
	if (tpm_open(cfg, &t, &e) || tpm_handle_exists(t, AZ_HCL_REPORT_NV, &exists, &e))
		snprintf(why, why_len, "TPM unusable: %s", e.msg);
	else if (!exists)
		snprintf(why, why_len, "TPM has no HCL report (NV index 0x%08x): not an Azure CVM",
			 AZ_HCL_REPORT_NV);
	else if (read_hcl(t, &buf, &len, &e) || az_hcl_parse(buf, len, &h, &e))
		snprintf(why, why_len, "NV index 0x%08x: %s", AZ_HCL_REPORT_NV, e.msg);
	else if (h.report_type != want_type)
		snprintf(why, why_len, "Azure HCL report is for %s, not %s", type_name(h.report_type),
			 type_name(want_type));
	else {
		snprintf(why, why_len, "Azure paravisor vTPM with an HCL %s report (NV 0x%08x)",
			 type_name(want_type), AZ_HCL_REPORT_NV);
		found = 1;
	}
	free(buf);
	tpm_close(t);
	return found;
}

/* Does the variable data's "user-data" (hex) start with report_data? */
bool user_data_matches(const struct az_hcl *h, const unsigned char *rd, size_t rd_len)
{
	json_t *root = json_loadb((const char *)h->var_data, h->var_data_len, 0, NULL);
	const char *hex = json_string_value(json_object_get(root, "user-data"));
	unsigned char got[TEE_REPORT_DATA_MAX];
	size_t got_len = 0;
	bool ok = hex && rd_len <= sizeof(got) && strlen(hex) >= 2 * rd_len &&
		  hex_decode(hex, 2 * rd_len, got, sizeof(got), &got_len) == 0 &&
		  memcmp(got, rd, rd_len) == 0;

	json_decref(root);
	return ok;
}

/* The paravisor refreshes the HCL report after report data is written (it
 * may take a moment: guest-components waits 3 s). Poll until the report
 * carries our report data as user-data, bounded. */
static int read_fresh_hcl(struct tpm *t, uint32_t want_type, const unsigned char *rd,
			  size_t rd_len, unsigned char **buf, size_t *len, struct err *e)
{
	for (long waited = 0;; waited += FRESH_POLL_MS) {
		struct az_hcl h;

		if (read_hcl(t, buf, len, e) || az_hcl_parse(*buf, *len, &h, e))
			return e->code;
		if (h.report_type != want_type) {
			free(*buf);
			*buf = NULL;
			return err_set(e, CVM_E_TEE, "the HCL report is for %s, not %s",
				       type_name(h.report_type), type_name(want_type));
		}
		if (user_data_matches(&h, rd, rd_len))
			return 0;
		free(*buf);
		*buf = NULL;
		if (waited >= FRESH_WAIT_MS)
			return err_set(e, CVM_E_TEE,
				       "the HCL report did not pick up the report data written to NV "
				       "0x%08x within %d ms (its user-data differs)",
				       AZ_REPORT_DATA_NV, FRESH_WAIT_MS);
		sleep_ms(FRESH_POLL_MS);
	}
}

int az_collect(const struct tee_options *cfg, uint32_t want_type, const unsigned char *report_data,
	       size_t report_data_len, unsigned char **hcl, size_t *hcl_len,
	       struct tpm_quote *q, struct err *e)
{
	struct tpm *t = NULL;
	bool ak = false;
	int rc;

	*hcl = NULL;
	if (report_data_len == 0 || report_data_len > TPM_QUALIFYING_DATA_MAX)
		return err_set(e, CVM_E_TEE, "report data must be 1..%d bytes", TPM_QUALIFYING_DATA_MAX);
	if (tpm_open(cfg, &t, e))
		return e->code;
	rc = tpm_handle_exists(t, AZ_AK_HANDLE, &ak, e);
	if (!rc && !ak)
		rc = err_set(e, CVM_E_TEE, "no paravisor AK at persistent handle 0x%08x",
			     AZ_AK_HANDLE);
	if (!rc)
		rc = init_data_tpm_bind(t, cfg, e);
	if (!rc)
		rc = tpm_nv_write_define(t, AZ_REPORT_DATA_NV, report_data, report_data_len, e);
	if (!rc)
		rc = read_fresh_hcl(t, want_type, report_data, report_data_len, hcl, hcl_len, e);
	/* Trustee's az verifiers compare the quote's extraData with the whole
	 * report data (deps/verifier/src/az_snp_vtpm/mod.rs verify_tpm_nonce). */
	if (!rc)
		rc = tpm_quote_pcrs(t, AZ_AK_HANDLE, false, report_data, report_data_len, q, e);
	tpm_close(t);
	if (rc) {
		free(*hcl);
		*hcl = NULL;
	}
	return rc;
}

struct body {
	char *data;
	size_t len;
	bool too_large;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > IMDS_MAX_BODY) {
		b->too_large = true;
		return 0;
	}
	if (!(p = realloc(b->data, b->len + n + 1)))
		return 0;
	memcpy(p + b->len, data, n);
	b->data = p;
	b->len += n;
	p[b->len] = '\0';
	return n;
}

/* One HTTP exchange; 0 and *status set, or an error for transport failures. */
static int imds_once(const struct tee_options *cfg, const char *url, const char *post_json,
		     struct body *b, long *status, struct err *e)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	CURLcode cc;

	*status = 0;
	if (!c)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	hdrs = curl_slist_append(hdrs, "Metadata: true");
	if (post_json) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		hdrs = curl_slist_append(hdrs, "Accept: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_json);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->request_timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (b->too_large)
		return err_set(e, CVM_E_TEE, "metadata service %s: answer over %d bytes", url,
			       IMDS_MAX_BODY);
	if (cc != CURLE_OK)
		return err_set(e, CVM_E_TEE, "metadata service %s: %s", url, curl_easy_strerror(cc));
	return 0;
}

int az_imds_json(const struct tee_options *cfg, const char *path, const char *post_json,
		 json_t **answer, struct err *e)
{
	char url[TEE_URL_MAX + 128];
	long status = 0;
	int rc = 0;

	snprintf(url, sizeof(url), "%s%s", cfg->azure_imds_url, path);
	for (int attempt = 1; attempt <= IMDS_ATTEMPTS; attempt++) {
		struct body b = { 0 };

		rc = imds_once(cfg, url, post_json, &b, &status, e);
		if (!rc && status == 200) {
			json_error_t je;

			*answer = json_loadb(b.data ? b.data : "", b.len, 0, &je);
			free(b.data);
			if (!*answer || !json_is_object(*answer)) {
				json_decref(*answer);
				*answer = NULL;
				return err_set(e, CVM_E_TEE, "metadata service %s: not a JSON object",
					       url);
			}
			return 0;
		}
		free(b.data);
		if (!rc)
			rc = err_set(e, CVM_E_TEE, "metadata service %s: HTTP %ld", url, status);
		if (status != 0 && status < 500 && status != 429)
			return rc; /* a definite answer: retrying will not change it */
		if (attempt < IMDS_ATTEMPTS)
			sleep_ms(500L * attempt);
	}
	return rc;
}

json_t *az_quote_json(const struct tpm_quote *q)
{
	char *sig = hex_encode(q->raw_sig, q->raw_sig_len);
	char *msg = hex_encode(q->message, q->message_len);
	json_t *pcrs = tpm_pcrs_json(q->pcrs), *out = NULL;

	if (sig && msg && pcrs)
		out = json_pack("{s:s, s:s, s:O}", "signature", sig, "message", msg, "pcrs", pcrs);
	free(sig);
	free(msg);
	json_decref(pcrs);
	return out;
}

char *az_b64url(const unsigned char *in, size_t len)
{
	char *s = b64_encode(in, len, true), *p;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	if (!(p = realloc(s, n + 3))) {
		free(s);
		return NULL;
	}
	while (n % 4)
		p[n++] = '=';
	p[n] = '\0';
	return p;
}

int az_evidence_json(const struct tpm_quote *q, const unsigned char *hcl, size_t hcl_len,
		     const char *hw_name, const unsigned char *hw, size_t hw_len,
		     json_t **evidence, struct err *e)
{
	json_t *quote = az_quote_json(q);
	char *hcl_b64 = az_b64url(hcl, hcl_len), *hw_b64 = az_b64url(hw, hw_len);

	*evidence = NULL;
	if (quote && hcl_b64 && hw_b64)
		*evidence = json_pack("{s:i, s:O, s:s, s:s}", "version", AZ_EVIDENCE_VERSION,
				      "tpm_quote", quote, "hcl_report", hcl_b64, hw_name, hw_b64);
	json_decref(quote);
	free(hcl_b64);
	free(hw_b64);
	if (!*evidence)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	return 0;
}
