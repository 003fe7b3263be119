/* PLACEHOLDER until issue 3 lands: the az-tdx-vtpm backend. */
#include "tee.h"

#include <stdio.h>

static int az_tdx_vtpm_detect(const struct config *cfg, char *why, size_t why_len)
{
	(void)cfg;
	snprintf(why, why_len, "az-tdx-vtpm support is not built yet");
	return 0;
}

static int az_tdx_vtpm_evidence(const struct config *cfg, const unsigned char *rd, size_t len,
			 json_t **evidence, struct err *e)
{
	(void)cfg; (void)rd; (void)len; (void)evidence;
	return err_set(e, CVM_E_TEE, "az-tdx-vtpm evidence is not implemented yet");
}

const struct tee_backend tee_az_tdx_vtpm = {
	.name = "az-tdx-vtpm",
	.auto_detect = true,
	.detect = az_tdx_vtpm_detect,
	.evidence = az_tdx_vtpm_evidence,
	.seal = NULL,
};
