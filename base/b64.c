/* Strict base64 (RFC 4648): STANDARD with padding, base64url without
 * padding (padding accepted), for the KBS nonce and every JOSE member. */
#include "b64.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>

/* Longest input we accept: far beyond any KBS answer, keeps size math safe. */
#define B64_MAX_INPUT ((size_t)64 * 1024 * 1024)

static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *b64_encode(const unsigned char *in, size_t len, bool url)
{
	const char *abc = url ? url_alphabet : std_alphabet;
	size_t i, o = 0, outcap;
	char *out;

	if (len > B64_MAX_INPUT)
		return NULL;
	outcap = (len + 2) / 3 * 4 + 1;
	out = malloc(outcap);
	if (!out)
		return NULL;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = abc[v >> 6 & 63];
		out[o++] = abc[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		if (!url) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = abc[v >> 6 & 63];
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

/* Value of one character in the chosen alphabet, -1 if not part of it. */
static int b64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Number of data characters once the padding is taken off; -1 if the
 * padding is not allowed where it is or the length is impossible. */
static long b64_data_length(const char *in, size_t inlen, bool url)
{
	size_t pad = 0;

	while (pad < 2 && pad < inlen && in[inlen - 1 - pad] == '=')
		pad++;
	if (pad && inlen % 4 != 0)
		return -1;              /* padding only completes a 4-character group */
	if (!url && inlen % 4 != 0)
		return -1;              /* STANDARD: padding is mandatory */
	if ((inlen - pad) % 4 == 1)
		return -1;              /* one character carries only 6 bits */
	if (pad && (inlen - pad) % 4 == 0)
		return -1;              /* "====" style: padding after a full group */
	return (long)(inlen - pad);
}

int b64_decode(const char *in, size_t inlen, bool url, unsigned char **out, size_t *outlen)
{
	unsigned char *buf;
	size_t i, o = 0, n;
	uint32_t acc = 0;
	int bits = 0;
	long dl;

	*out = NULL;
	*outlen = 0;
	if (!in || inlen > B64_MAX_INPUT)
		return -1;
	dl = b64_data_length(in, inlen, url);
	if (dl < 0)
		return -1;
	n = (size_t)dl;
	buf = malloc(n * 3 / 4 + 1);
	if (!buf)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i], url);

		if (v < 0)
			goto bad;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* The 2 or 4 bits left over must be zero (canonical encoding). */
	if (bits && (acc & ((1u << bits) - 1)))
		goto bad;
	*out = buf;
	*outlen = o;
	return 0;
bad:
	OPENSSL_cleanse(buf, n * 3 / 4 + 1);
	free(buf);
	return -1;
}
