/* Shared TPM 2.0 helpers (tpm2-tss ESYS) for the tpm, az-snp-vtpm and
 * az-tdx-vtpm backends: open, quote 24 SHA-256 PCRs, NV access, PCR extend. */
#ifndef CVMBOOT_TPM_COMMON_H
#define CVMBOOT_TPM_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tee.h"
#include "cleanup.h"
#include "err.h"

#define TPM_NUM_PCRS 24
#define TPM_SHA256_LEN 32
/* Largest qualifying data a quote takes (sizeof(TPMU_HA)). */
#define TPM_QUALIFYING_DATA_MAX 64

struct tpm;

struct tpm_quote {
	unsigned char *message;     /* marshalled TPMS_ATTEST, as signed */
	size_t message_len;
	unsigned char *signature;   /* marshalled TPMT_SIGNATURE */
	size_t signature_len;
	unsigned char *raw_sig;     /* the RSASSA signature bytes alone */
	size_t raw_sig_len;
	unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN]; /* SHA-256 PCR 0..23 */
};

/* The TPM device node this guest has: /dev/tpmrm0, else /dev/tpm0, else NULL. */
const char *tpm_default_device(void);
/* Open the TPM through cfg->tpm_tcti (tpm2-tss TCTI string); "" picks
 * device:/dev/tpmrm0, else device:/dev/tpm0, else the tctildr default. */
int tpm_open(const struct tee_options *cfg, struct tpm **out, struct err *e);
void tpm_close(struct tpm *t);
DEFINE_POINTER_CLEANUP(struct tpm, tpm_close)

/* Whether a persistent or NV handle exists (TPM2_GetCapability, no error
 * logging for an absent handle). */
int tpm_handle_exists(struct tpm *t, uint32_t handle, bool *exists, struct err *e);

/* Quote PCR 0..23 (SHA-256 bank) with the RSA key at persistent handle
 * ak_handle. rsassa_sha256: ask for RSASSA-SHA256 explicitly; else use the
 * key's own scheme (which must then be RSASSA-SHA256). The PCR values are
 * read after the quote and checked against its PCR digest (retried if a
 * PCR moved in between). Free with tpm_quote_clear. */
int tpm_quote_pcrs(struct tpm *t, uint32_t ak_handle, bool rsassa_sha256,
		   const unsigned char *qualifying, size_t qualifying_len,
		   struct tpm_quote *q, struct err *e);
void tpm_quote_clear(struct tpm_quote *q);

/* All 24 SHA-256 PCRs (TPM2_PCR_Read returns at most 8 per call: loops). */
int tpm_read_pcrs(struct tpm *t, unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN],
		  struct err *e);

/* The RSA public key at ak_handle as DER SubjectPublicKeyInfo (malloc'ed). */
int tpm_ak_public_der(struct tpm *t, uint32_t ak_handle, unsigned char **der, size_t *der_len,
		      struct err *e);

/* NV index data size (TPM2_NV_ReadPublic). */
int tpm_nv_size(struct tpm *t, uint32_t index, size_t *size, struct err *e);
/* Read len bytes at offset 0 of an owner-readable NV index, in chunks of the
 * TPM's NV buffer size. *out is malloc'ed. */
int tpm_nv_read(struct tpm *t, uint32_t index, size_t len, unsigned char **out, struct err *e);
/* Write data to an owner-writable NV index, defining it (ownerread|ownerwrite,
 * exactly len bytes) if absent or redefining it if its size differs. */
int tpm_nv_write_define(struct tpm *t, uint32_t index, const unsigned char *data, size_t len,
			struct err *e);

/* Extend PCR pcr (0..23) of the SHA-256 bank with digest. */
int tpm_pcr_extend_sha256(struct tpm *t, int pcr, const unsigned char digest[TPM_SHA256_LEN],
			  struct err *e);

/* The .seal hook shared by the TPM-based backends: extend cfg->seal_pcr with
 * SHA-256(event); what receives e.g. "PCR15 (sha256)". */
int tpm_seal_event(const struct tee_options *cfg, const unsigned char *event, size_t event_len,
		   char *what, size_t what_len, struct err *e);

/* JSON array of the 24 PCRs as lowercase hex strings, NULL on OOM. */
json_t *tpm_pcrs_json(const unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN]);

#endif
