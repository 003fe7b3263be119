/* PCR 8 init-data binding for the tpm, az-snp-vtpm and az-tdx-vtpm TEEs
 * (facts: trustee deps/verifier/src/tpm/mod.rs verify_init_data: PCR 8 must
 * equal SHA-256(32 zero bytes || digest); guest-components' attesters extend
 * PCR 8 with the 32-byte digest and refuse any other length). */
#include "init_data_tpm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "hex.h"
#include "log.h"

/* What PCR 8 holds after one extend from zero with the digest. */
static void bound_value(const struct tee_init_data *d, unsigned char out[TPM_SHA256_LEN])
{
	unsigned char in[2 * TPM_SHA256_LEN] = { 0 };

	memcpy(in + TPM_SHA256_LEN, d->digest, TPM_SHA256_LEN);
	SHA256(in, sizeof(in), out);
}

static int read_pcr8(struct tpm *t, unsigned char out[TPM_SHA256_LEN], struct err *e)
{
	unsigned char pcrs[TPM_NUM_PCRS][TPM_SHA256_LEN];

	if (tpm_read_pcrs(t, pcrs, e))
		return err_wrap(e, "reading PCR %d", TEE_INIT_DATA_PCR);
	memcpy(out, pcrs[TEE_INIT_DATA_PCR], TPM_SHA256_LEN);
	return 0;
}

static int refuse(const struct tee_init_data *d, const unsigned char have[TPM_SHA256_LEN],
		  const unsigned char want[TPM_SHA256_LEN], const char *when, struct err *e)
{
	char *have_hex = hex_encode(have, TPM_SHA256_LEN), *want_hex = hex_encode(want, TPM_SHA256_LEN);

	err_set(e, CVM_E_TEE,
		"init-data: PCR %d %s holds %s, neither zero nor the binding of %s (%s): something "
		"else measured into PCR %d, so the KBS could not verify the document; refusing",
		TEE_INIT_DATA_PCR, when, have_hex ? have_hex : "?", d->path, want_hex ? want_hex : "?",
		TEE_INIT_DATA_PCR);
	free(have_hex);
	free(want_hex);
	return e->code;
}

int init_data_tpm_bind(struct tpm *t, const struct tee_options *cfg, struct err *e)
{
	static const unsigned char zero[TPM_SHA256_LEN];
	const struct tee_init_data *d = &cfg->init_doc;
	unsigned char want[TPM_SHA256_LEN], have[TPM_SHA256_LEN];

	if (!d->digest_len)
		return 0;
	if (d->digest_len != TPM_SHA256_LEN)
		return err_set(e, CVM_E_TEE, "init-data %s: algorithm %s cannot be bound in a vTPM; "
			       "Trustee checks PCR %d with a SHA-256 digest (use algorithm = \"sha256\")",
			       d->path, d->alg, TEE_INIT_DATA_PCR);
	bound_value(d, want);
	if (read_pcr8(t, have, e))
		return e->code;
	if (!memcmp(have, want, sizeof(want))) {
		log_info("init-data: PCR %d already binds %s; not extending again", TEE_INIT_DATA_PCR,
			 d->path);
		return 0;
	}
	if (memcmp(have, zero, sizeof(zero)))
		return refuse(d, have, want, "already", e);
	if (tpm_pcr_extend_sha256(t, TEE_INIT_DATA_PCR, d->digest, e))
		return err_wrap(e, "init-data: extending PCR %d", TEE_INIT_DATA_PCR);
	/* Someone may have extended it between our read and our extend. */
	if (read_pcr8(t, have, e))
		return e->code;
	if (memcmp(have, want, sizeof(want)))
		return refuse(d, have, want, "after our extend", e);
	log_notice("init-data: extended PCR %d with the sha256 digest of %s", TEE_INIT_DATA_PCR, d->path);
	return 0;
}
