/* The init-data check of the TEEs whose launch field carries the document's
 * digest (SNP HOST_DATA, TDX MRCONFIGID): see tee_init_data_check in tee.h. */
#include "tee.h"

#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "log.h"

int tee_init_data_check(const struct tee_options *cfg, const char *field_name,
			const unsigned char *field, size_t len, struct err *e)
{
	const struct tee_init_data *d = &cfg->init_doc;
	unsigned char want[TEE_INIT_DATA_DIGEST_MAX] = { 0 };
	char *have_hex, *want_hex;

	if (!d->digest_len)
		return 0;
	if (len > sizeof(want))
		return err_set(e, CVM_E_INTERNAL, "%s of %zu bytes", field_name, len);
	memcpy(want, d->digest, d->digest_len < len ? d->digest_len : len);
	if (!memcmp(want, field, len)) {
		log_info("init-data: %s matches the %s digest of %s", field_name, d->alg, d->path);
		return 0;
	}
	have_hex = hex_encode(field, len);
	want_hex = hex_encode(want, len);
	err_set(e, CVM_E_TEE,
		"init-data: the report's %s is %s but the %s digest of %s is %s: the host launched "
		"this VM with other init-data (refusing to send a document the evidence does not bind)",
		field_name, have_hex ? have_hex : "?", d->alg, d->path, want_hex ? want_hex : "?");
	free(have_hex);
	free(want_hex);
	return e->code;
}
