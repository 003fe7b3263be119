/* Base64 (RFC 4648): STANDARD with padding, and base64url without padding. */
#ifndef CVMBOOT_B64_H
#define CVMBOOT_B64_H

#include <stdbool.h>
#include <stddef.h>

/* Returns a malloc'ed NUL-terminated string, NULL on OOM. */
char *b64_encode(const unsigned char *in, size_t len, bool url);
/* Strict decode (rejects bad characters, bad padding, non-zero trailing bits).
 * url: base64url, padding optional. *out is malloc'ed (wipe it if secret).
 * Returns 0 or -1. */
int b64_decode(const char *in, size_t inlen, bool url, unsigned char **out, size_t *outlen);

#endif
