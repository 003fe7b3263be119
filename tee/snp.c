/* The "snp" TEE (bare-metal SEV-SNP guests): the attestation report and the
 * host's certificates via configfs-tsm, or /dev/sev-guest on older kernels. */
#include "tee.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sev-guest.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configfs_tsm.h"
#include "snp_report.h"
#include "validate.h"

#define SEV_GUEST_DEV "/dev/sev-guest"
#define SNP_OUTBLOB_MAX (16 * 1024)
#define SNP_CERTS_START (4 * 4096)    /* room for ARK + ASK + VCEK */
#define SNP_CERTS_MAX (1024 * 1024)
#define SNP_RESP_HEADER 32            /* status, report_size, reserved: report follows */

static int snp_detect(const struct tee_options *cfg, char *why, size_t why_len)
{
	char provider[64] = "";
	struct err e = { 0 };

	if (path_is_dir(cfg->configfs_tsm_root)) {
		if (tsm_probe_provider(cfg->configfs_tsm_root, provider, sizeof(provider), &e) == 0 &&
		    strcmp(provider, TSM_PROVIDER_SNP) == 0) {
			snprintf(why, why_len, "configfs-tsm provider is %s", provider);
			return 1;
		}
	}
	if (path_exists(SEV_GUEST_DEV)) {
		snprintf(why, why_len, "%s is present", SEV_GUEST_DEV);
		return 1;
	}
	if (e.code)
		snprintf(why, why_len, "no %s, and %s", SEV_GUEST_DEV, e.msg);
	else if (path_is_dir(cfg->configfs_tsm_root))
		snprintf(why, why_len, "no %s, and configfs-tsm provider is '%s'", SEV_GUEST_DEV, provider);
	else
		snprintf(why, why_len, "neither %s nor %s exists", cfg->configfs_tsm_root, SEV_GUEST_DEV);
	return 0;
}

/* SNP_GET_EXT_REPORT; the certificate buffer grows once when the host says
 * it needs more (vmm_error SNP_GUEST_VMM_ERR_INVALID_LEN, size in certs_len). */
static int sev_guest_ext_report(const unsigned char rd[64], unsigned char report[SNP_REPORT_SIZE],
				unsigned char **certs, size_t *certs_len, struct err *e)
{
	struct snp_ext_report_req req;
	struct snp_report_resp resp;
	struct snp_guest_request_ioctl g;
	size_t cap = SNP_CERTS_START;
	unsigned char *buf = NULL;
	int fd, rc = 0;

	fd = open(SEV_GUEST_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, CVM_E_TEE, "cannot open %s: %s", SEV_GUEST_DEV, strerror(errno));
	for (int attempt = 0;; attempt++) {
		free(buf);
		buf = calloc(1, cap);
		if (!buf) {
			rc = err_set(e, CVM_E_INTERNAL, "out of memory");
			break;
		}
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		memset(&g, 0, sizeof(g));
		memcpy(req.data.user_data, rd, 64);
		req.certs_address = (uint64_t)(uintptr_t)buf;
		req.certs_len = (uint32_t)cap;
		g.msg_version = 1;
		g.req_data = (uint64_t)(uintptr_t)&req;
		g.resp_data = (uint64_t)(uintptr_t)&resp;
		if (ioctl(fd, SNP_GET_EXT_REPORT, &g) == 0)
			break;
		if ((g.exitinfo2 >> 32) == SNP_GUEST_VMM_ERR_INVALID_LEN && attempt == 0 &&
		    req.certs_len > cap && req.certs_len <= SNP_CERTS_MAX) {
			cap = (req.certs_len + 4095u) & ~(size_t)4095u;
			continue;
		}
		rc = err_set(e, CVM_E_TEE,
			     "%s: SNP_GET_EXT_REPORT failed: %s (firmware error 0x%x, host error 0x%x, certificates need %u bytes)",
			     SEV_GUEST_DEV, strerror(errno), g.fw_error, g.vmm_error, req.certs_len);
		break;
	}
	close(fd);
	if (!rc) {
		uint32_t status = resp.data[0] | resp.data[1] << 8 | resp.data[2] << 16 | (uint32_t)resp.data[3] << 24;
		uint32_t size = resp.data[4] | resp.data[5] << 8 | resp.data[6] << 16 | (uint32_t)resp.data[7] << 24;

		if (status != 0)
			rc = err_set(e, CVM_E_TEE, "%s: firmware status 0x%x", SEV_GUEST_DEV, status);
		else if (size != SNP_REPORT_SIZE)
			rc = err_set(e, CVM_E_TEE, "%s: report size %u, expected %d", SEV_GUEST_DEV, size,
				     SNP_REPORT_SIZE);
		else
			memcpy(report, resp.data + SNP_RESP_HEADER, SNP_REPORT_SIZE);
	}
	if (rc || req.certs_len == 0) {
		free(buf);
		buf = NULL;
		cap = 0;
	}
	*certs = buf;
	*certs_len = cap;
	return rc;
}

/* The report carries our report data and, with init-data configured, the
 * document's digest in HOST_DATA (set by the host at launch). */
static int check_bound(const struct tee_options *cfg, const unsigned char *report,
		       const unsigned char rd[64], struct err *e)
{
	if (memcmp(report + SNP_REPORT_DATA_OFFSET, rd, 64) != 0)
		return err_set(e, CVM_E_TEE, "the SNP report does not carry the report data we asked for");
	return tee_init_data_check(cfg, "HOST_DATA", report + SNP_HOST_DATA_OFFSET,
				     SNP_HOST_DATA_LEN, e);
}

static int snp_evidence(const struct tee_options *cfg, const unsigned char *report_data, size_t len,
			json_t **evidence, struct err *e)
{
	unsigned char rd[64] = { 0 };
	int rc;

	if (len > sizeof(rd))
		return err_set(e, CVM_E_INTERNAL, "snp: report data of %zu bytes, at most 64", len);
	memcpy(rd, report_data, len); /* the 48-byte digest, then zeros */
	if (path_is_dir(cfg->configfs_tsm_root) || !path_exists(SEV_GUEST_DEV)) {
		struct tsm_request req = {
			.root = cfg->configfs_tsm_root, .provider = TSM_PROVIDER_SNP, .privlevel = -1,
			.inblob = rd, .inblob_len = sizeof(rd), .outblob_max = SNP_OUTBLOB_MAX,
			.auxblob_max = SNP_CERT_TABLE_MAX,
		};
		struct tsm_result res;

		if (tsm_get_report(&req, &res, e))
			return err_wrap(e, "snp");
		rc = (res.outblob_len == SNP_REPORT_SIZE ? check_bound(cfg, res.outblob, rd, e)
		      : cfg->init_doc.digest_len ? err_set(e, CVM_E_TEE, "SNP report of %zu bytes: cannot check "
						"HOST_DATA", res.outblob_len) : 0) ||
		     snp_evidence_build(res.outblob, res.outblob_len, res.auxblob, res.auxblob_len,
					evidence, e);
		tsm_result_free(&res);
		return rc ? e->code : 0;
	} else {
		unsigned char report[SNP_REPORT_SIZE], *certs = NULL;
		size_t certs_len = 0;

		if (sev_guest_ext_report(rd, report, &certs, &certs_len, e))
			return err_wrap(e, "snp");
		rc = check_bound(cfg, report, rd, e) ||
		     snp_evidence_build(report, sizeof(report), certs, certs_len, evidence, e);
		free(certs);
		return rc ? e->code : 0;
	}
}

const struct tee_backend tee_snp = {
	.name = "snp",
	.auto_detect = true,
	.detect = snp_detect,
	.evidence = snp_evidence,
	.seal = NULL,
};
