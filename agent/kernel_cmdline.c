/* rd.cvmboot* options of the kernel command line (split with the kernel's
 * quoting rules); they override the file. Weakening options are refused. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define CMDLINE_MAX 4096
#define PREFIX "rd.cvmboot"
#define PREFIX_DOT PREFIX "."
#define PREFIX_DOT_LEN (sizeof(PREFIX_DOT) - 1)

/* Settings that weaken security stay in the (measured, root-owned) file. */
static const char *const refused_keys[] = { "insecure_http", "ca_file", "allow_non_tmpfs" };

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Cut the next parameter out of args as the kernel does: blanks separate,
 * double quotes group, quotes around the value (or the whole parameter) go.
 * Returns where the rest starts. */
static char *next_param(char *args, char **param, char **val)
{
	bool in_quote = false, quoted = false, has_eq = false;
	size_t i, equals = 0;

	if (*args == '"') {
		args++;
		in_quote = quoted = true;
	}
	for (i = 0; args[i]; i++) {
		if (is_blank(args[i]) && !in_quote)
			break;
		if (!has_eq && args[i] == '=') {
			has_eq = true;
			equals = i;
		}
		if (args[i] == '"')
			in_quote = !in_quote;
	}
	*param = args;
	*val = NULL;
	if (has_eq) {
		args[equals] = '\0';
		*val = args + equals + 1;
		if (**val == '"') {
			(*val)++;
			if (i > 0 && args[i - 1] == '"')
				args[i - 1] = '\0';
		}
	}
	if (quoted && i > 0 && args[i - 1] == '"')
		args[i - 1] = '\0';
	if (args[i])
		args[i++] = '\0';
	return args + i;
}

static int need_value(const char *key, const char *val, struct err *e)
{
	if (!val || !*val)
		return err_set(e, CVM_E_CONFIG, PREFIX_DOT "%s needs a value", key);
	return 0;
}

static int copy_value(const char *key, char *dst, size_t size, const char *val, struct err *e)
{
	if (strlen(val) >= size)
		return err_set(e, CVM_E_CONFIG, PREFIX_DOT "%s: value too long (at most %zu bytes)", key,
			       size - 1);
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

static int apply_url(struct config *c, const char *val, bool *urls_replaced, struct err *e)
{
	bool is_http;

	if (need_value("url", val, e))
		return e->code;
	if (config_check_url(val, &is_http, e))
		return err_wrap(e, PREFIX_DOT "url");
	if (!*urls_replaced) {
		c->n_urls = 0; /* the command line's list replaces the file's */
		*urls_replaced = true;
	}
	if (c->n_urls >= CFG_MAX_URLS)
		return err_set(e, CVM_E_CONFIG, PREFIX_DOT "url: too many URLs (at most %d)", CFG_MAX_URLS);
	if (copy_value("url", c->urls[c->n_urls], sizeof(c->urls[0]), val, e))
		return e->code;
	config_trim_url(c->urls[c->n_urls++]);
	return 0;
}

/* rd.cvmboot.resource.NAME=REPO/TYPE/TAG */
static int apply_resource(struct config *c, const char *name, const char *val, struct err *e)
{
	struct resource_cfg *r;

	if (!name_valid(name))
		return err_set(e, CVM_E_CONFIG, PREFIX_DOT "resource.%.64s: bad resource name", name);
	if (!val || config_check_resource_path(val) < 0)
		return err_set(e, CVM_E_CONFIG,
			       PREFIX_DOT "resource.%s: needs a path REPOSITORY/TYPE/TAG, got '%.80s'",
			       name, val ? val : "");
	r = config_add_resource(c, name, e);
	if (!r)
		return err_wrap(e, PREFIX_DOT "resource.%s", name);
	strcpy(r->path, val); /* fits: config_check_resource_path bounds the length */
	return 0;
}

static int apply_bool(const char *key, const char *val, bool *out, struct err *e)
{
	if (config_parse_bool(val, out) < 0)
		return err_set(e, CVM_E_CONFIG, "%s: invalid boolean '%.80s' (use 0 or 1)", key, val);
	return 0;
}

/* One rd.cvmboot.KEY[=VAL]. */
static int apply_option(struct config *c, const char *key, const char *val, bool *urls_replaced,
			struct err *e)
{
	for (size_t i = 0; i < sizeof(refused_keys) / sizeof(refused_keys[0]); i++)
		if (!strcmp(key, refused_keys[i]))
			return err_set(e, CVM_E_CONFIG,
				       PREFIX_DOT "%s is not accepted from the kernel command line "
				       "(it weakens security; set it in the configuration file)", key);
	if (!strcmp(key, "debug"))
		return val ? apply_bool(PREFIX_DOT "debug", val, &c->debug, e) : (c->debug = true, 0);
	if (!strcmp(key, "url"))
		return apply_url(c, val, urls_replaced, e);
	if (!strncmp(key, "resource.", 9))
		return apply_resource(c, key + 9, val, e);
	if (!strcmp(key, "tee")) {
		char why[256];

		if (need_value(key, val, e))
			return e->code;
		if (config_check_tee_name(val, why, sizeof(why)) < 0)
			return err_set(e, CVM_E_CONFIG, PREFIX_DOT "tee: %s", why);
		return copy_value(key, c->tee, sizeof(c->tee), val, e);
	}
	if (!strcmp(key, "key_algorithm")) {
		if (need_value(key, val, e))
			return e->code;
		if (config_parse_key_alg(val, &c->key_alg) < 0)
			return err_set(e, CVM_E_CONFIG, PREFIX_DOT "key_algorithm: unknown '%.80s'", val);
		return 0;
	}
	if (!strcmp(key, "init_data")) {
		/* Safe from the (host-controlled) command line: the document's digest
		 * is bound into the evidence, and what it may set is limited. */
		if (need_value(key, val, e))
			return e->code;
		if (val[0] != '/')
			return err_set(e, CVM_E_CONFIG, PREFIX_DOT "init_data: '%.80s' is not an absolute path", val);
		return copy_value(key, c->init_data, sizeof(c->init_data), val, e);
	}
	if (!strcmp(key, "on_failure")) {
		if (need_value(key, val, e))
			return e->code;
		if (config_parse_failure_policy(val, &c->on_failure) < 0)
			return err_set(e, CVM_E_CONFIG,
				       PREFIX_DOT "on_failure: '%.80s' is not emergency, poweroff or retry", val);
		return 0;
	}
	if (!strcmp(key, "break_glass")) {
		/* The host writes the command line: it may turn the console
		 * recovery off, never on. */
		if (!val || strcmp(val, "off") != 0)
			return err_set(e, CVM_E_CONFIG, PREFIX_DOT "break_glass: only 'off' is accepted "
				       "from the kernel command line (got '%.80s'); break_glass = "
				       "passphrase belongs in the configuration file", val ? val : "");
		c->break_glass = BREAK_GLASS_OFF;
		return 0;
	}
	return err_set(e, CVM_E_CONFIG, "unknown option " PREFIX_DOT "%.64s", key);
}

static int apply_param(struct config *c, const char *param, const char *val, bool *urls_replaced,
		       struct err *e)
{
	bool is_ours = !strcmp(param, PREFIX) || !strncmp(param, PREFIX_DOT, PREFIX_DOT_LEN);

	if (!is_ours)
		return 0;
	if (has_control_chars(param) || (val && has_control_chars(val)))
		return err_set(e, CVM_E_CONFIG, "control character in a " PREFIX " option");
	if (!strcmp(param, PREFIX)) {
		if (!val || !*val)
			return err_set(e, CVM_E_CONFIG, PREFIX " needs a value (0 or 1)");
		return apply_bool(PREFIX, val, &c->enabled, e);
	}
	return apply_option(c, param + PREFIX_DOT_LEN, val, urls_replaced, e);
}

int config_apply_cmdline_string(struct config *c, const char *cmdline, struct err *e)
{
	char buf[CMDLINE_MAX + 1], *p, *param, *val;
	size_t len = strlen(cmdline);
	bool urls_replaced = false;

	if (len > CMDLINE_MAX)
		return err_set(e, CVM_E_CONFIG, "kernel command line too long (%zu bytes, at most %d)",
			       len, CMDLINE_MAX);
	memcpy(buf, cmdline, len + 1);
	for (p = buf; is_blank(*p); p++)
		;
	while (*p) {
		p = next_param(p, &param, &val);
		if (apply_param(c, param, val, &urls_replaced, e))
			return err_wrap(e, "kernel command line");
		while (is_blank(*p))
			p++;
	}
	return 0;
}

int config_apply_cmdline_file(struct config *c, const char *path, struct err *e)
{
	char buf[CMDLINE_MAX + 2];
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return err_set(e, CVM_E_CONFIG, "%s: cannot open: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f)) {
		fclose(f);
		return err_set(e, CVM_E_CONFIG, "%s: read error", path);
	}
	fclose(f);
	buf[n] = '\0';
	if (n > CMDLINE_MAX)
		return err_set(e, CVM_E_CONFIG, "%s: kernel command line too long (more than %d bytes)",
			       path, CMDLINE_MAX);
	if (memchr(buf, '\0', n))
		return err_set(e, CVM_E_CONFIG, "%s: NUL byte in the kernel command line", path);
	return config_apply_cmdline_string(c, buf, e);
}
