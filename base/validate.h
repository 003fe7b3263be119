/* One check per rule, for every layer that needs it (docs/architecture.md):
 * control characters and printable ASCII in text from outside, what a path
 * names, names (resources, secret files, device-mapper), LUKS UUIDs and
 * KBS URLs. */
#ifndef CVMBOOT_VALIDATE_H
#define CVMBOOT_VALIDATE_H

#include <stdbool.h>

/* A name's buffer size, NUL included: a name has at most 63 bytes. */
#define VALIDATE_NAME_SIZE 64
/* A URL's buffer size, NUL included: a URL has at most 511 bytes. */
#define VALIDATE_URL_SIZE 512

/* A byte below 0x20 or DEL (0x7f) in the NUL-terminated s: refused in
 * configuration keys and section names and in kernel command line
 * options (tabs included). */
bool has_control_chars(const char *s);
/* Every byte of s is printable ASCII, 0x20 (space) to 0x7e. */
bool ascii_printable(const char *s);
/* path exists (stat follows links). */
bool path_exists(const char *path);
/* path exists and is a directory (stat follows links). */
bool path_is_dir(const char *path);

/* A character of a name and of a KBS resource path segment: A-Z a-z 0-9 . _ - */
bool name_char(char c);
/* A resource name, a file name in the secrets directory, a device-mapper
 * name: 1 to VALIDATE_NAME_SIZE - 1 bytes of A-Z a-z 0-9 '.' '_' '-', not
 * "." or "..". */
bool name_valid(const char *s);
/* A device-mapper name: name_valid and not "control" (/dev/mapper/control). */
bool mapper_name_valid(const char *s);
/* A LUKS2 UUID as cryptsetup writes it: 8-4-4-4-12 lowercase hex digits. */
bool uuid_valid(const char *s);
/* A KBS (or other service) URL: http(s)://host[:port][/path], at most
 * VALIDATE_URL_SIZE - 1 bytes of printable ASCII without spaces; no
 * credentials, query or fragment; host a DNS name (letters, digits, '.', '-')
 * or a bracketed IPv6 address; port 1 to 65535. NULL when valid (*is_http
 * then says whether it is http://), else what is wrong, for a message. */
const char *url_check(const char *url, bool *is_http);

#endif
