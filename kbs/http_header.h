/* One response header line as libcurl hands it over: the fields of
 * struct http_response it sets (Retry-After). */
#ifndef CVMBOOT_HTTP_HEADER_H
#define CVMBOOT_HTTP_HEADER_H

#include <stddef.h>

#include "http.h"

/* data: n bytes, not NUL-terminated, usually ending in CRLF; lines of
 * HTTP_HEADER_LINE_MAX bytes or more, or with a NUL, are ignored. A status
 * line resets Retry-After. now_unix dates an HTTP-date Retry-After. */
void http_header_parse(struct http_response *r, const char *data, size_t n, long long now_unix);

#endif
