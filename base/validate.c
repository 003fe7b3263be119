/* One check per rule (see validate.h). */
#include "validate.h"

#include <string.h>
#include <sys/stat.h>

bool has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

bool ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

bool path_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= VALIDATE_NAME_SIZE || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (!name_char(*s))
			return false;
	return true;
}

bool mapper_name_valid(const char *s)
{
	return name_valid(s) && strcmp(s, "control") != 0;
}

bool uuid_valid(const char *s)
{
	static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	for (size_t i = 0; i < sizeof(form) - 1; i++) {
		if (form[i] == '-' ? s[i] != '-'
				   : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[sizeof(form) - 1] == '\0';
}

/* The host between p and auth_end (no credentials there); *host_end set. */
static const char *check_host(const char *p, const char *auth_end, const char **host_end)
{
	if (*p == '[') {
		const char *end = memchr(p, ']', (size_t)(auth_end - p));

		if (!end || end == p + 1)
			return "bad IPv6 address";
		for (const char *q = p + 1; q < end; q++)
			if (!strchr("0123456789abcdefABCDEF:.", *q))
				return "bad IPv6 address";
		*host_end = end + 1;
		return NULL;
	}
	*host_end = p + strcspn(p, ":/");
	if (*host_end == p)
		return "has no host";
	for (const char *q = p; q < *host_end; q++)
		if (!name_char(*q) || *q == '_')
			return "bad host name";
	return NULL;
}

/* ":PORT" from p to auth_end, PORT 1 to 65535 in at most 5 digits. */
static bool port_valid(const char *p, const char *auth_end)
{
	unsigned long port = 0;

	if (*p++ != ':' || p == auth_end || auth_end - p > 5)
		return false;
	for (; p < auth_end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return port >= 1 && port <= 65535;
}

_Static_assert(VALIDATE_URL_SIZE == 512, "url_check's message says 511 bytes");

const char *url_check(const char *url, bool *is_http)
{
	const char *p, *host_end, *auth_end, *why;

	if (!strncmp(url, "https://", 8)) {
		p = url + 8;
		*is_http = false;
	} else if (!strncmp(url, "http://", 7)) {
		p = url + 7;
		*is_http = true;
	} else {
		return "must start with https:// or http://";
	}
	if (strlen(url) >= VALIDATE_URL_SIZE)
		return "too long (at most 511 bytes)";
	if (!ascii_printable(url) || strchr(url, ' '))
		return "contains a space, a control character or a non-ASCII byte";
	if (strpbrk(url, "?#"))
		return "must not have a query or fragment";
	auth_end = p + strcspn(p, "/");
	if (memchr(p, '@', (size_t)(auth_end - p)))
		return "must not contain credentials";
	why = check_host(p, auth_end, &host_end);
	if (why)
		return why;
	if (host_end < auth_end && !port_valid(host_end, auth_end))
		return "bad port";
	return NULL;
}
