/* cvmboot configuration model: documented defaults, the value syntaxes
 * shared by the file and the kernel command line, resources, and the
 * cross-field checks. The file itself is read in config_file.c. */
#include "config.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#include "image_policy.h"
#include "resource_path.h"
#include "tee_names.h"

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
	c->tpm_timeout_ms = 30000;
	c->seal_pcr = 15;
	strcpy(c->configfs_tsm_root, "/sys/kernel/config/tsm/report");
	strcpy(c->azure_imds_url, "http://169.254.169.254");
	strcpy(c->ccel_path, "/sys/firmware/acpi/tables/data/CCEL");
	strcpy(c->run_dir, "/run/cvmboot");
	strcpy(c->secrets_dir, "/run/cvmboot/secrets");
	c->device_timeout_ms = 30000;
	c->discover_tokens = true;
	cipher_allow_default(&c->luks_ciphers);
	c->enabled = true;
	c->on_failure = FAILURE_EMERGENCY;
	c->break_glass = BREAK_GLASS_OFF;
	c->break_glass_timeout_ms = BREAK_GLASS_TIMEOUT_DEFAULT_MS;
}

/* ------------------------------------------------------------------ */
/* Value parsers shared with the command line parser                  */

int config_check_resource_path(const char *s)
{
	return resource_path_valid(s) ? 0 : -1;
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

int config_parse_break_glass(const char *s, enum break_glass_mode *out)
{
	if (!strcmp(s, "off"))
		*out = BREAK_GLASS_OFF;
	else if (!strcmp(s, "passphrase"))
		*out = BREAK_GLASS_PASSPHRASE;
	else
		return -1;
	return 0;
}

/* "auto" or a backend in the TEE registry: one list, no copy to keep in
 * step; why says what is wrong (unknown, or not built into this binary). */
int config_check_tee_name(const char *s, char *why, size_t why_len)
{
	return tee_check_name(s, why, why_len);
}

/* The one URL rule (url_check), as a configuration error. */
int config_check_url(const char *url, bool *is_http, struct err *e)
{
	const char *why = url_check(url, is_http);

	if (why)
		return err_set(e, CVM_E_CONFIG, "URL '" VALUE_SHOWN "': %s", url, why);
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

	if (!name_valid(name)) {
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
/* Cross-field checks                                                 */

int config_check_kbs_url(const struct config *c, int n, const char *url, struct err *e)
{
	bool is_http;

	if (config_check_url(url, &is_http, e))
		return err_wrap(e, "kbs url %d", n);
	if (is_http && !c->insecure_http)
		return err_set(e, CVM_E_CONFIG,
			       "kbs url %d '" VALUE_SHOWN "': http:// needs insecure_http = true in [kbs]",
			       n, url);
	return 0;
}

static int validate_kbs(const struct config *c, struct err *e)
{
	for (int i = 0; i < c->n_urls; i++)
		if (config_check_kbs_url(c, i + 1, c->urls[i], e))
			return e->code;
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
	char why[256];

	if (config_check_tee_name(c->tee, why, sizeof(why)) < 0)
		return err_set(e, CVM_E_CONFIG, "%s", why);
	if (c->seal_pcr < -1 || c->seal_pcr > 23)
		return err_set(e, CVM_E_CONFIG, "seal_pcr must be -1 to 23");
	if (c->run_dir[0] != '/' || c->secrets_dir[0] != '/')
		return err_set(e, CVM_E_CONFIG, "run_dir and secrets dir must be absolute paths");
	return 0;
}

/* Break-glass asks at the console after the KBS failed: a poweroff policy
 * means nobody is meant to be there, and without a register to extend the
 * recovery would leave no trace in later attestations. */
static int validate_break_glass(const struct config *c, struct err *e)
{
	if (c->break_glass == BREAK_GLASS_OFF)
		return 0;
	if (c->on_failure == FAILURE_POWEROFF)
		return err_set(e, CVM_E_CONFIG, "[boot] break_glass = passphrase cannot go with "
			       "[boot] on_failure = poweroff (or rd.cvmboot.on_failure=poweroff): a "
			       "console recovery needs a console; set break_glass = off or another "
			       "on_failure");
	if (c->seal_pcr < 0)
		return err_set(e, CVM_E_CONFIG, "[boot] break_glass = passphrase needs a register "
			       "to record the recovery in: [tee] seal_pcr = -1 turns that off");
	if (c->break_glass_timeout_ms < 1000 || c->break_glass_timeout_ms > BREAK_GLASS_TIMEOUT_MAX_MS)
		return err_set(e, CVM_E_CONFIG, "[boot] break_glass_timeout must be 1s to 24h");
	return 0;
}

static int validate_resource(const struct config *c, int i, struct err *e)
{
	const struct resource_cfg *r = &c->resources[i];

	if (!name_valid(r->name))
		return err_set(e, CVM_E_CONFIG, "bad resource name '%s'", r->name);
	if (config_check_resource_path(r->path) < 0)
		return err_set(e, CVM_E_CONFIG, "resource '%s': bad or missing path '%s'", r->name, r->path);
	if (r->kind == RESOURCE_FILE) {
		if (!name_valid(r->file))
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
	if (!mapper_name_valid(r->mapper))
		return err_set(e, CVM_E_CONFIG, "resource '%s': bad mapper name '%s'", r->name, r->mapper);
	for (int j = 0; j < i; j++)
		if (c->resources[j].kind == RESOURCE_LUKS && !strcmp(c->resources[j].mapper, r->mapper))
			return err_set(e, CVM_E_CONFIG, "resources '%s' and '%s' both use mapper name '%s'",
				       c->resources[j].name, r->name, r->mapper);
	return 0;
}

/* The signed-image gate needs an image a policy can scope. */
static int validate_workload(const struct config *c, struct err *e)
{
	char why[256];

	if (!c->workload_signing_key[0]) {
		if (c->workload_lookaside[0])
			return err_set(e, CVM_E_CONFIG, "[workload] signature_lookaside is set but "
				       "signing_key is not");
		return 0;
	}
	if (config_check_resource_path(c->workload_signing_key) < 0)
		return err_set(e, CVM_E_CONFIG, "[workload] signing_key: bad KBS resource path '%.80s'",
			       c->workload_signing_key);
	if (image_policy_check_ref(c->workload_image, why, sizeof(why)) < 0)
		return err_set(e, CVM_E_CONFIG, "[workload] signing_key: %s", why);
	return 0;
}

int config_validate(const struct config *c, struct err *e)
{
	if (c->n_urls < 0 || c->n_urls > CFG_MAX_URLS || c->n_resources < 0 ||
	    c->n_resources > CFG_MAX_RESOURCES)
		return err_set(e, CVM_E_INTERNAL, "configuration counts out of range");
	if (validate_kbs(c, e) || validate_dirs(c, e) || validate_break_glass(c, e) ||
	    validate_workload(c, e))
		return e->code;
	for (int i = 0; i < c->n_resources; i++)
		if (validate_resource(c, i, e))
			return e->code;
	return 0;
}
