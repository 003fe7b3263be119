/* The LUKS2 data encryptions cvmboot accepts ([luks] allowed_ciphers):
 * entries ENCRYPTION:KEYBITS[:INTEGRITY], as cryptsetup luksDump shows them.
 * A null cipher is never an entry. */
#ifndef CVMBOOT_CIPHER_ALLOW_H
#define CVMBOOT_CIPHER_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

#define CIPHER_ALLOW_MAX 8
#define CIPHER_NAME_MAX 64
#define CIPHER_KEY_BITS_MIN 128
#define CIPHER_KEY_BITS_MAX 4096

struct cipher_entry {
	char encryption[CIPHER_NAME_MAX]; /* the segment's "encryption", e.g. aes-xts-plain64 */
	unsigned key_bits;                /* volume key size, an integrity key included */
	char integrity[CIPHER_NAME_MAX];  /* the segment's integrity type, "" = none */
};

struct cipher_allow {
	struct cipher_entry entries[CIPHER_ALLOW_MAX];
	int n;
};

/* The default: aes-xts-plain64 with a 512-bit key, no integrity. */
void cipher_allow_default(struct cipher_allow *a);
/* Parse one entry; NULL on success, else why it is refused. */
const char *cipher_entry_parse(const char *s, struct cipher_entry *out);
/* A null cipher (cipher_null, ecb(cipher_null), ...), in any case. */
bool cipher_name_is_null(const char *name);
/* Whether the list has this encryption, key size and integrity ("" = none). */
bool cipher_allow_has(const struct cipher_allow *a, const char *encryption, unsigned key_bits,
		      const char *integrity);
/* "ENC:BITS[:INTEGRITY] ..." for messages, truncated to len. */
void cipher_allow_format(const struct cipher_allow *a, char *buf, size_t len);

#endif
