/* Trustee init-data: a TOML document (version, algorithm, [data] of strings)
 * whose digest the TEE evidence carries (SNP HOST_DATA, TDX MRCONFIGID, vTPM
 * PCR 8), sent to the KBS in the attestation body. See docs/init-data.md. */
#ifndef CVMBOOT_INIT_DATA_H
#define CVMBOOT_INIT_DATA_H

#include <stddef.h>

#include "config.h"
#include "err.h"

#define INIT_DATA_FILE_MAX (64 * 1024)  /* bytes of TOML text */
#define INIT_DATA_ENTRIES_MAX 64        /* entries of [data] */
#define INIT_DATA_KEY_MAX 256           /* bytes of one [data] key */
#define INIT_DATA_DIGEST_MAX 64
#define INIT_DATA_PCR 8                 /* Trustee's tpm/az verifiers read PCR 8 */

enum init_data_alg { INIT_DATA_SHA256, INIT_DATA_SHA384, INIT_DATA_SHA512 };

struct init_data_entry {
	char *key;    /* decoded TOML key */
	char *value;  /* decoded TOML string */
	int line;     /* where the key is */
};

struct init_data {
	char path[CFG_PATH_MAX];
	char *body;                 /* the TOML text exactly as read (NUL-terminated) */
	size_t body_len;
	char version[16];
	enum init_data_alg alg;
	unsigned char digest[INIT_DATA_DIGEST_MAX]; /* alg over body */
	size_t digest_len;
	struct init_data_entry entries[INIT_DATA_ENTRIES_MAX];
	int n_entries;
};

/* Parse d->body (d->body_len bytes) as an init-data document: a strict
 * subset of TOML that Trustee's parser reads the same way. name is used in
 * errors ("NAME:LINE: what"). Fills version, alg and entries. */
int init_data_parse(struct init_data *d, const char *name, struct err *e);
/* Read (at most INIT_DATA_FILE_MAX bytes), parse and digest a document. */
int init_data_load(const char *path, struct init_data **out, struct err *e);
void init_data_free(struct init_data *d);

const char *init_data_alg_name(enum init_data_alg a);
/* The digest cut or zero-padded to a TEE field of len bytes (Trustee's
 * regularize_data: SNP HOST_DATA 32, TDX MRCONFIGID 48). */
void init_data_field(const struct init_data *d, unsigned char *out, size_t len);
/* The value of [data] key, or NULL. */
const char *init_data_get(const struct init_data *d, const char *key);

/* Load cfg->init_data (if set) into cfg->init_doc and apply the cvmboot.*
 * settings it carries, within what the configuration allows. */
int config_apply_init_data(struct config *cfg, struct err *e);

#endif
