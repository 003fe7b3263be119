/* The "az-snp-vtpm" TEE: an Azure SEV-SNP confidential VM seen through its
 * paravisor's vTPM (HCL report + AK quote + VCEK from the metadata service). */
#include "tee.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "az_vtpm.h"

#define VCEK_PATH "/metadata/THIM/amd/certification"

static int az_snp_vtpm_detect(const struct tee_options *cfg, char *why, size_t why_len)
{
	return az_detect(cfg, AZ_REPORT_TYPE_SNP, why, why_len);
}

/* The metadata service answers {"vcekCert": PEM, "certificateChain": PEM};
 * the evidence carries the VCEK alone, DER. */
static int fetch_vcek_der(const struct tee_options *cfg, unsigned char **der, size_t *der_len,
			  struct err *e)
{
	json_t *answer = NULL;
	const char *pem;
	BIO *bio = NULL;
	X509 *cert = NULL;
	unsigned char *p;
	int len;

	if (az_imds_json(cfg, VCEK_PATH, NULL, &answer, e))
		return err_wrap(e, "fetching the VCEK");
	pem = json_string_value(json_object_get(answer, "vcekCert"));
	if (pem)
		bio = BIO_new_mem_buf(pem, -1);
	if (bio)
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	json_decref(answer);
	if (!cert)
		return err_set(e, CVM_E_TEE, "metadata service: no PEM certificate in \"vcekCert\"");
	len = i2d_X509(cert, NULL);
	if (len <= 0 || !(*der = malloc((size_t)len))) {
		X509_free(cert);
		return err_set(e, CVM_E_INTERNAL, "cannot encode the VCEK");
	}
	p = *der;
	i2d_X509(cert, &p);
	*der_len = (size_t)len;
	X509_free(cert);
	return 0;
}

static int az_snp_vtpm_evidence(const struct tee_options *cfg, const unsigned char *rd, size_t len,
				json_t **evidence, struct err *e)
{
	struct tpm_quote q = { 0 };
	unsigned char *hcl = NULL, *vcek = NULL;
	size_t hcl_len = 0, vcek_len = 0;
	int rc;

	rc = az_collect(cfg, AZ_REPORT_TYPE_SNP, rd, len, &hcl, &hcl_len, &q, e);
	if (!rc)
		rc = fetch_vcek_der(cfg, &vcek, &vcek_len, e);
	if (!rc)
		rc = az_evidence_json(&q, hcl, hcl_len, "vcek", vcek, vcek_len, evidence, e);
	tpm_quote_clear(&q);
	free(hcl);
	free(vcek);
	if (rc)
		return err_wrap(e, "az-snp-vtpm evidence");
	return 0;
}

const struct tee_backend tee_az_snp_vtpm = {
	.name = "az-snp-vtpm",
	.auto_detect = true,
	.detect = az_snp_vtpm_detect,
	.evidence = az_snp_vtpm_evidence,
	.seal = tpm_seal_event,
};
