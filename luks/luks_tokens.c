/* The cvmboot tokens of a LUKS2 volume seen from outside: listing them with
 * the active keyslots (cvmboot tokens), and removing one with its keyslot
 * (cvmboot disenroll), never the volume's last keyslot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luks_internal.h"

static void list_keyslots(struct crypt_device *cd, struct luks_token_list *list)
{
	int max = crypt_keyslot_max(CRYPT_LUKS2);

	for (int slot = 0; slot < max && list->n_keyslots < LUKS_MAX_SLOTS; slot++) {
		crypt_keyslot_info st = crypt_keyslot_status(cd, slot);

		if (st == CRYPT_SLOT_ACTIVE || st == CRYPT_SLOT_ACTIVE_LAST)
			list->keyslots[list->n_keyslots++] = slot;
	}
}

static void list_tokens(struct crypt_device *cd, struct luks_token_list *list)
{
	int max = crypt_token_max(CRYPT_LUKS2);

	for (int id = 0; id < max && list->n_tokens < LUKS_MAX_SLOTS; id++) {
		const char *type = NULL, *json = NULL;
		crypt_token_info status = crypt_token_status(cd, id, &type);
		struct luks_token_entry *t;
		struct err e = { 0 };

		if (status == CRYPT_TOKEN_INACTIVE || status == CRYPT_TOKEN_INVALID || !type ||
		    strcmp(type, CVMBOOT_TOKEN_TYPE) != 0)
			continue;
		t = &list->tokens[list->n_tokens++];
		if (crypt_token_json_get(cd, id, &json) < 0)
			err_set(&e, CVM_E_UNLOCK, "cannot read its JSON");
		else
			luks_token_parse(json, cd, &t->info, &e);
		t->info.token_id = id;
		t->valid = e.code == 0;
		if (!t->valid)
			snprintf(t->error, sizeof(t->error), "%.255s", e.msg);
	}
}

int luks_list_tokens(const char *device, struct luks_token_list **out, struct err *e)
{
	struct luks_token_list *list;
	struct crypt_device *cd;
	const char *uuid;

	*out = NULL;
	if (luks_load(device, &cd, e))
		return e->code;
	list = calloc(1, sizeof(*list));
	if (!list) {
		crypt_free(cd);
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	}
	uuid = crypt_get_uuid(cd);
	snprintf(list->uuid, sizeof(list->uuid), "%s", uuid ? uuid : "");
	list_keyslots(cd, list);
	list_tokens(cd, list);
	crypt_free(cd);
	*out = list;
	return 0;
}

/* The volume stays openable without the cvmboot keyslot. */
static int check_other_keyslot(struct crypt_device *cd, const char *device, int slot,
			       struct err *e)
{
	int max = crypt_keyslot_max(CRYPT_LUKS2);

	for (int s = 0; s < max; s++) {
		crypt_keyslot_info st = crypt_keyslot_status(cd, s);

		if (s != slot && (st == CRYPT_SLOT_ACTIVE || st == CRYPT_SLOT_ACTIVE_LAST))
			return 0;
	}
	return err_set(e, CVM_E_UNLOCK, "keyslot %d is the only keyslot of %s: removing it would "
		       "leave no way to open the volume; add a passphrase first", slot, device);
}

static int remove_token_and_keyslot(struct crypt_device *cd, const char *device,
				    const struct luks_token_info *info, struct err *e)
{
	int r = crypt_token_json_set(cd, info->token_id, NULL);

	if (r < 0)
		return err_set(e, CVM_E_UNLOCK, "cannot remove token %d from %s: %s",
			       info->token_id, device, strerror(-r));
	r = crypt_keyslot_destroy(cd, info->keyslot);
	if (r < 0)
		return err_set(e, CVM_E_UNLOCK, "token %d was removed but keyslot %d of %s could "
			       "NOT be (%s): remove it with cryptsetup luksKillSlot %s %d",
			       info->token_id, info->keyslot, device, strerror(-r), device,
			       info->keyslot);
	return 0;
}

int luks_disenroll(const char *device, const char *resource, struct luks_token_info *removed,
		   struct err *e)
{
	struct crypt_device *cd;
	int rc;

	if (luks_load(device, &cd, e))
		return e->code;
	rc = luks_find_token(cd, removed, e);
	if (rc == 1) {
		crypt_free(cd);
		return 1;
	}
	if (rc) {
		crypt_free(cd);
		return err_wrap(e, "%s has an invalid cvmboot token; inspect it with cryptsetup "
				"luksDump and remove it by hand", device);
	}
	if (resource && strcmp(resource, removed->resource) != 0)
		rc = err_set(e, CVM_E_UNLOCK, "the cvmboot token %d of %s names resource %s, not "
			     "%.256s: nothing removed", removed->token_id, device,
			     removed->resource, resource);
	else if (!check_other_keyslot(cd, device, removed->keyslot, e))
		rc = remove_token_and_keyslot(cd, device, removed, e);
	else
		rc = e->code;
	crypt_free(cd);
	return rc;
}
