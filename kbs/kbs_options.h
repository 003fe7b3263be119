/* What the KBS client and its HTTP transport are told, and nothing else:
 * the agent fills it from its configuration (agent/kbs_config.c), or
 * `cvmboot unlock` with the KBS URLs a LUKS token records. */
#ifndef CVMBOOT_KBS_OPTIONS_H
#define CVMBOOT_KBS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "resource_path.h"
#include "session_key.h"
#include "validate.h"

#define KBS_MAX_URLS 8
#define KBS_URL_MAX VALIDATE_URL_SIZE /* bytes of one KBS URL, its NUL included */
/* bytes of a resource path REPOSITORY/TYPE/TAG (resource_path_valid), its NUL included */
#define KBS_PATH_MAX (RESOURCE_PATH_MAX + 1)

struct kbs_client_options {
	const char *urls[KBS_MAX_URLS]; /* tried in order; failover on network errors */
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
	/* Trustee init-data sent with the evidence as {"format":"toml","body":...}:
	 * the document's exact text (init_data_len bytes); NULL = none. */
	const char *init_data_toml;
	size_t init_data_len;
};

#endif
