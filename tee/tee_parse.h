/* Readers of what the TEE side hands the agent (TPM answers, the HCL
 * report's variable data, the TD quote, the CCEL), otherwise private to
 * their backend file; declared here for the fuzz harnesses (tests/fuzz). */
#ifndef CVMBOOT_TEE_PARSE_H
#define CVMBOOT_TEE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "az_vtpm.h"
#include "err.h"
#include "tpm_common.h"

/* tpm_common.c: copy one TPM2_PCR_Read answer into pcrs, clearing the bits
 * it served from want; the number of PCRs taken, -1 if malformed. */
int take_pcr_values(const TPML_PCR_SELECTION *got, const TPML_DIGEST *values,
		    TPMS_PCR_SELECTION *want, unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN]);
/* tpm_common.c: unmarshal q->message (TPMS_ATTEST) and check it is a quote
 * of qualifying over q->pcrs: 1 consistent, 0 PCR digest differs, -1 (e set). */
int check_attest(const struct tpm_quote *q, const unsigned char *qualifying,
		 size_t qualifying_len, struct err *e);
/* tpm_common.c: the RSA public key of a TPM public area, NULL if unusable. */
EVP_PKEY *rsa_public_from_tpm(const TPMT_PUBLIC *pub);

/* az_vtpm.c: does the HCL variable data's "user-data" (hex) start with rd? */
bool user_data_matches(const struct az_hcl *h, const unsigned char *rd, size_t rd_len);

/* tdx.c: where REPORTDATA sits in a v4 or v5 TD quote of len bytes. */
int quote_report_data(const unsigned char *q, size_t len, size_t *offset, struct err *e);
/* tdx.c: the used length of a CCEL table (spec ID event, crypto-agile
 * events, up to 8 bytes of 0xFF or zeros). */
int ccel_used_length(const unsigned char *p, size_t n, size_t *used, struct err *e);

#endif
