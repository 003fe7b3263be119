/* The configuration file (INI): every section, key and value is checked,
 * and errors say "FILE:LINE: [SECTION] KEY: what". */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hex.h"
#include "validate.h"

#define CONFIG_LINE_MAX 1024       /* longest accepted line, newline excluded */
#define CONFIG_FILE_MAX (256 * 1024)
#define CONFIG_SECTION_MAX 49      /* "resource." + a resource name fits */
#define RESOURCE_PREFIX "resource."
#define RESOURCE_PREFIX_LEN (sizeof(RESOURCE_PREFIX) - 1)
#define VALUE_SHOWN "%.80s"        /* how much of a bad value an error message repeats */

/* ------------------------------------------------------------------ */
/* Character and number syntaxes of the file                         */

/* Unsigned decimal, or hexadecimal with 0x if allow_hex; no sign, no spaces. */
static int parse_unsigned(const char *s, bool allow_hex, unsigned long long *out)
{
	unsigned long long v = 0;
	unsigned base = 10;

	if (allow_hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -1;
	for (; *s; s++) {
		int digit = hex_digit(*s);
		unsigned d = digit < 0 ? base : (unsigned)digit;

		if (d >= base || v > (ULLONG_MAX - d) / base)
			return -1;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static int parse_signed(const char *s, long long *out)
{
	unsigned long long u;
	bool neg = s[0] == '-';

	if (parse_unsigned(s + neg, false, &u) < 0 || u > (unsigned long long)LLONG_MAX)
		return -1;
	*out = neg ? -(long long)u : (long long)u;
	return 0;
}

/* Octal file mode, at most 0777. */
static int parse_mode(const char *s, mode_t *out)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 4)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return -1;
		v = v * 8 + (unsigned)(*s - '0');
	}
	if (v > 0777)
		return -1;
	*out = (mode_t)v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Setters for [section] key = value                                  */

struct key_def;
typedef int (*setter_fn)(struct config *c, const struct key_def *k, const char *v, bool first,
			 struct err *e);

struct key_def {
	const char *section, *key;
	setter_fn set;
	size_t off, size;      /* the field in struct config */
	long long min, max;    /* numbers and durations */
	bool repeatable;
};

static void *field(struct config *c, const struct key_def *k)
{
	return (char *)c + k->off;
}

static int copy_value(char *dst, size_t size, const char *v, struct err *e)
{
	size_t n = strlen(v);

	if (n >= size)
		return err_set(e, CVM_E_CONFIG, "value too long (%zu bytes, at most %zu)", n, size - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

static int set_string(struct config *c, const struct key_def *k, const char *v, bool first,
		      struct err *e)
{
	(void)first;
	return copy_value(field(c, k), k->size, v, e);
}

static int set_nonempty(struct config *c, const struct key_def *k, const char *v, bool first,
			struct err *e)
{
	if (!*v)
		return err_set(e, CVM_E_CONFIG, "empty value");
	return set_string(c, k, v, first, e);
}

static int set_abs_path(struct config *c, const struct key_def *k, const char *v, bool first,
			struct err *e)
{
	if (v[0] != '/')
		return err_set(e, CVM_E_CONFIG, "'" VALUE_SHOWN "' is not an absolute path", v);
	return set_string(c, k, v, first, e);
}

/* An absolute path, or empty for "not set". */
static int set_opt_path(struct config *c, const struct key_def *k, const char *v, bool first,
			struct err *e)
{
	if (!*v)
		return set_string(c, k, v, first, e);
	return set_abs_path(c, k, v, first, e);
}

static int set_bool(struct config *c, const struct key_def *k, const char *v, bool first,
		    struct err *e)
{
	(void)first;
	if (config_parse_bool(v, (bool *)field(c, k)) < 0)
		return err_set(e, CVM_E_CONFIG, "invalid boolean '" VALUE_SHOWN "' (use true or false)", v);
	return 0;
}

static int set_duration(struct config *c, const struct key_def *k, const char *v, bool first,
			struct err *e)
{
	long ms;

	(void)first;
	if (config_parse_duration_ms(v, &ms) < 0)
		return err_set(e, CVM_E_CONFIG,
			       "invalid duration '" VALUE_SHOWN "' (use e.g. 500ms, 5s, 2m)", v);
	if (ms < k->min || ms > k->max)
		return err_set(e, CVM_E_CONFIG, "duration '" VALUE_SHOWN "' out of range (%lldms to %lldms)",
			       v, k->min, k->max);
	*(long *)field(c, k) = ms;
	return 0;
}

static int set_long(struct config *c, const struct key_def *k, const char *v, bool first,
		    struct err *e)
{
	long long n;

	(void)first;
	if (parse_signed(v, &n) < 0)
		return err_set(e, CVM_E_CONFIG, "invalid number '" VALUE_SHOWN "'", v);
	if (n < k->min || n > k->max)
		return err_set(e, CVM_E_CONFIG, "%lld out of range (%lld to %lld)", n, k->min, k->max);
	if (k->size == sizeof(int))
		*(int *)field(c, k) = (int)n;
	else
		*(long *)field(c, k) = (long)n;
	return 0;
}

static int set_tpm_handle(struct config *c, const struct key_def *k, const char *v, bool first,
			  struct err *e)
{
	unsigned long long n;

	(void)k;
	(void)first;
	if (parse_unsigned(v, true, &n) < 0)
		return err_set(e, CVM_E_CONFIG, "invalid handle '" VALUE_SHOWN "'", v);
	if (n < 0x81000000ULL || n > 0x81FFFFFFULL)
		return err_set(e, CVM_E_CONFIG,
			       "handle '" VALUE_SHOWN "' is not a persistent handle (0x81000000 to 0x81ffffff)", v);
	c->tpm_ak_handle = (uint32_t)n;
	return 0;
}

static int set_tee(struct config *c, const struct key_def *k, const char *v, bool first,
		   struct err *e)
{
	char why[256];

	if (config_check_tee_name(v, why, sizeof(why)) < 0)
		return err_set(e, CVM_E_CONFIG, "%s", why);
	return set_string(c, k, v, first, e);
}

static int set_key_alg(struct config *c, const struct key_def *k, const char *v, bool first,
		       struct err *e)
{
	(void)k;
	(void)first;
	if (config_parse_key_alg(v, &c->key_alg) < 0)
		return err_set(e, CVM_E_CONFIG,
			       "unknown key algorithm '" VALUE_SHOWN "' (ec-p256, ec-p521, rsa-oaep-256)", v);
	return 0;
}

static int set_policy(struct config *c, const struct key_def *k, const char *v, bool first,
		      struct err *e)
{
	(void)k;
	(void)first;
	if (config_parse_failure_policy(v, &c->on_failure) < 0)
		return err_set(e, CVM_E_CONFIG,
			       "invalid value '" VALUE_SHOWN "' (emergency, poweroff or retry)", v);
	return 0;
}

static int set_break_glass(struct config *c, const struct key_def *k, const char *v, bool first,
			   struct err *e)
{
	(void)k;
	(void)first;
	if (config_parse_break_glass(v, &c->break_glass) < 0)
		return err_set(e, CVM_E_CONFIG, "invalid value '" VALUE_SHOWN "' (off or passphrase)", v);
	return 0;
}

/* Append to a list field; the first occurrence in a file replaces the list. */
static int append_item(char *base, size_t item_size, int max, int *n, const char *v, bool first,
		       struct err *e)
{
	if (first)
		*n = 0;
	if (*n >= max)
		return err_set(e, CVM_E_CONFIG, "too many values (at most %d)", max);
	if (copy_value(base + (size_t)*n * item_size, item_size, v, e))
		return e->code;
	(*n)++;
	return 0;
}

static int set_url(struct config *c, const struct key_def *k, const char *v, bool first,
		   struct err *e)
{
	bool is_http;

	(void)k;
	if (config_check_url(v, &is_http, e))
		return e->code;
	if (append_item(c->urls[0], sizeof(c->urls[0]), CFG_MAX_URLS, &c->n_urls, v, first, e))
		return e->code;
	config_trim_url(c->urls[c->n_urls - 1]);
	return 0;
}

static int set_http_url(struct config *c, const struct key_def *k, const char *v, bool first,
			struct err *e)
{
	bool is_http;

	if (config_check_url(v, &is_http, e))
		return e->code;
	return set_string(c, k, v, first, e);
}

static int set_image(struct config *c, const struct key_def *k, const char *v, bool first,
		     struct err *e)
{
	if (strpbrk(v, " \t"))
		return err_set(e, CVM_E_CONFIG, "image name '" VALUE_SHOWN "' contains a space", v);
	return set_string(c, k, v, first, e);
}

static int set_env(struct config *c, const struct key_def *k, const char *v, bool first,
		   struct err *e)
{
	const char *eq = strchr(v, '=');

	(void)k;
	if (!eq || eq == v || (v[0] >= '0' && v[0] <= '9'))
		return err_set(e, CVM_E_CONFIG, "'" VALUE_SHOWN "' is not NAME=VALUE", v);
	for (const char *p = v; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return err_set(e, CVM_E_CONFIG, "bad variable name in '" VALUE_SHOWN "'", v);
	return append_item(c->workload_env[0], sizeof(c->workload_env[0]), CFG_MAX_ENV,
			   &c->n_workload_env, v, first, e);
}

static bool is_port(const char *s, size_t len)
{
	unsigned long port = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* A KBS resource path (REPOSITORY/TYPE/TAG). */
static int set_resource_path(struct config *c, const struct key_def *k, const char *v, bool first,
			     struct err *e)
{
	if (config_check_resource_path(v) < 0)
		return err_set(e, CVM_E_CONFIG, "'" VALUE_SHOWN "' is not a KBS resource path "
			       "(REPOSITORY/TYPE/TAG)", v);
	return set_string(c, k, v, first, e);
}

/* [ADDRESS:]HOSTPORT:CONTAINERPORT[/tcp|/udp] */
static int set_publish(struct config *c, const struct key_def *k, const char *v, bool first,
		       struct err *e)
{
	const char *slash = strchr(v, '/'), *end = slash ? slash : v + strlen(v);
	const char *c2 = NULL, *c1 = NULL;

	(void)k;
	if (slash && strcmp(slash, "/tcp") && strcmp(slash, "/udp"))
		goto bad;
	for (const char *p = v; p < end; p++) {
		if (*p == ':') {
			c1 = c2;
			c2 = p;
		} else if (!strchr("0123456789abcdefABCDEF.[]", *p)) {
			goto bad;
		}
	}
	if (!c2 || !is_port(c2 + 1, (size_t)(end - c2 - 1)))
		goto bad;
	if (!is_port(c1 ? c1 + 1 : v, (size_t)(c2 - (c1 ? c1 + 1 : v))))
		goto bad;
	return append_item(c->workload_ports[0], sizeof(c->workload_ports[0]), CFG_MAX_PORTS,
			   &c->n_workload_ports, v, first, e);
bad:
	return err_set(e, CVM_E_CONFIG,
		       "'" VALUE_SHOWN "' is not [ADDRESS:]HOSTPORT:CONTAINERPORT[/tcp|/udp]", v);
}

/* Blank-separated ENCRYPTION:KEYBITS[:INTEGRITY] entries; never a null cipher. */
static int set_ciphers(struct config *c, const struct key_def *k, const char *v, bool first,
		       struct err *e)
{
	struct cipher_allow list = { 0 };
	char entry[CONFIG_LINE_MAX + 1];

	(void)k;
	(void)first;
	while (*(v += strspn(v, " \t"))) {
		size_t n = strcspn(v, " \t");
		const char *why;

		if (list.n == CIPHER_ALLOW_MAX)
			return err_set(e, CVM_E_CONFIG, "more than %d entries", CIPHER_ALLOW_MAX);
		snprintf(entry, sizeof(entry), "%.*s", (int)n, v);
		why = cipher_entry_parse(entry, &list.entries[list.n++]);
		if (why)
			return err_set(e, CVM_E_CONFIG, "'" VALUE_SHOWN "': %s", entry, why);
		v += n;
	}
	if (list.n == 0)
		return err_set(e, CVM_E_CONFIG, "empty list (name at least one cipher, e.g. "
			       "aes-xts-plain64:512)");
	c->luks_ciphers = list;
	return 0;
}

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define SECONDS(n) ((n) * 1000LL)

static const struct key_def key_defs[] = {
	{ "kbs", "url", set_url, 0, 0, 0, 0, true },
	{ "kbs", "ca_file", set_opt_path, FIELD(ca_file), 0, 0, false },
	{ "kbs", "insecure_http", set_bool, FIELD(insecure_http), 0, 0, false },
	{ "kbs", "connect_timeout", set_duration, FIELD(connect_timeout_ms), 1, SECONDS(600), false },
	{ "kbs", "request_timeout", set_duration, FIELD(request_timeout_ms), 1, SECONDS(3600), false },
	{ "kbs", "max_response_size", set_long, FIELD(max_response_bytes), 4096, 64LL << 20, false },
	{ "retry", "budget", set_duration, FIELD(retry_budget_ms), 0, SECONDS(86400), false },
	{ "retry", "backoff_base", set_duration, FIELD(backoff_base_ms), 1, SECONDS(3600), false },
	{ "retry", "backoff_cap", set_duration, FIELD(backoff_cap_ms), 1, SECONDS(3600), false },
	{ "tee", "type", set_tee, FIELD(tee), 0, 0, false },
	{ "tee", "key_algorithm", set_key_alg, 0, 0, 0, 0, false },
	{ "tee", "tpm_tcti", set_string, FIELD(tpm_tcti), 0, 0, false },
	{ "tee", "tpm_ak_handle", set_tpm_handle, 0, 0, 0, 0, false },
	{ "tee", "tpm_timeout", set_duration, FIELD(tpm_timeout_ms), 1, SECONDS(3600), false },
	{ "tee", "seal_pcr", set_long, FIELD(seal_pcr), -1, 23, false },
	{ "tee", "configfs_tsm_root", set_abs_path, FIELD(configfs_tsm_root), 0, 0, false },
	{ "tee", "ccel_path", set_abs_path, FIELD(ccel_path), 0, 0, false },
	{ "tee", "azure_imds_url", set_http_url, FIELD(azure_imds_url), 0, 0, false },
	{ "tee", "init_data", set_opt_path, FIELD(init_data), 0, 0, false },
	{ "tee", "init_data_ca", set_bool, FIELD(init_data_ca), 0, 0, false },
	{ "secrets", "run_dir", set_abs_path, FIELD(run_dir), 0, 0, false },
	{ "secrets", "dir", set_abs_path, FIELD(secrets_dir), 0, 0, false },
	{ "secrets", "allow_non_tmpfs", set_bool, FIELD(allow_non_tmpfs), 0, 0, false },
	{ "luks", "device_timeout", set_duration, FIELD(device_timeout_ms), 0, SECONDS(3600), false },
	{ "luks", "discover_tokens", set_bool, FIELD(discover_tokens), 0, 0, false },
	{ "luks", "no_activate", set_bool, FIELD(no_activate), 0, 0, false },
	{ "luks", "allowed_ciphers", set_ciphers, 0, 0, 0, 0, false },
	{ "boot", "on_failure", set_policy, 0, 0, 0, 0, false },
	{ "boot", "break_glass", set_break_glass, 0, 0, 0, 0, false },
	{ "boot", "break_glass_timeout", set_duration, FIELD(break_glass_timeout_ms), SECONDS(1),
	  SECONDS(86400), false },
	{ "workload", "image", set_image, FIELD(workload_image), 0, 0, false },
	{ "workload", "command", set_nonempty, FIELD(workload_command), 0, 0, false },
	{ "workload", "env", set_env, 0, 0, 0, 0, true },
	{ "workload", "publish", set_publish, 0, 0, 0, 0, true },
	{ "workload", "signing_key", set_resource_path, FIELD(workload_signing_key), 0, 0, false },
	{ "workload", "signature_lookaside", set_http_url, FIELD(workload_lookaside), 0, 0, false },
};
#define N_KEYS (sizeof(key_defs) / sizeof(key_defs[0]))

static const char *const fixed_sections[] = {
	"kbs", "retry", "tee", "secrets", "luks", "boot", "workload",
};
#define N_SECTIONS (sizeof(fixed_sections) / sizeof(fixed_sections[0]))

/* Keys of [resource.NAME]; the first two describe a file, the last two a LUKS key. */
enum { RK_PATH, RK_FILE, RK_MODE, RK_DEVICE, RK_MAPPER, RK_COUNT };
static const char *const resource_keys[RK_COUNT] = {
	"path", "file", "mode", "luks_device", "luks_name",
};

/* ------------------------------------------------------------------ */
/* INI parsing                                                        */

struct parse_ctx {
	struct config *c;
	const char *path;
	FILE *f;
	struct err *e;
	int line;                         /* the line being parsed */
	bool failed;                      /* e holds an error for line err_line */
	int err_line;
	int section_line[N_SECTIONS];     /* where each fixed section started */
	int key_line[N_KEYS];             /* where each key was first set */
	int res_line[CFG_MAX_RESOURCES];  /* [resource.NAME] header line, 0 = not from this file */
	int res_key_line[CFG_MAX_RESOURCES][RK_COUNT];
	char buf[CONFIG_LINE_MAX + 2];
	char section[CONFIG_SECTION_MAX + 1]; /* current section, "" before the first */
};

/* Record the first error at the current line: "FILE:LINE: [SECTION] KEY: message". */
static int fail_at(struct parse_ctx *ctx, int line, const char *section, const char *key)
{
	if (!ctx->failed) {
		if (section && key)
			err_wrap(ctx->e, "%s:%d: [%s] %.64s", ctx->path, line, section, key);
		else if (section)
			err_wrap(ctx->e, "%s:%d: [%s]", ctx->path, line, section);
		else
			err_wrap(ctx->e, "%s:%d", ctx->path, line);
		ctx->e->code = CVM_E_CONFIG;
		ctx->failed = true;
		ctx->err_line = line;
	}
	return 0;
}

static int section_index(const char *name)
{
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (!strcmp(name, fixed_sections[i]))
			return (int)i;
	return -1;
}

/* A "[name]" line: known section, not repeated, nothing but a comment after. */
static int check_section_header(struct parse_ctx *ctx, char *line)
{
	char *end = strchr(line, ']'), *rest;
	struct resource_cfg *r;
	int idx;

	if (!end) {
		err_set(ctx->e, CVM_E_CONFIG, "section header without ']'");
		return fail_at(ctx, ctx->line, NULL, NULL);
	}
	for (rest = end + 1; *rest == ' ' || *rest == '\t'; rest++)
		;
	if (*rest && *rest != ';' && *rest != '#') {
		err_set(ctx->e, CVM_E_CONFIG, "unexpected text after section header");
		return fail_at(ctx, ctx->line, NULL, NULL);
	}
	*end = '\0';
	line++;
	if (has_control_chars(line)) {
		err_set(ctx->e, CVM_E_CONFIG, "control character in section name");
		return fail_at(ctx, ctx->line, NULL, NULL);
	}
	if ((size_t)(end - line) > CONFIG_SECTION_MAX) {
		err_set(ctx->e, CVM_E_CONFIG, "section name too long (at most %d bytes)", CONFIG_SECTION_MAX);
		return fail_at(ctx, ctx->line, NULL, NULL);
	}
	idx = section_index(line);
	if (idx >= 0) {
		if (ctx->section_line[idx]) {
			err_set(ctx->e, CVM_E_CONFIG, "duplicate section (first at line %d)",
				ctx->section_line[idx]);
			return fail_at(ctx, ctx->line, line, NULL);
		}
		ctx->section_line[idx] = ctx->line;
		return 1;
	}
	if (strncmp(line, RESOURCE_PREFIX, RESOURCE_PREFIX_LEN)) {
		err_set(ctx->e, CVM_E_CONFIG, "unknown section");
		return fail_at(ctx, ctx->line, line, NULL);
	}
	if (config_find_resource(ctx->c, line + RESOURCE_PREFIX_LEN)) {
		err_set(ctx->e, CVM_E_CONFIG, "duplicate resource");
		return fail_at(ctx, ctx->line, line, NULL);
	}
	r = config_add_resource(ctx->c, line + RESOURCE_PREFIX_LEN, ctx->e);
	if (!r)
		return fail_at(ctx, ctx->line, line, NULL);
	r->file[0] = '\0'; /* in the file, 'file' must be given */
	ctx->res_line[r - ctx->c->resources] = ctx->line;
	return 1;
}

/* Read one physical line into buf (without the newline); 0 at end of file. */
static int read_physical_line(struct parse_ctx *ctx, size_t limit)
{
	size_t len = 0;
	int ch = EOF;

	while ((ch = getc(ctx->f)) != EOF && ch != '\n') {
		if (ch == '\0') {
			err_set(ctx->e, CVM_E_CONFIG, "NUL byte in line");
			return fail_at(ctx, ctx->line + 1, NULL, NULL), -1;
		}
		if (len >= limit) {
			err_set(ctx->e, CVM_E_CONFIG, "line too long (at most %zu bytes)", limit);
			return fail_at(ctx, ctx->line + 1, NULL, NULL), -1;
		}
		ctx->buf[len++] = (char)ch;
	}
	if (ferror(ctx->f)) {
		err_set(ctx->e, CVM_E_CONFIG, "read error: %s", strerror(errno));
		return fail_at(ctx, ctx->line + 1, NULL, NULL), -1;
	}
	if (ch == EOF && len == 0)
		return 0;
	ctx->buf[len] = '\0';
	if (len && ctx->buf[len - 1] == '\r')
		ctx->buf[len - 1] = '\0';
	ctx->line++;
	return 1;
}

static void trim_right(char *s)
{
	size_t len = strlen(s);

	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
}

static int handle_key(struct parse_ctx *ctx, const char *section, const char *key,
		      const char *value);

/* "key = value": split at the first '=', trim both sides, and end the value
 * at a ';' that follows a blank (an inline comment). */
static int parse_key_line(struct parse_ctx *ctx, char *line)
{
	char *eq = strchr(line, '='), *value;

	if (!eq) {
		err_set(ctx->e, CVM_E_CONFIG, "syntax error (expected '[section]' or 'key = value')");
		return fail_at(ctx, ctx->line, NULL, NULL);
	}
	*eq = '\0';
	trim_right(line);
	value = eq + 1 + strspn(eq + 1, " \t");
	for (char *p = value; *p; p++) {
		if (*p == ';' && p > value && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	trim_right(value);
	return handle_key(ctx, ctx->section, line, value);
}

/* One physical line: blank, comment, section header or key. Leading blanks
 * are dropped (indentation means nothing). Returns 1 to go on, 0 at the end
 * of the file or on an error (ctx->failed says which). */
static int parse_line(struct parse_ctx *ctx)
{
	char *line;

	if (read_physical_line(ctx, CONFIG_LINE_MAX) <= 0)
		return 0;
	line = ctx->buf;
	if (ctx->line == 1 && !strncmp(line, "\xEF\xBB\xBF", 3))
		line += 3;
	line += strspn(line, " \t");
	if (!*line || *line == ';' || *line == '#')
		return 1;
	if (*line == '[') {
		if (!check_section_header(ctx, line))
			return 0;
		/* check_section_header cut the line at ']' and bounded the name. */
		snprintf(ctx->section, sizeof(ctx->section), "%s", line + 1);
		return 1;
	}
	return parse_key_line(ctx, line);
}

static const struct key_def *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (!strcmp(key_defs[i].section, section) && !strcmp(key_defs[i].key, key))
			return &key_defs[i];
	return NULL;
}

static int handle_fixed_key(struct parse_ctx *ctx, const char *section, const char *key,
			    const char *value)
{
	const struct key_def *k = find_key(section, key);
	int *first_line;

	if (!k) {
		err_set(ctx->e, CVM_E_CONFIG, "unknown key");
		return fail_at(ctx, ctx->line, section, key);
	}
	first_line = &ctx->key_line[k - key_defs];
	if (*first_line && !k->repeatable) {
		err_set(ctx->e, CVM_E_CONFIG, "duplicate key (first at line %d)", *first_line);
		return fail_at(ctx, ctx->line, section, key);
	}
	if (k->set(ctx->c, k, value, *first_line == 0, ctx->e))
		return fail_at(ctx, ctx->line, section, key);
	if (!*first_line)
		*first_line = ctx->line;
	return 1;
}

static int set_resource_value(struct resource_cfg *r, int rk, const char *v, struct err *e)
{
	switch (rk) {
	case RK_PATH:
		if (config_check_resource_path(v) < 0)
			return err_set(e, CVM_E_CONFIG, "bad resource path '" VALUE_SHOWN
				       "' (REPOSITORY/TYPE/TAG, each of A-Z a-z 0-9 . _ -)", v);
		return copy_value(r->path, sizeof(r->path), v, e);
	case RK_FILE:
		if (!name_valid(v))
			return err_set(e, CVM_E_CONFIG, "bad file name '" VALUE_SHOWN
				       "' (a plain name of A-Z a-z 0-9 . _ -, no '/')", v);
		r->kind = RESOURCE_FILE;
		return copy_value(r->file, sizeof(r->file), v, e);
	case RK_MODE:
		if (parse_mode(v, &r->mode) < 0)
			return err_set(e, CVM_E_CONFIG, "invalid mode '" VALUE_SHOWN "' (octal, at most 0777)", v);
		return 0;
	case RK_DEVICE:
		if (v[0] != '/' && strncmp(v, "UUID=", 5))
			return err_set(e, CVM_E_CONFIG,
				       "bad device '" VALUE_SHOWN "' (an absolute path or UUID=...)", v);
		if (!strncmp(v, "UUID=", 5) && !uuid_valid(v + 5))
			return err_set(e, CVM_E_CONFIG, "bad UUID in '" VALUE_SHOWN "' (8-4-4-4-12 "
				       "lowercase hex digits, as cryptsetup luksUUID prints it)", v);
		r->kind = RESOURCE_LUKS;
		return copy_value(r->device, sizeof(r->device), v, e);
	case RK_MAPPER:
		if (!mapper_name_valid(v))
			return err_set(e, CVM_E_CONFIG, "bad mapper name '" VALUE_SHOWN "'", v);
		r->kind = RESOURCE_LUKS;
		return copy_value(r->mapper, sizeof(r->mapper), v, e);
	}
	return err_set(e, CVM_E_INTERNAL, "bad resource key");
}

static int handle_resource_key(struct parse_ctx *ctx, const char *section, const char *key,
			       const char *value)
{
	struct resource_cfg *r = config_find_resource(ctx->c, section + RESOURCE_PREFIX_LEN);
	int *lines, rk;

	for (rk = 0; rk < RK_COUNT && strcmp(key, resource_keys[rk]); rk++)
		;
	if (!r || rk == RK_COUNT) {
		err_set(ctx->e, CVM_E_CONFIG, "unknown key");
		return fail_at(ctx, ctx->line, section, key);
	}
	lines = ctx->res_key_line[r - ctx->c->resources];
	if (lines[rk]) {
		err_set(ctx->e, CVM_E_CONFIG, "duplicate key (first at line %d)", lines[rk]);
		return fail_at(ctx, ctx->line, section, key);
	}
	/* file/mode describe a file resource, luks_device/luks_name a LUKS key. */
	for (int other = RK_FILE; other < RK_COUNT; other++) {
		if (rk == RK_PATH || !lines[other] || (rk < RK_DEVICE) == (other < RK_DEVICE))
			continue;
		err_set(ctx->e, CVM_E_CONFIG,
			"conflicts with '%s' (line %d): a resource is a file or a LUKS key, not both",
			resource_keys[other], lines[other]);
		return fail_at(ctx, ctx->line, section, key);
	}
	if (set_resource_value(r, rk, value, ctx->e))
		return fail_at(ctx, ctx->line, section, key);
	lines[rk] = ctx->line;
	return 1;
}

/* One "key = value" of a section; 1 if accepted, 0 on an error. */
static int handle_key(struct parse_ctx *ctx, const char *section, const char *key,
		      const char *value)
{
	if (!*section) {
		err_set(ctx->e, CVM_E_CONFIG, "key '" VALUE_SHOWN "' outside of any section", key);
		return fail_at(ctx, ctx->line, NULL, NULL);
	}
	if (!*key) {
		err_set(ctx->e, CVM_E_CONFIG, "missing key name before '='");
		return fail_at(ctx, ctx->line, section, NULL);
	}
	if (has_control_chars(key)) {
		err_set(ctx->e, CVM_E_CONFIG, "control character in key name");
		return fail_at(ctx, ctx->line, section, NULL);
	}
	if (has_control_chars(value)) {
		err_set(ctx->e, CVM_E_CONFIG, "control character in value");
		return fail_at(ctx, ctx->line, section, key);
	}
	if (!strncmp(section, RESOURCE_PREFIX, RESOURCE_PREFIX_LEN))
		return handle_resource_key(ctx, section, key, value);
	return handle_fixed_key(ctx, section, key, value);
}

/* After the whole file: each of its resources has a path and a kind. */
static int finish_resources(struct parse_ctx *ctx)
{
	char section[RESOURCE_PREFIX_LEN + CFG_NAME_MAX];

	for (int i = 0; i < ctx->c->n_resources; i++) {
		struct resource_cfg *r = &ctx->c->resources[i];
		const int *lines = ctx->res_key_line[i];

		if (!ctx->res_line[i])
			continue;
		snprintf(section, sizeof(section), RESOURCE_PREFIX "%s", r->name);
		if (!lines[RK_PATH])
			err_set(ctx->e, CVM_E_CONFIG, "missing 'path = REPOSITORY/TYPE/TAG'");
		else if (r->kind == RESOURCE_LUKS && !lines[RK_DEVICE])
			err_set(ctx->e, CVM_E_CONFIG, "'luks_name' needs 'luks_device'");
		else if (r->kind == RESOURCE_FILE && !lines[RK_FILE])
			err_set(ctx->e, CVM_E_CONFIG,
				"needs 'file = NAME' (a file resource) or 'luks_device = DEVICE' (a LUKS2 key)");
		else
			continue;
		fail_at(ctx, ctx->res_line[i], section, NULL);
		return ctx->e->code;
	}
	for (int i = 0; i < ctx->c->n_resources; i++) {
		struct resource_cfg *r = &ctx->c->resources[i];

		if (ctx->res_line[i] && r->kind == RESOURCE_LUKS && !r->mapper[0])
			strcpy(r->mapper, r->name);
	}
	return 0;
}

static int parse_stream(struct parse_ctx *ctx)
{
	while (parse_line(ctx))
		;
	if (ctx->failed)
		return ctx->e->code;
	return finish_resources(ctx);
}

int config_load_file(struct config *c, const char *path, bool must_exist, struct err *e)
{
	struct parse_ctx *ctx;
	struct stat st;
	FILE *f;
	int rc;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return err_set(e, CVM_E_CONFIG, "%s: cannot open: %s", path, strerror(errno));
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		fclose(f);
		return err_set(e, CVM_E_CONFIG, "%s: not a regular file of at most %d bytes", path,
			       CONFIG_FILE_MAX);
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		fclose(f);
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	}
	ctx->c = c;
	ctx->path = path;
	ctx->f = f;
	ctx->e = e;
	e->msg[0] = '\0';
	rc = parse_stream(ctx);
	free(ctx);
	fclose(f);
	return rc;
}

