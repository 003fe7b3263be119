/* Helpers shared by the luks/ files only: loading a LUKS2 header, routing
 * libcryptsetup's messages, and finding the cvmboot token of a loaded device. */
#ifndef CVMBOOT_LUKS_INTERNAL_H
#define CVMBOOT_LUKS_INTERNAL_H

#include <libcryptsetup.h>

#include "luks.h"

/* Longest token JSON accepted from a header; ours are a few hundred bytes. */
#define LUKS_TOKEN_JSON_MAX 16384

/* Send libcryptsetup's messages to log_debug (it never logs key material). */
void luks_route_logs(struct crypt_device *cd);

/* crypt_init + crypt_load(CRYPT_LUKS2). CVM_E_UNLOCK "... is not a LUKS2
 * volume" for anything else (LUKS1 included). Free with crypt_free. */
int luks_load(const char *device, struct crypt_device **out, struct err *e);

/* Parse and check token JSON; with cd, the keyslot must also exist. */
int luks_token_parse(const char *json, struct crypt_device *cd, struct luks_token_info *info,
		     struct err *e);

/* The first token of type cvmboot: 0 found (and valid), 1 none, else the
 * error code ("token N: field '...': ..."). */
int luks_find_token(struct crypt_device *cd, struct luks_token_info *info, struct err *e);

/* Refuse a header the host may have rewritten: one crypt segment whose
 * encryption and key size are in allowed (NULL = the default list) and that
 * lies after the metadata, inside the device; no null cipher anywhere; no
 * reencryption; the segment's keyslots all of its key size. */
int luks_header_check(struct crypt_device *cd, const char *device,
		      const struct cipher_allow *allowed, struct err *e);

#endif
