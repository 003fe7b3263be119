/* tdx_rtmr_extend_event writes SHA-384(event) to rtmr<N>:sha384 (a plain file
 * stands in for the sysfs attribute here); the PCR -> RTMR mapping. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/check.h"
#include "tdx.h"
#include "tee_config.h"


int main(void)
{
	static const unsigned char event[] = "cvmboot: boot-phase resources fetched";
	char dir[] = "/tmp/cvmboot-rtmr.XXXXXX", path[512];
	unsigned char want[48], got[64];
	unsigned int want_len = 0;
	struct err e = { 0 };
	FILE *f;
	size_t n;

	CHECK(tdx_rtmr_for_pcr(15) == 2 && tdx_rtmr_for_pcr(8) == 2, "PCR 8-15 -> RTMR2");
	CHECK(tdx_rtmr_for_pcr(1) == 0 && tdx_rtmr_for_pcr(7) == 0, "PCR 1,7 -> RTMR0");
	CHECK(tdx_rtmr_for_pcr(4) == 1, "PCR 2-6 -> RTMR1");
	CHECK(tdx_rtmr_for_pcr(16) == 3 && tdx_rtmr_for_pcr(0) == 3, "others -> RTMR3");

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/rtmr2:sha384", dir);
	f = fopen(path, "w");
	if (!f)
		return 1;
	fclose(f);
	CHECK(tdx_rtmr_extend_event(dir, 2, event, sizeof(event) - 1, &e) == 0, "extend: %s", e.msg);
	f = fopen(path, "rb");
	n = f ? fread(got, 1, sizeof(got), f) : 0;
	if (f)
		fclose(f);
	EVP_Digest(event, sizeof(event) - 1, want, &want_len, EVP_sha384(), NULL);
	CHECK(n == 48 && memcmp(got, want, 48) == 0, "wrote %zu bytes, want SHA-384 of the event", n);

	e.code = 0;
	CHECK(tdx_rtmr_extend_event(dir, 3, event, 3, &e) == CVM_E_TEE && strstr(e.msg, "6.16"),
	      "missing attribute: %s", e.msg);
	CHECK(tdx_rtmr_extend_event(dir, 4, event, 3, &e) != 0, "RTMR 4 accepted");

	/* A guest without the RTMR sysfs ABI (this host; TDX kernels before 6.16)
	 * is not sealed, and says why, but boots. */
	if (access(TDX_MEASUREMENTS_DIR, F_OK) != 0) {
		struct config cfg;
		struct tee_options o;
		char what[256] = "";
		const struct tee_backend *tdx = tee_by_name("tdx");

		config_defaults(&cfg);
		tee_options_from_config(&cfg, &o);
		CHECK(tdx && tdx->seal(&o, event, 3, what, sizeof(what), &e) == TEE_SEAL_UNAVAILABLE &&
		      strstr(what, "6.16"), "seal without RTMR interface: '%s'", what);
	}

	unlink(path);
	rmdir(dir);
	if (failures)
		return 1;
	printf("ok\n");
	return 0;
}
