/* HTTP(S) for the KBS client: one libcurl handle kept alive across
 * requests, TLS verified against ca_file alone (or the system store when it
 * is unset), no redirects, no proxy from the environment, bounded sizes and
 * times. */
#ifndef CVMBOOT_HTTP_H
#define CVMBOOT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "kbs_options.h"
#include "err.h"

#define HTTP_HEADERS_MAX 32768    /* all header bytes of one answer */
#define HTTP_HEADER_LINE_MAX 256  /* longer lines are not parsed (ignored) */

struct http;

struct http_response {
	long status;               /* 0 if no complete HTTP answer (transport error) */
	char *body;                /* NUL-terminated; wiped on clear */
	size_t body_len;
	bool too_large;            /* the body went over max_response_bytes */
	long retry_after_ms;       /* -1 if absent */
	char transport_error[256]; /* set when status == 0: libcurl's reason, printable */
	bool tls_unverified;       /* status == 0 because the server certificate did not verify */
};

struct http *http_new(const struct kbs_client_options *opts, struct err *e);
void http_free(struct http *h);
/* Forget the session cookie (before talking to another KBS). Cookies live in
 * memory only, never in a file. */
void http_reset_cookies(struct http *h);
/* body == NULL: GET; else POST with Content-Type: application/json.
 * timeout_ms bounds the whole request (what is left of a retry budget);
 * it never exceeds the configured request_timeout. Returns 0 when an HTTP
 * answer (any status) or a transport error was recorded in r; -1 only on
 * local failure (OOM), with r cleared. */
int http_request(struct http *h, const char *url, const char *body, long timeout_ms,
		 struct http_response *r);
void http_response_clear(struct http_response *r);
/* TCP connections opened so far (1 for a run that kept its connection alive). */
long http_connections(const struct http *h);

#endif
