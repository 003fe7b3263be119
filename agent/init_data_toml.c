/* The init-data reader: the small, strict subset of TOML 1.0 that an
 * init-data document needs (two top-level strings, a [data] table of
 * strings). Every byte is hostile; errors say "NAME:LINE: what". */
#include "init_data.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

#define INIT_DATA_VERSION "0.1.0"

struct reader {
	const char *p, *end;
	const char *name;
	int line;
	struct err *e;
};

static int fail_at(struct reader *r, int line, const char *what)
{
	return err_set(r->e, CVM_E_CONFIG, "%s:%d: %s", r->name, line, what);
}

static int fail(struct reader *r, const char *what)
{
	return fail_at(r, r->line, what);
}

/* ------------------------------------------------------------------ */
/* Bytes                                                              */

/* Length of the UTF-8 sequence at p (1..4), 0 if invalid (overlong,
 * surrogate, above U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2, cp = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3, cp = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* The whole document: UTF-8, no NUL, no byte-order mark, no lone CR. */
static int check_bytes(struct reader *r)
{
	const unsigned char *p = (const unsigned char *)r->p, *end = (const unsigned char *)r->end;

	r->line = 1;
	if (end - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		return fail(r, "byte-order mark (save the file as UTF-8 without one)");
	while (p < end) {
		size_t n = utf8_len(p, end);

		if (!n)
			return fail(r, "not valid UTF-8");
		if (*p == '\0')
			return fail(r, "NUL byte");
		if (*p == '\r' && (p + 1 == end || p[1] != '\n'))
			return fail(r, "carriage return not followed by a line feed");
		if (*p == '\n')
			r->line++;
		p += n;
	}
	r->line = 1;
	return 0;
}

/* A control character TOML forbids outside a newline: U+0000..U+001F except
 * tab, and U+007F. */
static bool is_forbidden_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7F;
}

static void skip_blanks(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t'))
		r->p++;
}

/* At a newline (LF or CRLF): step over it. */
static bool take_newline(struct reader *r)
{
	if (r->p < r->end && *r->p == '\n') {
		r->p++;
		r->line++;
		return true;
	}
	if (r->end - r->p >= 2 && r->p[0] == '\r' && r->p[1] == '\n') {
		r->p += 2;
		r->line++;
		return true;
	}
	return false;
}

/* Blanks, an optional comment, then a newline or the end. */
static int end_of_line(struct reader *r)
{
	skip_blanks(r);
	if (r->p < r->end && *r->p == '#') {
		for (r->p++; r->p < r->end && *r->p != '\n' && *r->p != '\r'; r->p++)
			if (is_forbidden_control((unsigned char)*r->p))
				return fail(r, "control character in a comment");
	}
	if (r->p == r->end || take_newline(r))
		return 0;
	return fail(r, "unexpected text after the value (one key = value per line)");
}

/* ------------------------------------------------------------------ */
/* Strings                                                            */

struct out {
	char *buf;
	size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_utf8(struct out *o, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		b[0] = (char)(0xF0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	put(o, b, n);
}

/* \uXXXX or \UXXXXXXXX after the backslash and letter: a Unicode scalar value. */
static int unicode_escape(struct reader *r, size_t digits, struct out *o)
{
	uint32_t cp = 0;

	if ((size_t)(r->end - r->p) < digits)
		return fail(r, "truncated \\u escape");
	for (size_t i = 0; i < digits; i++) {
		int d = hex_digit(r->p[i]);

		if (d < 0)
			return fail(r, "bad hex digit in a \\u or \\U escape");
		cp = cp << 4 | (uint32_t)d;
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return fail(r, "\\u escape is not a Unicode scalar value");
	r->p += digits;
	put_utf8(o, cp);
	return 0;
}

/* One escape of a basic string, r->p just after the backslash. */
static int escape(struct reader *r, bool multiline, struct out *o)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	const char *hit;

	if (r->p == r->end)
		return fail(r, "unterminated string");
	if (*r->p == 'u' || *r->p == 'U') {
		size_t digits = *r->p == 'u' ? 4 : 8;

		r->p++;
		return unicode_escape(r, digits, o);
	}
	if (multiline) {
		/* A line-ending backslash: drop blanks and newlines up to the next text. */
		const char *q = r->p;

		while (q < r->end && (*q == ' ' || *q == '\t'))
			q++;
		if (q < r->end && (*q == '\n' || *q == '\r')) {
			r->p = q;
			for (;;) {
				skip_blanks(r);
				if (!take_newline(r))
					break;
			}
			return 0;
		}
	}
	hit = strchr(from, *r->p);
	if (!hit || !*r->p)
		return fail(r, "unknown escape (\\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX)");
	put(o, &to[hit - from], 1);
	r->p++;
	return 0;
}

/* How many times c repeats at p (at most max). */
static size_t run_of(const struct reader *r, const char *p, char c, size_t max)
{
	size_t n = 0;

	while (p + n < r->end && p[n] == c && n < max)
		n++;
	return n;
}

/* A string of quote q ('"' basic, '\'' literal), r->p after the opening
 * delimiter (one or three quotes). Multi-line strings drop a newline right
 * after the opening delimiter; their closing delimiter may follow one or
 * two quotes that belong to the text. */
static int string_body(struct reader *r, char q, bool multiline, struct out *o)
{
	if (multiline)
		take_newline(r);
	for (;;) {
		unsigned char c;

		if (r->p == r->end)
			return fail(r, "unterminated string");
		c = (unsigned char)*r->p;
		if (c == (unsigned char)q) {
			size_t n = multiline ? run_of(r, r->p, q, 6) : 1;

			if (!multiline) {
				r->p++;
				return 0;
			}
			if (n >= 3) {
				if (n > 5)
					return fail(r, "too many quotes at the end of a multi-line string");
				put(o, r->p, n - 3);
				r->p += n;
				return 0;
			}
			put(o, r->p, n);
			r->p += n;
		} else if (c == '\\' && q == '"') {
			r->p++;
			if (escape(r, multiline, o))
				return r->e->code;
		} else if (c == '\n' || c == '\r') {
			if (!multiline)
				return fail(r, "newline in a single-line string (use ''' or \"\"\")");
			if (*r->p == '\r')
				r->p++; /* check_bytes made sure a LF follows */
			take_newline(r);
			put(o, "\n", 1);
		} else if (is_forbidden_control(c)) {
			return fail(r, "control character in a string (write it as an escape)");
		} else {
			size_t n = utf8_len((const unsigned char *)r->p, (const unsigned char *)r->end);

			put(o, r->p, n);
			r->p += n;
		}
	}
}

/* A string value or quoted key at r->p: *out is malloc'ed, NUL-terminated. */
static int string(struct reader *r, bool allow_multiline, char **out)
{
	char q = *r->p;
	bool multiline = run_of(r, r->p, q, 3) == 3;
	struct out o = { malloc((size_t)(r->end - r->p) + 1), 0 };

	*out = NULL;
	if (!o.buf)
		return err_set(r->e, CVM_E_INTERNAL, "out of memory");
	if (multiline && !allow_multiline) {
		free(o.buf);
		return fail(r, "a key cannot be a multi-line string");
	}
	r->p += multiline ? 3 : 1;
	if (string_body(r, q, multiline, &o)) {
		free(o.buf);
		return r->e->code;
	}
	o.buf[o.len] = '\0';
	if (strlen(o.buf) != o.len) {
		free(o.buf);
		return fail(r, "NUL character (\\u0000) in a string");
	}
	*out = realloc(o.buf, o.len + 1); /* give back what escapes saved */
	if (!*out)
		*out = o.buf;
	return 0;
}

static bool is_bare_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* A bare or quoted key, not dotted. */
static int key(struct reader *r, char **out)
{
	const char *start = r->p;

	*out = NULL;
	if (r->p < r->end && (*r->p == '"' || *r->p == '\'')) {
		if (string(r, false, out))
			return r->e->code;
	} else {
		while (r->p < r->end && is_bare_key_char(*r->p))
			r->p++;
		if (r->p == start)
			return fail(r, "expected a key (bare, \"quoted\" or 'literal')");
		*out = strndup(start, (size_t)(r->p - start));
		if (!*out)
			return err_set(r->e, CVM_E_INTERNAL, "out of memory");
	}
	skip_blanks(r);
	if (r->p < r->end && *r->p == '.') {
		free(*out);
		*out = NULL;
		return fail(r, "dotted keys are not accepted (quote a key that contains a dot)");
	}
	if (strlen(*out) >= INIT_DATA_KEY_MAX) {
		free(*out);
		*out = NULL;
		return fail(r, "key too long");
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Document                                                           */

enum table { TOP, DATA };

struct doc_state {
	enum table table;
	int version_line, algorithm_line, data_line;
};

static int table_header(struct reader *r, struct doc_state *st)
{
	char *name = NULL;
	bool is_data;

	r->p++;
	if (r->p < r->end && *r->p == '[')
		return fail(r, "arrays of tables are not accepted (only [data])");
	skip_blanks(r);
	if (key(r, &name))
		return r->e->code;
	is_data = !strcmp(name, "data");
	free(name);
	if (r->p == r->end || *r->p != ']')
		return fail(r, "expected ']'");
	r->p++;
	if (!is_data)
		return fail(r, "unknown table (an init-data document has only [data])");
	if (st->data_line)
		return fail(r, "duplicate [data] table");
	st->data_line = r->line;
	st->table = DATA;
	return end_of_line(r);
}

static int value(struct reader *r, char **out)
{
	if (r->p == r->end || (*r->p != '"' && *r->p != '\''))
		return fail(r, "the value must be a string (numbers, booleans, dates, arrays "
			       "and inline tables are not accepted)");
	return string(r, true, out);
}

static int top_key(struct reader *r, struct init_data *d, struct doc_state *st, const char *k,
		   const char *v, int line)
{
	if (!strcmp(k, "version")) {
		if (st->version_line)
			return fail_at(r, line, "duplicate key 'version'");
		if (strcmp(v, INIT_DATA_VERSION))
			return fail_at(r, line, "version must be \"" INIT_DATA_VERSION "\"");
		snprintf(d->version, sizeof(d->version), "%s", v);
		st->version_line = line;
	} else if (!strcmp(k, "algorithm")) {
		if (st->algorithm_line)
			return fail_at(r, line, "duplicate key 'algorithm'");
		if (!strcmp(v, "sha256"))
			d->alg = INIT_DATA_SHA256;
		else if (!strcmp(v, "sha384"))
			d->alg = INIT_DATA_SHA384;
		else if (!strcmp(v, "sha512"))
			d->alg = INIT_DATA_SHA512;
		else
			return fail_at(r, line, "algorithm must be \"sha256\", \"sha384\" or \"sha512\"");
		st->algorithm_line = line;
	} else {
		return err_set(r->e, CVM_E_CONFIG, "%s:%d: unknown key '%.64s' (before [data] only "
			       "version and algorithm)", r->name, line, k);
	}
	return 0;
}

static int data_key(struct reader *r, struct init_data *d, char **k, char **v, int line)
{
	if (init_data_get(d, *k))
		return err_set(r->e, CVM_E_CONFIG, "%s:%d: [data] duplicate key '%.64s'", r->name,
			       line, *k);
	if (d->n_entries >= INIT_DATA_ENTRIES_MAX)
		return err_set(r->e, CVM_E_CONFIG, "%s:%d: [data] more than %d entries", r->name,
			       line, INIT_DATA_ENTRIES_MAX);
	d->entries[d->n_entries++] = (struct init_data_entry){ *k, *v, line };
	*k = *v = NULL;
	return 0;
}

/* One "key = value" line. */
static int key_value(struct reader *r, struct init_data *d, struct doc_state *st)
{
	char *k = NULL, *v = NULL;
	int line = r->line, rc;

	if (key(r, &k))
		return r->e->code;
	if (r->p == r->end || *r->p != '=') {
		free(k);
		return fail(r, "expected '=' after the key");
	}
	r->p++;
	skip_blanks(r);
	rc = value(r, &v) || end_of_line(r);
	if (!rc && st->table == TOP)
		rc = top_key(r, d, st, k, v, line);
	else if (!rc)
		rc = data_key(r, d, &k, &v, line);
	free(k);
	free(v);
	return rc ? r->e->code : 0;
}

static int finish(struct reader *r, const struct doc_state *st)
{
	const char *missing = !st->version_line ? "no 'version' (want version = \"" INIT_DATA_VERSION "\")"
			      : !st->algorithm_line ? "no 'algorithm' (sha256, sha384 or sha512)"
			      : !st->data_line ? "no [data] table" : NULL;

	if (missing)
		return err_set(r->e, CVM_E_CONFIG, "%s: %s", r->name, missing);
	return 0;
}

int init_data_parse(struct init_data *d, const char *name, struct err *e)
{
	struct reader r = { d->body, d->body + d->body_len, name, 1, e };
	struct doc_state st = { TOP, 0, 0, 0 };

	if (check_bytes(&r))
		return e->code;
	while (r.p < r.end) {
		skip_blanks(&r);
		if (r.p == r.end)
			break;
		if (*r.p == '#' || *r.p == '\n' || *r.p == '\r') {
			if (end_of_line(&r))
				return e->code;
		} else if (*r.p == '[') {
			if (table_header(&r, &st))
				return e->code;
		} else if (key_value(&r, d, &st)) {
			return e->code;
		}
	}
	return finish(&r, &st);
}
