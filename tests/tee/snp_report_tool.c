/* Test driver: prints the snp evidence JSON snp_evidence_from_files makes
 * of a binary report (and optional GHCB certificate table). */
#include <stdio.h>
#include <stdlib.h>

#include "snp_report.h"

int main(int argc, char **argv)
{
	struct err e = { 0 };
	json_t *ev = NULL;
	char *text;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s REPORT [CERT_TABLE]\n", argv[0]);
		return 2;
	}
	if (snp_evidence_from_files(argv[1], argc == 3 ? argv[2] : NULL, &ev, &e)) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code;
	}
	text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (!text)
		return 1;
	puts(text);
	free(text);
	return 0;
}
