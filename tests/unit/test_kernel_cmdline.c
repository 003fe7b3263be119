/* Unit tests for agent/kernel_cmdline.c: kernel quoting, rd.cvmboot.* overrides of
 * the file, refused and unknown options, size bounds, /proc/cmdline files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "check.h"

/* Apply cmdline to fresh defaults; returns the result code. */
static int apply(struct config *c, const char *cmdline, struct err *e)
{
	config_defaults(c);
	memset(e, 0, sizeof(*e));
	return config_apply_cmdline_string(c, cmdline, e);
}

static void expect_error(const char *cmdline, const char *want)
{
	struct config c;
	struct err e;
	int rc = apply(&c, cmdline, &e);

	CHECK(rc == CVM_E_CONFIG && e.code == CVM_E_CONFIG, "rc %d for '%.100s'", rc, cmdline);
	CHECK(strstr(e.msg, want) != NULL, "'%.100s':\n  got  \"%s\"\n  want \"%s\"", cmdline, e.msg,
	      want);
	CHECK(!strncmp(e.msg, "kernel command line", 19), "context missing: %s", e.msg);
}

static void test_empty_and_foreign(void)
{
	struct config c, d;
	struct err e;

	config_defaults(&d);
	CHECK(apply(&c, "", &e) == 0 && !memcmp(&c, &d, sizeof(c)), "empty: %s", e.msg);
	CHECK(apply(&c, "   \n", &e) == 0 && !memcmp(&c, &d, sizeof(c)), "blank: %s", e.msg);
	CHECK(apply(&c, "BOOT_IMAGE=/vmlinuz root=UUID=1234 ro quiet rd.cvmbootx=7 rd.cvm=1 "
			"cvmboot.url=x rd.luks.uuid=abc \"quoted thing\" init=/bin/sh -- single\n", &e) == 0 &&
	      !memcmp(&c, &d, sizeof(c)), "foreign parameters must be ignored: %s", e.msg);
}

static void test_overrides(void)
{
	struct config c;
	struct err e;
	struct resource_cfg *r;

	CHECK(apply(&c, "rd.cvmboot=0", &e) == 0 && !c.enabled, "rd.cvmboot=0: %s", e.msg);
	CHECK(apply(&c, "rd.cvmboot=1", &e) == 0 && c.enabled, "rd.cvmboot=1: %s", e.msg);
	CHECK(apply(&c, "quiet rd.cvmboot.debug splash", &e) == 0 && c.debug, "debug: %s", e.msg);
	CHECK(apply(&c, "rd.cvmboot.debug=0", &e) == 0 && !c.debug, "debug=0: %s", e.msg);
	CHECK(apply(&c, "rd.cvmboot.tee=snp rd.cvmboot.key_algorithm=ec-p521 "
			"rd.cvmboot.on_failure=retry", &e) == 0, "tee etc: %s", e.msg);
	CHECK(!strcmp(c.tee, "snp") && c.key_alg == KEY_EC_P521 && c.on_failure == FAILURE_RETRY,
	      "values");
	/* Last one wins for single values. */
	CHECK(apply(&c, "rd.cvmboot.tee=snp rd.cvmboot.tee=tdx", &e) == 0 && !strcmp(c.tee, "tdx"),
	      "last wins");

	/* URLs from the command line replace the file's list, in order. */
	config_defaults(&c);
	strcpy(c.urls[c.n_urls++], "https://from-file");
	memset(&e, 0, sizeof(e));
	CHECK(config_apply_cmdline_string(&c, "rd.cvmboot.url=https://a:1 x=y rd.cvmboot.url=https://b/",
					  &e) == 0, "urls: %s", e.msg);
	CHECK(c.n_urls == 2 && !strcmp(c.urls[0], "https://a:1") && !strcmp(c.urls[1], "https://b"),
	      "url list %d", c.n_urls);
	/* ... but a command line without a URL keeps them. */
	config_defaults(&c);
	strcpy(c.urls[c.n_urls++], "https://from-file");
	CHECK(config_apply_cmdline_string(&c, "rd.cvmboot.debug", &e) == 0 && c.n_urls == 1, "kept");

	/* Resources: a new name adds a file resource, a known one gets a new path. */
	config_defaults(&c);
	r = config_add_resource(&c, "root-key", &e);
	strcpy(r->path, "default/luks/root");
	r->kind = RESOURCE_LUKS;
	strcpy(r->device, "/dev/vda2");
	strcpy(r->mapper, "root");
	CHECK(config_apply_cmdline_string(&c, "rd.cvmboot.resource.root-key=other/luks/root2 "
					  "rd.cvmboot.resource.token=default/app/token", &e) == 0,
	      "resources: %s", e.msg);
	CHECK(c.n_resources == 2, "%d resources", c.n_resources);
	r = config_find_resource(&c, "root-key");
	CHECK(r && r->kind == RESOURCE_LUKS && !strcmp(r->path, "other/luks/root2") &&
	      !strcmp(r->device, "/dev/vda2"), "path of existing resource replaced");
	r = config_find_resource(&c, "token");
	CHECK(r && r->kind == RESOURCE_FILE && !strcmp(r->file, "token") && r->mode == 0400 &&
	      !strcmp(r->path, "default/app/token"), "new file resource");
	CHECK(config_validate(&c, &e) == 0, "validate: %s", e.msg);
}

static void test_quotes(void)
{
	struct config c;
	struct err e;
	struct resource_cfg *r;

	/* Quotes around the value are removed; blanks inside quotes do not split. */
	CHECK(apply(&c, "a=\"x y\" rd.cvmboot.url=\"https://k:1/p\" \"b=c d\" rd.cvmboot.tee=\"tdx\"",
		    &e) == 0, "quoted: %s", e.msg);
	CHECK(c.n_urls == 1 && !strcmp(c.urls[0], "https://k:1/p") && !strcmp(c.tee, "tdx"),
	      "'%s' '%s'", c.urls[0], c.tee);
	/* A quoted whole parameter. */
	CHECK(apply(&c, "\"rd.cvmboot.resource.x=r/t/x\"", &e) == 0, "whole quoted: %s", e.msg);
	r = config_find_resource(&c, "x");
	CHECK(r && !strcmp(r->path, "r/t/x"), "whole quoted param");
	/* A quoted value with a blank is one parameter (and here a bad URL). */
	expect_error("rd.cvmboot.url=\"https://a b\" quiet", "contains a space");
	/* An unterminated quote runs to the end of the line. */
	expect_error("rd.cvmboot.tee=\"sample quiet", "unknown TEE 'sample quiet'");
	/* Tabs and newlines separate too. */
	CHECK(apply(&c, "\trd.cvmboot.tee=snp\n\nrd.cvmboot.debug\n", &e) == 0 && c.debug &&
	      !strcmp(c.tee, "snp"), "tabs: %s", e.msg);
}

static void test_errors(void)
{
	expect_error("rd.cvmboot.insecure_http=1", "rd.cvmboot.insecure_http is not accepted from the kernel command line");
	expect_error("rd.cvmboot.ca_file=/tmp/evil.pem", "rd.cvmboot.ca_file is not accepted from the kernel command line");
	expect_error("rd.cvmboot.allow_non_tmpfs", "rd.cvmboot.allow_non_tmpfs is not accepted from the kernel command line");
	expect_error("quiet rd.cvmboot.colour=blue", "unknown option rd.cvmboot.colour");
	expect_error("rd.cvmboot.dir=/tmp", "unknown option rd.cvmboot.dir");
	expect_error("rd.cvmboot.", "unknown option rd.cvmboot.");
	expect_error("rd.cvmboot=maybe", "rd.cvmboot: invalid boolean 'maybe'");
	expect_error("rd.cvmboot", "rd.cvmboot needs a value");
	expect_error("rd.cvmboot.debug=loud", "rd.cvmboot.debug: invalid boolean 'loud'");
	expect_error("rd.cvmboot.url", "rd.cvmboot.url needs a value");
	expect_error("rd.cvmboot.url=", "rd.cvmboot.url needs a value");
	expect_error("rd.cvmboot.url=ftp://x", "rd.cvmboot.url: URL 'ftp://x': must start with https://");
	expect_error("rd.cvmboot.tee=sgx", "rd.cvmboot.tee: unknown TEE 'sgx'");
	expect_error("rd.cvmboot.tee", "rd.cvmboot.tee needs a value");
	expect_error("rd.cvmboot.key_algorithm=rsa", "rd.cvmboot.key_algorithm: unknown 'rsa'");
	expect_error("rd.cvmboot.break_glass=passphrase", "rd.cvmboot.break_glass: only 'off' is accepted");
	expect_error("rd.cvmboot.break_glass", "rd.cvmboot.break_glass: only 'off' is accepted");
	expect_error("rd.cvmboot.on_failure=shell", "rd.cvmboot.on_failure: 'shell' is not emergency");
	expect_error("rd.cvmboot.resource.../x=a/b/c", "rd.cvmboot.resource.../x: bad resource name");
	expect_error("rd.cvmboot.resource.k=a/b", "rd.cvmboot.resource.k: needs a path REPOSITORY/TYPE/TAG, got 'a/b'");
	expect_error("rd.cvmboot.resource.k", "rd.cvmboot.resource.k: needs a path");
	expect_error("rd.cvmboot.tee=\x1b[2J", "control character");
	expect_error("rd.cvmboot.url=https://1 rd.cvmboot.url=https://2 rd.cvmboot.url=https://3 "
		     "rd.cvmboot.url=https://4 rd.cvmboot.url=https://5 rd.cvmboot.url=https://6 "
		     "rd.cvmboot.url=https://7 rd.cvmboot.url=https://8 rd.cvmboot.url=https://9",
		     "too many URLs (at most 8)");
}

static void test_bounds(void)
{
	char big[5000], param[700];
	struct config c;
	struct err e;

	/* The whole line: at most 4096 bytes. */
	memset(big, ' ', 4096);
	big[4096] = '\0';
	CHECK(apply(&c, big, &e) == 0, "4096 blanks: %s", e.msg);
	big[4096] = 'x';
	big[4097] = '\0';
	expect_error(big, "too long (4097 bytes, at most 4096)");
	/* A value longer than its field. */
	memset(param, 'a', sizeof(param));
	memcpy(param, "rd.cvmboot.url=https://", 23);
	param[sizeof(param) - 1] = '\0';
	expect_error(param, "rd.cvmboot.url: URL 'https://aaaa");
	expect_error(param, "aaaa': too long (at most 511 bytes)");
	memset(param, 'a', sizeof(param));
	memcpy(param, "rd.cvmboot.resource.", 20);
	param[300] = '=';
	param[sizeof(param) - 1] = '\0';
	expect_error(param, "bad resource name");
	/* Too many resources. */
	{
		char line[4096] = "", one[64];

		for (int i = 0; i <= CFG_MAX_RESOURCES; i++) {
			snprintf(one, sizeof(one), "rd.cvmboot.resource.r%d=a/b/c ", i);
			strcat(line, one);
		}
		expect_error(line, "too many resources (at most 32)");
	}
}

static void test_files(void)
{
	char dir[] = "/tmp/cvmboot-test-cmdline-XXXXXX", path[600], big[6000];
	struct config c;
	struct err e = { 0 };
	FILE *f;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	f = fopen(path, "w");
	fputs("BOOT_IMAGE=/vmlinuz rd.cvmboot.tee=tdx rd.cvmboot.url=https://kbs:8080\n", f);
	fclose(f);
	config_defaults(&c);
	CHECK(config_apply_cmdline_file(&c, path, &e) == 0 && !strcmp(c.tee, "tdx") && c.n_urls == 1,
	      "file: %s", e.msg);
	/* Over 4096 bytes. */
	memset(big, 'x', sizeof(big));
	f = fopen(path, "w");
	fwrite(big, 1, sizeof(big), f);
	fclose(f);
	CHECK(config_apply_cmdline_file(&c, path, &e) == CVM_E_CONFIG && strstr(e.msg, "too long"),
	      "big file: %s", e.msg);
	/* A NUL byte. */
	f = fopen(path, "w");
	fwrite("quiet\0rd.cvmboot.debug", 1, 22, f);
	fclose(f);
	CHECK(config_apply_cmdline_file(&c, path, &e) == CVM_E_CONFIG && strstr(e.msg, "NUL"),
	      "NUL: %s", e.msg);
	/* Empty file: nothing changes. */
	f = fopen(path, "w");
	fclose(f);
	config_defaults(&c);
	CHECK(config_apply_cmdline_file(&c, path, &e) == 0 && c.enabled, "empty: %s", e.msg);
	unlink(path);
	CHECK(config_apply_cmdline_file(&c, path, &e) == CVM_E_CONFIG && strstr(e.msg, "cannot open"),
	      "missing: %s", e.msg);
	rmdir(dir);
}

int main(void)
{
	test_empty_and_foreign();
	test_overrides();
	test_quotes();
	test_errors();
	test_bounds();
	test_files();
	return check_report("cmdline");
}
