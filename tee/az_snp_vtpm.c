/* PLACEHOLDER until issue 3 lands: the az-snp-vtpm backend. */
#include "tee.h"

#include <stdio.h>

static int az_snp_vtpm_detect(const struct config *cfg, char *why, size_t why_len)
{
	(void)cfg;
	snprintf(why, why_len, "az-snp-vtpm support is not built yet");
	return 0;
}

static int az_snp_vtpm_evidence(const struct config *cfg, const unsigned char *rd, size_t len,
			 json_t **evidence, struct err *e)
{
	(void)cfg; (void)rd; (void)len; (void)evidence;
	return err_set(e, CVM_E_TEE, "az-snp-vtpm evidence is not implemented yet");
}

const struct tee_backend tee_az_snp_vtpm = {
	.name = "az-snp-vtpm",
	.auto_detect = true,
	.detect = az_snp_vtpm_detect,
	.evidence = az_snp_vtpm_evidence,
	.seal = NULL,
};
