/* Loads tpm2-tss with dlopen (see tss2_loader.h); the sonames are the ones
 * tpm2-tss has kept since 2.x, the same on Debian, Ubuntu, Fedora and RHEL. */
#define TSS2_LOADER_NO_REDIRECT
#include "tss2_loader.h"

#include <dlfcn.h>
#include <stdbool.h>

enum tss2_lib { ESYS, MU, RC, TCTILDR, TSS2_LIBS };

static const char *const lib_sonames[TSS2_LIBS] = {
	[ESYS] = "libtss2-esys.so.0",
	[MU] = "libtss2-mu.so.0",
	[RC] = "libtss2-rc.so.0",
	[TCTILDR] = "libtss2-tctildr.so.0",
};

#define TSS2_LOADER_DEFINE(lib, f) __typeof__(f) *tss2_sym_##f;
TSS2_LOADER_FUNCTIONS(TSS2_LOADER_DEFINE)
#undef TSS2_LOADER_DEFINE

struct tss2_symbol {
	enum tss2_lib lib;
	const char *name;
	void **ptr;
};

#define TSS2_LOADER_ENTRY(l, f) { l, #f, (void **)&tss2_sym_##f },
static const struct tss2_symbol symbols[] = { TSS2_LOADER_FUNCTIONS(TSS2_LOADER_ENTRY) };
#undef TSS2_LOADER_ENTRY

int tss2_load(struct err *e)
{
	static bool loaded;
	void *handles[TSS2_LIBS];
	const char *why;

	if (loaded)
		return 0;
	/* Kept open for the life of the process: the TPM contexts and the
	 * deadline TCTI's helper threads may outlive any one caller. */
	for (int i = 0; i < TSS2_LIBS; i++) {
		handles[i] = dlopen(lib_sonames[i], RTLD_NOW | RTLD_LOCAL);
		if (!handles[i]) {
			why = dlerror();
			return err_set(e, CVM_E_TEE,
				       "the TPM-based TEEs need tpm2-tss: cannot load %s (%s); "
				       "install tpm2-tss's esys, mu, rc and tctildr libraries",
				       lib_sonames[i], why ? why : "unknown error");
		}
	}
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		*symbols[i].ptr = dlsym(handles[symbols[i].lib], symbols[i].name);
		if (!*symbols[i].ptr)
			return err_set(e, CVM_E_TEE, "tpm2-tss: %s has no %s (too old a tpm2-tss?)",
				       lib_sonames[symbols[i].lib], symbols[i].name);
	}
	loaded = true;
	return 0;
}
