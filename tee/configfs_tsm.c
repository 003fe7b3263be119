/* configfs-tsm report requests (Documentation/ABI/testing/configfs-tsm):
 * one fresh entry per request, provider and generation checked, always removed. */
#include "configfs_tsm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "validate.h"

#define TSM_ATTR_TEXT_MAX 64 /* provider, generation: short text attributes */

static int write_all(const char *path, const void *data, size_t len, struct err *e)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(e, CVM_E_TEE, "cannot open %s for writing: %s", path, strerror(errno));
	if (fd_write_all(fd, data, len) != 0) {
		int saved = errno;

		close(fd);
		return err_set(e, CVM_E_TEE, "cannot write %s: %s", path, strerror(saved));
	}
	/* configfs binary attributes commit on release: check close too. */
	if (close(fd) < 0)
		return err_set(e, CVM_E_TEE, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

static int read_text_attr(const char *dir, const char *name, char *out, size_t out_len,
			  struct err *e)
{
	char path[4096 + 32];
	unsigned char *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (tee_read_bounded(path, TSM_ATTR_TEXT_MAX, &buf, &len, NULL, e))
		return err_wrap(e, "configfs-tsm");
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	if (len >= out_len || memchr(buf, '\0', len)) {
		free(buf);
		return err_set(e, CVM_E_TEE, "configfs-tsm: %s holds unexpected data", path);
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	free(buf);
	return 0;
}

static int read_generation(const char *dir, uint64_t *gen, struct err *e)
{
	char text[TSM_ATTR_TEXT_MAX + 1], *end;
	unsigned long long v;

	if (read_text_attr(dir, "generation", text, sizeof(text), e))
		return e->code;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (!text[0] || *end || errno || text[0] == '-')
		return err_set(e, CVM_E_TEE, "configfs-tsm: %s/generation is not a number: '%s'",
			       dir, text);
	*gen = v;
	return 0;
}

/* A name nobody else picks: pid plus 64 random bits. */
static int make_entry(const char *root, char *dir, size_t dir_len, struct err *e)
{
	if (!path_is_dir(root))
		return err_set(e, CVM_E_TEE, "configfs-tsm: %s is not there (kernel older than 6.7, or configfs not mounted)",
			       root);
	for (int attempt = 0; attempt < 4; attempt++) {
		uint64_t rnd = 0;

		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return err_set(e, CVM_E_INTERNAL, "getrandom failed: %s", strerror(errno));
		if ((size_t)snprintf(dir, dir_len, "%s/cvmboot-%ld-%016" PRIx64, root, (long)getpid(),
				     rnd) >= dir_len)
			return err_set(e, CVM_E_CONFIG, "configfs-tsm: path %s is too long", root);
		if (mkdir(dir, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return err_set(e, CVM_E_TEE, "configfs-tsm: cannot create %s: %s", dir,
				       strerror(errno));
	}
	return err_set(e, CVM_E_TEE, "configfs-tsm: cannot create a fresh entry under %s", root);
}

static int check_provider(const char *dir, const char *expected, struct err *e)
{
	char provider[TSM_ATTR_TEXT_MAX + 1];

	if (read_text_attr(dir, "provider", provider, sizeof(provider), e))
		return e->code;
	if (strcmp(provider, expected) != 0)
		return err_set(e, CVM_E_TEE, "configfs-tsm: provider is '%s', expected '%s'", provider,
			       expected);
	return 0;
}

static int read_blob(const char *dir, const char *name, size_t max, bool optional,
		     unsigned char **buf, size_t *len, struct err *e)
{
	char path[4096 + 32];
	int missing = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (tee_read_bounded(path, max, buf, len, &missing, e)) {
		if (missing && optional) {
			*buf = NULL;
			*len = 0;
			return 0;
		}
		if (missing)
			return err_set(e, CVM_E_TEE, "configfs-tsm: %s is missing", path);
		return err_wrap(e, "configfs-tsm");
	}
	if (*len == 0 && optional) {
		free(*buf);
		*buf = NULL;
	} else if (*len == 0) {
		free(*buf);
		*buf = NULL;
		return err_set(e, CVM_E_TEE, "configfs-tsm: %s is empty", path);
	}
	return 0;
}

static int request_in_entry(const char *dir, const struct tsm_request *req,
			    struct tsm_result *out, struct err *e)
{
	uint64_t gen_before, gen_after, writes = 0;
	char path[4096 + 32];

	if (check_provider(dir, req->provider, e) || read_generation(dir, &gen_before, e))
		return e->code;
	if (req->privlevel >= 0) {
		char text[16];

		snprintf(text, sizeof(text), "%d\n", req->privlevel);
		snprintf(path, sizeof(path), "%s/privlevel", dir);
		if (write_all(path, text, strlen(text), e))
			return err_wrap(e, "configfs-tsm");
		writes++;
	}
	snprintf(path, sizeof(path), "%s/inblob", dir);
	if (write_all(path, req->inblob, req->inblob_len, e))
		return err_wrap(e, "configfs-tsm");
	writes++;
	if (read_blob(dir, "outblob", req->outblob_max, false, &out->outblob, &out->outblob_len, e))
		return e->code;
	if (req->auxblob_max &&
	    read_blob(dir, "auxblob", req->auxblob_max, true, &out->auxblob, &out->auxblob_len, e))
		return e->code;
	if (read_generation(dir, &gen_after, e))
		return e->code;
	if (gen_after != gen_before + writes)
		return err_set(e, CVM_E_TEE,
			       "configfs-tsm: generation moved from %" PRIu64 " to %" PRIu64
			       ": another writer raced us",
			       gen_before, gen_after);
	return 0;
}

int tsm_get_report(const struct tsm_request *req, struct tsm_result *out, struct err *e)
{
	char dir[4096];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!req->inblob_len)
		return err_set(e, CVM_E_INTERNAL, "configfs-tsm: empty inblob");
	if (make_entry(req->root, dir, sizeof(dir), e))
		return e->code;
	rc = request_in_entry(dir, req, out, e);
	if (rmdir(dir) < 0 && !rc)
		rc = err_set(e, CVM_E_TEE, "configfs-tsm: cannot remove %s: %s", dir, strerror(errno));
	if (rc)
		tsm_result_free(out);
	return rc;
}

void tsm_result_free(struct tsm_result *r)
{
	free(r->outblob);
	free(r->auxblob);
	memset(r, 0, sizeof(*r));
}

int tsm_probe_provider(const char *root, char *provider, size_t len, struct err *e)
{
	char dir[4096];
	int rc;

	if (make_entry(root, dir, sizeof(dir), e))
		return e->code;
	rc = read_text_attr(dir, "provider", provider, len, e);
	if (rmdir(dir) < 0 && !rc)
		rc = err_set(e, CVM_E_TEE, "configfs-tsm: cannot remove %s: %s", dir, strerror(errno));
	return rc;
}
