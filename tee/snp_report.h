/* SEV-SNP evidence in Trustee's form: the binary attestation report as the
 * serde JSON of virtee/sev's AttestationReport, and the GHCB certificate table
 * as its cert_chain. */
#ifndef CVMBOOT_SNP_REPORT_H
#define CVMBOOT_SNP_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define SNP_REPORT_SIZE 1184
#define SNP_REPORT_DATA_OFFSET 0x50
#define SNP_HOST_DATA_OFFSET 0xC0
#define SNP_HOST_DATA_LEN 32
#define SNP_CERT_TABLE_MAX (64 * 1024)

/* Binary report (exactly 1184 bytes, version 2, 3 or 5) -> the
 * "attestation_report" object. */
int snp_report_to_json(const unsigned char *report, size_t len, json_t **out, struct err *e);
/* GHCB certificate table -> [{"cert_type":"VCEK","data":[...]}, ...], or
 * JSON null when the table holds no entry. */
int snp_cert_table_to_json(const unsigned char *table, size_t len, json_t **out, struct err *e);
/* {"attestation_report": ..., "cert_chain": ... | null}; certs may be NULL. */
int snp_evidence_build(const unsigned char *report, size_t report_len, const unsigned char *certs,
		       size_t certs_len, json_t **out, struct err *e);
/* The same from files: a binary report and an optional GHCB certificate
 * table (what configfs-tsm's auxblob or SNP_GET_EXT_REPORT return). */
int snp_evidence_from_files(const char *report_path, const char *certs_path, json_t **out,
			    struct err *e);

#endif
