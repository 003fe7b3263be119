/* Unit tests for agent/config.c: every key of a full file, the shipped example
 * configs/cvmboot.conf, and each kind of bad input with its exact location. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static char tmpdir[] = "/tmp/cvmboot-test-config-XXXXXX";

static const char *src_path(const char *rel, char *buf, size_t size)
{
	const char *src = getenv("CVMBOOT_SRC");

	snprintf(buf, size, "%s/%s", src ? src : "../..", rel);
	return buf;
}

/* Write content to tmpdir/name and return the path (static buffer). */
static const char *write_conf(const char *name, const char *content)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(content, f);
	fclose(f);
	return path;
}

static void test_defaults(void)
{
	struct config c;
	struct err e = { 0 };

	config_defaults(&c);
	CHECK(c.connect_timeout_ms == 5000, "%ld", c.connect_timeout_ms);
	CHECK(c.request_timeout_ms == 15000, "%ld", c.request_timeout_ms);
	CHECK(c.max_response_bytes == 1048576, "%ld", c.max_response_bytes);
	CHECK(c.retry_budget_ms == 120000 && c.backoff_base_ms == 500 && c.backoff_cap_ms == 10000,
	      "retry defaults");
	CHECK(!strcmp(c.tee, "auto") && c.key_alg == KEY_EC_P256, "tee defaults");
	CHECK(c.tpm_ak_handle == 0x81010002 && c.seal_pcr == 15, "tpm defaults");
	CHECK(c.tpm_timeout_ms == 30000, "%ld", c.tpm_timeout_ms);
	CHECK(!strcmp(c.run_dir, "/run/cvmboot") && !strcmp(c.secrets_dir, "/run/cvmboot/secrets"),
	      "dirs");
	CHECK(!strcmp(c.configfs_tsm_root, "/sys/kernel/config/tsm/report"), "tsm");
	CHECK(!strcmp(c.ccel_path, "/sys/firmware/acpi/tables/data/CCEL"), "ccel");
	CHECK(!strcmp(c.azure_imds_url, "http://169.254.169.254"), "imds");
	CHECK(c.device_timeout_ms == 30000 && c.discover_tokens && !c.no_activate, "luks");
	CHECK(c.luks_ciphers.n == 1 && cipher_allow_has(&c.luks_ciphers, "aes-xts-plain64", 512, ""),
	      "luks ciphers");
	CHECK(c.enabled && c.on_failure == FAILURE_EMERGENCY && !c.debug, "boot");
	CHECK(!c.insecure_http && !c.allow_non_tmpfs && c.n_urls == 0 && c.n_resources == 0, "rest");
	CHECK(config_validate(&c, &e) == 0, "defaults do not validate: %s", e.msg);
}

static void test_full_file(void)
{
	char path[512];
	struct config c;
	struct err e = { 0 };
	struct resource_cfg *r;
	int rc;

	config_defaults(&c);
	rc = config_load_file(&c, src_path("tests/unit/data/config_full.conf", path, sizeof(path)),
			      true, &e);
	CHECK(rc == 0, "full file: %s", e.msg);
	if (rc)
		return;
	CHECK(c.n_urls == 3, "%d urls", c.n_urls);
	CHECK(!strcmp(c.urls[0], "https://kbs-a.example.com:8080"), "%s", c.urls[0]);
	CHECK(!strcmp(c.urls[1], "https://[fd00::1]:8443/base"), "%s", c.urls[1]);
	CHECK(!strcmp(c.urls[2], "http://127.0.0.1:8080"), "%s", c.urls[2]);
	CHECK(!strcmp(c.ca_file, "/etc/cvmboot/test-ca.pem"), "%s", c.ca_file);
	CHECK(c.insecure_http, "insecure_http");
	CHECK(c.connect_timeout_ms == 750, "%ld", c.connect_timeout_ms);
	CHECK(c.request_timeout_ms == 120000, "%ld", c.request_timeout_ms);
	CHECK(c.max_response_bytes == 65536, "%ld", c.max_response_bytes);
	CHECK(c.retry_budget_ms == 3600000, "%ld", c.retry_budget_ms);
	CHECK(c.backoff_base_ms == 250, "%ld", c.backoff_base_ms);
	CHECK(c.backoff_cap_ms == 3000, "%ld", c.backoff_cap_ms);
	CHECK(!strcmp(c.tee, "tdx"), "%s", c.tee);
	CHECK(c.key_alg == KEY_RSA_OAEP_256, "%d", c.key_alg);
	CHECK(!strcmp(c.tpm_tcti, "swtpm:host=127.0.0.1,port=2321"), "%s", c.tpm_tcti);
	CHECK(c.tpm_ak_handle == 0x81010003, "%x", c.tpm_ak_handle);
	CHECK(c.tpm_timeout_ms == 1500, "%ld", c.tpm_timeout_ms);
	CHECK(c.seal_pcr == -1, "%d", c.seal_pcr);
	CHECK(!strcmp(c.configfs_tsm_root, "/tmp/tsm/report"), "%s", c.configfs_tsm_root);
	CHECK(!strcmp(c.ccel_path, "/tmp/CCEL"), "%s", c.ccel_path);
	CHECK(!strcmp(c.azure_imds_url, "http://127.0.0.1:9999"), "%s", c.azure_imds_url);
	CHECK(!strcmp(c.run_dir, "/tmp/cvmboot-run"), "%s", c.run_dir);
	CHECK(!strcmp(c.secrets_dir, "/tmp/cvmboot-run/secrets"), "%s", c.secrets_dir);
	CHECK(c.allow_non_tmpfs, "allow_non_tmpfs");
	CHECK(c.device_timeout_ms == 0 && !c.discover_tokens && c.no_activate, "luks section");
	CHECK(c.luks_ciphers.n == 2 &&
	      cipher_allow_has(&c.luks_ciphers, "aes-xts-plain64", 768, "hmac(sha256)") &&
	      cipher_allow_has(&c.luks_ciphers, "aes-cbc-essiv:sha256", 256, "") &&
	      !cipher_allow_has(&c.luks_ciphers, "aes-xts-plain64", 512, ""), "allowed_ciphers");
	CHECK(c.on_failure == FAILURE_POWEROFF, "%d", c.on_failure);
	CHECK(!strcmp(c.workload_image, "localhost/app:1.0"), "%s", c.workload_image);
	CHECK(!strcmp(c.workload_command, "/app/serve --port 8443"), "%s", c.workload_command);
	CHECK(c.n_workload_env == 2 && !strcmp(c.workload_env[1], "LOG_LEVEL=debug mode"), "env");
	CHECK(c.n_workload_ports == 2 && !strcmp(c.workload_ports[1], "127.0.0.1:9000:9000/udp"),
	      "ports");
	CHECK(c.n_resources == 3, "%d resources", c.n_resources);
	r = config_find_resource(&c, "root-key");
	CHECK(r && r->kind == RESOURCE_LUKS && !strcmp(r->path, "default/luks/root") &&
	      !strcmp(r->device, "UUID=0b8ad6c2-4a4c-4f4e-9bb1-6b43d4a2b1a1") &&
	      !strcmp(r->mapper, "cryptroot"), "root-key");
	r = config_find_resource(&c, "data");
	CHECK(r && r->kind == RESOURCE_LUKS && !strcmp(r->device, "/dev/vdb") &&
	      !strcmp(r->mapper, "data"), "data: mapper name defaults to the resource name");
	r = config_find_resource(&c, "tls.crt");
	CHECK(r && r->kind == RESOURCE_FILE && !strcmp(r->file, "tls.crt") && r->mode == 0444 &&
	      !strcmp(r->path, "other_repo/workload/tls.crt"), "tls.crt");
	CHECK(c.resources[0].name[0] == 'r' && c.resources[2].name[0] == 't', "file order kept");
	CHECK(config_validate(&c, &e) == 0, "validate: %s", e.msg);
}

/* The shipped, commented example must parse and validate. */
static void test_shipped_example(void)
{
	char path[512];
	struct config c, d;
	struct err e = { 0 };
	struct resource_cfg *r;
	int rc;

	config_defaults(&c);
	rc = config_load_file(&c, src_path("configs/cvmboot.conf", path, sizeof(path)), true, &e);
	CHECK(rc == 0, "configs/cvmboot.conf: %s", e.msg);
	if (rc)
		return;
	CHECK(config_validate(&c, &e) == 0, "configs/cvmboot.conf: %s", e.msg);
	CHECK(c.n_urls >= 1 && !strncmp(c.urls[0], "https://", 8), "example has an https URL");
	r = config_find_resource(&c, "root-key");
	CHECK(r && r->kind == RESOURCE_LUKS, "example has the LUKS root key");
	CHECK(c.n_resources >= 4, "example has the LUKS key and three files (%d)", c.n_resources);
	/* The example states the defaults: apart from the lists, it equals them. */
	config_defaults(&d);
	CHECK(c.connect_timeout_ms == d.connect_timeout_ms &&
	      c.request_timeout_ms == d.request_timeout_ms &&
	      c.max_response_bytes == d.max_response_bytes && c.retry_budget_ms == d.retry_budget_ms &&
	      c.backoff_base_ms == d.backoff_base_ms && c.backoff_cap_ms == d.backoff_cap_ms &&
	      !strcmp(c.tee, d.tee) && c.key_alg == d.key_alg && c.tpm_ak_handle == d.tpm_ak_handle &&
	      c.tpm_timeout_ms == d.tpm_timeout_ms &&
	      c.seal_pcr == d.seal_pcr && !strcmp(c.run_dir, d.run_dir) &&
	      !strcmp(c.secrets_dir, d.secrets_dir) && !strcmp(c.ccel_path, d.ccel_path) &&
	      !strcmp(c.configfs_tsm_root, d.configfs_tsm_root) &&
	      !strcmp(c.azure_imds_url, d.azure_imds_url) && c.device_timeout_ms == d.device_timeout_ms &&
	      c.discover_tokens == d.discover_tokens && c.no_activate == d.no_activate &&
	      c.allow_non_tmpfs == d.allow_non_tmpfs && c.insecure_http == d.insecure_http &&
	      c.on_failure == d.on_failure && c.break_glass == d.break_glass &&
	      c.break_glass_timeout_ms == d.break_glass_timeout_ms &&
	      !memcmp(&c.luks_ciphers, &d.luks_ciphers, sizeof(c.luks_ciphers)),
	      "example values differ from the defaults");
}

/* The settings shown disabled (";key = value") in the example are right too. */
static void test_shipped_example_disabled_lines(void)
{
	char path[512], line[1024];
	struct config c;
	struct err e = { 0 };
	FILE *in, *out;
	const char *copy;
	int enabled = 0;

	in = fopen(src_path("configs/cvmboot.conf", path, sizeof(path)), "r");
	copy = write_conf("example-enabled.conf", "");
	out = fopen(copy, "w");
	CHECK(in && out, "open");
	if (!in || !out)
		exit(2);
	while (fgets(line, sizeof(line), in)) {
		size_t key = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_");

		if (line[0] == ';' && key > 0 && !strncmp(line + 1 + key, " = ", 3)) {
			fputs(line + 1, out);
			enabled++;
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	fclose(out);
	config_defaults(&c);
	CHECK(enabled >= 5, "only %d disabled settings found", enabled);
	CHECK(config_load_file(&c, copy, true, &e) == 0, "example with all settings enabled: %s", e.msg);
	CHECK(config_validate(&c, &e) == 0, "validate: %s", e.msg);
	CHECK(c.n_urls == 2 && c.workload_image[0] && c.n_workload_env == 1 && c.n_workload_ports == 1,
	      "disabled settings took effect");
}

/* Loading content must fail with a message that starts "PATH" + want. */
static void expect_error(const char *content, const char *want)
{
	struct config c;
	struct err e = { 0 };
	const char *path = write_conf("bad.conf", content);
	char expected[1024];
	int rc;

	config_defaults(&c);
	rc = config_load_file(&c, path, true, &e);
	snprintf(expected, sizeof(expected), "%s%s", path, want);
	CHECK(rc == CVM_E_CONFIG && e.code == CVM_E_CONFIG, "rc %d for:\n%s", rc, content);
	CHECK(!strncmp(e.msg, expected, strlen(expected)), "\n  got  \"%s\"\n  want \"%s...\"", e.msg,
	      expected);
}

static void test_bad_values(void)
{
	expect_error("[kbs]\nurl = https://k\nconnect_timeout = fast\n",
		     ":3: [kbs] connect_timeout: invalid duration 'fast'");
	expect_error("[kbs]\nconnect_timeout = 5 s\n", ":2: [kbs] connect_timeout: invalid duration");
	expect_error("[kbs]\nrequest_timeout = -1s\n", ":2: [kbs] request_timeout: invalid duration");
	expect_error("[kbs]\nconnect_timeout = 0\n", ":2: [kbs] connect_timeout: duration '0' out of range");
	expect_error("[retry]\nbudget = 99999999999999m\n", ":2: [retry] budget: invalid duration");
	expect_error("[retry]\nbudget = 2d\n", ":2: [retry] budget: invalid duration '2d'");
	expect_error("[kbs]\ninsecure_http = maybe\n", ":2: [kbs] insecure_http: invalid boolean 'maybe'");
	expect_error("[luks]\nno_activate =\n", ":2: [luks] no_activate: invalid boolean ''");
	expect_error("[luks]\nallowed_ciphers = aes-xts-plain64:512 cipher_null-ecb:512\n",
		     ":2: [luks] allowed_ciphers: 'cipher_null-ecb:512': a null cipher is never allowed");
	expect_error("[luks]\nallowed_ciphers = aes-xts-plain64:512:CIPHER_NULL\n",
		     ":2: [luks] allowed_ciphers: 'aes-xts-plain64:512:CIPHER_NULL': a null cipher");
	expect_error("[luks]\nallowed_ciphers =\n", ":2: [luks] allowed_ciphers: empty list");
	expect_error("[luks]\nallowed_ciphers = aes-xts-plain64\n",
		     ":2: [luks] allowed_ciphers: 'aes-xts-plain64': expected ENCRYPTION:KEYBITS");
	expect_error("[luks]\nallowed_ciphers = aes-xts-plain64:4104\n",
		     ":2: [luks] allowed_ciphers: 'aes-xts-plain64:4104': key size out of range");
	expect_error("[luks]\nallowed_ciphers = a:512 b:512 c:512 d:512 e:512 f:512 g:512 h:512 i:512\n",
		     ":2: [luks] allowed_ciphers: more than 8 entries");
	expect_error("[tee]\nseal_pcr = 24\n", ":2: [tee] seal_pcr: 24 out of range (-1 to 23)");
	expect_error("[tee]\nseal_pcr = 1x\n", ":2: [tee] seal_pcr: invalid number '1x'");
	expect_error("[tee]\nseal_pcr = 99999999999999999999999\n", ":2: [tee] seal_pcr: invalid number");
	expect_error("[kbs]\nmax_response_size = 100\n", ":2: [kbs] max_response_size: 100 out of range");
	expect_error("[tee]\ntype = sgx\n", ":2: [tee] type: unknown TEE 'sgx'");
	/* The names come from the registry, which holds only what meson built in
	 * (-Dtpm, -Dazure, -Dsample); a known TEE left out is named as such. */
#if CVMBOOT_TEE_TPM && CVMBOOT_TEE_AZURE && CVMBOOT_TEE_SAMPLE
	expect_error("[tee]\ntype = sgx\n",
		     ":2: [tee] type: unknown TEE 'sgx' (auto, az-snp-vtpm, az-tdx-vtpm, snp, tdx, tpm, sample)");
#endif
#if !CVMBOOT_TEE_TPM
	expect_error("[tee]\ntype = tpm\n",
		     ":2: [tee] type: tee type 'tpm' is not built into this cvmboot (built in: auto, ");
#endif
#if !CVMBOOT_TEE_AZURE
	expect_error("[tee]\ntype = az-tdx-vtpm\n",
		     ":2: [tee] type: tee type 'az-tdx-vtpm' is not built into this cvmboot");
#endif
#if !CVMBOOT_TEE_SAMPLE
	expect_error("[tee]\ntype = sample\n",
		     ":2: [tee] type: tee type 'sample' is not built into this cvmboot");
#endif
	expect_error("[tee]\nkey_algorithm = ec-p384\n", ":2: [tee] key_algorithm: unknown key algorithm");
	expect_error("[tee]\ntpm_ak_handle = 0x81010002x\n", ":2: [tee] tpm_ak_handle: invalid handle");
	expect_error("[tee]\ntpm_ak_handle = 0x80000001\n",
		     ":2: [tee] tpm_ak_handle: handle '0x80000001' is not a persistent handle");
	expect_error("[tee]\nccel_path = relative/CCEL\n", ":2: [tee] ccel_path: 'relative/CCEL' is not an absolute path");
	expect_error("[tee]\nazure_imds_url = ftp://x\n", ":2: [tee] azure_imds_url: URL 'ftp://x': must start");
	expect_error("[boot]\non_failure = reboot\n", ":2: [boot] on_failure: invalid value 'reboot'");
	expect_error("[secrets]\ndir =\n", ":2: [secrets] dir: '' is not an absolute path");
	expect_error("[kbs]\nca_file = ca.pem\n", ":2: [kbs] ca_file: 'ca.pem' is not an absolute path");
	expect_error("[workload]\nenv = NOEQUALS\n", ":2: [workload] env: 'NOEQUALS' is not NAME=VALUE");
	expect_error("[workload]\nenv = 1A=b\n", ":2: [workload] env: '1A=b' is not NAME=VALUE");
	expect_error("[workload]\npublish = 70000:80\n", ":2: [workload] publish: '70000:80' is not");
	expect_error("[workload]\npublish = 80:80/sctp\n", ":2: [workload] publish: '80:80/sctp' is not");
	expect_error("[workload]\nimage = a b\n", ":2: [workload] image: image name 'a b' contains a space");
	expect_error("[workload]\ncommand =\n", ":2: [workload] command: empty value");
	expect_error("[workload]\nsigning_key = ../k\n",
		     ":2: [workload] signing_key: '../k' is not a KBS resource path");
	expect_error("[workload]\nsigning_key = a/b\n",
		     ":2: [workload] signing_key: 'a/b' is not a KBS resource path");
	expect_error("[workload]\nsignature_lookaside = file:///x\n",
		     ":2: [workload] signature_lookaside: URL 'file:///x': must start with");
	expect_error("[workload]\nsignature_lookaside = http://a b\n",
		     ":2: [workload] signature_lookaside: URL 'http://a b': contains a space");
	expect_error("[kbs]\nurl = https://a\x01\n", ":2: [kbs] url: control character in value");
}

static void test_bad_urls(void)
{
	expect_error("[kbs]\nurl = kbs.example.com\n", ":2: [kbs] url: URL 'kbs.example.com': must start with https:// or http://");
	expect_error("[kbs]\nurl = https://\n", ":2: [kbs] url: URL 'https://': has no host");
	expect_error("[kbs]\nurl = https:///path\n", ":2: [kbs] url: URL 'https:///path': has no host");
	expect_error("[kbs]\nurl = https://user:pw@kbs\n", ":2: [kbs] url: URL 'https://user:pw@kbs': must not contain credentials");
	expect_error("[kbs]\nurl = https://kbs:0\n", ":2: [kbs] url: URL 'https://kbs:0': bad port");
	expect_error("[kbs]\nurl = https://kbs:65536\n", ":2: [kbs] url: URL 'https://kbs:65536': bad port");
	expect_error("[kbs]\nurl = https://kbs:\n", ":2: [kbs] url: URL 'https://kbs:': bad port");
	expect_error("[kbs]\nurl = https://kbs/x?y=1\n", ":2: [kbs] url: URL 'https://kbs/x?y=1': must not have a query");
	expect_error("[kbs]\nurl = https://kb s\n", ":2: [kbs] url: URL 'https://kb s': contains a space");
	expect_error("[kbs]\nurl = https://[::1\n", ":2: [kbs] url: URL 'https://[::1': bad IPv6");
	expect_error("[kbs]\nurl = https://a_b\n", ":2: [kbs] url: URL 'https://a_b': bad host name");
	expect_error("[kbs]\nurl = https://kbs/caf\xc3\xa9\n",
		     ":2: [kbs] url: URL 'https://kbs/caf\xc3\xa9': contains a space, a control character or a non-ASCII byte");
	expect_error("[kbs]\nurl = https://[::1]:99999\n", ":2: [kbs] url: URL 'https://[::1]:99999': bad port");
	expect_error("[kbs]\nurl=https://1\nurl=https://2\nurl=https://3\nurl=https://4\nurl=https://5\n"
		     "url=https://6\nurl=https://7\nurl=https://8\nurl=https://9\n",
		     ":10: [kbs] url: too many values (at most 8)");
}

static void test_structure_errors(void)
{
	expect_error("[kbs]\nurl = https://k\n\n[foo]\nx = 1\n", ":4: [foo]: unknown section");
	expect_error("[foo]\n", ":1: [foo]: unknown section");
	expect_error("[tee]\nflavour = x\n", ":2: [tee] flavour: unknown key");
	expect_error("url = https://k\n", ":1: key 'url' outside of any section");
	expect_error("[kbs]\n= x\n", ":2: [kbs]: missing key name");
	expect_error("[kbs]\nurl\n", ":2: syntax error");
	expect_error("[kbs\nurl = https://k\n", ":1: section header without ']'");
	expect_error("[kbs] x\n", ":1: unexpected text after section header");
	expect_error("[tee]\ntype = snp\n[luks]\n[tee]\n", ":4: [tee]: duplicate section (first at line 1)");
	expect_error("[tee]\ntype = snp\ntype = tdx\n", ":3: [tee] type: duplicate key (first at line 2)");
	expect_error("[kbs]\nconnect_timeout = 1s\n\nconnect_timeout = 2s\n",
		     ":4: [kbs] connect_timeout: duplicate key (first at line 2)");
	expect_error("[resource.a]\npath = r/t/a\nfile = a\n[resource.a]\n", ":4: [resource.a]: duplicate resource");
	expect_error("[resource.a/b]\n", ":1: [resource.a/b]: bad resource name 'a/b'");
	expect_error("[resource.]\n", ":1: [resource.]: bad resource name ''");
	expect_error("[resource...]\n", ":1: [resource...]: bad resource name '..'");
	expect_error("[resource.0123456789012345678901234567890123456789x]\n",
		     ":1: section name too long (at most 49 bytes)");
	expect_error("[\x1b]\n", ":1: control character in section name");
}

static void test_resource_errors(void)
{
	expect_error("[resource.a]\npath = r/t/a\nfile = a\nmode = 0800\n", ":4: [resource.a] mode: invalid mode '0800'");
	expect_error("[resource.a]\npath = r/t/a\nfile = a\nmode = 01777\n", ":4: [resource.a] mode: invalid mode '01777'");
	expect_error("[resource.a]\npath = r/t/a\nfile = a\nmode = rw\n", ":4: [resource.a] mode: invalid mode");
	expect_error("[resource.a]\npath = r/t\nfile = a\n", ":2: [resource.a] path: bad resource path 'r/t'");
	expect_error("[resource.a]\npath = r/t/a/b\n", ":2: [resource.a] path: bad resource path");
	expect_error("[resource.a]\npath = r//a\n", ":2: [resource.a] path: bad resource path");
	expect_error("[resource.a]\npath = r/../a\n", ":2: [resource.a] path: bad resource path");
	expect_error("[resource.a]\npath = r/t/.\n", ":2: [resource.a] path: bad resource path");
	expect_error("[resource.a]\npath = /r/t/a\n", ":2: [resource.a] path: bad resource path");
	expect_error("[resource.a]\npath = r/t/a b\n", ":2: [resource.a] path: bad resource path");
	expect_error("[resource.a]\npath = r/t/a\nfile = ../x\n", ":3: [resource.a] file: bad file name '../x'");
	expect_error("[resource.a]\npath = r/t/a\nfile = sub/x\n", ":3: [resource.a] file: bad file name");
	expect_error("[resource.a]\npath = r/t/a\nfile = ..\n", ":3: [resource.a] file: bad file name");
	expect_error("[resource.a]\npath = r/t/a\nfile = 0123456789012345678901234567890123456789012345678901234567890123\n",
		     ":3: [resource.a] file: bad file name");
	expect_error("[resource.a]\npath = r/t/a\nfile = a\nluks_device = /dev/vda\n",
		     ":4: [resource.a] luks_device: conflicts with 'file' (line 3)");
	expect_error("[resource.a]\npath = r/t/a\nluks_device = /dev/vda\nmode = 0400\n",
		     ":4: [resource.a] mode: conflicts with 'luks_device' (line 3)");
	expect_error("[resource.a]\npath = r/t/a\nluks_device = vda\n", ":3: [resource.a] luks_device: bad device 'vda'");
	expect_error("[resource.a]\npath = r/t/a\nluks_device = UUID=xyz\n", ":3: [resource.a] luks_device: bad UUID");
	/* One UUID rule with luks/ (base uuid_valid): canonical, lowercase. */
	expect_error("[resource.a]\npath = r/t/a\nluks_device = UUID=0B8AD6C2-4A4C-4F4E-9BB1-6B43D4A2B1A1\n",
		     ":3: [resource.a] luks_device: bad UUID in 'UUID=0B8AD6C2-4A4C-4F4E-9BB1-6B43D4A2B1A1' (8-4-4-4-12 lowercase hex digits");
	expect_error("[resource.a]\npath = r/t/a\nluks_device = UUID=0b8ad6c24a4c4f4e9bb16b43d4a2b1a1\n",
		     ":3: [resource.a] luks_device: bad UUID");
	expect_error("[resource.a]\npath = r/t/a\nluks_device = /dev/vda\nluks_name = my/root\n",
		     ":4: [resource.a] luks_name: bad mapper name 'my/root'");
	expect_error("[resource.a]\npath = r/t/a\nluks_device = /dev/vda\nluks_name = control\n",
		     ":4: [resource.a] luks_name: bad mapper name 'control'");
	expect_error("[resource.a]\npath = r/t/a\nfile = a\npath = r/t/b\n", ":4: [resource.a] path: duplicate key (first at line 2)");
	expect_error("[resource.a]\npath = r/t/a\nfile = a\nsize = 1\n", ":4: [resource.a] size: unknown key");
	expect_error("[resource.a]\nfile = a\n", ":1: [resource.a]: missing 'path = REPOSITORY/TYPE/TAG'");
	expect_error("[kbs]\n[resource.b]\npath = r/t/b\n", ":2: [resource.b]: needs 'file = NAME'");
	expect_error("[resource.b]\npath = r/t/b\nluks_name = b\n", ":1: [resource.b]: 'luks_name' needs 'luks_device'");
}

static void test_too_many_resources(void)
{
	char content[8192] = "", line[128];
	char want[64];

	for (int i = 0; i <= CFG_MAX_RESOURCES; i++) {
		snprintf(line, sizeof(line), "[resource.r%d]\npath = a/b/r%d\nfile = r%d\n", i, i, i);
		strcat(content, line);
	}
	snprintf(want, sizeof(want), ":%d: [resource.r%d]: too many resources (at most %d)",
		 3 * CFG_MAX_RESOURCES + 1, CFG_MAX_RESOURCES, CFG_MAX_RESOURCES);
	expect_error(content, want);
}

static void test_long_lines(void)
{
	char content[8192], value[2100];
	struct config c;
	struct err e = { 0 };
	const char *path;

	/* A line far too long is an error naming its line, never cut short. */
	memset(value, 'a', 2000);
	value[2000] = '\0';
	snprintf(content, sizeof(content), "[workload]\nimage = x\ncommand = /%s\n", value);
	expect_error(content, ":3: line too long (at most ");
	/* Long values that fit their field are kept whole (no parser line
	 * buffer cuts them; libinih's 200-byte buffer once did). */
	memset(value, 'b', 450);
	value[450] = '\0';
	snprintf(content, sizeof(content), "[workload]\ncommand = /%s ; comment\nimage = y\n", value);
	path = write_conf("longvalue.conf", content);
	config_defaults(&c);
	CHECK(config_load_file(&c, path, true, &e) == 0 && strlen(c.workload_command) == 451 &&
	      c.workload_command[1] == 'b' && !strcmp(c.workload_image, "y"),
	      "450-byte value: %s", e.msg);
	/* A value longer than its field (file name: 63 bytes). */
	memset(value, 'c', 70);
	value[70] = '\0';
	snprintf(content, sizeof(content), "[resource.a]\npath = r/t/a\nluks_device = /dev/vda\nluks_name = %s\n", value);
	expect_error(content, ":4: [resource.a] luks_name: bad mapper name");
	memset(value, 'a', 60);
	value[60] = '\0';
	snprintf(content, sizeof(content), "[workload]\npublish = [%s]:80:80\n", value);
	expect_error(content, ":2: [workload] publish: value too long (68 bytes, at most 63)");
	/* Long comments are fine (up to 1024 bytes); longer ones are not. */
	memset(value, 'e', 1000);
	value[1000] = '\0';
	snprintf(content, sizeof(content), "# %s\n[tee]\n  ; %s\ntype = snp\n", value, value);
	path = write_conf("longcomment.conf", content);
	config_defaults(&c);
	CHECK(config_load_file(&c, path, true, &e) == 0 && !strcmp(c.tee, "snp"), "long comments: %s", e.msg);
	memset(value, 'e', 1100);
	value[1100] = '\0';
	snprintf(content, sizeof(content), "[tee]\n# %s\n", value);
	expect_error(content, ":2: line too long (at most 1024 bytes)");
	/* A long line that fits is fine, also with CRLF endings and no final newline. */
	memset(value, 'd', 150);
	value[150] = '\0';
	snprintf(content, sizeof(content), "[workload]\r\ncommand = /%s\r\nimage = z", value);
	path = write_conf("long.conf", content);
	config_defaults(&c);
	CHECK(config_load_file(&c, path, true, &e) == 0, "150-byte value: %s", e.msg);
	CHECK(strlen(c.workload_command) == 151 && !strcmp(c.workload_image, "z"), "CRLF file");
	/* A NUL byte in a line. */
	path = write_conf("nul.conf", "");
	{
		FILE *f = fopen(path, "w");

		fwrite("[kbs]\nurl = https://a\0b\n", 1, 24, f);
		fclose(f);
	}
	config_defaults(&c);
	CHECK(config_load_file(&c, path, true, &e) == CVM_E_CONFIG && strstr(e.msg, ":2: NUL byte"),
	      "NUL: %s", e.msg);
}

static void test_files(void)
{
	struct config c, d;
	struct err e = { 0 };
	char path[600];
	const char *p;

	/* Missing file: fine unless it must exist. */
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	config_defaults(&c);
	CHECK(config_load_file(&c, path, false, &e) == 0, "missing optional file: %s", e.msg);
	CHECK(config_load_file(&c, path, true, &e) == CVM_E_CONFIG && strstr(e.msg, "does-not-exist.conf") &&
	      strstr(e.msg, "No such file"), "missing file: %s", e.msg);
	/* A directory is not a config file. */
	CHECK(config_load_file(&c, tmpdir, true, &e) == CVM_E_CONFIG && strstr(e.msg, "not a regular file"),
	      "directory: %s", e.msg);
	/* Empty file and comments only: the defaults stay. */
	p = write_conf("empty.conf", "");
	config_defaults(&c);
	config_defaults(&d);
	CHECK(config_load_file(&c, p, true, &e) == 0 && !memcmp(&c, &d, sizeof(c)), "empty file: %s", e.msg);
	p = write_conf("comments.conf", "# only\n; comments\n\n   \n\t# indented\n");
	CHECK(config_load_file(&c, p, true, &e) == 0 && !memcmp(&c, &d, sizeof(c)), "comments: %s", e.msg);
	/* Indented keys are keys, not continuations of the line before. */
	p = write_conf("indent.conf", "[kbs]\nurl = https://a\n  url = https://b\n");
	CHECK(config_load_file(&c, p, true, &e) == 0 && c.n_urls == 2 && !strcmp(c.urls[0], "https://a"),
	      "indented: %s", e.msg);
	/* Trailing slashes of a base URL go (paths are appended to it). */
	p = write_conf("slash.conf", "[kbs]\nurl = https://a:1/\nurl = https://b/base//\n");
	CHECK(config_load_file(&c, p, true, &e) == 0 && c.n_urls == 2 && !strcmp(c.urls[0], "https://a:1") &&
	      !strcmp(c.urls[1], "https://b/base"), "trailing slash: %s %s", c.urls[0], c.urls[1]);
	/* A later file's url list replaces the earlier one. */
	p = write_conf("second.conf", "[kbs]\nurl = https://c\n");
	CHECK(config_load_file(&c, p, true, &e) == 0 && c.n_urls == 1 && !strcmp(c.urls[0], "https://c"),
	      "second file");
	/* UTF-8 byte order mark. */
	p = write_conf("bom.conf", "\xEF\xBB\xBF[tee]\ntype = tdx\n");
	CHECK(config_load_file(&c, p, true, &e) == 0 && !strcmp(c.tee, "tdx"), "BOM: %s", e.msg);
}

static void test_parsers(void)
{
	long ms = -7;
	bool b;
	enum key_alg a;

	CHECK(config_parse_duration_ms("500ms", &ms) == 0 && ms == 500, "500ms");
	CHECK(config_parse_duration_ms("5s", &ms) == 0 && ms == 5000, "5s");
	CHECK(config_parse_duration_ms("2m", &ms) == 0 && ms == 120000, "2m");
	CHECK(config_parse_duration_ms("1h", &ms) == 0 && ms == 3600000, "1h");
	CHECK(config_parse_duration_ms("10", &ms) == 0 && ms == 10000, "bare = seconds");
	CHECK(config_parse_duration_ms("0", &ms) == 0 && ms == 0, "0");
	ms = -7;
	CHECK(config_parse_duration_ms("", &ms) < 0 && ms == -7, "empty");
	CHECK(config_parse_duration_ms("ms", &ms) < 0, "unit only");
	CHECK(config_parse_duration_ms("-5s", &ms) < 0, "negative");
	CHECK(config_parse_duration_ms("1.5s", &ms) < 0, "fraction");
	CHECK(config_parse_duration_ms(" 5s", &ms) < 0, "space");
	CHECK(config_parse_duration_ms("5S", &ms) < 0, "unit case");
	CHECK(config_parse_duration_ms("5sec", &ms) < 0, "unit word");
	CHECK(config_parse_duration_ms("9999999999999h", &ms) < 0, "13 digits");
	CHECK(config_parse_duration_ms("999999999999h", &ms) == 0 && ms == 999999999999L * 3600000L,
	      "largest");
	CHECK(config_parse_bool("Yes", &b) == 0 && b, "Yes");
	CHECK(config_parse_bool("0", &b) == 0 && !b, "0");
	CHECK(config_parse_bool("on", &b) < 0, "on is not documented");
	CHECK(config_parse_key_alg("ec-p521", &a) == 0 && a == KEY_EC_P521, "ec-p521");
	CHECK(!strcmp(config_key_alg_name(KEY_RSA_OAEP_256), "rsa-oaep-256"), "alg name");
	CHECK(config_check_resource_path("default/key/1") == 0, "path ok");
	CHECK(config_check_resource_path("default/key/") < 0, "empty tag");
}

static void test_validate(void)
{
	struct config c;
	struct err e = { 0 };
	struct resource_cfg *r;

	config_defaults(&c);
	strcpy(c.urls[c.n_urls++], "http://127.0.0.1:8080");
	CHECK(config_validate(&c, &e) == CVM_E_CONFIG && strstr(e.msg, "insecure_http"),
	      "http without insecure_http: %s", e.msg);
	c.insecure_http = true;
	CHECK(config_validate(&c, &e) == 0, "http with insecure_http: %s", e.msg);
	c.backoff_cap_ms = 100;
	CHECK(config_validate(&c, &e) == CVM_E_CONFIG && strstr(e.msg, "backoff_cap"), "cap < base");
	config_defaults(&c);
	r = config_add_resource(&c, "a", &e);
	CHECK(r && !strcmp(r->file, "a") && r->mode == 0400 && r->kind == RESOURCE_FILE, "add");
	CHECK(config_add_resource(&c, "a", &e) == r && c.n_resources == 1, "add twice");
	CHECK(config_validate(&c, &e) == CVM_E_CONFIG && strstr(e.msg, "resource 'a': bad or missing path"),
	      "no path: %s", e.msg);
	strcpy(r->path, "r/t/a");
	CHECK(config_validate(&c, &e) == 0, "complete: %s", e.msg);
	r = config_add_resource(&c, "b", &e);
	strcpy(r->path, "r/t/b");
	strcpy(r->file, "a");
	CHECK(config_validate(&c, &e) == CVM_E_CONFIG && strstr(e.msg, "both write file 'a'"),
	      "same file twice: %s", e.msg);
	r->kind = RESOURCE_LUKS;
	CHECK(config_validate(&c, &e) == CVM_E_CONFIG && strstr(e.msg, "missing luks_device"),
	      "luks without device: %s", e.msg);
	CHECK(config_add_resource(&c, "../x", &e) == NULL && strstr(e.msg, "bad resource name"), "bad name");
}

/* The signed-image gate's cross-field rules. */
static void test_validate_signing(void)
{
	static const struct {
		const char *image, *want;
	} cases[] = {
		{ "", "[workload] signing_key: no [workload] image" },
		{ "app:1", "[workload] signing_key: image reference 'app:1' is not fully qualified" },
		{ "library/app", "image reference 'library/app' is not fully qualified" },
		{ "docker.io/busybox", "write docker.io/library/NAME" },
		{ "reg.example/a\"b", "holds a character other than" },
		{ "reg.example//a", "is malformed" },
		{ "reg.example/a:", "is malformed" },
		{ "reg.example:5000/app:1", NULL },
		{ "localhost/app@sha256:0123", NULL },
		{ "docker.io/library/busybox:1", NULL },
	};
	struct config c;
	struct err e = { 0 };

	config_defaults(&c);
	strcpy(c.workload_lookaside, "http://sigs.example");
	CHECK(config_validate(&c, &e) == CVM_E_CONFIG && strstr(e.msg, "signing_key is not"),
	      "lookaside without key: %s", e.msg);
	strcpy(c.workload_signing_key, "default/workload/signing-key");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		memset(&e, 0, sizeof(e));
		strcpy(c.workload_image, cases[i].image);
		rc = config_validate(&c, &e);
		if (cases[i].want)
			CHECK(rc == CVM_E_CONFIG && strstr(e.msg, cases[i].want), "'%s': %s",
			      cases[i].image, e.msg);
		else
			CHECK(rc == 0, "'%s': %s", cases[i].image, e.msg);
	}
}

/* [boot] break_glass: off by default, refused with on_failure = poweroff
 * (at load, naming both keys) and without a seal register; the command
 * line turns it off only. */
static void test_break_glass(void)
{
	struct config c;
	struct err e = { 0 };
	const char *path;

	config_defaults(&c);
	CHECK(c.break_glass == BREAK_GLASS_OFF && c.break_glass_timeout_ms == 300000, "defaults");
	path = write_conf("bg.conf", "[boot]\nbreak_glass = passphrase\nbreak_glass_timeout = 90s\n");
	CHECK(config_load_file(&c, path, true, &e) == 0, "load: %s", e.msg);
	CHECK(c.break_glass == BREAK_GLASS_PASSPHRASE && c.break_glass_timeout_ms == 90000, "set");
	CHECK(config_validate(&c, &e) == 0, "passphrase + emergency: %s", e.msg);
	c.on_failure = FAILURE_RETRY;
	CHECK(config_validate(&c, &e) == 0, "passphrase + retry: %s", e.msg);
	CHECK(config_apply_cmdline_string(&c, "quiet rd.cvmboot.break_glass=off", &e) == 0 &&
	      c.break_glass == BREAK_GLASS_OFF, "cmdline off: %s", e.msg);
	CHECK(config_apply_cmdline_string(&c, "rd.cvmboot.break_glass=passphrase", &e) == CVM_E_CONFIG &&
	      strstr(e.msg, "rd.cvmboot.break_glass: only 'off' is accepted") &&
	      c.break_glass == BREAK_GLASS_OFF, "cmdline cannot turn it on: %s", e.msg);

	path = write_conf("bg-off.conf", "[boot]\nbreak_glass = passphrase\non_failure = poweroff\n");
	config_defaults(&c);
	CHECK(config_load_file(&c, path, true, &e) == 0, "load: %s", e.msg);
	CHECK(config_validate(&c, &e) == CVM_E_CONFIG && strstr(e.msg, "[boot] break_glass = passphrase") &&
	      strstr(e.msg, "[boot] on_failure = poweroff"), "poweroff refused: %s", e.msg);
	/* the host's rd.cvmboot.break_glass=off makes the pair valid again */
	CHECK(config_apply_cmdline_string(&c, "rd.cvmboot.break_glass=off", &e) == 0 &&
	      config_validate(&c, &e) == 0, "off on the cmdline: %s", e.msg);
	config_defaults(&c);
	c.break_glass = BREAK_GLASS_PASSPHRASE;
	CHECK(config_apply_cmdline_string(&c, "rd.cvmboot.on_failure=poweroff", &e) == 0 &&
	      config_validate(&c, &e) == CVM_E_CONFIG && strstr(e.msg, "on_failure"),
	      "poweroff from the cmdline refused too: %s", e.msg);
	config_defaults(&c);
	c.break_glass = BREAK_GLASS_PASSPHRASE;
	c.seal_pcr = -1;
	CHECK(config_validate(&c, &e) == CVM_E_CONFIG && strstr(e.msg, "[tee] seal_pcr = -1"),
	      "no register: %s", e.msg);

	expect_error("[boot]\nbreak_glass = yes\n", ":2: [boot] break_glass: invalid value 'yes' (off or passphrase)");
	expect_error("[boot]\nbreak_glass_timeout = 0\n", ":2: [boot] break_glass_timeout: duration '0' out of range");
	expect_error("[boot]\nbreak_glass_timeout = 2d\n", ":2: [boot] break_glass_timeout: invalid duration");
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_defaults();
	test_parsers();
	test_full_file();
	test_shipped_example();
	test_shipped_example_disabled_lines();
	test_bad_values();
	test_bad_urls();
	test_structure_errors();
	test_resource_errors();
	test_too_many_resources();
	test_long_lines();
	test_files();
	test_validate();
	test_validate_signing();
	test_break_glass();
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return check_report("config");
}
