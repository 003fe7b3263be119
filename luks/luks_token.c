/* The cvmboot LUKS2 token: reading it from a header and validating it
 * field by field (header JSON is attacker-controlled until proven otherwise). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "luks_internal.h"
#include "resource_path.h"
#include "validate.h"

/* The string value of key in obj, with no embedded NUL; NULL if absent or not a string. */
static const char *string_field(json_t *obj, const char *key, size_t *len)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	*len = json_string_length(v);
	return strlen(s) == *len ? s : NULL;
}

/* "N" with N a canonical decimal number below the LUKS2 keyslot count. */
static int parse_keyslot(const char *s, size_t len)
{
	int max = crypt_keyslot_max(CRYPT_LUKS2), slot = 0;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		slot = slot * 10 + (s[i] - '0');
	}
	return slot < max ? slot : -1;
}

static int check_keyslots(json_t *root, struct crypt_device *cd, struct luks_token_info *info,
			  struct err *e)
{
	json_t *slots = json_object_get(root, "keyslots"), *v;
	crypt_keyslot_info status;

	if (!json_is_array(slots))
		return err_set(e, CVM_E_UNLOCK, "field 'keyslots': missing or not an array");
	if (json_array_size(slots) != 1)
		return err_set(e, CVM_E_UNLOCK, "field 'keyslots': must name exactly one keyslot, "
			       "not %zu", json_array_size(slots));
	v = json_array_get(slots, 0);
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
	    (info->keyslot = parse_keyslot(json_string_value(v), json_string_length(v))) < 0)
		return err_set(e, CVM_E_UNLOCK, "field 'keyslots': not a keyslot number "
			       "(a decimal string from \"0\" to \"%d\")",
			       crypt_keyslot_max(CRYPT_LUKS2) - 1);
	if (!cd)
		return 0;
	status = crypt_keyslot_status(cd, info->keyslot);
	if (status == CRYPT_SLOT_INACTIVE || status == CRYPT_SLOT_INVALID)
		return err_set(e, CVM_E_UNLOCK, "field 'keyslots': keyslot %d does not exist",
			       info->keyslot);
	if (status == CRYPT_SLOT_UNBOUND)
		return err_set(e, CVM_E_UNLOCK, "field 'keyslots': keyslot %d is not bound to "
			       "the volume key", info->keyslot);
	return 0;
}

static int check_resource(json_t *root, struct luks_token_info *info, struct err *e)
{
	size_t len = 0;
	const char *s = string_field(root, "resource", &len);

	if (!s)
		return err_set(e, CVM_E_UNLOCK, "field 'resource': missing or not a string");
	if (len >= sizeof(info->resource) || !resource_path_valid(s))
		return err_set(e, CVM_E_UNLOCK, "field 'resource': not a KBS resource path "
			       "REPOSITORY/TYPE/TAG");
	memcpy(info->resource, s, len + 1);
	return 0;
}

static int check_urls(json_t *root, struct luks_token_info *info, struct err *e)
{
	json_t *urls = json_object_get(root, "kbs_urls"), *v;
	size_t i;

	if (!json_is_array(urls))
		return err_set(e, CVM_E_UNLOCK, "field 'kbs_urls': missing or not an array");
	if (json_array_size(urls) > LUKS_MAX_TOKEN_URLS)
		return err_set(e, CVM_E_UNLOCK, "field 'kbs_urls': more than %d URLs",
			       LUKS_MAX_TOKEN_URLS);
	json_array_foreach(urls, i, v) {
		const char *s = json_is_string(v) ? json_string_value(v) : NULL, *why;
		bool is_http;

		if (!s || strlen(s) != json_string_length(v))
			return err_set(e, CVM_E_UNLOCK, "field 'kbs_urls': entry %zu is not a "
				       "string without NUL bytes", i);
		/* The rule [kbs] url follows: the token is the host's to write. */
		why = url_check(s, &is_http);
		if (why)
			return err_set(e, CVM_E_UNLOCK, "field 'kbs_urls': entry %zu is not a KBS "
				       "URL: %s", i, why);
		memcpy(info->urls[i], s, strlen(s) + 1);
	}
	info->n_urls = (int)json_array_size(urls);
	return 0;
}

int luks_token_parse(const char *json, struct crypt_device *cd, struct luks_token_info *info,
		     struct err *e)
{
	json_error_t jerr;
	size_t len = 0;
	const char *type;
	json_t *root;
	int rc;

	memset(info, 0, sizeof(*info));
	info->token_id = -1;
	if (!json)
		return err_set(e, CVM_E_UNLOCK, "no token JSON");
	len = strnlen(json, LUKS_TOKEN_JSON_MAX + 1);
	if (len > LUKS_TOKEN_JSON_MAX)
		return err_set(e, CVM_E_UNLOCK, "token JSON larger than %d bytes",
			       LUKS_TOKEN_JSON_MAX);
	/* Any value and NULs in strings decode, so the checks below can name
	 * the field that is wrong. */
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
			  &jerr);
	if (!root)
		return err_set(e, CVM_E_UNLOCK, "token is not valid JSON: %.200s", jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return err_set(e, CVM_E_UNLOCK, "token is not a JSON object");
	}
	type = string_field(root, "type", &len);
	if (!type)
		rc = err_set(e, CVM_E_UNLOCK, "field 'type': missing or not a string");
	else if (strcmp(type, CVMBOOT_TOKEN_TYPE) != 0)
		rc = err_set(e, CVM_E_UNLOCK, "field 'type': not \"" CVMBOOT_TOKEN_TYPE "\"");
	else
		rc = check_keyslots(root, cd, info, e);
	if (!rc)
		rc = check_resource(root, info, e);
	if (!rc)
		rc = check_urls(root, info, e);
	json_decref(root);
	if (rc) {
		memset(info, 0, sizeof(*info));
		info->token_id = -1;
	}
	return rc;
}

int luks_token_validate(const char *json, struct luks_token_info *info, struct err *e)
{
	return luks_token_parse(json, NULL, info, e);
}

int luks_find_token(struct crypt_device *cd, struct luks_token_info *info, struct err *e)
{
	int max = crypt_token_max(CRYPT_LUKS2);

	for (int id = 0; id < max; id++) {
		const char *type = NULL, *json = NULL;
		crypt_token_info status = crypt_token_status(cd, id, &type);

		if (status == CRYPT_TOKEN_INACTIVE || status == CRYPT_TOKEN_INVALID || !type ||
		    strcmp(type, CVMBOOT_TOKEN_TYPE) != 0)
			continue;
		if (crypt_token_json_get(cd, id, &json) < 0)
			return err_set(e, CVM_E_UNLOCK, "token %d: cannot read its JSON", id);
		if (luks_token_parse(json, cd, info, e))
			return err_wrap(e, "token %d", id);
		info->token_id = id;
		return 0;
	}
	return 1;
}

int luks_read_token(const char *device, struct luks_token_info *info, struct err *e)
{
	struct crypt_device *cd;
	int rc;

	if (luks_load(device, &cd, e))
		return e->code;
	rc = luks_find_token(cd, info, e);
	if (rc > 1)
		err_wrap(e, "%s", device);
	crypt_free(cd);
	return rc;
}
