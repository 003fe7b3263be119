/* Test driver for the TPM-based TEE backends: runs one backend's detect,
 * evidence or seal hook against a TPM named by a TCTI (swtpm in the tests).
 * usage: tpm_driver TEE (detect|evidence HEX|seal EVENT) [--tcti T]
 *        [--ak-handle H] [--imds URL] [--seal-pcr N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tee_config.h"

static int parse_hex(const char *hex, unsigned char *out, size_t max, size_t *len)
{
	size_t n = strlen(hex);

	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		char byte[3] = { hex[2 * i], hex[2 * i + 1], 0 };
		char *end;

		out[i] = (unsigned char)strtoul(byte, &end, 16);
		if (*end)
			return -1;
	}
	*len = n / 2;
	return 0;
}

static int apply_options(struct config *cfg, int argc, char **argv)
{
	for (int i = 0; i < argc; i += 2) {
		if (i + 1 >= argc)
			return -1;
		if (!strcmp(argv[i], "--tcti"))
			snprintf(cfg->tpm_tcti, sizeof(cfg->tpm_tcti), "%s", argv[i + 1]);
		else if (!strcmp(argv[i], "--ak-handle"))
			cfg->tpm_ak_handle = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--imds"))
			snprintf(cfg->azure_imds_url, sizeof(cfg->azure_imds_url), "%s", argv[i + 1]);
		else if (!strcmp(argv[i], "--seal-pcr"))
			cfg->seal_pcr = atoi(argv[i + 1]);
		else
			return -1;
	}
	return 0;
}

static int run(const struct tee_backend *tee, const struct config *cfg, const char *cmd,
	       const char *arg)
{
	struct tee_options o;
	struct err e = { 0 };

	tee_options_from_config(cfg, &o);

	if (!strcmp(cmd, "detect")) {
		char why[256] = "";
		int found = tee->detect(&o, why, sizeof(why));

		printf("%s %s\n", found == 1 ? "yes" : "no", why);
		return found == 1 ? 0 : 1;
	}
	if (!strcmp(cmd, "evidence")) {
		unsigned char rd[TEE_REPORT_DATA_MAX];
		size_t rd_len = 0;
		json_t *ev = NULL;
		char *text;

		if (parse_hex(arg, rd, sizeof(rd), &rd_len))
			return 2;
		if (tee->evidence(&o, rd, rd_len, &ev, &e)) {
			fprintf(stderr, "error: %s\n", e.msg);
			return e.code;
		}
		text = json_dumps(ev, JSON_COMPACT);
		puts(text ? text : "null");
		free(text);
		json_decref(ev);
		return 0;
	}
	if (!strcmp(cmd, "seal")) {
		char what[128] = "";

		if (!tee->seal) {
			fprintf(stderr, "error: no seal hook\n");
			return 1;
		}
		if (tee->seal(&o, (const unsigned char *)arg, strlen(arg), what, sizeof(what), &e)) {
			fprintf(stderr, "error: %s\n", e.msg);
			return e.code;
		}
		printf("%s\n", what);
		return 0;
	}
	return 2;
}

int main(int argc, char **argv)
{
	const struct tee_backend *tee;
	struct config cfg;
	int first_opt;

	if (argc < 3) {
		fprintf(stderr, "usage: tpm_driver TEE (detect|evidence HEX|seal EVENT) [options]\n");
		return 2;
	}
	config_defaults(&cfg);
	first_opt = strcmp(argv[2], "detect") ? 4 : 3;
	if (argc < first_opt || apply_options(&cfg, argc - first_opt, argv + first_opt)) {
		fprintf(stderr, "tpm_driver: bad arguments\n");
		return 2;
	}
	if (!(tee = tee_by_name(argv[1]))) {
		fprintf(stderr, "tpm_driver: unknown TEE %s\n", argv[1]);
		return 2;
	}
	return run(tee, &cfg, argv[2], first_opt == 4 ? argv[3] : NULL);
}
