/* LUKS2 volumes: enrolment of a cvmboot keyslot + token, discovery of
 * volumes by token, and unlocking (or key verification without
 * device-mapper). */
#ifndef CVMBOOT_LUKS_H
#define CVMBOOT_LUKS_H

#include <stdbool.h>
#include <stddef.h>

#include "cipher_allow.h"
#include "err.h"
#include "validate.h"

#define CVMBOOT_TOKEN_TYPE "cvmboot"
#define LUKS_MAX_TOKEN_URLS 8
#define LUKS_KEY_MIN 16   /* bytes; enrolled keys (generated ones are 32) */
#define LUKS_KEY_MAX 512

/* What a cvmboot LUKS2 token records:
 * {"type":"cvmboot","keyslots":["N"],"resource":"repo/type/tag","kbs_urls":[...]} */
struct luks_token_info {
	int token_id;   /* which LUKS2 token it was read from (luks_read_token) */
	int keyslot;
	char resource[512];
	char urls[LUKS_MAX_TOKEN_URLS][VALIDATE_URL_SIZE]; /* each passed url_check */
	int n_urls;
};

/* Wait up to timeout_ms for device (a path or "UUID=...") to exist; resolved
 * receives the path. CVM_E_UNLOCK if it never appears. */
int luks_wait_device(const char *device, long timeout_ms, char *resolved, size_t resolved_len,
		     struct err *e);

/* Open device (must be LUKS2) with key as mapper name; with no_activate,
 * only verify the key against the keyslots. Before any key is tried the
 * header is checked (luks_header_check): its data encryption must be in
 * allowed (NULL = aes-xts-plain64:512). Activation flags stored in the header
 * are ignored. The caller wipes key. */
int luks_unlock(const char *device, const char *mapper, const unsigned char *key, size_t key_len,
		bool no_activate, const struct cipher_allow *allowed, struct err *e);

/* Close the mapping /dev/mapper/mapper (undo a luks_unlock). */
int luks_close(const char *mapper, struct err *e);

/* Add a keyslot for key (PBKDF2, minimal iterations: the key is random),
 * authorised by an existing passphrase, and a cvmboot token naming it. */
int luks_enroll(const char *device, const unsigned char *existing, size_t existing_len,
		const unsigned char *key, size_t key_len, const char *resource,
		const char *const *urls, int n_urls, int *keyslot_out, struct err *e);

/* Read and validate the (first) cvmboot token of device. 0 found, 1 none. */
int luks_read_token(const char *device, struct luks_token_info *info, struct err *e);

/* 0 when no block device but device carries this UUID; else the error names
 * both (a disk attached with a copy of the header). */
int luks_check_uuid_unique(const char *uuid, const char *device, struct err *e);

/* Whether two paths name the same block device (a udev symlink and a kernel
 * name) or the same image file; paths that cannot be stat'ed by name. */
bool luks_same_device(const char *a, const char *b);

/* The LUKS2 UUID of device (uuid_len >= 37). */
int luks_get_uuid(const char *device, char *uuid, size_t uuid_len, struct err *e);

/* Validate a token JSON string; errors name the field. */
int luks_token_validate(const char *json, struct luks_token_info *info, struct err *e);

/* What `cvmboot tokens` shows of a volume (luks_tokens.c). */
#define LUKS_MAX_SLOTS 32
struct luks_token_entry {
	struct luks_token_info info; /* token_id always set; the rest only when valid */
	bool valid;
	char error[256];             /* why an invalid token was refused */
};
struct luks_token_list {
	char uuid[64];
	int keyslots[LUKS_MAX_SLOTS]; /* the active keyslots */
	int n_keyslots;
	struct luks_token_entry tokens[LUKS_MAX_SLOTS]; /* every token of type cvmboot */
	int n_tokens;
};

/* The active keyslots and cvmboot tokens of device; free *out with free(). */
int luks_list_tokens(const char *device, struct luks_token_list **out, struct err *e);

/* Remove the cvmboot token of device and its keyslot (resource, when not
 * NULL, must be the one it names); never the volume's last keyslot. 0
 * removed (removed says what), 1 no cvmboot token, else the error code. */
int luks_disenroll(const char *device, const char *resource, struct luks_token_info *removed,
		   struct err *e);

#endif
