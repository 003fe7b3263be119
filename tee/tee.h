/* One small interface every TEE backend implements; a registry picks one.
 * Adding a TEE = one file in tee/ plus one line in registry.c. */
#ifndef CVMBOOT_TEE_H
#define CVMBOOT_TEE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tee_names.h"
#include "validate.h"

#define TEE_REPORT_DATA_MAX 64
#define TEE_SEAL_UNAVAILABLE (-1)
#define TEE_INIT_DATA_DIGEST_MAX 64
#define TEE_PATH_MAX 512  /* a path in tee_options (the configuration's limit) */
#define TEE_URL_MAX VALIDATE_URL_SIZE /* a URL in tee_options (the one URL limit) */
#define TEE_INIT_DATA_PCR 8 /* Trustee's tpm/az verifiers read PCR 8 */

/* The init-data document the evidence must bind: only its digest and, for
 * messages, its path and algorithm (digest_len 0: no document). */
struct tee_init_data {
	const char *path;
	const char *alg;            /* "sha256", "sha384", "sha512" */
	unsigned char digest[TEE_INIT_DATA_DIGEST_MAX];
	size_t digest_len;
};

/* What the TEE backends read, and nothing else: filled in by the agent
 * from its configuration (agent/tee_config.c). Strings are never NULL. */
struct tee_options {
	const char *tee;                /* "auto" or a backend name */
	const char *tpm_tcti;           /* "" = tpm2-tss default */
	uint32_t tpm_ak_handle;
	long tpm_timeout_ms;            /* longest wait for one TPM command */
	int seal_pcr;                   /* -1 = no sealing */
	const char *configfs_tsm_root;  /* /sys/kernel/config/tsm/report */
	const char *ccel_path;          /* the TDX CC event log (ACPI CCEL) */
	const char *azure_imds_url;     /* Azure IMDS base URL */
	long connect_timeout_ms;        /* for IMDS requests */
	long request_timeout_ms;
	struct tee_init_data init_doc;
};

struct tee_backend {
	const char *name;     /* the KBS "tee" string: "snp", "tdx", "tpm", ... */
	bool auto_detect;     /* false for "sample": only ever used when named */
	/* 1 if this platform is present, 0 if not; why receives a one-line
	 * human explanation either way (for `cvmboot detect`). */
	int (*detect)(const struct tee_options *cfg, char *why, size_t why_len);
	/* Evidence JSON (the "primary_evidence" object) binding report_data
	 * (normally the 48-byte runtime-data digest; at most 64 bytes; each
	 * backend pads or cuts it as Trustee expects). */
	int (*evidence)(const struct tee_options *cfg, const unsigned char *report_data,
			size_t report_data_len, json_t **evidence, struct err *e);
	/* Optional: extend a measurement register with a cvmboot event after the
	 * resources are fetched (sealing the boot phase). NULL = unsupported.
	 * Returns 0 when sealed (what names the register), TEE_SEAL_UNAVAILABLE
	 * when this guest offers no register to extend (what says why; the boot
	 * goes on with a warning), or an error code (the boot fails). */
	int (*seal)(const struct tee_options *cfg, const unsigned char *event, size_t event_len,
		    char *what, size_t what_len, struct err *e);
};

/* NULL-terminated list in detection order. */
extern const struct tee_backend *const tee_backends[];

/* Backend by name, NULL if unknown or not built in. */
const struct tee_backend *tee_by_name(const char *name);
/* cfg->tee == "auto": first backend (in registry order, sample excluded)
 * whose detect() says yes; else the named one. CVM_E_TEE when none. */
int tee_select(const struct tee_options *cfg, const struct tee_backend **out, struct err *e);
/* Compare a TEE's init-data field (SNP HOST_DATA, TDX MRCONFIGID) with the
 * document's digest cut or zero-padded to len bytes (Trustee's
 * regularize_data); 0 without a document, CVM_E_TEE naming both values
 * when they differ. */
int tee_init_data_check(const struct tee_options *cfg, const char *field_name,
			const unsigned char *field, size_t len, struct err *e);

#endif
