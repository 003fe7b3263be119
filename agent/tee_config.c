/* struct tee_options from struct config (see tee_config.h). */
#include "tee_config.h"

#include <string.h>

#include "init_data.h"

_Static_assert(INIT_DATA_DIGEST_MAX == TEE_INIT_DATA_DIGEST_MAX, "init-data digest sizes differ");
_Static_assert(CFG_PATH_MAX == TEE_PATH_MAX && CFG_URL_MAX == TEE_URL_MAX,
	       "the TEE backends size their buffers for the configuration's limits");
_Static_assert(INIT_DATA_PCR == TEE_INIT_DATA_PCR, "init-data PCRs differ");

void tee_options_from_config(const struct config *cfg, struct tee_options *o)
{
	memset(o, 0, sizeof(*o));
	o->tee = cfg->tee;
	o->tpm_tcti = cfg->tpm_tcti;
	o->tpm_ak_handle = cfg->tpm_ak_handle;
	o->tpm_timeout_ms = cfg->tpm_timeout_ms;
	o->seal_pcr = cfg->seal_pcr;
	o->configfs_tsm_root = cfg->configfs_tsm_root;
	o->ccel_path = cfg->ccel_path;
	o->azure_imds_url = cfg->azure_imds_url;
	o->connect_timeout_ms = cfg->connect_timeout_ms;
	o->request_timeout_ms = cfg->request_timeout_ms;
	if (cfg->init_doc) {
		const struct init_data *d = cfg->init_doc;

		o->init_doc.path = d->path;
		o->init_doc.alg = init_data_alg_name(d->alg);
		memcpy(o->init_doc.digest, d->digest, d->digest_len);
		o->init_doc.digest_len = d->digest_len;
	}
}
