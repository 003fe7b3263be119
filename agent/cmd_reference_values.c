/* `cvmboot reference-values --uki FILE`: the PCR values a KBS should expect
 * from a VM booting that UKI, as one JSON object in the shape Trustee's
 * reference value provider takes (name -> list of hex strings, or one
 * string where Trustee's policy compares with "=="), under the names
 * Trustee's default attestation policy queries. Needs no TPM or TEE:
 * it runs where the image is built. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "hex.h"
#include "log.h"
#include "pe.h"
#include "uki.h"

/* The whole of a regular file of at most PE_MAX_IMAGE bytes. */
static int read_uki(const char *path, unsigned char **out, size_t *len, struct err *e)
{
	struct stat st;
	unsigned char *buf;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(e, CVM_E_USAGE, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > PE_MAX_IMAGE) {
		close(fd);
		return err_set(e, CVM_E_USAGE, "%s is not a regular file of at most %u bytes", path,
			       PE_MAX_IMAGE);
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return err_set(e, CVM_E_INTERNAL, "out of memory for %s", path);
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			close(fd);
			return err_set(e, CVM_E_USAGE, "cannot read %s: %s", path,
				       r < 0 ? strerror(errno) : "file shrank while read");
		}
		n += (size_t)r;
	}
	close(fd);
	*out = buf;
	*len = n;
	return 0;
}

/* name: [hex] (Trustee's policy asks "in"), or name: hex with single (it
 * compares the TDX event log digests with "==") */
static int add_value(json_t *obj, const char *name, const unsigned char *digest, size_t len,
		     bool single)
{
	char *hex = hex_encode(digest, len);
	json_t *value = !hex ? NULL : single ? json_string(hex) : json_pack("[s]", hex);

	free(hex);
	return value ? json_object_set_new(obj, name, value) : -1;
}

static int print_reference_values(const struct uki_measurements *m)
{
	json_t *obj = json_object();
	char *text = NULL;
	int rc = CVM_E_INTERNAL;

	/* PCR 11 under the names of Trustee's ear_default_policy_cpu.rego for
	 * the tpm, az-snp-vtpm and az-tdx-vtpm TEEs; PCR 4 under the name of
	 * Trustee's example TPM policies, PCR 12 likewise (for a custom policy:
	 * PCR 11 alone does not pin the command line without Secure Boot); and
	 * the default policy's TDX direct-boot event digests. */
	if (obj && !add_value(obj, "tpm_pcr11", m->pcr11, UKI_DIGEST_LEN, false) &&
	    !add_value(obj, "snp_pcr11", m->pcr11, UKI_DIGEST_LEN, false) &&
	    !add_value(obj, "tdx_pcr11", m->pcr11, UKI_DIGEST_LEN, false) &&
	    !add_value(obj, "tpm_pcr4", m->pcr4, UKI_DIGEST_LEN, false) &&
	    !add_value(obj, "tpm_pcr12", m->pcr12, UKI_DIGEST_LEN, false) &&
	    !add_value(obj, "tdvfkernel", m->tdvf_kernel, UKI_TDX_DIGEST_LEN, true) &&
	    (!m->has_kernel_params || !add_value(obj, "tdvfkernelparams", m->tdvf_kernel_params,
						   UKI_TDX_DIGEST_LEN, true)))
		text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text && puts(text) != EOF && fflush(stdout) == 0)
		rc = 0;
	free(text);
	json_decref(obj);
	if (rc)
		log_error("reference-values: cannot write the JSON");
	return rc;
}

int cmd_reference_values(struct config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
		{ "uki", required_argument, NULL, 'u' },
		{ "phases", required_argument, NULL, 'p' },
		{ 0 },
	};
	const char *uki_path = NULL, *phases = "";
	struct uki_measurements m;
	unsigned char *data = NULL;
	size_t len = 0;
	struct err e = { 0 };
	char *hex;
	int opt, rc;

	(void)cfg;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'u': uki_path = optarg; break;
		case 'p': phases = optarg; break;
		default: return CVM_E_USAGE;
		}
	}
	if (optind != argc || !uki_path) {
		log_error("usage: cvmboot reference-values --uki FILE [--phases WORD[:WORD...]]");
		return CVM_E_USAGE;
	}
	rc = read_uki(uki_path, &data, &len, &e);
	if (!rc)
		rc = uki_measure(data, len, phases, &m, &e);
	free(data);
	if (rc) {
		log_error("reference-values: %s: %s", uki_path, e.msg);
		return rc;
	}
	hex = hex_encode(m.authenticode, sizeof(m.authenticode));
	log_info("%s: systemd-stub %s, Authenticode SHA-256 %s, phases \"%s\"", uki_path,
		 m.stub_version, hex ? hex : "?", phases);
	free(hex);
	return print_reference_values(&m);
}
