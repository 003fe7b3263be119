/* libFuzzer harness: the JSON of a cvmboot LUKS2 token as a (host-written)
 * header holds it, checked field by field by luks_token_validate. */
#include "fuzz.h"
#include "luks.h"
#include "resource_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = fuzz_cstr(data, size);   /* libcryptsetup hands out C strings */
	struct luks_token_info info;
	struct err e = { 0 };
	int rc = luks_token_validate(json, &info, &e);

	fuzz_check_err(rc, &e);
	if (rc == 0) {
		FUZZ_CHECK(info.keyslot >= 0, "keyslot %d", info.keyslot);
		FUZZ_CHECK(resource_path_valid(info.resource), "resource %s", info.resource);
		FUZZ_CHECK(info.n_urls >= 0 && info.n_urls <= LUKS_MAX_TOKEN_URLS, "%d URLs", info.n_urls);
		for (int i = 0; i < info.n_urls; i++)
			FUZZ_CHECK(memchr(info.urls[i], '\0', sizeof(info.urls[i])), "URL %d unterminated", i);
	}
	free(json);
	return 0;
}
