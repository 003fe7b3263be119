/* PLACEHOLDER until issue 3 lands: the tpm backend. */
#include "tee.h"

#include <stdio.h>

static int tpm_detect(const struct config *cfg, char *why, size_t why_len)
{
	(void)cfg;
	snprintf(why, why_len, "tpm support is not built yet");
	return 0;
}

static int tpm_evidence(const struct config *cfg, const unsigned char *rd, size_t len,
			 json_t **evidence, struct err *e)
{
	(void)cfg; (void)rd; (void)len; (void)evidence;
	return err_set(e, CVM_E_TEE, "tpm evidence is not implemented yet");
}

const struct tee_backend tee_tpm = {
	.name = "tpm",
	.auto_detect = true,
	.detect = tpm_detect,
	.evidence = tpm_evidence,
	.seal = NULL,
};
