/* `cvmboot enroll` (add a cvmboot keyslot and token to a LUKS2 volume) and
 * `cvmboot unlock` (attest, fetch the key the token names, open the volume). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "commands.h"
#include "fdio.h"
#include "file_read.h"
#include "log.h"
#include "luks.h"
#include "resource_path.h"
#include "secmem.h"
#include "kbs_config.h"
#include "session.h"

#define GENERATED_KEY_LEN 32
#define PASSPHRASE_MAX 4096

static const char enroll_usage[] =
	"usage: cvmboot enroll DEVICE --resource REPOSITORY/TYPE/TAG "
	"(--key-file FILE | --generate-key FILE) [--passphrase-file FILE]";
static const char unlock_usage[] = "usage: cvmboot unlock DEVICE [--name NAME] [--no-activate]";

/* Read all of path (at most max bytes) into out: the exact bytes, like
 * cryptsetup --key-file. */
static int read_secret_file(const char *path, size_t max, struct secret *out, struct err *e)
{
	if (file_read_bounded(path, max, FILE_READ_SECRET, CVM_E_USAGE, out, NULL, e))
		return e->code;
	if (out->len == 0)
		return err_set(e, CVM_E_USAGE, "%s is empty", path);
	return 0;
}

static int read_tty_line(struct secret *out, struct err *e)
{
	size_t len = 0;
	char c;

	if (!secret_alloc(out, PASSPHRASE_MAX))
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	for (;;) {
		ssize_t n = read(STDIN_FILENO, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;
		if (len == PASSPHRASE_MAX) {
			c = 0;
			return err_set(e, CVM_E_USAGE, "passphrase longer than %d bytes",
				       PASSPHRASE_MAX);
		}
		out->data[len++] = (unsigned char)c;
	}
	c = 0;
	out->len = len;
	if (len == 0)
		return err_set(e, CVM_E_USAGE, "empty passphrase");
	return 0;
}

/* Ask for the existing passphrase on the terminal, without echo. */
static int prompt_passphrase(const char *device, struct secret *out, struct err *e)
{
	struct termios old, quiet;
	int rc;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &old) != 0)
		return err_set(e, CVM_E_USAGE, "no --passphrase-file given and standard input is "
			       "not a terminal to ask for the existing passphrase");
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Echo off before the prompt shows, so nothing typed is ever echoed. */
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
		return err_set(e, CVM_E_USAGE, "cannot turn off echo on the terminal: %s",
			       strerror(errno));
	fprintf(stderr, "Existing passphrase for %s: ", device);
	fflush(stderr);
	rc = read_tty_line(out, e);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return rc;
}

/* Make a new directory entry durable (best effort: the data is already synced). */
static void sync_parent_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Write key to path, mode 0600, all or nothing, never over an existing file:
 * a temporary file beside it, then link(2), which fails if path exists. */
static int write_new_key_file(const char *path, const struct secret *key, struct err *e)
{
	char tmp[4096];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return err_set(e, CVM_E_USAGE, "key file path is too long");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return err_set(e, CVM_E_SECRETS, "cannot create a file beside %s: %s", path,
			       strerror(errno));
	if (fchmod(fd, 0600) != 0 || fd_write_all(fd, key->data, key->len) != 0 || fsync(fd) != 0)
		rc = err_set(e, CVM_E_SECRETS, "cannot write %s: %s", tmp, strerror(errno));
	if (close(fd) != 0 && !rc)
		rc = err_set(e, CVM_E_SECRETS, "cannot write %s: %s", tmp, strerror(errno));
	if (!rc && link(tmp, path) != 0)
		rc = err_set(e, errno == EEXIST ? CVM_E_USAGE : CVM_E_SECRETS,
			     "cannot create %s: %s", path, strerror(errno));
	unlink(tmp);
	if (!rc)
		sync_parent_dir(path);
	return rc;
}

static int generate_key(const char *path, struct secret *key, struct err *e)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return err_set(e, CVM_E_USAGE, "%s already exists: --generate-key never "
			       "overwrites a file", path);
	if (!secret_alloc(key, GENERATED_KEY_LEN))
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	if (RAND_bytes(key->data, GENERATED_KEY_LEN) != 1)
		return err_set(e, CVM_E_INTERNAL, "the random generator failed");
	return write_new_key_file(path, key, e);
}

struct enroll_args {
	const char *device, *resource, *key_file, *generate_key, *passphrase_file;
};

static int parse_enroll(int argc, char **argv, struct enroll_args *a)
{
	static const struct option options[] = {
		{ "resource", required_argument, NULL, 'r' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "generate-key", required_argument, NULL, 'g' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ 0 },
	};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'r': a->resource = optarg; break;
		case 'k': a->key_file = optarg; break;
		case 'g': a->generate_key = optarg; break;
		case 'p': a->passphrase_file = optarg; break;
		default: return -1;
		}
	}
	if (optind != argc - 1 || !a->resource || !a->key_file == !a->generate_key)
		return -1;
	a->device = argv[optind];
	return 0;
}

static int enroll(const struct config *cfg, const struct enroll_args *a, struct err *e)
{
	struct secret existing _cleanup_secret_ = { 0 }, key _cleanup_secret_ = { 0 };
	const char *urls[CFG_MAX_URLS];
	char device[CFG_PATH_MAX];
	struct luks_token_info info;
	int slot = -1;

	if (luks_wait_device(a->device, 0, device, sizeof(device), e))
		return e->code;
	if (a->passphrase_file ? read_secret_file(a->passphrase_file, PASSPHRASE_MAX, &existing, e)
			       : prompt_passphrase(device, &existing, e))
		return e->code;
	if (a->key_file ? read_secret_file(a->key_file, LUKS_KEY_MAX, &key, e)
			: generate_key(a->generate_key, &key, e))
		return e->code;
	for (int i = 0; i < cfg->n_urls; i++)
		urls[i] = cfg->urls[i];
	if (luks_enroll(device, existing.data, existing.len, key.data, key.len, a->resource, urls,
			cfg->n_urls, &slot, e)) {
		if (a->generate_key && unlink(a->generate_key) != 0)
			log_warn("cannot remove %s: %s", a->generate_key, strerror(errno));
		return e->code;
	}
	if (luks_read_token(device, &info, e) != 0)
		return e->code ? err_wrap(e, "reading back the new token")
			       : err_set(e, CVM_E_INTERNAL, "the new token is missing");
	if (cfg->n_urls == 0)
		log_warn("no KBS URL configured: the token records none; unlock will need [kbs] url");
	printf("enrolled keyslot %d with token %d for resource %s\n", slot, info.token_id,
	       a->resource);
	return 0;
}

int cmd_enroll(struct config *cfg, int argc, char **argv)
{
	struct enroll_args a = { 0 };
	struct err e = { 0 };

	if (parse_enroll(argc, argv, &a) != 0) {
		log_error("%s", enroll_usage);
		return CVM_E_USAGE;
	}
	if (!resource_path_valid(a.resource)) {
		log_error("invalid resource path '%.256s': expected REPOSITORY/TYPE/TAG", a.resource);
		return CVM_E_USAGE;
	}
	if (enroll(cfg, &a, &e)) {
		log_error("enroll %s: %s", a.device, e.msg);
		return e.code;
	}
	return 0;
}

/* The KBS client's options: from cfg, with only the URLs taken from the
 * token when cfg names none (checked as [kbs] url is). */
static int kbs_options(const struct config *cfg, const struct luks_token_info *info,
		       const char *device, struct kbs_client_options *o, struct err *e)
{
	kbs_client_options_from_config(cfg, o);
	if (o->n_urls > 0)
		return 0;
	if (info->n_urls == 0)
		return err_set(e, CVM_E_CONFIG, "no KBS URL: none configured ([kbs] url, "
			       "rd.cvmboot.url) and the token of %s records none", device);
	for (int i = 0; i < info->n_urls && i < CFG_MAX_URLS; i++) {
		if (config_check_kbs_url(cfg, i + 1, info->urls[i], e))
			return err_wrap(e, "KBS URLs from the token of %s", device);
		o->urls[o->n_urls++] = info->urls[i];
	}
	log_warn("no KBS URL configured: using the %d recorded in the token of %s (the header "
		 "is not authenticated: configure [kbs] url to pin the KBS)", o->n_urls, device);
	return 0;
}

static int fetch_key(const struct config *cfg, const struct luks_token_info *info,
		     const char *device, struct secret *key, struct err *e)
{
	struct kbs_client_options o;
	struct session *s = NULL;
	int rc;

	/* The return codes decide: e only says why when one is not 0. */
	rc = kbs_options(cfg, info, device, &o, e);
	if (rc == 0)
		rc = session_open_kbs(cfg, &o, NULL, &s, e);
	if (rc == 0)
		rc = session_fetch(s, info->resource, key, e);
	session_close(s);
	return rc ? err_wrap(e, "key %s", info->resource) : 0;
}

static int default_mapper(const char *device, char *mapper, size_t len, struct err *e)
{
	char uuid[64];
	size_t n;

	if (luks_get_uuid(device, uuid, sizeof(uuid), e))
		return e->code;
	n = strlen(uuid);
	snprintf(mapper, len, "cvmboot-%s", uuid + (n > 8 ? n - 8 : 0));
	return 0;
}

static int unlock(const struct config *cfg, const char *arg, const char *name, bool no_activate,
		  struct err *e)
{
	struct secret key _cleanup_secret_ = { 0 };
	char device[CFG_PATH_MAX], mapper[CFG_NAME_MAX];
	struct luks_token_info info;
	int rc;

	if (luks_wait_device(arg, cfg->device_timeout_ms, device, sizeof(device), e))
		return e->code;
	rc = luks_read_token(device, &info, e);
	if (rc == 1)
		return err_set(e, CVM_E_UNLOCK, "%s has no cvmboot token (add one with cvmboot "
			       "enroll)", device);
	if (rc)
		return rc;
	if (name)
		snprintf(mapper, sizeof(mapper), "%s", name);
	else if (default_mapper(device, mapper, sizeof(mapper), e))
		return e->code;
	if (fetch_key(cfg, &info, device, &key, e))
		return e->code;
	if (luks_unlock(device, mapper, key.data, key.len, no_activate, &cfg->luks_ciphers, e))
		return e->code;
	if (no_activate)
		printf("the fetched key opens %s (verified only, not activated)\n", device);
	else
		printf("unlocked %s as /dev/mapper/%s\n", device, mapper);
	return 0;
}

int cmd_unlock(struct config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
		{ "no-activate", no_argument, NULL, 'n' },
		{ "name", required_argument, NULL, 'N' },
		{ 0 },
	};
	bool no_activate = cfg->no_activate;
	const char *name = NULL;
	struct err e = { 0 };
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'n': no_activate = true; break;
		case 'N': name = optarg; break;
		default: log_error("%s", unlock_usage); return CVM_E_USAGE;
		}
	}
	if (optind != argc - 1) {
		log_error("%s", unlock_usage);
		return CVM_E_USAGE;
	}
	if (name && !mapper_name_valid(name)) {
		log_error("invalid --name '%.100s': use letters, digits, '.', '_' and '-', at most "
			  "%d of them, not 'control'", name, VALIDATE_NAME_SIZE - 1);
		return CVM_E_USAGE;
	}
	if (unlock(cfg, argv[optind], name, no_activate, &e)) {
		log_error("unlock %s: %s", argv[optind], e.msg);
		return e.code;
	}
	return 0;
}
