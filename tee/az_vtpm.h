/* What the Azure paravisor (HCL) vTPM backends share: the HCL report in NV,
 * report data binding, the AK quote, and the instance metadata service. */
#ifndef CVMBOOT_AZ_VTPM_H
#define CVMBOOT_AZ_VTPM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tee.h"
#include "err.h"
#include "tpm_common.h"

/* Fixed by Azure's paravisor (az-cvm-vtpm crate, src/vtpm/mod.rs). */
#define AZ_HCL_REPORT_NV 0x01400001u
#define AZ_REPORT_DATA_NV 0x01400002u
#define AZ_AK_HANDLE 0x81000003u

/* IgvmRequestData.report_type (az-cvm-vtpm src/hcl/mod.rs). */
#define AZ_REPORT_TYPE_SNP 2u
#define AZ_REPORT_TYPE_TDX 4u

/* Layout of the HCL report: a 32-byte header, the hardware report in a
 * 1184-byte slot (SNP report, or a 1024-byte TDREPORT), then IgvmRequestData
 * (five u32: data_size, version, report_type, report_data_hash_type,
 * variable_data_size) and the variable data (JSON with the AK and user-data). */
#define AZ_HCL_HEADER_LEN 32u
#define AZ_HCL_HW_SLOT_LEN 1184u
#define AZ_HCL_FIXED_LEN (AZ_HCL_HEADER_LEN + AZ_HCL_HW_SLOT_LEN + 20u)
#define AZ_SNP_REPORT_LEN 1184u
#define AZ_TD_REPORT_LEN 1024u
#define AZ_HCL_MAX_LEN 8192u

struct az_hcl {
	uint32_t report_type;
	const unsigned char *hw_report; /* inside the buffer parsed */
	size_t hw_report_len;
	const unsigned char *var_data;
	size_t var_data_len;
};

/* Check and index an HCL report (no copy). */
int az_hcl_parse(const unsigned char *buf, size_t len, struct az_hcl *h, struct err *e);

/* detect(): the HCL report NV index exists and holds a report of want_type. */
int az_detect(const struct tee_options *cfg, uint32_t want_type, char *why, size_t why_len);

/* Write report_data to NV 0x01400002, read back a fresh HCL report of
 * want_type carrying it as user-data, and quote the 24 SHA-256 PCRs with the
 * paravisor's AK, report_data as qualifying data. */
int az_collect(const struct tee_options *cfg, uint32_t want_type, const unsigned char *report_data,
	       size_t report_data_len, unsigned char **hcl, size_t *hcl_len,
	       struct tpm_quote *q, struct err *e);

/* GET (post_json == NULL) or POST {azure_imds_url}{path} with "Metadata: true";
 * the JSON object answered. */
int az_imds_json(const struct tee_options *cfg, const char *path, const char *post_json,
		 json_t **answer, struct err *e);

/* Evidence version: guest-components' az_snp_vtpm and az_tdx_vtpm attesters
 * write 2 (the HCL report's user-data carries the report data; Trustee
 * checks it from version 2 on). The shared TDX fixture is an older version
 * 1 sample of the same layout. */
#define AZ_EVIDENCE_VERSION 2

/* Evidence pieces in Trustee's encodings: the tpm_quote object (hex), and
 * base64url WITH padding (as guest-components' serde_with writes it). */
json_t *az_quote_json(const struct tpm_quote *q);
char *az_b64url(const unsigned char *in, size_t len);
/* {"version":2,"tpm_quote":..,"hcl_report":..,"<hw_name>":..}: hw_name is
 * "vcek" (SNP: the VCEK DER) or "td_quote" (TDX: the TD quote). */
int az_evidence_json(const struct tpm_quote *q, const unsigned char *hcl, size_t hcl_len,
		     const char *hw_name, const unsigned char *hw, size_t hw_len,
		     json_t **evidence, struct err *e);

#endif
