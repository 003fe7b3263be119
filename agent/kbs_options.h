/* What the KBS client and its HTTP transport read of the configuration,
 * and nothing else; filled from struct config, or by `cvmboot unlock` with
 * the KBS URLs a LUKS token records. */
#ifndef CVMBOOT_KBS_OPTIONS_H
#define CVMBOOT_KBS_OPTIONS_H

#include <stdbool.h>

#include "config.h"

struct init_data;

struct kbs_client_options {
	const char *urls[CFG_MAX_URLS]; /* tried in order; failover on network errors */
	int n_urls;
	const char *ca_file;            /* "" = the system store */
	bool insecure_http;             /* http:// allowed */
	long connect_timeout_ms;
	long request_timeout_ms;        /* one whole request */
	long max_response_bytes;
	long retry_budget_ms;           /* one KBS operation, retries included */
	long backoff_base_ms;
	long backoff_cap_ms;
	enum key_alg key_alg;           /* the session key's algorithm */
	const struct init_data *init_doc; /* sent with the evidence; NULL = none */
};

/* Fill o from cfg; its strings point into cfg, which must outlive o. */
void kbs_client_options_from_config(const struct config *cfg, struct kbs_client_options *o);

#endif
