/* Test driver for tsm_get_report: ROOT PROVIDER PRIVLEVEL HEX_INBLOB OUTFILE
 * writes outblob to OUTFILE (and auxblob to OUTFILE.aux when there is one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configfs_tsm.h"

static int save(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(p, 1, n, f) == n;

	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned char inblob[64];
	struct tsm_result res;
	struct err e = { 0 };
	char aux[4096];
	size_t n;

	if (argc != 6 || strlen(argv[4]) % 2 || strlen(argv[4]) / 2 > sizeof(inblob)) {
		fprintf(stderr, "usage: %s ROOT PROVIDER PRIVLEVEL HEX OUTFILE\n", argv[0]);
		return 2;
	}
	n = strlen(argv[4]) / 2;
	for (size_t i = 0; i < n; i++)
		if (sscanf(argv[4] + 2 * i, "%2hhx", &inblob[i]) != 1)
			return 2;
	struct tsm_request req = {
		.root = argv[1], .provider = argv[2], .privlevel = atoi(argv[3]), .inblob = inblob,
		.inblob_len = n, .outblob_max = 64 * 1024, .auxblob_max = 64 * 1024,
	};
	if (tsm_get_report(&req, &res, &e)) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code;
	}
	snprintf(aux, sizeof(aux), "%s.aux", argv[5]);
	if (save(argv[5], res.outblob, res.outblob_len) ||
	    (res.auxblob && save(aux, res.auxblob, res.auxblob_len))) {
		tsm_result_free(&res);
		return 1;
	}
	tsm_result_free(&res);
	return 0;
}
