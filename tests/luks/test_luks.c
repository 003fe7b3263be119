/* LUKS2 tests on image files made with libcryptsetup: token validation,
 * device waiting, enrolment (PBKDF2 keyslot + token, rollback), unlock in
 * verify-only mode. `test_luks verify IMAGE KEYFILE [CIPHER...]` checks a key
 * against an allow-list (default aes-xts-plain64:512); test_luks_cli.py and
 * test_luks_header.py use it as an independent C-level round trip. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "luks_internal.h"

static int failures, checks;
static char tmpdir[] = "/tmp/cvmboot-luks-test.XXXXXX";

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		checks++;                                                       \
		if (!(cond)) {                                                  \
			failures++;                                             \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

#define CHECK_ERR(rc, e, want, needle)                                                  \
	CHECK((rc) == (want) && (e).code == (want) && strstr((e).msg, (needle)) != NULL,    \
	      "rc=%d code=%d want %d and '%s' in '%s'", (rc), (e).code, (want), (needle),   \
	      (e).msg)

static const char existing_pass[] = "existing passphrase";

static const struct crypt_pbkdf_type quick_pbkdf = {
	.type = CRYPT_KDF_PBKDF2, .hash = "sha256", .iterations = 1000,
	.flags = CRYPT_PBKDF_NO_BENCHMARK,
};

static void quiet_log(int level, const char *msg, void *usrptr)
{
	(void)level; (void)msg; (void)usrptr;
}

static char *tmp_path(const char *name)
{
	static char paths[16][512];
	static int next;
	char *p = paths[next++ % 16];

	snprintf(p, 512, "%s/%s", tmpdir, name);
	return p;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void make_sparse(const char *path, off_t size)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, size) != 0) {
		perror(path);
		exit(2);
	}
	close(fd);
}

/* A 20 MiB LUKS (type CRYPT_LUKS2 or CRYPT_LUKS1) image with the existing
 * passphrase in keyslot 0. */
static void make_image(const char *path, const char *type)
{
	struct crypt_params_luks2 p2 = { .sector_size = 512 };
	struct crypt_device *cd;
	int r;

	make_sparse(path, 20 << 20);
	if (crypt_init(&cd, path) < 0) {
		fprintf(stderr, "crypt_init %s failed\n", path);
		exit(2);
	}
	crypt_set_log_callback(cd, quiet_log, NULL);
	r = crypt_set_pbkdf_type(cd, &quick_pbkdf);
	if (!r)
		r = crypt_format(cd, type, "aes", "xts-plain64", NULL, NULL, 64,
				 strcmp(type, CRYPT_LUKS2) == 0 ? (void *)&p2 : NULL);
	if (!r)
		r = crypt_keyslot_add_by_volume_key(cd, 0, NULL, 0, existing_pass,
						    strlen(existing_pass));
	crypt_free(cd);
	if (r < 0) {
		fprintf(stderr, "cannot make %s image %s: %s\n", type, path, strerror(-r));
		exit(2);
	}
}

static struct crypt_device *open_image(const char *path)
{
	struct crypt_device *cd;

	if (crypt_init(&cd, path) < 0 || crypt_load(cd, CRYPT_LUKS2, NULL) < 0) {
		fprintf(stderr, "cannot load %s\n", path);
		exit(2);
	}
	crypt_set_log_callback(cd, quiet_log, NULL);
	return cd;
}

static int active_keyslots(const char *path)
{
	struct crypt_device *cd = open_image(path);
	int n = 0;

	for (int i = 0; i < crypt_keyslot_max(CRYPT_LUKS2); i++) {
		crypt_keyslot_info s = crypt_keyslot_status(cd, i);

		n += s == CRYPT_SLOT_ACTIVE || s == CRYPT_SLOT_ACTIVE_LAST || s == CRYPT_SLOT_UNBOUND;
	}
	crypt_free(cd);
	return n;
}

static int active_tokens(const char *path)
{
	struct crypt_device *cd = open_image(path);
	int n = 0;

	for (int i = 0; i < crypt_token_max(CRYPT_LUKS2); i++)
		n += crypt_token_status(cd, i, NULL) != CRYPT_TOKEN_INACTIVE;
	crypt_free(cd);
	return n;
}

static void set_token(const char *path, int id, const char *json)
{
	struct crypt_device *cd = open_image(path);
	int r = crypt_token_json_set(cd, id, json);

	crypt_free(cd);
	if (r < 0) {
		fprintf(stderr, "cannot set token %d on %s: %s\n", id, path, strerror(-r));
		exit(2);
	}
}

/* ---- token validation ---- */

static void test_validate_good(void)
{
	struct luks_token_info info;
	struct err e = { 0 };
	char json[2048], url[520];
	int rc;

	rc = luks_token_validate("{\"type\":\"cvmboot\",\"keyslots\":[\"7\"],\"resource\":"
				 "\"default/luks/root\",\"kbs_urls\":[\"https://kbs.example:8080\","
				 "\"http://127.0.0.1:1\"]}", &info, &e);
	CHECK(rc == 0, "valid token rejected: %s", e.msg);
	CHECK(info.keyslot == 7, "keyslot %d", info.keyslot);
	CHECK(strcmp(info.resource, "default/luks/root") == 0, "resource %s", info.resource);
	CHECK(info.n_urls == 2 && strcmp(info.urls[0], "https://kbs.example:8080") == 0 &&
	      strcmp(info.urls[1], "http://127.0.0.1:1") == 0, "urls %d", info.n_urls);

	rc = luks_token_validate("{\"type\":\"cvmboot\",\"keyslots\":[\"0\"],\"resource\":"
				 "\"a/b/c\",\"kbs_urls\":[],\"future\":{\"x\":1}}", &info, &e);
	CHECK(rc == 0 && info.keyslot == 0 && info.n_urls == 0, "no URLs, extra field: %s", e.msg);

	/* 511-character URL: the longest accepted. */
	memset(url, 'a', sizeof(url));
	memcpy(url, "https://", 8);
	url[511] = '\0';
	snprintf(json, sizeof(json), "{\"type\":\"cvmboot\",\"keyslots\":[\"31\"],\"resource\":"
		 "\"r/t/x\",\"kbs_urls\":[\"%s\"]}", url);
	rc = luks_token_validate(json, &info, &e);
	CHECK(rc == 0 && info.keyslot == 31 && strcmp(info.urls[0], url) == 0,
	      "511-char URL: %s", e.msg);
}

struct bad_token {
	const char *json;
	const char *needle;
};

#define TOK(slots, res, urls) \
	"{\"type\":\"cvmboot\",\"keyslots\":" slots ",\"resource\":" res ",\"kbs_urls\":" urls "}"

static const struct bad_token bad_tokens[] = {
	{ "", "not valid JSON" },
	{ "{\"type\":\"cvmboot\"", "not valid JSON" },
	{ "[]", "not a JSON object" },
	{ "\"cvmboot\"", "not a JSON object" },
	{ "{\"type\":\"cvmboot\",\"type\":\"cvmboot\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\","
	  "\"kbs_urls\":[]}", "not valid JSON" },
	{ "{\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"kbs_urls\":[]}", "field 'type'" },
	{ "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"kbs_urls\":[]}",
	  "field 'type'" },
	{ "{\"type\":5,\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"kbs_urls\":[]}", "field 'type'" },
	{ "{\"type\":\"cvmboot\\u0000x\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\","
	  "\"kbs_urls\":[]}", "field 'type'" },
	{ "{\"type\":\"cvmboot\",\"resource\":\"a/b/c\",\"kbs_urls\":[]}", "field 'keyslots'" },
	{ TOK("\"1\"", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[\"1\",\"2\"]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[1]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[\"32\"]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[\"-1\"]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[\"01\"]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[\"1a\"]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[\"\"]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[\"1000\"]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[\" 1\"]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[\"1\\u0000\"]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ TOK("[null]", "\"a/b/c\"", "[]"), "field 'keyslots'" },
	{ "{\"type\":\"cvmboot\",\"keyslots\":[\"1\"],\"kbs_urls\":[]}", "field 'resource'" },
	{ TOK("[\"1\"]", "5", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"a/b\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"a/b/c/d\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"a/../c\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"a/./c\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"a//c\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"/a/b/c\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"a/b/c/\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"a/b/c d\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"a/b/c\\u0000x\"", "[]"), "field 'resource'" },
	{ TOK("[\"1\"]", "\"a/b/\\u00e9\"", "[]"), "field 'resource'" },
	{ "{\"type\":\"cvmboot\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\"}", "field 'kbs_urls'" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "\"https://kbs\""), "field 'kbs_urls'" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[5]"), "field 'kbs_urls'" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"ftp://kbs\"]"), "field 'kbs_urls'" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://\"]"), "field 'kbs_urls'" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://a b\"]"), "field 'kbs_urls'" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://a\\nb\"]"), "field 'kbs_urls'" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://a\\u0000b\"]"), "field 'kbs_urls'" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"HTTPS://kbs\"]"), "field 'kbs_urls'" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://kbs\",[]]"), "field 'kbs_urls': entry 1 is not a string" },
	/* The rule [kbs] url follows (base url_check), naming the entry. */
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://kbs\",\"https://user:pw@evil\"]"),
	  "field 'kbs_urls': entry 1 is not a KBS URL: must not contain credentials" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://kbs/x?y=1\"]"),
	  "field 'kbs_urls': entry 0 is not a KBS URL: must not have a query or fragment" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://kbs:70000\"]"),
	  "field 'kbs_urls': entry 0 is not a KBS URL: bad port" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://[::1\"]"),
	  "field 'kbs_urls': entry 0 is not a KBS URL: bad IPv6 address" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://a_b\"]"),
	  "field 'kbs_urls': entry 0 is not a KBS URL: bad host name" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https:///x\"]"),
	  "field 'kbs_urls': entry 0 is not a KBS URL: has no host" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"https://kbs/\\u00e9\"]"),
	  "field 'kbs_urls': entry 0 is not a KBS URL: contains a space" },
	{ TOK("[\"1\"]", "\"a/b/c\"", "[\"http://1\",\"http://2\",\"http://3\",\"http://4\","
	      "\"http://5\",\"http://6\",\"http://7\",\"http://8\",\"http://9\"]"),
	  "field 'kbs_urls'" },
};

static void test_validate_bad(void)
{
	char json[LUKS_TOKEN_JSON_MAX + 64], url[600];
	struct luks_token_info info;
	struct err e;
	int rc;

	for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
		memset(&e, 0, sizeof(e));
		memset(&info, 0x55, sizeof(info));
		rc = luks_token_validate(bad_tokens[i].json, &info, &e);
		CHECK_ERR(rc, e, CVM_E_UNLOCK, bad_tokens[i].needle);
		CHECK(info.resource[0] == '\0' && info.n_urls == 0, "info not cleared (#%zu)", i);
	}
	/* A 512-character URL is one too many. */
	memset(url, 'a', sizeof(url));
	memcpy(url, "https://", 8);
	url[512] = '\0';
	snprintf(json, sizeof(json), TOK("[\"1\"]", "\"a/b/c\"", "[\"%s\"]"), url);
	memset(&e, 0, sizeof(e));
	rc = luks_token_validate(json, &info, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "field 'kbs_urls': entry 0 is not a KBS URL: too long "
		  "(at most 511 bytes)");
	/* Resource longer than any KBS path (256 bytes in all). */
	memset(url, 'r', 300);
	url[0] = 'a', url[1] = '/', url[2] = 'b', url[3] = '/', url[300] = '\0';
	snprintf(json, sizeof(json), TOK("[\"1\"]", "\"%s\"", "[]"), url);
	memset(&e, 0, sizeof(e));
	rc = luks_token_validate(json, &info, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "field 'resource'");
	/* Oversized JSON is refused before parsing. */
	memset(json, ' ', sizeof(json));
	memcpy(json, "{\"type\":\"cvmboot\"", 17);
	json[sizeof(json) - 2] = '}';
	json[sizeof(json) - 1] = '\0';
	memset(&e, 0, sizeof(e));
	rc = luks_token_validate(json, &info, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "larger than");
	memset(&e, 0, sizeof(e));
	rc = luks_token_validate(NULL, &info, &e);
	CHECK(rc == CVM_E_UNLOCK, "NULL JSON accepted");
}

/* ---- waiting for devices ---- */

static void test_wait_device(void)
{
	char resolved[512], dir[512];
	struct err e = { 0 };
	long long t0, took;
	const char *present = tmp_path("present.img"), *late = tmp_path("late.img");
	int rc;
	pid_t pid;

	make_sparse(present, 4096);
	rc = luks_wait_device(present, 1000, resolved, sizeof(resolved), &e);
	CHECK(rc == 0 && strcmp(resolved, present) == 0, "present file: %s", e.msg);

	/* Too small an output buffer is an error, not a truncation. */
	memset(&e, 0, sizeof(e));
	rc = luks_wait_device(present, 0, resolved, 8, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "too long");

	memset(&e, 0, sizeof(e));
	t0 = now_ms();
	rc = luks_wait_device(tmp_path("missing.img"), 300, resolved, sizeof(resolved), &e);
	took = now_ms() - t0;
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "missing.img did not appear within 300ms");
	CHECK(took >= 290 && took < 3000, "waited %lld ms for a 300 ms timeout", took);

	memset(&e, 0, sizeof(e));
	rc = luks_wait_device(tmp_path("missing.img"), 0, resolved, sizeof(resolved), &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "did not appear within 0s");

	/* A device that shows up while we wait is found. */
	pid = fork();
	if (pid == 0) {
		struct timespec ts = { 0, 300 * 1000000L };

		nanosleep(&ts, NULL);
		make_sparse(late, 4096);
		_exit(0);
	}
	memset(&e, 0, sizeof(e));
	t0 = now_ms();
	rc = luks_wait_device(late, 5000, resolved, sizeof(resolved), &e);
	took = now_ms() - t0;
	waitpid(pid, NULL, 0);
	CHECK(rc == 0 && strcmp(resolved, late) == 0, "late device: %s", e.msg);
	CHECK(took >= 250 && took < 4000, "late device found after %lld ms", took);

	snprintf(dir, sizeof(dir), "%s", tmpdir);
	memset(&e, 0, sizeof(e));
	rc = luks_wait_device(dir, 1000, resolved, sizeof(resolved), &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "neither a block device nor an image file");

	memset(&e, 0, sizeof(e));
	rc = luks_wait_device("", 0, resolved, sizeof(resolved), &e);
	CHECK(rc == CVM_E_UNLOCK, "empty device accepted");
	memset(&e, 0, sizeof(e));
	rc = luks_wait_device("UUID=", 0, resolved, sizeof(resolved), &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "invalid UUID");
	memset(&e, 0, sizeof(e));
	rc = luks_wait_device("UUID=../../etc/passwd", 0, resolved, sizeof(resolved), &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "invalid UUID");
	/* The one UUID rule with [resource.*] luks_device (base uuid_valid). */
	memset(&e, 0, sizeof(e));
	rc = luks_wait_device("UUID=0BADC0DE-0000-4000-8000-00000000DEAD", 0, resolved,
			      sizeof(resolved), &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "invalid UUID in 'UUID=0BADC0DE-0000-4000-8000-00000000DEAD': "
		  "expected 8-4-4-4-12 lowercase hex digits");
	memset(&e, 0, sizeof(e));
	rc = luks_wait_device("UUID=0badc0de", 0, resolved, sizeof(resolved), &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "invalid UUID");
	memset(&e, 0, sizeof(e));
	t0 = now_ms();
	rc = luks_wait_device("UUID=0badc0de-0000-4000-8000-00000000dead", 200, resolved,
			      sizeof(resolved), &e);
	took = now_ms() - t0;
	CHECK_ERR(rc, e, CVM_E_UNLOCK,
		  "device UUID=0badc0de-0000-4000-8000-00000000dead did not appear within 200ms");
	CHECK(took >= 190 && took < 5000, "UUID wait took %lld ms", took);
}

/* ---- LUKS2 or not ---- */

static void test_not_luks2(void)
{
	const unsigned char key[32] = { 1 };
	const char *plain = tmp_path("plain.img"), *luks1 = tmp_path("luks1.img");
	struct luks_token_info info;
	struct err e = { 0 };
	char uuid[64];
	int rc;

	make_sparse(plain, 20 << 20);
	rc = luks_unlock(plain, NULL, key, sizeof(key), true, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "plain.img is not a LUKS2 volume");
	memset(&e, 0, sizeof(e));
	rc = luks_read_token(plain, &info, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "is not a LUKS2 volume");

	make_image(luks1, CRYPT_LUKS1);
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(luks1, NULL, (const unsigned char *)existing_pass,
			 strlen(existing_pass), true, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "luks1.img is not a LUKS2 volume (it is LUKS1");
	memset(&e, 0, sizeof(e));
	rc = luks_enroll(luks1, (const unsigned char *)existing_pass, strlen(existing_pass), key,
			 sizeof(key), "a/b/c", NULL, 0, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "is not a LUKS2 volume");
	memset(&e, 0, sizeof(e));
	rc = luks_get_uuid(plain, uuid, sizeof(uuid), &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "is not a LUKS2 volume");
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(tmp_path("nonexistent.img"), NULL, key, sizeof(key), true, NULL, &e);
	CHECK(rc == CVM_E_UNLOCK && strstr(e.msg, "nonexistent.img"), "missing file: %s", e.msg);
}

/* ---- enrolment and unlocking ---- */

static void random_key(unsigned char *key, size_t len)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, key, len) != (ssize_t)len) {
		perror("urandom");
		exit(2);
	}
	close(fd);
}

static void check_token_json(const char *path, int token, const char *expected)
{
	struct crypt_device *cd = open_image(path);
	json_t *want = json_loads(expected, 0, NULL), *got;
	const char *json = NULL;

	CHECK(crypt_token_json_get(cd, token, &json) == token, "token %d missing", token);
	got = json ? json_loads(json, 0, NULL) : NULL;
	CHECK(want && got && json_equal(want, got), "token JSON %s, want %s", json ? json : "-",
	      expected);
	json_decref(want);
	json_decref(got);
	crypt_free(cd);
}

static void check_pbkdf(const char *path, int slot)
{
	struct crypt_device *cd = open_image(path);
	struct crypt_pbkdf_type pbkdf = { 0 };
	int r = crypt_keyslot_get_pbkdf(cd, slot, &pbkdf);

	CHECK(r == 0 && pbkdf.type && strcmp(pbkdf.type, CRYPT_KDF_PBKDF2) == 0 && pbkdf.hash &&
	      strcmp(pbkdf.hash, "sha256") == 0 && pbkdf.iterations == 1000,
	      "keyslot %d pbkdf %s/%s/%u", slot, pbkdf.type ? pbkdf.type : "-",
	      pbkdf.hash ? pbkdf.hash : "-", pbkdf.iterations);
	crypt_free(cd);
}

static void test_enroll_unlock(void)
{
	const char *img = tmp_path("enroll.img");
	const char *urls[] = { "https://kbs-a.example:8080", "http://127.0.0.1:8081" };
	const unsigned char *existing = (const unsigned char *)existing_pass;
	unsigned char key[32], wrong[32];
	struct luks_token_info info;
	struct crypt_device *cd;
	struct err e = { 0 };
	char uuid[64];
	int rc, slot = -1;

	make_image(img, CRYPT_LUKS2);
	random_key(key, sizeof(key));
	memcpy(wrong, key, sizeof(wrong));
	wrong[31] ^= 1;
	rc = luks_enroll(img, existing, strlen(existing_pass), key, sizeof(key),
			 "default/luks/root", urls, 2, &slot, &e);
	CHECK(rc == 0 && slot == 1, "enroll rc=%d slot=%d: %s", rc, slot, e.msg);
	CHECK(active_keyslots(img) == 2 && active_tokens(img) == 1, "slots %d tokens %d",
	      active_keyslots(img), active_tokens(img));
	check_pbkdf(img, 1);
	check_token_json(img, 0, "{\"type\":\"cvmboot\",\"keyslots\":[\"1\"],\"resource\":"
			 "\"default/luks/root\",\"kbs_urls\":[\"https://kbs-a.example:8080\","
			 "\"http://127.0.0.1:8081\"]}");

	memset(&e, 0, sizeof(e));
	rc = luks_read_token(img, &info, &e);
	CHECK(rc == 0 && info.token_id == 0 && info.keyslot == 1 &&
	      strcmp(info.resource, "default/luks/root") == 0 && info.n_urls == 2 &&
	      strcmp(info.urls[1], "http://127.0.0.1:8081") == 0, "read token: %s", e.msg);

	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, NULL, key, sizeof(key), true, NULL, &e);
	CHECK(rc == 0, "the enrolled key is rejected: %s", e.msg);
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, "ignored", wrong, sizeof(wrong), true, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "key does not open any keyslot of ");
	CHECK(strstr(e.msg, "enroll.img") != NULL, "device not named: %s", e.msg);
	/* A wrong key is reported as such when activation is asked for, too. */
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, "cvmboot-test-never", wrong, sizeof(wrong), false, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "key does not open any keyslot of ");
	/* The right key with activation: without device-mapper (as on the test
	 * machines) a clear error; with it, a real mapping, closed again. */
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, "cvmboot-test-activate", key, sizeof(key), false, NULL, &e);
	if (rc == 0) {
		CHECK(crypt_deactivate(NULL, "cvmboot-test-activate") == 0, "cannot close mapping");
		printf("note: device-mapper present: activated and closed again\n");
	} else {
		CHECK_ERR(rc, e, CVM_E_UNLOCK, "the key opens keyslot 1 of ");
		CHECK(strstr(e.msg, "but activating it as cvmboot-test-activate failed") != NULL,
		      "activation message: %s", e.msg);
	}
	/* The token prefers keyslot 1; other keyslots still open as a fallback. */
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, NULL, existing, strlen(existing_pass), true, NULL, &e);
	CHECK(rc == 0, "fallback to the other keyslots: %s", e.msg);
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, NULL, key, 0, true, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "empty key");
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, "../evil", key, sizeof(key), false, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "invalid mapper name");
	/* The one mapper-name rule (base mapper_name_valid): not device-mapper's
	 * own node, at most 63 bytes. */
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, "control", key, sizeof(key), false, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "invalid mapper name 'control'");
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, "m123456789m123456789m123456789m123456789m123456789m123456789abcd",
			 key, sizeof(key), false, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "at most 63 of them");

	memset(&e, 0, sizeof(e));
	rc = luks_get_uuid(img, uuid, sizeof(uuid), &e);
	cd = open_image(img);
	CHECK(rc == 0 && strcmp(uuid, crypt_get_uuid(cd)) == 0, "uuid: %s", e.msg);
	crypt_free(cd);

	/* A second enrolment is refused and changes nothing. */
	memset(&e, 0, sizeof(e));
	rc = luks_enroll(img, existing, strlen(existing_pass), wrong, sizeof(wrong), "x/y/z", NULL,
			 0, &slot, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "already has a cvmboot token (token 0, keyslot 1");
	CHECK(active_keyslots(img) == 2 && active_tokens(img) == 1, "second enroll changed "
	      "the header: slots %d tokens %d", active_keyslots(img), active_tokens(img));

	/* The header is intact after the refused enrolment. */
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, NULL, key, sizeof(key), true, NULL, &e);
	CHECK(rc == 0, "key after refused enroll: %s", e.msg);
}

static void test_enroll_failures(void)
{
	const char *img = tmp_path("fail.img");
	const unsigned char *existing = (const unsigned char *)existing_pass;
	const char *bad_url[] = { "ftp://kbs" };
	const char *nine[9] = { "http://a", "http://a", "http://a", "http://a", "http://a",
				"http://a", "http://a", "http://a", "http://a" };
	unsigned char key[LUKS_KEY_MAX + 1];
	struct err e = { 0 };
	int rc, slot = -1;

	make_image(img, CRYPT_LUKS2);
	random_key(key, sizeof(key));

	rc = luks_enroll(img, (const unsigned char *)"wrong passphrase", 16, key, 32, "a/b/c",
			 NULL, 0, &slot, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "the existing passphrase does not open any keyslot of");
	CHECK(active_keyslots(img) == 1 && active_tokens(img) == 0,
	      "wrong passphrase changed the header: slots %d tokens %d", active_keyslots(img),
	      active_tokens(img));

	memset(&e, 0, sizeof(e));
	rc = luks_enroll(img, existing, strlen(existing_pass), key, LUKS_KEY_MIN - 1, "a/b/c",
			 NULL, 0, &slot, &e);
	CHECK_ERR(rc, e, CVM_E_USAGE, "the key must be 16 to 512 bytes long, not 15");
	memset(&e, 0, sizeof(e));
	rc = luks_enroll(img, existing, strlen(existing_pass), key, LUKS_KEY_MAX + 1, "a/b/c",
			 NULL, 0, &slot, &e);
	CHECK_ERR(rc, e, CVM_E_USAGE, "not 513");
	memset(&e, 0, sizeof(e));
	rc = luks_enroll(img, existing, strlen(existing_pass), key, 32, "a/b", NULL, 0, &slot, &e);
	CHECK_ERR(rc, e, CVM_E_USAGE, "invalid resource path 'a/b'");
	memset(&e, 0, sizeof(e));
	rc = luks_enroll(img, existing, strlen(existing_pass), key, 32, "a/b/c", bad_url, 1,
			 &slot, &e);
	CHECK_ERR(rc, e, CVM_E_USAGE, "ftp://kbs");
	memset(&e, 0, sizeof(e));
	rc = luks_enroll(img, existing, strlen(existing_pass), key, 32, "a/b/c", nine, 9, &slot,
			 &e);
	CHECK_ERR(rc, e, CVM_E_USAGE, "at most 8 KBS URLs");
	memset(&e, 0, sizeof(e));
	rc = luks_enroll(img, existing, 0, key, 32, "a/b/c", NULL, 0, &slot, &e);
	CHECK_ERR(rc, e, CVM_E_USAGE, "existing passphrase is empty");
	CHECK(active_keyslots(img) == 1 && active_tokens(img) == 0,
	      "bad arguments changed the header");

	/* A 16-byte key (the minimum) enrols with no URL. */
	memset(&e, 0, sizeof(e));
	rc = luks_enroll(img, existing, strlen(existing_pass), key, LUKS_KEY_MIN, "a/b/c", NULL,
			 0, &slot, &e);
	CHECK(rc == 0 && slot == 1, "16-byte key: %s", e.msg);
	check_token_json(img, 0, "{\"type\":\"cvmboot\",\"keyslots\":[\"1\"],\"resource\":"
			 "\"a/b/c\",\"kbs_urls\":[]}");
}

/* Every token id taken: the token cannot be written, the keyslot goes again. */
static void test_enroll_rollback(void)
{
	const char *img = tmp_path("rollback.img");
	const unsigned char *existing = (const unsigned char *)existing_pass;
	unsigned char key[32];
	struct err e = { 0 };
	int rc, slot = -1, max = crypt_token_max(CRYPT_LUKS2);

	make_image(img, CRYPT_LUKS2);
	random_key(key, sizeof(key));
	for (int i = 0; i < max; i++)
		set_token(img, i, "{\"type\":\"x-filler\",\"keyslots\":[]}");
	CHECK(active_tokens(img) == max, "%d tokens", active_tokens(img));
	rc = luks_enroll(img, existing, strlen(existing_pass), key, sizeof(key), "a/b/c", NULL, 0,
			 &slot, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "cannot write the cvmboot token to");
	CHECK(strstr(e.msg, "(the new keyslot 1 was removed again)") != NULL, "message: %s",
	      e.msg);
	CHECK(slot == -1, "keyslot reported: %d", slot);
	CHECK(active_keyslots(img) == 1, "keyslot left behind: %d active", active_keyslots(img));
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, NULL, key, sizeof(key), true, NULL, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "key does not open any keyslot");
}

/* Tokens written straight into the header, as an attacker with the disk would. */
static void test_hostile_tokens(void)
{
	const char *img = tmp_path("hostile.img");
	const unsigned char *existing = (const unsigned char *)existing_pass;
	struct luks_token_info info;
	struct crypt_device *cd;
	struct err e = { 0 };
	int rc;

	make_image(img, CRYPT_LUKS2);
	rc = luks_read_token(img, &info, &e);
	CHECK(rc == 1, "no token: rc=%d %s", rc, e.msg);

	set_token(img, 0, "{\"type\":\"x-other\",\"keyslots\":[\"0\"]}");
	set_token(img, 3, TOK("[\"0\"]", "\"../x/y\"", "[]"));
	memset(&e, 0, sizeof(e));
	rc = luks_read_token(img, &info, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "token 3: field 'resource': ");
	/* An unusable token only loses its keyslot preference. */
	memset(&e, 0, sizeof(e));
	rc = luks_unlock(img, NULL, existing, strlen(existing_pass), true, NULL, &e);
	CHECK(rc == 0, "unlock beside a hostile token: %s", e.msg);

	set_token(img, 3, TOK("[\"0\"]", "\"r/t/x\"", "[\"javascript:alert(1)\"]"));
	memset(&e, 0, sizeof(e));
	rc = luks_read_token(img, &info, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "token 3: field 'kbs_urls': entry 0");

	set_token(img, 3, TOK("[\"0\"]", "\"r/t/x\"", "[\"https://kbs\"]"));
	memset(&e, 0, sizeof(e));
	rc = luks_read_token(img, &info, &e);
	CHECK(rc == 0 && info.token_id == 3 && info.keyslot == 0 &&
	      strcmp(info.resource, "r/t/x") == 0, "token 3: rc=%d %s", rc, e.msg);

	/* Killing the enrolled keyslot leaves a token naming no keyslot. */
	set_token(img, 3, NULL);
	memset(&e, 0, sizeof(e));
	rc = luks_enroll(img, existing, strlen(existing_pass), (const unsigned char *)
			 "0123456789abcdef", 16, "r/t/y", NULL, 0, NULL, &e);
	CHECK(rc == 0, "enroll: %s", e.msg);
	cd = open_image(img);
	CHECK(crypt_keyslot_destroy(cd, 1) == 0, "cannot destroy keyslot 1");
	crypt_free(cd);
	memset(&e, 0, sizeof(e));
	rc = luks_read_token(img, &info, &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "token 1: field 'keyslots': must name exactly one");

	/* A keyslot that does not exist (if libcryptsetup lets it be written). */
	cd = open_image(img);
	rc = crypt_token_json_set(cd, 3, TOK("[\"5\"]", "\"r/t/x\"", "[]"));
	crypt_free(cd);
	if (rc == 3) {
		memset(&e, 0, sizeof(e));
		rc = luks_read_token(img, &info, &e);
		CHECK_ERR(rc, e, CVM_E_UNLOCK, "token 3: field 'keyslots': keyslot 5 does not exist");
	} else {
		printf("note: libcryptsetup refuses a token naming a missing keyslot (%d)\n", rc);
	}
}

/* Closing a mapping (the failed boot's rollback): what the host can check
 * without device-mapper is that a missing or bad name is an error naming it. */
static void test_close(void)
{
	struct err e = { 0 };
	int rc = luks_close("cvmboot-test-never-open", &e);

	CHECK_ERR(rc, e, CVM_E_UNLOCK, "cannot close /dev/mapper/cvmboot-test-never-open: ");
	memset(&e, 0, sizeof(e));
	rc = luks_close("../evil", &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "invalid mapper name '../evil'");
	memset(&e, 0, sizeof(e));
	rc = luks_close("control", &e);
	CHECK_ERR(rc, e, CVM_E_UNLOCK, "invalid mapper name 'control'");
}

/* `test_luks verify IMAGE KEYFILE [CIPHER...]`: 0 if the key opens IMAGE
 * and its header passes the check, else the error code. */
static int verify_main(const char *image, const char *keyfile, int n_ciphers, char **ciphers)
{
	unsigned char key[LUKS_KEY_MAX + 1];
	struct cipher_allow allowed;
	struct err e = { 0 };
	ssize_t n;
	int fd, rc;

	cipher_allow_default(&allowed);
	if (n_ciphers > CIPHER_ALLOW_MAX)
		return fprintf(stderr, "too many ciphers\n"), 2;
	for (int i = 0; i < n_ciphers; i++) {
		const char *why = cipher_entry_parse(ciphers[i], &allowed.entries[i]);

		if (why)
			return fprintf(stderr, "%s: %s\n", ciphers[i], why), 2;
		allowed.n = i + 1;
	}
	fd = open(keyfile, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return perror(keyfile), 2;
	n = read(fd, key, sizeof(key));
	close(fd);
	if (n <= 0 || n > LUKS_KEY_MAX)
		return fprintf(stderr, "bad key file\n"), 2;
	rc = luks_unlock(image, NULL, key, (size_t)n, true, &allowed, &e);
	memset(key, 0, sizeof(key));
	if (rc)
		fprintf(stderr, "%s\n", e.msg);
	else
		printf("key verified\n");
	return rc;
}

static void remove_tree(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "verify") == 0)
		return verify_main(argv[2], argv[3], argc - 4, argv + 4);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	crypt_set_log_callback(NULL, quiet_log, NULL);
	test_validate_good();
	test_validate_bad();
	test_wait_device();
	test_not_luks2();
	test_enroll_unlock();
	test_enroll_failures();
	test_enroll_rollback();
	test_hostile_tokens();
	test_close();
	remove_tree();
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
