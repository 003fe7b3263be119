/* Enrolling a LUKS2 volume for cvmboot: a PBKDF2 keyslot for the KBS-held
 * key plus a cvmboot token naming it; the keyslot is removed again if the
 * token cannot be written. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luks_internal.h"
#include "resource_path.h"
#include "validate.h"

/* The key is random, so a slow KDF adds nothing (as systemd-cryptenroll does
 * for TPM2 and FIDO2 keys); 1000 is libcryptsetup's floor for PBKDF2. */
static const struct crypt_pbkdf_type fast_pbkdf = {
	.type = CRYPT_KDF_PBKDF2,
	.hash = "sha256",
	.iterations = 1000,
	.flags = CRYPT_PBKDF_NO_BENCHMARK,
};

static int check_arguments(const unsigned char *existing, size_t existing_len, size_t key_len,
			   const char *resource, const char *const *urls, int n_urls,
			   struct err *e)
{
	if (!existing || existing_len == 0)
		return err_set(e, CVM_E_USAGE, "the existing passphrase is empty");
	if (existing_len > LUKS_TOKEN_JSON_MAX)
		return err_set(e, CVM_E_USAGE, "the existing passphrase is longer than %d bytes",
			       LUKS_TOKEN_JSON_MAX);
	if (key_len < LUKS_KEY_MIN || key_len > LUKS_KEY_MAX)
		return err_set(e, CVM_E_USAGE, "the key must be %d to %d bytes long, not %zu",
			       LUKS_KEY_MIN, LUKS_KEY_MAX, key_len);
	if (!resource || !resource_path_valid(resource))
		return err_set(e, CVM_E_USAGE, "invalid resource path '%.256s': expected "
			       "REPOSITORY/TYPE/TAG", resource ? resource : "");
	if (n_urls < 0 || n_urls > LUKS_MAX_TOKEN_URLS)
		return err_set(e, CVM_E_USAGE, "at most %d KBS URLs fit in the token",
			       LUKS_MAX_TOKEN_URLS);
	for (int i = 0; i < n_urls; i++) {
		bool is_http;
		const char *why = urls[i] ? url_check(urls[i], &is_http) : "missing";

		if (why)
			return err_set(e, CVM_E_USAGE, "KBS URL '%.256s' cannot be recorded in the "
				       "token: %s", urls[i] ? urls[i] : "", why);
	}
	return 0;
}

static int refuse_second_token(struct crypt_device *cd, const char *device, struct err *e)
{
	struct luks_token_info old;
	int rc = luks_find_token(cd, &old, e);

	if (rc == 1)
		return 0;
	if (rc == 0)
		return err_set(e, CVM_E_UNLOCK, "%s already has a cvmboot token (token %d, keyslot "
			       "%d, resource %s); remove it first (cryptsetup token remove "
			       "--token-id %d, cryptsetup luksKillSlot)", device, old.token_id,
			       old.keyslot, old.resource, old.token_id);
	return err_wrap(e, "%s already has an invalid cvmboot token; remove it first", device);
}

/* The token JSON, keys in a fixed order; NULL on out of memory. */
static char *token_json(int keyslot, const char *resource, const char *const *urls, int n_urls)
{
	json_t *root, *list = json_array();
	char slot[16];
	char *text;

	for (int i = 0; list && i < n_urls; i++)
		json_array_append_new(list, json_string(urls[i]));
	snprintf(slot, sizeof(slot), "%d", keyslot);
	root = json_pack("{s:s, s:[s], s:s, s:o*}", "type", CVMBOOT_TOKEN_TYPE, "keyslots", slot,
			 "resource", resource, "kbs_urls", list);
	if (!root)
		return NULL;
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return text;
}

static int add_keyslot(struct crypt_device *cd, const char *device,
		       const unsigned char *existing, size_t existing_len,
		       const unsigned char *key, size_t key_len, struct err *e)
{
	int r = crypt_set_pbkdf_type(cd, &fast_pbkdf);

	if (r < 0)
		return -err_set(e, CVM_E_INTERNAL, "cannot select PBKDF2 for the new keyslot: %s",
				strerror(-r));
	r = crypt_keyslot_add_by_passphrase(cd, CRYPT_ANY_SLOT, (const char *)existing,
					    existing_len, (const char *)key, key_len);
	if (r == -EPERM)
		return -err_set(e, CVM_E_UNLOCK, "the existing passphrase does not open any "
				"keyslot of %s", device);
	if (r < 0)
		return -err_set(e, CVM_E_UNLOCK, "cannot add a keyslot to %s: %s", device,
				strerror(-r));
	return r;
}

static int add_token(struct crypt_device *cd, const char *device, int keyslot,
		     const char *resource, const char *const *urls, int n_urls, struct err *e)
{
	struct luks_token_info check;
	char *json = token_json(keyslot, resource, urls, n_urls);
	int r;

	if (!json)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	if (luks_token_parse(json, cd, &check, e)) {
		free(json);
		return err_wrap(e, "internal error: the new token does not validate");
	}
	r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN, json);
	free(json);
	if (r < 0)
		return err_set(e, CVM_E_UNLOCK, "cannot write the cvmboot token to %s: %s", device,
			       strerror(-r));
	return 0;
}

int luks_enroll(const char *device, const unsigned char *existing, size_t existing_len,
		const unsigned char *key, size_t key_len, const char *resource,
		const char *const *urls, int n_urls, int *keyslot_out, struct err *e)
{
	struct crypt_device *cd;
	int slot, r;

	if (check_arguments(existing, existing_len, key_len, resource, urls, n_urls, e))
		return e->code;
	if (luks_load(device, &cd, e))
		return e->code;
	if (refuse_second_token(cd, device, e)) {
		crypt_free(cd);
		return e->code;
	}
	slot = add_keyslot(cd, device, existing, existing_len, key, key_len, e);
	if (slot < 0) {
		crypt_free(cd);
		return e->code;
	}
	if (add_token(cd, device, slot, resource, urls, n_urls, e)) {
		char why[sizeof(e->msg)];

		memcpy(why, e->msg, sizeof(why));
		r = crypt_keyslot_destroy(cd, slot);
		if (r < 0)
			err_set(e, e->code, "%.700s; keyslot %d could NOT be removed again (%s): "
				"remove it with cryptsetup luksKillSlot", why, slot, strerror(-r));
		else
			err_set(e, e->code, "%.900s (the new keyslot %d was removed again)", why,
				slot);
		crypt_free(cd);
		return e->code;
	}
	crypt_free(cd);
	if (keyslot_out)
		*keyslot_out = slot;
	return 0;
}
