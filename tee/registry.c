/* The TEE registry: detection order and lookup by name. Backends left out
 * of the build (meson -Dtpm, -Dazure, -Dsample) are not in it; naming one
 * is an error that says so. */
#include "tee.h"

#include <stdio.h>
#include <string.h>

extern const struct tee_backend tee_snp, tee_tdx, tee_az_snp_vtpm, tee_az_tdx_vtpm,
	tee_tpm, tee_sample;

/* Detection order: the Azure paravisor types first (their guests may also
 * show a TPM, and on Azure the TPM path is the one Trustee expects), then
 * bare SNP and TDX, then a plain vTPM. sample is never auto-detected. */
const struct tee_backend *const tee_backends[] = {
#if CVMBOOT_TEE_AZURE
	&tee_az_snp_vtpm,
	&tee_az_tdx_vtpm,
#endif
	&tee_snp,
	&tee_tdx,
#if CVMBOOT_TEE_TPM
	&tee_tpm,
#endif
#if CVMBOOT_TEE_SAMPLE
	&tee_sample,
#endif
	NULL,
};

/* Every TEE cvmboot knows, built into this binary or not. */
static const char *const tee_known[] = {
	"az-snp-vtpm", "az-tdx-vtpm", "snp", "tdx", "tpm", "sample", NULL,
};

const struct tee_backend *tee_by_name(const char *name)
{
	for (int i = 0; tee_backends[i]; i++)
		if (strcmp(tee_backends[i]->name, name) == 0)
			return tee_backends[i];
	return NULL;
}

/* "a, b, c" of the backends built in (detected ones only if detect_only). */
static void built_names(char *out, size_t len, bool detect_only)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; tee_backends[i] && used < len; i++) {
		if (detect_only && !tee_backends[i]->auto_detect)
			continue;
		used += (size_t)snprintf(out + used, len - used, "%s%s", used ? ", " : "",
					 tee_backends[i]->name);
	}
}

int tee_check_name(const char *name, char *why, size_t why_len)
{
	char names[128];

	if (strcmp(name, "auto") == 0 || tee_by_name(name))
		return 0;
	built_names(names, sizeof(names), false);
	for (int i = 0; tee_known[i]; i++)
		if (strcmp(tee_known[i], name) == 0) {
			snprintf(why, why_len, "tee type '%s' is not built into this cvmboot "
				 "(built in: auto, %s)", name, names);
			return -1;
		}
	snprintf(why, why_len, "unknown TEE '%.80s' (auto, %s)", name, names);
	return -1;
}

int tee_select(const struct tee_options *cfg, const struct tee_backend **out, struct err *e)
{
	char why[256];

	if (strcmp(cfg->tee, "auto") != 0) {
		*out = tee_by_name(cfg->tee);
		if (!*out) {
			tee_check_name(cfg->tee, why, sizeof(why));
			return err_set(e, CVM_E_CONFIG, "%s", why);
		}
		return 0;
	}
	for (int i = 0; tee_backends[i]; i++) {
		const struct tee_backend *b = tee_backends[i];

		if (!b->auto_detect || !b->detect)
			continue;
		if (b->detect(cfg, why, sizeof(why)) == 1) {
			*out = b;
			return 0;
		}
	}
	built_names(why, sizeof(why), true);
	return err_set(e, CVM_E_TEE, "no TEE detected (tried %s); "
		       "run 'cvmboot detect' for details, or set [tee] type", why);
}
