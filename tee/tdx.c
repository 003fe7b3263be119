/* PLACEHOLDER until issue 3 lands: the tdx backend. */
#include "tee.h"

#include <stdio.h>

static int tdx_detect(const struct config *cfg, char *why, size_t why_len)
{
	(void)cfg;
	snprintf(why, why_len, "tdx support is not built yet");
	return 0;
}

static int tdx_evidence(const struct config *cfg, const unsigned char *rd, size_t len,
			 json_t **evidence, struct err *e)
{
	(void)cfg; (void)rd; (void)len; (void)evidence;
	return err_set(e, CVM_E_TEE, "tdx evidence is not implemented yet");
}

const struct tee_backend tee_tdx = {
	.name = "tdx",
	.auto_detect = true,
	.detect = tdx_detect,
	.evidence = tdx_evidence,
	.seal = NULL,
};
