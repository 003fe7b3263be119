/* The "sample" TEE: Trustee's test evidence, for tests and demos only.
 * Never auto-detected: it proves nothing. */
#include "tee.h"

#include <stdio.h>
#include <stdlib.h>

#include "b64.h"

static int sample_detect(const struct tee_options *cfg, char *why, size_t why_len)
{
	(void)cfg;
	snprintf(why, why_len, "sample is never detected; it runs only when configured by name");
	return 0;
}

static int sample_evidence(const struct tee_options *cfg, const unsigned char *report_data,
			   size_t len, json_t **evidence, struct err *e)
{
	char *b64 = b64_encode(report_data, len, false);
	/* No host sets a launch field here: the sample "hardware" reports the
	 * digest of the document it was given, base64 as Trustee's sample claim. */
	char *init = cfg->init_doc.digest_len ? b64_encode(cfg->init_doc.digest, cfg->init_doc.digest_len,
						false) : NULL;

	*evidence = NULL;
	if (b64 && (init || !cfg->init_doc.digest_len))
		*evidence = json_pack("{s:s, s:s, s:s*}", "svn", "1", "report_data", b64,
				      "init_data", init);
	free(b64);
	free(init);
	if (!*evidence)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	return 0;
}

const struct tee_backend tee_sample = {
	.name = "sample",
	.auto_detect = false,
	.detect = sample_detect,
	.evidence = sample_evidence,
	.seal = NULL,
};
