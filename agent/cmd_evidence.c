/* `cvmboot evidence`: print the evidence JSON a TEE backend produces (with
 * `cvmboot detect`, cmd_detect.c, the operator's tools when a verifier
 * rejects a node). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hex.h"
#include "log.h"
#include "snp_report.h"
#include "tee_config.h"

static int print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2));

	if (!text)
		return CVM_E_INTERNAL;
	puts(text);
	free(text);
	return 0;
}

int cmd_evidence(struct config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
		{ "tee", required_argument, NULL, 't' },
		{ "report-data", required_argument, NULL, 'r' },
		{ "report", required_argument, NULL, 'R' },
		{ "certs", required_argument, NULL, 'C' },
		{ 0 },
	};
	/* Default report data: the 48 zero bytes of an all-zero digest. */
	unsigned char report_data[TEE_REPORT_DATA_MAX] = { 0 };
	size_t report_data_len = 48;
	const char *report_path = NULL, *certs_path = NULL;
	const struct tee_backend *tee;
	struct tee_options opts;
	json_t *evidence = NULL;
	struct err e = { 0 };
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 't':
			snprintf(cfg->tee, sizeof(cfg->tee), "%s", optarg);
			break;
		case 'r':
			if (hex_decode(optarg, strlen(optarg), report_data, sizeof(report_data),
				       &report_data_len)) {
				log_error("--report-data: expected up to %d bytes as hex", TEE_REPORT_DATA_MAX);
				return CVM_E_USAGE;
			}
			break;
		case 'R':
			report_path = optarg;
			break;
		case 'C':
			certs_path = optarg;
			break;
		default:
			return CVM_E_USAGE;
		}
	}
	if (optind != argc || (certs_path && !report_path)) {
		log_error("usage: cvmboot evidence [--tee T] [--report-data HEX] "
			  "[--report FILE [--certs FILE]]");
		return CVM_E_USAGE;
	}
	tee_options_from_config(cfg, &opts);
	if (report_path) {
		/* A saved binary report: only SNP reports are converted. */
		if (strcmp(cfg->tee, "snp") != 0) {
			log_error("--report needs --tee snp (only SNP reports are converted)");
			return CVM_E_USAGE;
		}
		if (snp_evidence_from_files(report_path, certs_path, &evidence, &e)) {
			log_error("evidence: %s", e.msg);
			return e.code;
		}
	} else if (tee_select(&opts, &tee, &e) ||
		   tee->evidence(&opts, report_data, report_data_len, &evidence, &e)) {
		log_error("evidence: %s", e.msg);
		return e.code;
	}
	rc = print_json(evidence);
	json_decref(evidence);
	return rc;
}
