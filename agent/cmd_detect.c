/* `cvmboot detect`: every TEE backend built in, in detection order, with
 * whether it finds its platform and why; then the one that would be used. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "tee_config.h"

int cmd_detect(struct config *cfg, int argc, char **argv)
{
	const struct tee_backend *chosen = NULL;
	struct tee_options opts;
	struct err e = { 0 };

	(void)argv;
	if (argc != 1) {
		log_error("usage: cvmboot detect");
		return CVM_E_USAGE;
	}
	tee_options_from_config(cfg, &opts);
	printf("detection order (first match wins with [tee] type = auto):\n");
	for (int i = 0; tee_backends[i]; i++) {
		char why[256] = "";
		int found = tee_backends[i]->detect ? tee_backends[i]->detect(&opts, why, sizeof(why)) : 0;

		printf("  %-12s %-3s %s\n", tee_backends[i]->name, found == 1 ? "yes" : "no", why);
	}
	if (tee_select(&opts, &chosen, &e)) {
		printf("selected: none\n");
		log_error("%s", e.msg);
		return e.code;
	}
	printf("selected: %s%s\n", chosen->name, strcmp(cfg->tee, "auto") ? " (configured)" : "");
	return 0;
}
