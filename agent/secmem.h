/* Key material handling: buffers that are wiped before they are freed, and
 * cleanup attributes so no early return can leak one. */
#ifndef CVMBOOT_SECMEM_H
#define CVMBOOT_SECMEM_H

#include <stddef.h>

struct secret {
	unsigned char *data;
	size_t len;
};

/* Allocate len bytes (len may be 0; data is then a 1-byte buffer). NULL on OOM. */
unsigned char *secret_alloc(struct secret *s, size_t len);
/* Wipe and free; safe on a zeroed struct and when called twice. */
void secret_clear(struct secret *s);
/* Wipe len bytes then free p (p may be NULL). */
void secure_free(void *p, size_t len);
/* Wipe a NUL-terminated string, then free it. */
void secure_free_str(char *s);

static inline void secret_cleanup(struct secret *s) { secret_clear(s); }
static inline void secure_free_str_cleanup(char **s) { secure_free_str(*s); *s = NULL; }

#define _cleanup_secret_ __attribute__((cleanup(secret_cleanup)))
#define _cleanup_secure_str_ __attribute__((cleanup(secure_free_str_cleanup)))

#endif
