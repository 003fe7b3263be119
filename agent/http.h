/* HTTP(S) for the KBS client: one libcurl handle kept alive across
 * requests, TLS verified against the configured CA, bounded sizes and times. */
#ifndef CVMBOOT_HTTP_H
#define CVMBOOT_HTTP_H

#include <stddef.h>

#include "config.h"
#include "err.h"

struct http;

struct http_response {
	long status;            /* 0 if no HTTP answer (transport error) */
	char *body;             /* NUL-terminated; may hold a JWE: wipe it */
	size_t body_len;
	long retry_after_ms;    /* -1 if absent */
	char transport_error[256]; /* set when status == 0 */
	long connects;          /* new connections this request opened */
};

struct http *http_new(const struct config *cfg, struct err *e);
void http_free(struct http *h);
/* Cookies are kept in memory by the handle (never a file). */
void http_reset_cookies(struct http *h);
void http_set_bearer(struct http *h, const char *token); /* NULL clears */
/* body == NULL: GET; else POST with Content-Type: application/json. */
int http_request(struct http *h, const char *url, const char *body, struct http_response *r);
void http_response_clear(struct http_response *r);
long http_total_connects(const struct http *h);

#endif
