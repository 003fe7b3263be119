/* configfs-tsm (Linux 6.7+ /sys/kernel/config/tsm/report): one report
 * request for SNP or TDX, done the way the kernel ABI expects. */
#ifndef CVMBOOT_CONFIGFS_TSM_H
#define CVMBOOT_CONFIGFS_TSM_H

#include <stddef.h>

#include "err.h"
#include "file_read.h"

#define TSM_PROVIDER_SNP "sev_guest"
#define TSM_PROVIDER_TDX "tdx_guest"

struct tsm_request {
	const char *root;             /* e.g. /sys/kernel/config/tsm/report */
	const char *provider;         /* expected provider, e.g. "sev_guest" */
	int privlevel;                /* written to `privlevel` when >= 0; -1 leaves it */
	const unsigned char *inblob;  /* report data (64 bytes for SNP and TDX) */
	size_t inblob_len;
	size_t outblob_max;           /* larger outblob = error */
	size_t auxblob_max;           /* 0: do not read auxblob */
};

struct tsm_result {
	unsigned char *outblob;       /* malloc'ed */
	size_t outblob_len;
	unsigned char *auxblob;       /* malloc'ed; NULL when absent or empty */
	size_t auxblob_len;
};

/* mkdir a fresh entry, check the provider, write inblob, read the blobs,
 * check nobody else wrote meanwhile (generation), rmdir (always). */
int tsm_get_report(const struct tsm_request *req, struct tsm_result *out, struct err *e);
void tsm_result_free(struct tsm_result *r);

/* The provider an entry under root shows ("sev_guest", ...), via a
 * short-lived probe entry. */
int tsm_probe_provider(const char *root, char *provider, size_t len, struct err *e);

/* file_read_bounded for TEE attributes: failures are CVM_E_TEE, *buf is
 * malloc'ed (NUL-terminated beyond *len), NULL on failure. */
static inline int tee_read_bounded(const char *path, size_t max, unsigned char **buf,
				   size_t *len, int *missing, struct err *e)
{
	struct secret b;
	int rc = file_read_bounded(path, max, 0, CVM_E_TEE, &b, missing, e);

	*buf = b.data;
	*len = b.len;
	return rc;
}

#endif
