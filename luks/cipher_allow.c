/* The allow-list of LUKS2 data encryptions (see cipher_allow.h). */
#include "cipher_allow.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void cipher_allow_default(struct cipher_allow *a)
{
	memset(a, 0, sizeof(*a));
	strcpy(a->entries[0].encryption, "aes-xts-plain64");
	a->entries[0].key_bits = 512;
	a->n = 1;
}

bool cipher_name_is_null(const char *name)
{
	for (const char *p = name; *p; p++)
		if (strncasecmp(p, "null", 4) == 0)
			return true;
	return false;
}

/* Kernel crypto names as LUKS2 records them: aes-xts-plain64,
 * aes-cbc-essiv:sha256, hmac(sha256); colon says whether ':' may appear. */
static bool name_valid(const char *s, size_t len, bool colon)
{
	if (len == 0 || len >= CIPHER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("-_().,", s[i]) ||
		      (colon && s[i] == ':')))
			return false;
	return true;
}

/* The ':' that starts the key size: the first followed by digits only, up
 * to the end or the next ':' (the encryption may hold a ':' itself). */
static const char *key_bits_colon(const char *s)
{
	for (const char *c = strchr(s, ':'); c; c = strchr(c + 1, ':')) {
		size_t n = strspn(c + 1, "0123456789");

		if (n > 0 && (c[1 + n] == '\0' || c[1 + n] == ':'))
			return c;
	}
	return NULL;
}

const char *cipher_entry_parse(const char *s, struct cipher_entry *out)
{
	const char *c1 = key_bits_colon(s), *c2, *end;
	unsigned bits = 0;

	memset(out, 0, sizeof(*out));
	if (!c1)
		return "expected ENCRYPTION:KEYBITS[:INTEGRITY]";
	end = c1 + 1 + strspn(c1 + 1, "0123456789");
	c2 = *end ? end : NULL;
	if (!name_valid(s, (size_t)(c1 - s), true))
		return "bad encryption name (letters, digits and -_().,:)";
	if (end - c1 > 5)
		return "key size out of range (128 to 4096 bits, a multiple of 8)";
	for (const char *p = c1 + 1; p < end; p++)
		bits = bits * 10 + (unsigned)(*p - '0');
	if (bits < CIPHER_KEY_BITS_MIN || bits > CIPHER_KEY_BITS_MAX || bits % 8)
		return "key size out of range (128 to 4096 bits, a multiple of 8)";
	if (c2 && !name_valid(c2 + 1, strlen(c2 + 1), false))
		return "bad integrity name (letters, digits and -_().,)";
	memcpy(out->encryption, s, (size_t)(c1 - s));
	out->key_bits = bits;
	if (c2)
		memcpy(out->integrity, c2 + 1, strlen(c2 + 1) + 1);
	if (cipher_name_is_null(out->encryption) || cipher_name_is_null(out->integrity))
		return "a null cipher is never allowed";
	return NULL;
}

bool cipher_allow_has(const struct cipher_allow *a, const char *encryption, unsigned key_bits,
		      const char *integrity)
{
	if (cipher_name_is_null(encryption) || cipher_name_is_null(integrity))
		return false;
	for (int i = 0; i < a->n; i++) {
		const struct cipher_entry *c = &a->entries[i];

		if (!strcmp(c->encryption, encryption) && c->key_bits == key_bits &&
		    !strcmp(c->integrity, integrity))
			return true;
	}
	return false;
}

void cipher_allow_format(const struct cipher_allow *a, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; i < a->n && used < len; i++) {
		const struct cipher_entry *c = &a->entries[i];
		int n = snprintf(buf + used, len - used, "%s%s:%u%s%s", i ? " " : "", c->encryption,
				 c->key_bits, c->integrity[0] ? ":" : "", c->integrity);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}
