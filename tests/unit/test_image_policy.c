/* Unit tests for agent/image_policy.c: the exact policy.json and
 * registries.d text, which keys are taken (OpenPGP, PEM public) and refused
 * (private, other, empty, too large), and the files written (modes, nothing
 * at all when the key or the image is refused). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image_policy.h"

#include "check.h"

static char tmpdir[] = "/tmp/cvmboot-test-image-policy-XXXXXX";

static const char gpg_armored[] = "\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ...\n"
				  "-----END PGP PUBLIC KEY BLOCK-----\n";
static const char pem_public[] = "-----BEGIN PUBLIC KEY-----\nMFkwEwYH...\n"
				 "-----END PUBLIC KEY-----\n";

static unsigned mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xFFFFu;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

static void test_json(void)
{
	struct err e = { 0 };
	char *s;

	s = image_policy_json("10.0.2.101:5000/app:signed", "/run/cvmboot/image-policy/signing-key.gpg",
			      IMAGE_KEY_GPG, &e);
	CHECK(s && !strcmp(s, "{\n"
			      "  \"default\": [\n"
			      "    {\n"
			      "      \"type\": \"reject\"\n"
			      "    }\n"
			      "  ],\n"
			      "  \"transports\": {\n"
			      "    \"docker\": {\n"
			      "      \"10.0.2.101:5000/app\": [\n"
			      "        {\n"
			      "          \"type\": \"signedBy\",\n"
			      "          \"keyType\": \"GPGKeys\",\n"
			      "          \"keyPath\": \"/run/cvmboot/image-policy/signing-key.gpg\"\n"
			      "        }\n"
			      "      ]\n"
			      "    }\n"
			      "  }\n"
			      "}\n"),
	      "gpg policy:\n%s", s ? s : e.msg);
	free(s);
	s = image_policy_json("reg.example/app@sha256:00", "/r/\"q\\/k.pub", IMAGE_KEY_SIGSTORE, &e);
	CHECK(s && strstr(s, "\"reg.example/app\": [\n        {\n"
			     "          \"type\": \"sigstoreSigned\",\n"
			     "          \"keyPath\": \"/r/\\\"q\\\\/k.pub\"\n        }\n      ]\n"),
	      "sigstore policy, path escaped:\n%s", s ? s : e.msg);
	free(s);
	/* the scope is the repository: a registry port is not a tag */
	s = image_policy_json("localhost:5000/ns/app", "/k", IMAGE_KEY_GPG, &e);
	CHECK(s && strstr(s, "\"localhost:5000/ns/app\": ["), "untagged, with port:\n%s", s ? s : e.msg);
	free(s);
	memset(&e, 0, sizeof(e));
	s = image_policy_json("app:latest", "/k", IMAGE_KEY_GPG, &e);
	CHECK(!s && e.code == CVM_E_CONFIG && strstr(e.msg, "not fully qualified"), "short name: %s",
	      e.msg);
}

static void test_yaml(void)
{
	struct err e = { 0 };
	char *s;

	s = image_policy_registries_yaml("10.0.2.101:5000/ns/app:signed", "http://10.0.2.102/sigs",
					 IMAGE_KEY_GPG, &e);
	CHECK(s && !strcmp(s, "docker:\n  10.0.2.101:5000/ns/app:\n"
			      "    lookaside: \"http://10.0.2.102/sigs\"\n"),
	      "gpg lookaside:\n%s", s ? s : e.msg);
	free(s);
	s = image_policy_registries_yaml("reg.example/app@sha256:00", "", IMAGE_KEY_SIGSTORE, &e);
	CHECK(s && !strcmp(s, "docker:\n  reg.example/app:\n    use-sigstore-attachments: true\n"),
	      "sigstore attachments:\n%s", s ? s : e.msg);
	free(s);
	s = image_policy_registries_yaml("reg.example/app", "", IMAGE_KEY_GPG, &e);
	CHECK(!s && e.code == 0, "gpg without lookaside: no file, no error (%s)", e.msg);
}

static void expect_key(const void *data, size_t len, int want_rc, enum image_key_type want,
		       const char *want_msg)
{
	struct err e = { 0 };
	enum image_key_type t = (enum image_key_type)-1;
	int rc = image_policy_key_type(data, len, &t, &e);

	CHECK(rc == want_rc, "rc %d, want %d (%s)", rc, want_rc, e.msg);
	if (!want_rc)
		CHECK(t == want, "type %d, want %d", (int)t, (int)want);
	else
		CHECK(strstr(e.msg, want_msg), "got \"%s\", want \"%s\"", e.msg, want_msg);
}

static void test_key_types(void)
{
	static const unsigned char binary_pub[] = { 0x99, 0x01, 0x0d, 0x04 };
	static const unsigned char binary_pub_new[] = { 0xc6, 0x33, 0x04 };
	static const unsigned char binary_sec[] = { 0x95, 0x01, 0x0d, 0x04 };
	static const char pgp_private[] = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n";
	static const char pem_private[] = "-----BEGIN EC PRIVATE KEY-----\nMHcC\n";
	static const char cosign_private[] = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
	unsigned char *big;

	expect_key(gpg_armored, strlen(gpg_armored), 0, IMAGE_KEY_GPG, NULL);
	expect_key(binary_pub, sizeof(binary_pub), 0, IMAGE_KEY_GPG, NULL);
	expect_key(binary_pub_new, sizeof(binary_pub_new), 0, IMAGE_KEY_GPG, NULL);
	expect_key(pem_public, strlen(pem_public), 0, IMAGE_KEY_SIGSTORE, NULL);
	expect_key(binary_sec, sizeof(binary_sec), CVM_E_CONFIG, 0, "is a private key");
	expect_key(pgp_private, strlen(pgp_private), CVM_E_CONFIG, 0, "is a private key");
	expect_key(pem_private, strlen(pem_private), CVM_E_CONFIG, 0, "is a private key");
	expect_key(cosign_private, strlen(cosign_private), CVM_E_CONFIG, 0, "is a private key");
	expect_key("hello", 5, CVM_E_CONFIG, 0, "neither an OpenPGP public key");
	expect_key("", 0, CVM_E_CONFIG, 0, "signing key is empty");
	big = calloc(1, IMAGE_POLICY_KEY_MAX + 1);
	memcpy(big, pem_public, strlen(pem_public));
	expect_key(big, IMAGE_POLICY_KEY_MAX + 1, CVM_E_CONFIG, 0, "signing key too large");
	free(big);
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_write(void)
{
	char run[600], path[800];
	struct err e = { 0 };
	int rc;

	/* refused key or image: nothing at all is written */
	snprintf(run, sizeof(run), "%s/refused", tmpdir);
	mkdir(run, 0755);
	rc = image_policy_write(run, "reg.example/app", "", (const unsigned char *)"junk", 4, &e);
	CHECK(rc == CVM_E_CONFIG && entries(run) == 0, "bad key: rc %d, %d entries", rc, entries(run));
	memset(&e, 0, sizeof(e));
	rc = image_policy_write(run, "app", "", (const unsigned char *)gpg_armored,
				strlen(gpg_armored), &e);
	CHECK(rc == CVM_E_CONFIG && entries(run) == 0, "bad image: rc %d, %d entries", rc, entries(run));

	/* GPG with a lookaside */
	snprintf(run, sizeof(run), "%s/gpg", tmpdir);
	memset(&e, 0, sizeof(e));
	rc = image_policy_write(run, "localhost:5000/app:1", "http://sigs.example/s",
				(const unsigned char *)gpg_armored, strlen(gpg_armored), &e);
	CHECK(rc == 0, "gpg write: %s", e.msg);
	snprintf(path, sizeof(path), "%s/image-policy", run);
	CHECK(entries(path) == 3 && mode_of(path) == 0755, "gpg: %d entries, mode %o", entries(path),
	      mode_of(path));
	snprintf(path, sizeof(path), "%s/image-policy/signing-key.gpg", run);
	CHECK(mode_of(path) == 0644 && !strcmp(slurp(path), gpg_armored), "gpg key file");
	snprintf(path, sizeof(path), "%s/image-policy/policy.json", run);
	CHECK(mode_of(path) == 0644 && strstr(slurp(path), "/gpg/image-policy/signing-key.gpg\"\n"),
	      "gpg policy file: %s", slurp(path));
	snprintf(path, sizeof(path), "%s/image-policy/registries.d/cvmboot.yaml", run);
	CHECK(mode_of(path) == 0644 && strstr(slurp(path), "lookaside: \"http://sigs.example/s\""),
	      "gpg registries.d file: %s", slurp(path));
	/* written again (a retried boot job): replaced in place */
	rc = image_policy_write(run, "localhost:5000/app:1", "http://sigs.example/s",
				(const unsigned char *)gpg_armored, strlen(gpg_armored), &e);
	CHECK(rc == 0, "gpg rewrite: %s", e.msg);

	/* GPG without a lookaside: no registries.d */
	snprintf(run, sizeof(run), "%s/gpg-nolook", tmpdir);
	rc = image_policy_write(run, "localhost/app", "", (const unsigned char *)gpg_armored,
				strlen(gpg_armored), &e);
	snprintf(path, sizeof(path), "%s/image-policy", run);
	CHECK(rc == 0 && entries(path) == 2, "gpg, no lookaside: rc %d, %d entries", rc, entries(path));

	/* sigstore */
	snprintf(run, sizeof(run), "%s/sigstore", tmpdir);
	rc = image_policy_write(run, "localhost/app", "", (const unsigned char *)pem_public,
				strlen(pem_public), &e);
	snprintf(path, sizeof(path), "%s/image-policy/signing-key.pub", run);
	CHECK(rc == 0 && mode_of(path) == 0644, "sigstore key file: %s", e.msg);
	snprintf(path, sizeof(path), "%s/image-policy/registries.d/cvmboot.yaml", run);
	CHECK(strstr(slurp(path), "use-sigstore-attachments: true"), "sigstore registries.d");
}

int main(void)
{
	char cmd[600];

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_json();
	test_yaml();
	test_key_types();
	test_write();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_report("image_policy");
}
