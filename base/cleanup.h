/* The one cleanup idiom of the tree: a variable declared CLEANUP(fn) gets
 * fn(&variable) when it goes out of scope, so no early return leaks it;
 * TAKE_PTR hands a pointer on and leaves NULL behind (nothing freed). The
 * helpers below are for malloc'ed memory, secret buffers, json_t and
 * OpenSSL keys; a layer adds its own with DEFINE_POINTER_CLEANUP (tee:
 * struct tpm, agent: struct kbs). Needs GCC or Clang. */
#ifndef CVMBOOT_CLEANUP_H
#define CVMBOOT_CLEANUP_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "secmem.h"

#define CLEANUP(fn) __attribute__((cleanup(fn)))

#define TAKE_PTR(p) __extension__({ \
	__typeof__(p) *take_ptr_ = &(p); \
	__typeof__(p) taken_ = *take_ptr_; \
	*take_ptr_ = NULL; \
	taken_; \
})

/* fn##p(type **p) calls fn(*p); fn must take NULL. */
#define DEFINE_POINTER_CLEANUP(type, fn) \
	static inline void fn##p(type **p) { fn(*p); }

/* For any malloc'ed pointer: CLEANUP(freep) char *s = NULL; */
static inline void freep(void *p) { free(*(void **)p); }
/* A NUL-terminated string holding a secret: wiped, then freed. */
static inline void secure_free_strp(char **s) { secure_free_str(*s); *s = NULL; }
/* struct secret: CLEANUP(secret_clear) struct secret key = { 0 }; */
/* json_t: CLEANUP(json_decrefp), jansson's own (json_auto_t). */

DEFINE_POINTER_CLEANUP(EVP_PKEY, EVP_PKEY_free)
DEFINE_POINTER_CLEANUP(EVP_PKEY_CTX, EVP_PKEY_CTX_free)

#endif
