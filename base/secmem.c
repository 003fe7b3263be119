/* Wipe-then-free buffers for key material (see secmem.h). Each secret
 * lives in an anonymous mapping of its own, behind a small header that
 * records the mapping's size. */
#include "secmem.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SECRET_MAGIC 0x7365637265746d6dULL /* "secretmm" */

struct secret_header {
	uint64_t magic;
	size_t map_len;
} __attribute__((aligned(16)));

#define OPENSSL_SECURE_HEAP (64 * 1024) /* a few keys: RSA-3072 needs ~2 KiB */
#define OPENSSL_SECURE_MIN 32

static long live;

int secmem_init(void)
{
	return CRYPTO_secure_malloc_initialized() ||
	       CRYPTO_secure_malloc_init(OPENSSL_SECURE_HEAP, OPENSSL_SECURE_MIN) != 0;
}

unsigned char *secret_alloc(struct secret *s, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), map_len;
	struct secret_header *h;
	void *m;

	s->data = NULL;
	s->len = 0;
	if (len > SIZE_MAX - sizeof(*h) - page)
		return NULL;
	map_len = (sizeof(*h) + (len ? len : 1) + page - 1) / page * page;
	m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* Best effort both: a core dump is off anyway (main.c), and without
	 * CAP_IPC_LOCK a large secret may exceed RLIMIT_MEMLOCK. */
	madvise(m, map_len, MADV_DONTDUMP);
	mlock(m, map_len);
	h = m;
	h->magic = SECRET_MAGIC;
	h->map_len = map_len;
	live++;
	s->data = (unsigned char *)(h + 1);
	s->len = len;
	return s->data;
}

void secret_clear(struct secret *s)
{
	struct secret_header *h;
	size_t map_len;

	if (!s || !s->data)
		return;
	h = (struct secret_header *)s->data - 1;
	if (h->magic != SECRET_MAGIC)
		abort(); /* not from secret_alloc: a bug, never guess how to free it */
	map_len = h->map_len;
	OPENSSL_cleanse(h, map_len);
	munlock(h, map_len);
	munmap(h, map_len);
	live--;
	s->data = NULL;
	s->len = 0;
}

long secret_live_count(void)
{
	return live;
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
