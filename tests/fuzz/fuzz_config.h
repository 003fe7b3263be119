/* What the two configuration harnesses share: the input as a file given
 * by path, read on top of the defaults, then the cross-field checks. */
#ifndef CVMBOOT_FUZZ_CONFIG_H
#define CVMBOOT_FUZZ_CONFIG_H

#include "config.h"
#include "fuzz.h"

typedef int (*fuzz_config_reader)(struct config *c, const char *path, struct err *e);

static inline int fuzz_config_input(const uint8_t *data, size_t size, fuzz_config_reader read)
{
	static struct fuzz_file file = { .fd = -1 };
	static struct config cfg;
	struct err e = { 0 };
	int rc;

	if (file.fd < 0)
		fuzz_file_open(&file, "config");
	fuzz_file_set(&file, data, size);
	config_defaults(&cfg);
	rc = read(&cfg, file.path, &e);
	fuzz_check_err(rc, &e);
	if (rc)
		return 0;
	FUZZ_CHECK(cfg.n_urls >= 0 && cfg.n_urls <= CFG_MAX_URLS, "%d URLs", cfg.n_urls);
	FUZZ_CHECK(cfg.n_resources >= 0 && cfg.n_resources <= CFG_MAX_RESOURCES, "%d resources",
		   cfg.n_resources);
	fuzz_check_err(config_validate(&cfg, &e), &e);
	return 0;
}

#endif
