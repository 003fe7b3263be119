/* Response header lines (see http_header.h): the server's Retry-After and
 * Content-Type, bounded copies of untrusted text. */
#include "http_header.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "retry.h"

void http_header_parse(struct http_response *r, const char *data, size_t n, long long now_unix)
{
	char line[256];
	size_t len = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

	memcpy(line, data, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "Retry-After:", 12) == 0)
		r->retry_after_ms = retry_after_parse_ms(line + 12 + strspn(line + 12, " \t"), now_unix);
	else if (strncasecmp(line, "Content-Type:", 13) == 0)
		snprintf(r->content_type, sizeof(r->content_type), "%s",
			 line + 13 + strspn(line + 13, " \t"));
}
