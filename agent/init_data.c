/* Init-data documents: loading, digests, the TEE field comparison, the
 * attestation-request member, and the cvmboot.* settings a document may
 * carry (facts: trustee attestation-service/src/lib.rs parse_init_data,
 * deps/verifier/src/lib.rs regularize_data, kbs/docs/initdata.md). */
#include "init_data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hex.h"
#include "log.h"
#include "secrets.h"

#define SETTINGS_PREFIX "cvmboot."
#define INIT_DATA_CA_FILE "init-data-ca.pem"

void init_data_free(struct init_data *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n_entries; i++) {
		free(d->entries[i].key);
		free(d->entries[i].value);
	}
	free(d->body);
	free(d);
}

const char *init_data_alg_name(enum init_data_alg a)
{
	return a == INIT_DATA_SHA256 ? "sha256" : a == INIT_DATA_SHA384 ? "sha384" : "sha512";
}

const char *init_data_get(const struct init_data *d, const char *key)
{
	for (int i = 0; i < d->n_entries; i++)
		if (!strcmp(d->entries[i].key, key))
			return d->entries[i].value;
	return NULL;
}

static int read_body(const char *path, struct init_data *d, struct err *e)
{
	struct stat st;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return err_set(e, CVM_E_CONFIG, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > INIT_DATA_FILE_MAX ||
	    st.st_size == 0) {
		close(fd);
		return err_set(e, CVM_E_CONFIG, "%s: not a regular file of 1 to %d bytes", path,
			       INIT_DATA_FILE_MAX);
	}
	d->body = malloc(INIT_DATA_FILE_MAX + 1);
	if (!d->body) {
		close(fd);
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	}
	/* Read one byte more than allowed: a file that grew since fstat is refused. */
	while (d->body_len <= INIT_DATA_FILE_MAX) {
		n = read(fd, d->body + d->body_len, INIT_DATA_FILE_MAX + 1 - d->body_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		d->body_len += (size_t)n;
	}
	close(fd);
	if (n < 0)
		return err_set(e, CVM_E_CONFIG, "%s: read error: %s", path, strerror(errno));
	if (d->body_len > INIT_DATA_FILE_MAX || d->body_len == 0)
		return err_set(e, CVM_E_CONFIG, "%s: not a regular file of 1 to %d bytes", path,
			       INIT_DATA_FILE_MAX);
	d->body[d->body_len] = '\0';
	return 0;
}

static int digest(struct init_data *d, struct err *e)
{
	const EVP_MD *md = d->alg == INIT_DATA_SHA256 ? EVP_sha256()
			   : d->alg == INIT_DATA_SHA384 ? EVP_sha384() : EVP_sha512();
	unsigned len = 0;

	if (!EVP_Digest(d->body, d->body_len, d->digest, &len, md, NULL) ||
	    len > sizeof(d->digest))
		return err_set(e, CVM_E_INTERNAL, "cannot compute the init-data digest");
	d->digest_len = len;
	return 0;
}

int init_data_load(const char *path, struct init_data **out, struct err *e)
{
	struct init_data *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	snprintf(d->path, sizeof(d->path), "%s", path);
	if (read_body(path, d, e) || init_data_parse(d, path, e) || digest(d, e)) {
		init_data_free(d);
		return e->code;
	}
	*out = d;
	return 0;
}

void init_data_field(const struct init_data *d, unsigned char *out, size_t len)
{
	size_t n = d->digest_len < len ? d->digest_len : len;

	memset(out, 0, len);
	memcpy(out, d->digest, n);
}

/* ------------------------------------------------------------------ */
/* cvmboot.* settings carried by the document                         */

/* cvmboot.url: whitespace-separated KBS URLs; they replace the list, as
 * rd.cvmboot.url does. http:// still needs insecure_http from the file. */
static int apply_urls(struct config *cfg, const char *v, struct err *e)
{
	char url[CFG_URL_MAX];
	int n = 0;

	while (*v) {
		size_t len;
		bool is_http;

		v += strspn(v, " \t\n");
		len = strcspn(v, " \t\n");
		if (!len)
			break;
		if (len >= sizeof(url))
			return err_set(e, CVM_E_CONFIG, "cvmboot.url: URL too long");
		if (n >= CFG_MAX_URLS)
			return err_set(e, CVM_E_CONFIG, "cvmboot.url: more than %d URLs", CFG_MAX_URLS);
		memcpy(url, v, len);
		url[len] = '\0';
		if (config_check_url(url, &is_http, e))
			return err_wrap(e, "cvmboot.url");
		memcpy(cfg->urls[n], url, len + 1);
		config_trim_url(cfg->urls[n++]);
		v += len;
	}
	if (!n)
		return err_set(e, CVM_E_CONFIG, "cvmboot.url: no URL");
	cfg->n_urls = n;
	return 0;
}

/* cvmboot.ca: a PEM bundle, the only anchor for the KBS from now on. Only
 * with init_data_ca = true in the file (docs/init-data.md says why). */
static int apply_ca(struct config *cfg, const char *v, struct err *e)
{
	char path[CFG_PATH_MAX];

	if (!cfg->init_data_ca)
		return err_set(e, CVM_E_CONFIG, "cvmboot.ca is refused: the configuration file does "
			       "not allow a KBS CA from init-data ([tee] init_data_ca = true)");
	if (!strstr(v, "-----BEGIN CERTIFICATE-----"))
		return err_set(e, CVM_E_CONFIG, "cvmboot.ca: no PEM certificate");
	if ((size_t)snprintf(path, sizeof(path), "%s/" INIT_DATA_CA_FILE, cfg->run_dir) >= sizeof(path))
		return err_set(e, CVM_E_CONFIG, "cvmboot.ca: run_dir too long");
	if (secrets_mkdir_p(cfg->run_dir, 0755, NULL, e) ||
	    secrets_write(cfg->run_dir, INIT_DATA_CA_FILE, (const unsigned char *)v, strlen(v), 0444, e))
		return err_wrap(e, "cvmboot.ca");
	memcpy(cfg->ca_file, path, strlen(path) + 1);
	return 0;
}

static int apply_settings(struct config *cfg, const struct init_data *d, struct err *e)
{
	for (int i = 0; i < d->n_entries; i++) {
		const struct init_data_entry *en = &d->entries[i];
		const char *name = en->key + strlen(SETTINGS_PREFIX);
		int rc;

		if (strncmp(en->key, SETTINGS_PREFIX, strlen(SETTINGS_PREFIX)))
			continue; /* for other consumers */
		if (!strcmp(name, "url"))
			rc = apply_urls(cfg, en->value, e);
		else if (!strcmp(name, "ca"))
			rc = apply_ca(cfg, en->value, e);
		else
			rc = err_set(e, CVM_E_CONFIG, "unknown setting '%.64s' (init-data may set "
				     "cvmboot.url and cvmboot.ca)", en->key);
		if (rc)
			return err_wrap(e, "%s:%d: [data]", d->path, en->line);
		if (!strcmp(name, "url"))
			for (int u = 0; u < cfg->n_urls; u++)
				log_notice("init-data %s: [kbs] url = %s", d->path, cfg->urls[u]);
		else
			log_notice("init-data %s: [kbs] ca_file = %s (the document's cvmboot.ca)",
				   d->path, cfg->ca_file);
	}
	return 0;
}

int config_apply_init_data(struct config *cfg, struct err *e)
{
	struct init_data *d = NULL;
	char *hex;

	if (!cfg->init_data[0])
		return 0;
	if (init_data_load(cfg->init_data, &d, e))
		return err_wrap(e, "init-data");
	if (cfg->seal_pcr == INIT_DATA_PCR) {
		init_data_free(d);
		return err_set(e, CVM_E_CONFIG, "[tee] seal_pcr = %d conflicts with init-data, which "
			       "a vTPM binds in PCR %d", INIT_DATA_PCR, INIT_DATA_PCR);
	}
	if (apply_settings(cfg, d, e)) {
		init_data_free(d);
		return err_wrap(e, "init-data");
	}
	hex = hex_encode(d->digest, d->digest_len);
	log_info("init-data: %s (%zu bytes), %s digest %s", d->path, d->body_len,
		 init_data_alg_name(d->alg), hex ? hex : "?");
	free(hex);
	init_data_free(cfg->init_doc);
	cfg->init_doc = d;
	return 0;
}
