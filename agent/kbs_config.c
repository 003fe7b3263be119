/* struct kbs_client_options from struct config (see kbs_config.h). */
#include "kbs_config.h"

#include <string.h>

#include "init_data.h"

void kbs_client_options_from_config(const struct config *cfg, struct kbs_client_options *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < cfg->n_urls && i < KBS_MAX_URLS; i++)
		o->urls[o->n_urls++] = cfg->urls[i];
	o->ca_file = cfg->ca_file;
	o->insecure_http = cfg->insecure_http;
	o->connect_timeout_ms = cfg->connect_timeout_ms;
	o->request_timeout_ms = cfg->request_timeout_ms;
	o->max_response_bytes = cfg->max_response_bytes;
	o->retry_budget_ms = cfg->retry_budget_ms;
	o->backoff_base_ms = cfg->backoff_base_ms;
	o->backoff_cap_ms = cfg->backoff_cap_ms;
	o->key_alg = cfg->key_alg;
	if (cfg->init_doc) {
		o->init_data_toml = cfg->init_doc->body;
		o->init_data_len = cfg->init_doc->body_len;
	}
}
