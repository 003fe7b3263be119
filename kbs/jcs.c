/* RFC 8785 JSON Canonicalization Scheme over jansson values, and the
 * runtime-data digest Trustee recomputes (kbs-protocol.md section 2). */
#include "jcs.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JCS_MAX_DEPTH 256
#define JCS_MAX_OUTPUT ((size_t)16 * 1024 * 1024)
/* Up to 2^53 every integer is an exact IEEE double and prints as itself. */
#define JCS_MAX_SAFE_INT 9007199254740992LL

struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (n > JCS_MAX_OUTPUT - b->len) {
		b->failed = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* Decode one UTF-8 sequence at s[*i] (strict: no overlongs, no surrogates,
 * nothing above U+10FFFF). Returns the code point or -1. */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	size_t n, k;
	long cp, min;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 1; cp = c & 0x1f; min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2; cp = c & 0x0f; min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3; cp = c & 0x07; min = 0x10000;
	} else {
		return -1;
	}
	if (len - *i <= n)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return cp;
}

static bool utf8_valid(const char *str, size_t len)
{
	size_t i = 0;

	while (i < len)
		if (utf8_next((const unsigned char *)str, len, &i) < 0)
			return false;
	return true;
}

/* Emit a JSON string with the minimal escapes of RFC 8785 section 3.2.2.2. */
static int put_string(struct buf *b, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, start;

	buf_put(b, "\"", 1);
	while (i < len) {
		char esc[8];

		start = i;
		if (utf8_next(s, len, &i) < 0)
			return -1;
		switch (s[start]) {
		case '"': buf_puts(b, "\\\""); continue;
		case '\\': buf_puts(b, "\\\\"); continue;
		case '\b': buf_puts(b, "\\b"); continue;
		case '\f': buf_puts(b, "\\f"); continue;
		case '\n': buf_puts(b, "\\n"); continue;
		case '\r': buf_puts(b, "\\r"); continue;
		case '\t': buf_puts(b, "\\t"); continue;
		default: break;
		}
		if (s[start] < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", s[start]);
			buf_puts(b, esc);
		} else {
			buf_put(b, str + start, i - start);
		}
	}
	buf_put(b, "\"", 1);
	return 0;
}

/* Next UTF-16 code unit of a UTF-8 string; *pending holds a low surrogate
 * still to be returned. Returns -1 at the end, -2 on invalid UTF-8. */
static long utf16_next(const unsigned char *s, size_t len, size_t *i, long *pending)
{
	long cp;

	if (*pending >= 0) {
		cp = *pending;
		*pending = -1;
		return cp;
	}
	if (*i >= len)
		return -1;
	cp = utf8_next(s, len, i);
	if (cp < 0)
		return -2;
	if (cp >= 0x10000) {
		cp -= 0x10000;
		*pending = 0xdc00 + (cp & 0x3ff);
		return 0xd800 + (cp >> 10);
	}
	return cp;
}

struct member {
	const char *key;
	size_t keylen;
	json_t *value;
};

/* Order of RFC 8785 section 3.2.3: UTF-16 code units, compared as unsigned. */
static int compare_keys(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;
	size_t ia = 0, ib = 0;
	long pa16 = -1, pb16 = -1;

	for (;;) {
		long ca = utf16_next((const unsigned char *)a->key, a->keylen, &ia, &pa16);
		long cb = utf16_next((const unsigned char *)b->key, b->keylen, &ib, &pb16);

		if (ca != cb)
			return ca < cb ? -1 : 1;   /* -1 (end) sorts first */
		if (ca < 0)
			return 0;   /* end, or invalid UTF-8 (checked before sorting) */
	}
}

/* True if the decimal M * 10^E reads back (strtod, correctly rounded) as d. */
static bool reads_back(unsigned long long m, int e, double d)
{
	char s[48];

	snprintf(s, sizeof(s), "%llue%d", m, e);
	return strtod(s, NULL) == d;
}

/* Shortest decimal M * 10^E that reads back as d > 0 and, among those with
 * that many digits, the closest to d (ECMAScript Number::toString, step 5).
 * The closest candidate of each length is one of the two decimals either
 * side of d: the correctly rounded one and its neighbour on d's other side. */
static int shortest_decimal(double d, unsigned long long *m, int *e)
{
	char tmp[40];

	for (int prec = 1; prec <= 17; prec++) {
		unsigned long long c = 0;
		int exp10;
		char *ep;

		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		for (const char *p = tmp; *p && *p != 'e'; p++)
			if (*p >= '0' && *p <= '9')
				c = c * 10 + (unsigned long long)(*p - '0');
		ep = strchr(tmp, 'e');
		if (!ep)
			return -1;
		exp10 = atoi(ep + 1) - (prec - 1);
		if (reads_back(c, exp10, d)) {
			*m = c;
			*e = exp10;
			return 0;
		}
		/* The neighbour on the other side of d. */
		if (strtod(tmp, NULL) < d)
			c++;
		else
			c--;
		if (c && reads_back(c, exp10, d)) {
			*m = c;
			*e = exp10;
			return 0;
		}
	}
	return -1;
}

/* ECMAScript Number.prototype.toString for a finite double (RFC 8785
 * section 3.2.2.3), in ES's fixed or exponent layout. */
static int put_double(struct buf *b, double d)
{
	char digits[24], out[64];
	unsigned long long m;
	int k, n, e;

	if (!isfinite(d))
		return -1;
	if (d == 0) {
		buf_puts(b, "0");   /* also -0 */
		return 0;
	}
	if (d < 0) {
		buf_puts(b, "-");
		d = -d;
	}
	if (shortest_decimal(d, &m, &e) < 0)
		return -1;
	while (m % 10 == 0) {
		m /= 10;
		e++;
	}
	k = snprintf(digits, sizeof(digits), "%llu", m);
	n = e + k;  /* d = 0.digits * 10^n */
	if (k <= n && n <= 21)
		snprintf(out, sizeof(out), "%s%.*s", digits, n - k, "000000000000000000000");
	else if (0 < n && n <= 21)
		snprintf(out, sizeof(out), "%.*s.%s", n, digits, digits + n);
	else if (-6 < n && n <= 0)
		snprintf(out, sizeof(out), "0.%.*s%s", -n, "000000", digits);
	else
		snprintf(out, sizeof(out), "%c%s%se%c%d", digits[0], k > 1 ? "." : "",
			 digits + 1, n - 1 < 0 ? '-' : '+', abs(n - 1));
	buf_puts(b, out);
	return 0;
}

static int put_value(struct buf *b, const json_t *v, int depth);

static int put_object(struct buf *b, const json_t *v, int depth)
{
	size_t n = json_object_size(v), i = 0;
	struct member *m;
	void *it;
	int rc = 0;

	m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return -1;
	for (it = json_object_iter((json_t *)v); it && i < n;
	     it = json_object_iter_next((json_t *)v, it), i++) {
		m[i].key = json_object_iter_key(it);
		m[i].keylen = json_object_iter_key_len(it);
		m[i].value = json_object_iter_value(it);
		if (!utf8_valid(m[i].key, m[i].keylen))
			rc = -1;
	}
	if (rc == 0)
		qsort(m, i, sizeof(*m), compare_keys);
	buf_put(b, "{", 1);
	for (size_t j = 0; j < i && rc == 0; j++) {
		if (j)
			buf_put(b, ",", 1);
		if (put_string(b, m[j].key, m[j].keylen) < 0) {
			rc = -1;
			break;
		}
		buf_put(b, ":", 1);
		rc = put_value(b, m[j].value, depth + 1);
	}
	buf_put(b, "}", 1);
	free(m);
	return rc;
}

static int put_value(struct buf *b, const json_t *v, int depth)
{
	char num[32];

	if (!v || depth > JCS_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return put_object(b, v, depth);
	case JSON_ARRAY:
		buf_put(b, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				buf_put(b, ",", 1);
			if (put_value(b, json_array_get(v, i), depth + 1) < 0)
				return -1;
		}
		buf_put(b, "]", 1);
		return 0;
	case JSON_STRING:
		return put_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: {
		json_int_t x = json_integer_value(v);

		/* RFC 8785 3.2.2.3: a JSON number is an IEEE double, whatever its
		 * spelling. Beyond 2^53 an integer reads as the nearest double (as
		 * JSON.parse does) and prints as that double: 9007199254740993 ->
		 * 9007199254740992. So JCS output re-reads to itself: 1e16 prints
		 * as 10000000000000000, which jansson reads back as an integer. */
		if (x > JCS_MAX_SAFE_INT || x < -JCS_MAX_SAFE_INT)
			return put_double(b, (double)x);
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, x);
		buf_puts(b, num);
		return 0;
	}
	case JSON_REAL:
		return put_double(b, json_real_value(v));
	case JSON_TRUE:
		buf_puts(b, "true");
		return 0;
	case JSON_FALSE:
		buf_puts(b, "false");
		return 0;
	case JSON_NULL:
		buf_puts(b, "null");
		return 0;
	}
	return -1;
}

char *jcs_serialize(const json_t *v)
{
	struct buf b = { 0 };

	if (put_value(&b, v, 0) < 0 || b.failed || !b.p) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int runtime_data_digest(const char *nonce, const json_t *jwk,
			const char *additional_evidence, unsigned char out[48])
{
	json_t *rd;
	char *canon;
	unsigned int mdlen = 0;
	int ok;

	if (!nonce || !jwk || !additional_evidence)
		return -1;
	rd = json_pack("{s:s, s:s, s:O}", "additional-evidence", additional_evidence,
		       "nonce", nonce, "tee-pubkey", (json_t *)jwk);
	if (!rd)
		return -1;
	canon = jcs_serialize(rd);
	json_decref(rd);
	if (!canon)
		return -1;
	ok = EVP_Digest(canon, strlen(canon), out, &mdlen, EVP_sha384(), NULL);
	free(canon);
	return ok == 1 && mdlen == 48 ? 0 : -1;
}
