/* The TEE registry: detection order and lookup by name. */
#include "tee.h"

#include <string.h>

extern const struct tee_backend tee_snp, tee_tdx, tee_az_snp_vtpm, tee_az_tdx_vtpm,
	tee_tpm, tee_sample;

/* Detection order: the Azure paravisor types first (their guests may also
 * show a TPM, and on Azure the TPM path is the one Trustee expects), then
 * bare SNP and TDX, then a plain vTPM. sample is never auto-detected. */
const struct tee_backend *const tee_backends[] = {
	&tee_az_snp_vtpm,
	&tee_az_tdx_vtpm,
	&tee_snp,
	&tee_tdx,
	&tee_tpm,
	&tee_sample,
	NULL,
};

const struct tee_backend *tee_by_name(const char *name)
{
	for (int i = 0; tee_backends[i]; i++)
		if (strcmp(tee_backends[i]->name, name) == 0)
			return tee_backends[i];
	return NULL;
}

int tee_select(const struct config *cfg, const struct tee_backend **out, struct err *e)
{
	char why[256];

	if (strcmp(cfg->tee, "auto") != 0) {
		*out = tee_by_name(cfg->tee);
		if (!*out)
			return err_set(e, CVM_E_CONFIG, "unknown TEE '%s'", cfg->tee);
		return 0;
	}
	for (int i = 0; tee_backends[i]; i++) {
		const struct tee_backend *b = tee_backends[i];

		if (!b->auto_detect || !b->detect)
			continue;
		if (b->detect(cfg, why, sizeof(why)) == 1) {
			*out = b;
			return 0;
		}
	}
	return err_set(e, CVM_E_TEE,
		       "no TEE detected (tried az-snp-vtpm, az-tdx-vtpm, snp, tdx, tpm); "
		       "run 'cvmboot detect' for details, or set [tee] type");
}
