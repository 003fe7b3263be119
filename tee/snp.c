/* PLACEHOLDER until issue 3 lands: the snp backend. */
#include "tee.h"

#include <stdio.h>

static int snp_detect(const struct config *cfg, char *why, size_t why_len)
{
	(void)cfg;
	snprintf(why, why_len, "snp support is not built yet");
	return 0;
}

static int snp_evidence(const struct config *cfg, const unsigned char *rd, size_t len,
			 json_t **evidence, struct err *e)
{
	(void)cfg; (void)rd; (void)len; (void)evidence;
	return err_set(e, CVM_E_TEE, "snp evidence is not implemented yet");
}

const struct tee_backend tee_snp = {
	.name = "snp",
	.auto_detect = true,
	.detect = snp_detect,
	.evidence = snp_evidence,
	.seal = NULL,
};
