/* Response header lines (see http_header.h): the server's Retry-After, read
 * from untrusted text that is bounded and never cut short. */
#include "http_header.h"

#include <string.h>
#include <strings.h>

#include "retry.h"

void http_header_parse(struct http_response *r, const char *data, size_t n, long long now_unix)
{
	char line[HTTP_HEADER_LINE_MAX];
	size_t len = n;

	while (len && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len >= sizeof(line))
		return; /* longer than any header we read: ignored, never cut short */
	memcpy(line, data, len);
	line[len] = '\0';
	if (strlen(line) != len)
		return; /* a NUL inside a header line */
	if (strncmp(line, "HTTP/", 5) == 0)
		r->retry_after_ms = -1; /* a new answer (after a 1xx) starts afresh */
	else if (strncasecmp(line, "Retry-After:", 12) == 0)
		r->retry_after_ms = retry_after_parse_ms(line + 12, now_unix);
}
