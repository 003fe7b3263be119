/* Key material handling: buffers that are wiped before they are freed, and
 * cleanup attributes so no early return can leak one. */
#ifndef CVMBOOT_SECMEM_H
#define CVMBOOT_SECMEM_H

#include <stddef.h>

struct secret {
	unsigned char *data;
	size_t len;
};

/* Give OpenSSL a secure heap (locked, left out of core dumps, guard pages)
 * for private key material: the TEE key's private scalar or RSA factors and
 * the ECDH temporaries. Once, at start-up; 0 if it could not be set up
 * (OpenSSL then uses the normal heap). */
int secmem_init(void);
/* Allocate len bytes, zeroed (len may be 0; data then still points to a
 * byte). The buffer has pages of its own: locked in RAM so it never goes to
 * swap (best effort: RLIMIT_MEMLOCK may refuse), left out of core dumps,
 * wiped whole by secret_clear even if len was lowered meanwhile. NULL on OOM.
 * Free only with secret_clear. */
unsigned char *secret_alloc(struct secret *s, size_t len);
/* Wipe and free; safe on a zeroed struct and when called twice. */
void secret_clear(struct secret *s);
/* Buffers secret_alloc handed out and secret_clear has not freed yet (for
 * tests: leak checkers do not see these pages). */
long secret_live_count(void);
/* Wipe len bytes then free p (p may be NULL): for malloc'ed buffers. */
void secure_free(void *p, size_t len);
/* Wipe a NUL-terminated string, then free it. */
void secure_free_str(char *s);

static inline void secret_cleanup(struct secret *s) { secret_clear(s); }
static inline void secure_free_str_cleanup(char **s) { secure_free_str(*s); *s = NULL; }

/* Older spellings of CLEANUP(secret_clear) and CLEANUP(secure_free_strp)
 * (cleanup.h), kept for the commands that use them. */
#define _cleanup_secret_ __attribute__((cleanup(secret_cleanup)))
#define _cleanup_secure_str_ __attribute__((cleanup(secure_free_str_cleanup)))

#endif
