/* The "tdx" TEE (Intel TDX guests): a TD quote via configfs-tsm and the
 * firmware's CC event log (ACPI CCEL), as Trustee's tdx verifier reads them. */
#include "tee.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "configfs_tsm.h"
#include "tdx.h"
#include "tee_parse.h"
#include "validate.h"

#define TDX_GUEST_DEV "/dev/tdx_guest"
#define TDX_QUOTE_MAX (64 * 1024)
#define CCEL_MAX (16 * 1024 * 1024)
#define TD_REPORT_BODY_V10 584
#define QUOTE_HEADER 48
#define TD_REPORT_DATA_IN_BODY 520
#define TD_MRCONFIGID_IN_BODY 184  /* after TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, attributes, XFAM, MRTD */
#define TD_MRCONFIGID_LEN 48
#define TEE_TYPE_TDX 0x81
#define EV_NO_ACTION 3
#define CCEL_END_MARKER_LEN 8

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int tdx_detect(const struct tee_options *cfg, char *why, size_t why_len)
{
	char provider[64] = "";
	struct err e = { 0 };

	if (path_is_dir(cfg->configfs_tsm_root) &&
	    tsm_probe_provider(cfg->configfs_tsm_root, provider, sizeof(provider), &e) == 0 &&
	    strcmp(provider, TSM_PROVIDER_TDX) == 0) {
		snprintf(why, why_len, "configfs-tsm provider is %s", provider);
		return 1;
	}
	if (path_exists(TDX_GUEST_DEV)) {
		snprintf(why, why_len, "%s is present (quotes need configfs-tsm at %s)", TDX_GUEST_DEV,
			 cfg->configfs_tsm_root);
		return 1;
	}
	if (e.code)
		snprintf(why, why_len, "no %s, and %s", TDX_GUEST_DEV, e.msg);
	else if (provider[0])
		snprintf(why, why_len, "no %s, and configfs-tsm provider is '%s'", TDX_GUEST_DEV, provider);
	else
		snprintf(why, why_len, "neither %s nor %s exists", cfg->configfs_tsm_root, TDX_GUEST_DEV);
	return 0;
}

/* Where REPORTDATA sits in a v4 or v5 TD quote, after checking the header. */
int quote_report_data(const unsigned char *q, size_t len, size_t *offset, struct err *e)
{
	unsigned version;

	if (len < QUOTE_HEADER + 6 + TD_REPORT_BODY_V10)
		return err_set(e, CVM_E_TEE, "TD quote is only %zu bytes", len);
	version = q[0] | q[1] << 8;
	if (le32(q + 4) != TEE_TYPE_TDX)
		return err_set(e, CVM_E_TEE, "quote TEE type 0x%x is not TDX (0x81)", le32(q + 4));
	if (version == 4) {
		*offset = QUOTE_HEADER + TD_REPORT_DATA_IN_BODY;
	} else if (version == 5) {
		uint32_t body_size = le32(q + QUOTE_HEADER + 2);

		if (body_size < TD_REPORT_BODY_V10 || body_size > len - QUOTE_HEADER - 6)
			return err_set(e, CVM_E_TEE, "TD quote v5 body size %u does not fit the quote (%zu bytes)",
				       body_size, len);
		*offset = QUOTE_HEADER + 6 + TD_REPORT_DATA_IN_BODY;
	} else {
		return err_set(e, CVM_E_TEE, "TD quote version %u is not supported (expected 4 or 5)", version);
	}
	return 0;
}

static const unsigned digest_sizes[][2] = {
	{ 0x0b, 32 }, /* SHA-256 */
	{ 0x0c, 48 }, /* SHA-384 */
	{ 0x0d, 64 }, /* SHA-512 */
	{ 0x12, 32 }, /* SM3-256 */
};

static int digest_size(unsigned alg, uint64_t *size)
{
	for (size_t i = 0; i < sizeof(digest_sizes) / sizeof(digest_sizes[0]); i++)
		if (digest_sizes[i][0] == alg) {
			*size = digest_sizes[i][1];
			return 0;
		}
	return -1;
}

/* The end of one crypto-agile event (TCG_PCR_EVENT2) starting at off. */
static int ccel_skip_event(const unsigned char *p, size_t n, uint64_t *off, struct err *e)
{
	uint64_t o = *off, count, size;

	if (o + 12 > n)
		return err_set(e, CVM_E_TEE, "CCEL: event at %llu is truncated", (unsigned long long)o);
	count = le32(p + o + 8);
	o += 12;
	if (count > 16)
		return err_set(e, CVM_E_TEE, "CCEL: event with %llu digests", (unsigned long long)count);
	for (uint64_t i = 0; i < count; i++) {
		if (o + 2 > n)
			return err_set(e, CVM_E_TEE, "CCEL: digest at %llu is truncated", (unsigned long long)o);
		if (digest_size(p[o] | p[o + 1] << 8, &size))
			return err_set(e, CVM_E_TEE, "CCEL: unsupported digest algorithm 0x%x at %llu",
				       p[o] | p[o + 1] << 8, (unsigned long long)o);
		o += 2 + size;
	}
	if (o + 4 > n)
		return err_set(e, CVM_E_TEE, "CCEL: event data size at %llu is truncated", (unsigned long long)o);
	o += 4 + (uint64_t)le32(p + o);
	if (o > n)
		return err_set(e, CVM_E_TEE, "CCEL: event data runs past the end of the log");
	*off = o;
	return 0;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* The used length of a CCEL table (the rule of guest-components' trim_ccel):
 * a TCG_PCR_EVENT spec-ID event, crypto-agile events, then 8 bytes of 0xFF
 * (or zeros) where the unused space begins. */
int ccel_used_length(const unsigned char *p, size_t n, size_t *used, struct err *e)
{
	uint64_t off;

	if (n < 32 || le32(p + 4) != EV_NO_ACTION)
		return err_set(e, CVM_E_TEE, "CCEL does not start with a TCG spec ID event");
	off = 32 + (uint64_t)le32(p + 28);
	if (off > n)
		return err_set(e, CVM_E_TEE, "CCEL: spec ID event runs past the end of the log");
	for (;;) {
		size_t left = n - (size_t)off;
		size_t probe = left < CCEL_END_MARKER_LEN ? left : CCEL_END_MARKER_LEN;

		if (all_bytes(p + off, probe, 0xFF) || all_bytes(p + off, probe, 0x00))
			break;
		if (ccel_skip_event(p, n, &off, e))
			return e->code;
	}
	*used = (size_t)off;
	return 0;
}

/* base64 of the trimmed CCEL plus an end marker, or JSON null without one. */
static int read_cc_eventlog(const char *path, json_t **out, struct err *e)
{
	static const unsigned char end_marker[CCEL_END_MARKER_LEN] = {
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	};
	unsigned char *ccel;
	size_t len, used = 0;
	char *b64;
	int missing;

	if (!path[0]) {
		*out = json_null();
		return 0;
	}
	if (tee_read_bounded(path, CCEL_MAX, &ccel, &len, &missing, e)) {
		if (missing) {
			*out = json_null();
			return 0;
		}
		return e->code;
	}
	if (ccel_used_length(ccel, len, &used, e)) {
		free(ccel);
		return err_wrap(e, "%s", path);
	}
	/* tee_read_bounded keeps one spare byte; room for the marker is needed. */
	if (used + CCEL_END_MARKER_LEN > len) {
		unsigned char *bigger = realloc(ccel, used + CCEL_END_MARKER_LEN);

		if (!bigger) {
			free(ccel);
			return err_set(e, CVM_E_INTERNAL, "out of memory");
		}
		ccel = bigger;
	}
	memcpy(ccel + used, end_marker, CCEL_END_MARKER_LEN);
	b64 = b64_encode(ccel, used + CCEL_END_MARKER_LEN, false);
	free(ccel);
	*out = b64 ? json_string(b64) : NULL;
	free(b64);
	return *out ? 0 : err_set(e, CVM_E_INTERNAL, "out of memory");
}

static int tdx_evidence(const struct tee_options *cfg, const unsigned char *report_data, size_t len,
			json_t **evidence, struct err *e)
{
	unsigned char rd[64] = { 0 };
	struct tsm_request req = {
		.root = cfg->configfs_tsm_root, .provider = TSM_PROVIDER_TDX, .privlevel = -1,
		.inblob = rd, .inblob_len = sizeof(rd), .outblob_max = TDX_QUOTE_MAX, .auxblob_max = 0,
	};
	struct tsm_result res;
	json_t *eventlog = NULL;
	size_t rd_off = 0;
	char *quote;

	if (len > sizeof(rd))
		return err_set(e, CVM_E_INTERNAL, "tdx: report data of %zu bytes, at most 64", len);
	memcpy(rd, report_data, len);
	if (tsm_get_report(&req, &res, e))
		return err_wrap(e, "tdx");
	if (quote_report_data(res.outblob, res.outblob_len, &rd_off, e) ||
	    (memcmp(res.outblob + rd_off, rd, sizeof(rd)) != 0 &&
	     err_set(e, CVM_E_TEE, "the TD quote does not carry the report data we asked for")) ||
	    tee_init_data_check(cfg, "MRCONFIGID", res.outblob + rd_off - TD_REPORT_DATA_IN_BODY +
				  TD_MRCONFIGID_IN_BODY, TD_MRCONFIGID_LEN, e)) {
		tsm_result_free(&res);
		return err_wrap(e, "tdx");
	}
	quote = b64_encode(res.outblob, res.outblob_len, false);
	tsm_result_free(&res);
	if (!quote)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	if (read_cc_eventlog(cfg->ccel_path, &eventlog, e)) {
		free(quote);
		return err_wrap(e, "tdx: event log");
	}
	*evidence = json_pack("{s:o, s:s}", "cc_eventlog", eventlog, "quote", quote);
	free(quote);
	return *evidence ? 0 : err_set(e, CVM_E_INTERNAL, "out of memory");
}

int tdx_rtmr_for_pcr(int pcr)
{
	if (pcr == 1 || pcr == 7)
		return 0;
	if (pcr >= 2 && pcr <= 6)
		return 1;
	if (pcr >= 8 && pcr <= 15)
		return 2;
	return 3;
}

int tdx_rtmr_extend_event(const char *dir, int rtmr, const unsigned char *event, size_t len,
			  struct err *e)
{
	unsigned char digest[48];
	unsigned int digest_len = 0;
	char path[4096];
	ssize_t w;
	int fd;

	if (rtmr < 0 || rtmr > 3)
		return err_set(e, CVM_E_INTERNAL, "RTMR index %d is not 0..3", rtmr);
	if (EVP_Digest(event, len, digest, &digest_len, EVP_sha384(), NULL) != 1 || digest_len != 48)
		return err_set(e, CVM_E_INTERNAL, "SHA-384 failed");
	snprintf(path, sizeof(path), "%s/rtmr%d:sha384", dir, rtmr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, CVM_E_TEE, "cannot extend RTMR%d: %s: %s%s", rtmr, path, strerror(errno),
			       errno == ENOENT ? " (needs Linux 6.16+; set seal_pcr = -1 to boot without sealing)" : "");
	do
		w = write(fd, digest, sizeof(digest));
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)sizeof(digest)) {
		int saved = w < 0 ? errno : EIO;

		close(fd);
		return err_set(e, CVM_E_TEE, "cannot extend RTMR%d: %s: %s", rtmr, path, strerror(saved));
	}
	if (close(fd) < 0)
		return err_set(e, CVM_E_TEE, "cannot extend RTMR%d: %s: %s", rtmr, path, strerror(errno));
	return 0;
}

static int tdx_seal(const struct tee_options *cfg, const unsigned char *event, size_t event_len,
		    char *what, size_t what_len, struct err *e)
{
	int rtmr = tdx_rtmr_for_pcr(cfg->seal_pcr);
	char path[sizeof(TDX_MEASUREMENTS_DIR) + 16];

	/* The RTMR sysfs ABI arrived in Linux 6.16; older TDX guests (RHEL 9
	 * and 10 among them) have none, and must still boot. */
	snprintf(path, sizeof(path), "%s/rtmr%d:sha384", TDX_MEASUREMENTS_DIR, rtmr);
	if (!path_exists(path)) {
		snprintf(what, what_len, "no RTMR interface (%s; needs Linux 6.16+)", path);
		return TEE_SEAL_UNAVAILABLE;
	}
	if (tdx_rtmr_extend_event(TDX_MEASUREMENTS_DIR, rtmr, event, event_len, e))
		return e->code;
	snprintf(what, what_len, "RTMR%d (for PCR %d) with SHA-384 of the event", rtmr, cfg->seal_pcr);
	return 0;
}

const struct tee_backend tee_tdx = {
	.name = "tdx",
	.auto_detect = true,
	.detect = tdx_detect,
	.evidence = tdx_evidence,
	.seal = tdx_seal,
};
