/* Unit tests for kbs/http.c's header reading: Retry-After in any letter
 * case, hostile values refused, over-long or NUL-carrying lines ignored
 * (never cut short into another value), a new status line starting afresh. */
#include <string.h>
#include <time.h>

#include "http.h"
#include "http_header.h"

#include "check.h"

static long retry_after_of(const char *line, size_t n)
{
	struct http_response r;

	memset(&r, 0, sizeof(r));
	r.retry_after_ms = -1;
	http_header_parse(&r, line, n, (long long)time(NULL));
	return r.retry_after_ms;
}

#define LINE(s) retry_after_of(s, strlen(s))

static void test_retry_after_lines(void)
{
	CHECK(LINE("Retry-After: 5\r\n") == 5000, "plain");
	CHECK(LINE("retry-after:7 \r\n") == 7000, "letter case, no blank");
	CHECK(LINE("RETRY-AFTER: \t 2\n") == 2000, "blanks, bare LF");
	CHECK(LINE("Retry-After: 0\r\n") == 0, "zero");
	CHECK(LINE("Retry-After: 1e9\r\n") == -1, "exponent");
	CHECK(LINE("Retry-After: -1\r\n") == -1, "negative");
	CHECK(LINE("Retry-After: 0x10\r\n") == -1, "hex");
	CHECK(LINE("Retry-After: 5 5\r\n") == -1, "two numbers");
	CHECK(LINE("Retry-After: \r\n") == -1, "empty");
	CHECK(LINE("Retry-After: 99999999999999999999999999\r\n") == 7L * 24 * 3600 * 1000,
	      "huge: cut to a week");
	CHECK(LINE("Retry-After-Not: 5\r\n") == -1, "another header");
	CHECK(LINE("X-Retry-After: 5\r\n") == -1, "another header (prefix)");
	CHECK(LINE("Content-Type: application/json\r\n") == -1, "unrelated");
	CHECK(retry_after_of("", 0) == -1, "empty line");
	CHECK(retry_after_of("\r\n", 2) == -1, "end of headers");
}

static void test_hostile_lines(void)
{
	char line[2 * HTTP_HEADER_LINE_MAX];
	static const char nul[] = "Retry-After: 5\0009\r\n";

	/* "Retry-After:" + blanks + "1" + zeros: cut at the buffer it would read as
	 * a huge number; it must be ignored as a whole instead. */
	memset(line, '0', sizeof(line));
	memcpy(line, "Retry-After: 1", 14);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	CHECK(retry_after_of(line, sizeof(line)) == -1, "over-long line ignored");
	/* Just fits: HTTP_HEADER_LINE_MAX - 1 bytes before CRLF. */
	memset(line, ' ', sizeof(line));
	memcpy(line, "Retry-After:", 12);
	line[HTTP_HEADER_LINE_MAX - 2] = '3';
	memcpy(line + HTTP_HEADER_LINE_MAX - 1, "\r\n", 2);
	CHECK(retry_after_of(line, HTTP_HEADER_LINE_MAX + 1) == 3000, "longest line read");
	line[HTTP_HEADER_LINE_MAX - 1] = '3';
	memcpy(line + HTTP_HEADER_LINE_MAX, "\r\n", 2);
	CHECK(retry_after_of(line, HTTP_HEADER_LINE_MAX + 2) == -1, "one byte too long: ignored");
	CHECK(retry_after_of(nul, sizeof(nul) - 1) == -1, "NUL inside the line");
	CHECK(LINE("Retry-After: 5\x01\r\n") == -1, "control character");
}

static void test_status_line_starts_afresh(void)
{
	struct http_response r;

	memset(&r, 0, sizeof(r));
	r.retry_after_ms = -1;
	http_header_parse(&r, "HTTP/1.1 100 Continue\r\n", 23, (long long)time(NULL));
	http_header_parse(&r, "Retry-After: 9\r\n", 16, (long long)time(NULL));
	CHECK(r.retry_after_ms == 9000, "interim answer's Retry-After read");
	http_header_parse(&r, "HTTP/1.1 503 Service Unavailable\r\n", 34, (long long)time(NULL));
	CHECK(r.retry_after_ms == -1, "a new status line forgets it");
	http_header_parse(&r, "Retry-After: 2\r\n", 16, (long long)time(NULL));
	http_header_parse(&r, "Retry-After: 3\r\n", 16, (long long)time(NULL));
	CHECK(r.retry_after_ms == 3000, "the last of two wins: %ld", r.retry_after_ms);
}

int main(void)
{
	test_retry_after_lines();
	test_hostile_lines();
	test_status_line_starts_afresh();
	return check_report("http");
}
