/* cvmboot configuration: documented defaults, the INI file (read with libinih;
 * every section, key and value is checked) and the cross-field checks. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define CONFIG_LINE_MAX 1024       /* longest accepted line, newline excluded */
#define CONFIG_FILE_MAX (256 * 1024)
#define CONFIG_SECTION_MAX 49      /* inih keeps at most 49 bytes of a section name */
#define RESOURCE_PREFIX "resource."
#define RESOURCE_PREFIX_LEN (sizeof(RESOURCE_PREFIX) - 1)
#define VALUE_SHOWN "%.80s"        /* how much of a bad value an error message repeats */

/* ------------------------------------------------------------------ */
/* Defaults                                                           */

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->connect_timeout_ms = 5000;
	c->request_timeout_ms = 15000;
	c->max_response_bytes = 1024 * 1024;
	c->retry_budget_ms = 120000;
	c->backoff_base_ms = 500;
	c->backoff_cap_ms = 10000;
	strcpy(c->tee, "auto");
	c->key_alg = KEY_EC_P256;
	c->tpm_ak_handle = 0x81010002;
	c->seal_pcr = 15;
	strcpy(c->configfs_tsm_root, "/sys/kernel/config/tsm/report");
	strcpy(c->azure_imds_url, "http://169.254.169.254");
	strcpy(c->ccel_path, "/sys/firmware/acpi/tables/data/CCEL");
	strcpy(c->run_dir, "/run/cvmboot");
	strcpy(c->secrets_dir, "/run/cvmboot/secrets");
	c->device_timeout_ms = 30000;
	c->discover_tokens = true;
	c->enabled = true;
	c->on_failure = FAILURE_EMERGENCY;
}

/* ------------------------------------------------------------------ */
/* Value parsers shared with the command line parser                  */

static bool has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

int config_check_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max || !strcmp(s, ".") || !strcmp(s, ".."))
		return -1;
	for (; *s; s++)
		if (!is_name_char(*s))
			return -1;
	return 0;
}

int config_check_resource_path(const char *s)
{
	char seg[CFG_PATH_MAX];
	const char *p = s;
	int n_segs = 0;

	if (strlen(s) >= CFG_PATH_MAX)
		return -1;
	for (;;) {
		size_t len = strcspn(p, "/");

		if (len == 0 || len >= sizeof(seg))
			return -1;
		memcpy(seg, p, len);
		seg[len] = '\0';
		if (config_check_name(seg, sizeof(seg)) < 0)
			return -1;
		n_segs++;
		if (!p[len])
			break;
		p += len + 1;
	}
	return n_segs == 3 ? 0 : -1;
}

int config_parse_duration_ms(const char *s, long *out)
{
	unsigned long long n = 0, mult;
	int digits = 0;

	if (!s)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++digits > 12)
			return -1;
		n = n * 10 + (unsigned)(*s - '0');
	}
	if (!digits)
		return -1;
	if (!*s || !strcmp(s, "s"))
		mult = 1000;
	else if (!strcmp(s, "ms"))
		mult = 1;
	else if (!strcmp(s, "m"))
		mult = 60 * 1000;
	else if (!strcmp(s, "h"))
		mult = 3600 * 1000;
	else
		return -1;
	if (n > (unsigned long long)LONG_MAX / mult)
		return -1;
	*out = (long)(n * mult);
	return 0;
}

int config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "1" };
	static const char *const no[] = { "false", "no", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	}
	return -1;
}

static const char *const key_alg_names[] = {
	[KEY_EC_P256] = "ec-p256",
	[KEY_EC_P521] = "ec-p521",
	[KEY_RSA_OAEP_256] = "rsa-oaep-256",
};

int config_parse_key_alg(const char *s, enum key_alg *out)
{
	for (size_t i = 0; i < sizeof(key_alg_names) / sizeof(key_alg_names[0]); i++)
		if (!strcmp(s, key_alg_names[i]))
			return *out = (enum key_alg)i, 0;
	return -1;
}

const char *config_key_alg_name(enum key_alg a)
{
	if ((size_t)a < sizeof(key_alg_names) / sizeof(key_alg_names[0]))
		return key_alg_names[a];
	return "unknown";
}

int config_parse_failure_policy(const char *s, enum failure_policy *out)
{
	if (!strcmp(s, "emergency"))
		*out = FAILURE_EMERGENCY;
	else if (!strcmp(s, "poweroff"))
		*out = FAILURE_POWEROFF;
	else if (!strcmp(s, "retry"))
		*out = FAILURE_RETRY;
	else
		return -1;
	return 0;
}

/* The TEE names of tee/registry.c, plus "auto". */
int config_check_tee_name(const char *s)
{
	static const char *const names[] = {
		"auto", "sample", "snp", "tdx", "tpm", "az-snp-vtpm", "az-tdx-vtpm",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return 0;
	return -1;
}

static int digit_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return 99;
}

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
		unsigned d = (unsigned)digit_value(*s);

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

/* http(s)://host[:port][/path] with no credentials, query, fragment or spaces. */
int config_check_url(const char *url, bool *is_http, struct err *e)
{
	const char *p, *host_end, *auth_end;
	size_t host_len;

	if (!strncmp(url, "https://", 8)) {
		p = url + 8;
		*is_http = false;
	} else if (!strncmp(url, "http://", 7)) {
		p = url + 7;
		*is_http = true;
	} else {
		return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "' must start with https:// or http://", url);
	}
	for (const char *q = url; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "' contains a space or control character", url);
	if (strpbrk(url, "?#"))
		return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "' must not have a query or fragment", url);
	auth_end = p + strcspn(p, "/");
	if (memchr(p, '@', (size_t)(auth_end - p)))
		return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "' must not contain credentials", url);
	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(auth_end - p));
		if (!host_end || host_end == p + 1)
			return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "': bad IPv6 address", url);
		for (const char *q = p + 1; q < host_end; q++)
			if (!strchr("0123456789abcdefABCDEF:.", *q))
				return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "': bad IPv6 address", url);
		host_end++;
	} else {
		host_end = p + strcspn(p, ":/");
		host_len = (size_t)(host_end - p);
		if (host_len == 0)
			return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "' has no host", url);
		for (const char *q = p; q < host_end; q++)
			if (!is_name_char(*q) || *q == '_')
				return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "': bad host name", url);
	}
	if (host_end < auth_end) {
		unsigned long port = 0;
		const char *q = host_end + 1;

		if (*host_end != ':' || q == auth_end || auth_end - q > 5)
			return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "': bad port", url);
		for (; q < auth_end; q++) {
			if (*q < '0' || *q > '9')
				return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "': bad port", url);
			port = port * 10 + (unsigned long)(*q - '0');
		}
		if (port == 0 || port > 65535)
			return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "': bad port", url);
	}
	return 0;
}

/* "https://kbs/" and "https://kbs" are the same base URL: paths are appended. */
void config_trim_url(char *url)
{
	size_t len = strlen(url);
	const char *host = strstr(url, "://");
	size_t min = host ? (size_t)(host - url) + 3 : 0;

	while (len > min && url[len - 1] == '/')
		url[--len] = '\0';
}

/* ------------------------------------------------------------------ */
/* Resources                                                          */

struct resource_cfg *config_find_resource(struct config *c, const char *name)
{
	for (int i = 0; i < c->n_resources; i++)
		if (!strcmp(c->resources[i].name, name))
			return &c->resources[i];
	return NULL;
}

/* A new, empty resource entry (no file, mode 0400). */
static struct resource_cfg *new_resource(struct config *c, const char *name, struct err *e)
{
	struct resource_cfg *r;

	if (config_check_name(name, CFG_NAME_MAX) < 0) {
		err_set(e, CVM_E_CONFIG,
			"bad resource name '" VALUE_SHOWN "' (use A-Z a-z 0-9 . _ -, at most %d bytes)",
			name, CFG_NAME_MAX - 1);
		return NULL;
	}
	if (c->n_resources >= CFG_MAX_RESOURCES) {
		err_set(e, CVM_E_CONFIG, "too many resources (at most %d)", CFG_MAX_RESOURCES);
		return NULL;
	}
	r = &c->resources[c->n_resources++];
	memset(r, 0, sizeof(*r));
	strcpy(r->name, name);
	r->kind = RESOURCE_FILE;
	r->mode = 0400;
	return r;
}

struct resource_cfg *config_add_resource(struct config *c, const char *name, struct err *e)
{
	struct resource_cfg *r = config_find_resource(c, name);

	if (r)
		return r;
	r = new_resource(c, name, e);
	if (r)
		strcpy(r->file, r->name);
	return r;
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
	if (config_check_tee_name(v) < 0)
		return err_set(e, CVM_E_CONFIG, "unknown TEE '" VALUE_SHOWN
			       "' (auto, sample, snp, tdx, tpm, az-snp-vtpm, az-tdx-vtpm)", v);
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
		if (!is_name_char(*p) || *p == '.' || *p == '-')
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
	{ "tee", "seal_pcr", set_long, FIELD(seal_pcr), -1, 23, false },
	{ "tee", "configfs_tsm_root", set_abs_path, FIELD(configfs_tsm_root), 0, 0, false },
	{ "tee", "ccel_path", set_abs_path, FIELD(ccel_path), 0, 0, false },
	{ "tee", "azure_imds_url", set_http_url, FIELD(azure_imds_url), 0, 0, false },
	{ "secrets", "run_dir", set_abs_path, FIELD(run_dir), 0, 0, false },
	{ "secrets", "dir", set_abs_path, FIELD(secrets_dir), 0, 0, false },
	{ "secrets", "allow_non_tmpfs", set_bool, FIELD(allow_non_tmpfs), 0, 0, false },
	{ "luks", "device_timeout", set_duration, FIELD(device_timeout_ms), 0, SECONDS(3600), false },
	{ "luks", "discover_tokens", set_bool, FIELD(discover_tokens), 0, 0, false },
	{ "luks", "no_activate", set_bool, FIELD(no_activate), 0, 0, false },
	{ "boot", "on_failure", set_policy, 0, 0, 0, 0, false },
	{ "workload", "image", set_image, FIELD(workload_image), 0, 0, false },
	{ "workload", "command", set_nonempty, FIELD(workload_command), 0, 0, false },
	{ "workload", "env", set_env, 0, 0, 0, 0, true },
	{ "workload", "publish", set_publish, 0, 0, 0, 0, true },
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
	int line;                         /* the line inih is working on */
	bool failed;                      /* e holds an error for line err_line */
	int err_line;
	int section_line[N_SECTIONS];     /* where each fixed section started */
	int key_line[N_KEYS];             /* where each key was first set */
	int res_line[CFG_MAX_RESOURCES];  /* [resource.NAME] header line, 0 = not from this file */
	int res_key_line[CFG_MAX_RESOURCES][RK_COUNT];
	char buf[CONFIG_LINE_MAX + 2];
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
	r = new_resource(ctx->c, line + RESOURCE_PREFIX_LEN, ctx->e);
	if (!r)
		return fail_at(ctx, ctx->line, line, NULL);
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

/* inih reader: one physical line per call, checked for length, with leading
 * blanks removed (so an indented line is never taken as a continuation).
 * Comments may be as long as CONFIG_LINE_MAX; other lines must fit inih's
 * buffer (num - 3 bytes), else they would be cut. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	size_t limit = (size_t)num - 3;
	char *line;

	if (ctx->failed || num < 4)
		return NULL;
	if (read_physical_line(ctx, CONFIG_LINE_MAX) <= 0)
		return NULL;
	line = ctx->buf;
	if (ctx->line == 1 && !strncmp(line, "\xEF\xBB\xBF", 3))
		line += 3;
	line += strspn(line, " \t");
	if (*line == ';' || *line == '#')
		return strcpy(str, ";");
	if (strlen(line) > limit) {
		err_set(ctx->e, CVM_E_CONFIG, "line too long (at most %zu bytes)", limit);
		fail_at(ctx, ctx->line, NULL, NULL);
		return NULL;
	}
	if (*line == '[' && !check_section_header(ctx, strcpy(str, line)))
		return NULL;
	return strcpy(str, line);
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
		if (config_check_name(v, sizeof(r->file)) < 0)
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
		if (!strncmp(v, "UUID=", 5) && (!v[5] || strspn(v + 5, "0123456789abcdefABCDEF-") != strlen(v + 5)))
			return err_set(e, CVM_E_CONFIG, "bad UUID in '" VALUE_SHOWN "'", v);
		r->kind = RESOURCE_LUKS;
		return copy_value(r->device, sizeof(r->device), v, e);
	case RK_MAPPER:
		if (config_check_name(v, sizeof(r->mapper)) < 0 || !strcmp(v, "control"))
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

/* inih handler: one "key = value" of a section. */
static int handle_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *ctx = user;

	if (ctx->failed)
		return 0;
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
	int rc = ini_parse_stream(read_line, ctx, handle_key, ctx);

	if (rc > 0 && (!ctx->failed || rc < ctx->err_line)) {
		ctx->failed = false;
		err_set(ctx->e, CVM_E_CONFIG, "syntax error (expected '[section]' or 'key = value')");
		fail_at(ctx, rc, NULL, NULL);
		return ctx->e->code;
	}
	if (ctx->failed)
		return ctx->e->code;
	if (rc == -2)
		return err_set(ctx->e, CVM_E_INTERNAL, "%s: out of memory", ctx->path);
	if (rc != 0)
		return err_set(ctx->e, CVM_E_CONFIG, "%s: cannot parse", ctx->path);
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

/* ------------------------------------------------------------------ */
/* Cross-field checks                                                 */

static int validate_kbs(const struct config *c, struct err *e)
{
	bool is_http;

	for (int i = 0; i < c->n_urls; i++) {
		if (config_check_url(c->urls[i], &is_http, e))
			return err_wrap(e, "kbs url %d", i + 1);
		if (is_http && !c->insecure_http)
			return err_set(e, CVM_E_CONFIG,
				       "kbs url %d '" VALUE_SHOWN "': http:// needs insecure_http = true in [kbs]",
				       i + 1, c->urls[i]);
	}
	if (c->ca_file[0] && c->ca_file[0] != '/')
		return err_set(e, CVM_E_CONFIG, "ca_file must be an absolute path");
	if (c->connect_timeout_ms <= 0 || c->request_timeout_ms <= 0)
		return err_set(e, CVM_E_CONFIG, "timeouts must be positive");
	if (c->max_response_bytes < 4096)
		return err_set(e, CVM_E_CONFIG, "max_response_size must be at least 4096");
	if (c->retry_budget_ms < 0 || c->backoff_base_ms <= 0 || c->backoff_cap_ms < c->backoff_base_ms)
		return err_set(e, CVM_E_CONFIG,
			       "[retry] needs budget >= 0, backoff_base > 0 and backoff_cap >= backoff_base");
	return 0;
}

static int validate_dirs(const struct config *c, struct err *e)
{
	if (config_check_tee_name(c->tee) < 0)
		return err_set(e, CVM_E_CONFIG, "unknown TEE '%s'", c->tee);
	if (c->seal_pcr < -1 || c->seal_pcr > 23)
		return err_set(e, CVM_E_CONFIG, "seal_pcr must be -1 to 23");
	if (c->run_dir[0] != '/' || c->secrets_dir[0] != '/')
		return err_set(e, CVM_E_CONFIG, "run_dir and secrets dir must be absolute paths");
	return 0;
}

static int validate_resource(const struct config *c, int i, struct err *e)
{
	const struct resource_cfg *r = &c->resources[i];

	if (config_check_name(r->name, sizeof(r->name)) < 0)
		return err_set(e, CVM_E_CONFIG, "bad resource name '%s'", r->name);
	if (config_check_resource_path(r->path) < 0)
		return err_set(e, CVM_E_CONFIG, "resource '%s': bad or missing path '%s'", r->name, r->path);
	if (r->kind == RESOURCE_FILE) {
		if (config_check_name(r->file, sizeof(r->file)) < 0)
			return err_set(e, CVM_E_CONFIG, "resource '%s': bad or missing file name", r->name);
		if (r->mode & ~(mode_t)0777)
			return err_set(e, CVM_E_CONFIG, "resource '%s': bad mode", r->name);
		for (int j = 0; j < i; j++)
			if (c->resources[j].kind == RESOURCE_FILE && !strcmp(c->resources[j].file, r->file))
				return err_set(e, CVM_E_CONFIG, "resources '%s' and '%s' both write file '%s'",
					       c->resources[j].name, r->name, r->file);
		return 0;
	}
	if (r->kind != RESOURCE_LUKS || !r->device[0])
		return err_set(e, CVM_E_CONFIG, "resource '%s': missing luks_device", r->name);
	if (config_check_name(r->mapper, sizeof(r->mapper)) < 0 || !strcmp(r->mapper, "control"))
		return err_set(e, CVM_E_CONFIG, "resource '%s': bad mapper name '%s'", r->name, r->mapper);
	for (int j = 0; j < i; j++)
		if (c->resources[j].kind == RESOURCE_LUKS && !strcmp(c->resources[j].mapper, r->mapper))
			return err_set(e, CVM_E_CONFIG, "resources '%s' and '%s' both use mapper name '%s'",
				       c->resources[j].name, r->name, r->mapper);
	return 0;
}

int config_validate(const struct config *c, struct err *e)
{
	if (c->n_urls < 0 || c->n_urls > CFG_MAX_URLS || c->n_resources < 0 ||
	    c->n_resources > CFG_MAX_RESOURCES)
		return err_set(e, CVM_E_INTERNAL, "configuration counts out of range");
	if (validate_kbs(c, e) || validate_dirs(c, e))
		return e->code;
	for (int i = 0; i < c->n_resources; i++)
		if (validate_resource(c, i, e))
			return e->code;
	return 0;
}
