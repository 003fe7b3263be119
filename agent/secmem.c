/* Wipe-then-free buffers for key material (see secmem.h). */
#include "secmem.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

unsigned char *secret_alloc(struct secret *s, size_t len)
{
	s->data = calloc(1, len ? len : 1);
	s->len = s->data ? len : 0;
	return s->data;
}

void secret_clear(struct secret *s)
{
	if (!s)
		return;
	secure_free(s->data, s->len);
	s->data = NULL;
	s->len = 0;
}

void secure_free(void *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

void secure_free_str(char *s)
{
	if (s)
		secure_free(s, strlen(s));
}
