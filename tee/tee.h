/* One small interface every TEE backend implements; a registry picks one.
 * Adding a TEE = one file in tee/ plus one line in registry.c. */
#ifndef CVMBOOT_TEE_H
#define CVMBOOT_TEE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

#define TEE_REPORT_DATA_MAX 64
#define TEE_SEAL_UNAVAILABLE (-1)

struct tee_backend {
	const char *name;     /* the KBS "tee" string: "snp", "tdx", "tpm", ... */
	bool auto_detect;     /* false for "sample": only ever used when named */
	/* 1 if this platform is present, 0 if not; why receives a one-line
	 * human explanation either way (for `cvmboot detect`). */
	int (*detect)(const struct config *cfg, char *why, size_t why_len);
	/* Evidence JSON (the "primary_evidence" object) binding report_data
	 * (normally the 48-byte runtime-data digest; at most 64 bytes; each
	 * backend pads or cuts it as Trustee expects). */
	int (*evidence)(const struct config *cfg, const unsigned char *report_data,
			size_t report_data_len, json_t **evidence, struct err *e);
	/* Optional: extend a measurement register with a cvmboot event after the
	 * resources are fetched (sealing the boot phase). NULL = unsupported.
	 * Returns 0 when sealed (what names the register), TEE_SEAL_UNAVAILABLE
	 * when this guest offers no register to extend (what says why; the boot
	 * goes on with a warning), or an error code (the boot fails). */
	int (*seal)(const struct config *cfg, const unsigned char *event, size_t event_len,
		    char *what, size_t what_len, struct err *e);
};

/* NULL-terminated list in detection order. */
extern const struct tee_backend *const tee_backends[];

/* Backend by name, NULL if unknown or not built in. */
const struct tee_backend *tee_by_name(const char *name);
/* 0 if name is "auto" or a backend built in; else -1 and why says which
 * ("unknown TEE 'x' (...)" or "tee type 'tpm' is not built into this
 * cvmboot (built in: ...)", listing the names this binary takes). */
int tee_check_name(const char *name, char *why, size_t why_len);
/* cfg->tee == "auto": first backend (in registry order, sample excluded)
 * whose detect() says yes; else the named one. CVM_E_TEE when none. */
int tee_select(const struct config *cfg, const struct tee_backend **out, struct err *e);

#endif
