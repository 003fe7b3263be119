/* Opening a LUKS2 volume with a fetched key: the keyslot named by the
 * cvmboot token first, any keyslot after; or only verifying the key. */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "luks_internal.h"
#include "validate.h"

/* The keyslot the token names, or CRYPT_ANY_SLOT when there is no usable token. */
static int preferred_keyslot(struct crypt_device *cd)
{
	struct luks_token_info info;
	struct err ignored = { 0 };

	if (luks_find_token(cd, &info, &ignored) != 0) {
		if (ignored.code)
			log_debug("not using the cvmboot token: %s", ignored.msg);
		return CRYPT_ANY_SLOT;
	}
	return info.keyslot;
}

/* The keyslot key opens (the token's first), or a negative errno. */
static int verify_key(struct crypt_device *cd, const unsigned char *key, size_t key_len)
{
	int slot = preferred_keyslot(cd), r = -EPERM;

	if (slot != CRYPT_ANY_SLOT) {
		r = crypt_activate_by_passphrase(cd, NULL, slot, (const char *)key, key_len, 0);
		if (r >= 0 || (r != -EPERM && r != -ENOENT))
			return r;
		log_debug("the key does not open keyslot %d named by the token; trying the others",
			  slot);
	}
	return crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT, (const char *)key, key_len,
					    0);
}

static int activation_error(int r, const char *device, const char *mapper, int slot,
			    struct err *e)
{
	if (r == -EEXIST || r == -EBUSY)
		return err_set(e, CVM_E_UNLOCK, "the key opens keyslot %d of %s but /dev/mapper/%s "
			       "already exists", slot, device, mapper);
	return err_set(e, CVM_E_UNLOCK, "the key opens keyslot %d of %s but activating it as %s "
		       "failed: %s (is dm-crypt available? --no-activate only verifies the key)",
		       slot, device, mapper, strerror(-r));
}

int luks_unlock(const char *device, const char *mapper, const unsigned char *key, size_t key_len,
		bool no_activate, const struct cipher_allow *allowed, struct err *e)
{
	const char *name = no_activate ? NULL : mapper;
	struct crypt_device *cd;
	int slot, r;

	if (!key || key_len == 0)
		return err_set(e, CVM_E_UNLOCK, "empty key for %s", device);
	if (key_len > LUKS_KEY_MAX)
		return err_set(e, CVM_E_UNLOCK, "key for %s is longer than %d bytes", device,
			       LUKS_KEY_MAX);
	if (name && !mapper_name_valid(name))
		return err_set(e, CVM_E_UNLOCK, "invalid mapper name '%.100s': use letters, "
			       "digits, '.', '_' and '-', at most %d of them, not 'control'", name,
			       VALIDATE_NAME_SIZE - 1);
	if (luks_load(device, &cd, e))
		return e->code;
	if (luks_header_check(cd, device, allowed, e)) {
		crypt_free(cd);
		return e->code;
	}
	if (name) {
		crypt_status_info st = crypt_status(cd, name);

		if (st == CRYPT_ACTIVE || st == CRYPT_BUSY) {
			crypt_free(cd);
			return err_set(e, CVM_E_UNLOCK, "cannot activate %s: /dev/mapper/%s is "
				       "already active", device, name);
		}
	}
	/* Check the key first, so a wrong key and a failed activation read differently. */
	slot = verify_key(cd, key, key_len);
	if (slot < 0) {
		crypt_free(cd);
		if (slot == -EPERM)
			return err_set(e, CVM_E_UNLOCK, "key does not open any keyslot of %s", device);
		return err_set(e, CVM_E_UNLOCK, "cannot check the key against %s: %s", device,
			       strerror(-slot));
	}
	/* Flags stored in the header (allow-discards, ...) are the host's to set: ignored. */
	r = name ? crypt_activate_by_passphrase(cd, name, slot, (const char *)key, key_len,
						CRYPT_ACTIVATE_IGNORE_PERSISTENT) : 0;
	crypt_free(cd);
	if (r < 0)
		return activation_error(r, device, name, slot, e);
	log_debug("%s: keyslot %d %s", device, slot, name ? "opened" : "accepts the key");
	return 0;
}

int luks_close(const char *mapper, struct err *e)
{
	struct crypt_device *cd = NULL;
	int r;

	if (!mapper || !mapper_name_valid(mapper))
		return err_set(e, CVM_E_UNLOCK, "invalid mapper name '%.100s'", mapper);
	luks_route_logs(NULL);
	r = crypt_init_by_name(&cd, mapper);
	if (r >= 0) {
		luks_route_logs(cd);
		r = crypt_deactivate(cd, mapper);
	}
	crypt_free(cd);
	if (r < 0)
		return err_set(e, CVM_E_UNLOCK, "cannot close /dev/mapper/%s: %s", mapper,
			       strerror(-r));
	return 0;
}
