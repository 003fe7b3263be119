/* Unit tests for agent/status.c: status.json written where asked (run_dir
 * created), mode 0644, and read back field by field for success and failure. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "status.h"

#include "check.h"

static char tmpdir[] = "/tmp/cvmboot-test-status-XXXXXX";

static json_t *load_status(const char *run_dir)
{
	char path[1024];
	json_error_t jerr;
	json_t *doc;

	snprintf(path, sizeof(path), "%s/status.json", run_dir);
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	CHECK(doc != NULL, "%s: %s (line %d)", path, jerr.text, jerr.line);
	return doc;
}

static const char *str(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static void test_success(void)
{
	struct status s;
	struct err e = { 0 };
	char run_dir[1024], path[1100];
	struct stat st;
	json_t *doc, *phases, *v;
	const char *key;
	const char *want_phases[] = { "config", "attest", "fetch", "unlock" };
	long want_ms[] = { 3, 250, 40, 1200 };
	long long before = (long long)time(NULL);
	int i = 0;

	snprintf(run_dir, sizeof(run_dir), "%s/run/cvmboot", tmpdir);
	status_init(&s, "boot");
	CHECK(s.started >= before && s.started <= before + 1, "started %lld", s.started);
	strcpy(s.tee, "sample");
	strcpy(s.kbs_url, "https://kbs.example:8080");
	s.token_expiry = 1767225600;
	status_phase(&s, "config", 3);
	status_phase(&s, "attest", 999);
	status_phase(&s, "fetch", 40);
	status_phase(&s, "unlock", 1200);
	status_phase(&s, "attest", 250); /* again: keeps its place, new time */
	status_add_resource(&s, "root-key");
	status_add_resource(&s, "tls-cert");
	status_add_volume(&s, "/dev/vda2");
	strcpy(s.sealed, "pcr15");
	strcpy(s.unlock, "kbs");
	CHECK(status_write(&s, run_dir, &e) == 0, "write: %s", e.msg);

	snprintf(path, sizeof(path), "%s/status.json", run_dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644, "mode %o", st.st_mode & 07777);
	doc = load_status(run_dir);
	if (!doc)
		return;
	CHECK(json_object_size(doc) == 16, "%zu keys", json_object_size(doc));
	CHECK(!strcmp(str(doc, "unlock"), "kbs"), "unlock");
	CHECK(json_is_null(json_object_get(doc, "break_glass")), "break_glass must be null");
	CHECK(!strcmp(str(doc, "command"), "boot"), "command");
	CHECK(!strcmp(str(doc, "result"), "ok"), "result");
	CHECK(json_integer_value(json_object_get(doc, "exit_code")) == 0, "exit_code");
	CHECK(json_is_null(json_object_get(doc, "error")), "error must be null");
	CHECK(json_is_null(json_object_get(doc, "reason")), "reason must be null");
	CHECK(!strcmp(str(doc, "tee"), "sample"), "tee");
	CHECK(!strcmp(str(doc, "kbs_url"), "https://kbs.example:8080"), "kbs_url");
	CHECK(json_integer_value(json_object_get(doc, "token_expiry")) == 1767225600, "token_expiry");
	phases = json_object_get(doc, "phases");
	CHECK(json_is_object(phases) && json_object_size(phases) == 4, "phases");
	json_object_foreach(phases, key, v) {
		if (i < 4) {
			CHECK(!strcmp(key, want_phases[i]), "phase %d is %s, want %s", i, key, want_phases[i]);
			CHECK(json_integer_value(v) == want_ms[i], "phase %s = %lld", key,
			      (long long)json_integer_value(v));
		}
		i++;
	}
	v = json_object_get(doc, "resources");
	CHECK(json_array_size(v) == 2 && !strcmp(json_string_value(json_array_get(v, 1)), "tls-cert"),
	      "resources");
	v = json_object_get(doc, "volumes");
	CHECK(json_array_size(v) == 1 && !strcmp(json_string_value(json_array_get(v, 0)), "/dev/vda2"),
	      "volumes");
	CHECK(!strcmp(str(doc, "sealed"), "pcr15"), "sealed");
	CHECK(json_integer_value(json_object_get(doc, "started")) == s.started, "started");
	CHECK(json_integer_value(json_object_get(doc, "finished")) >= s.started, "finished");
	json_decref(doc);
}

/* A break-glass boot: "unlock" says so and the event is described. */
static void test_break_glass(void)
{
	struct status s;
	struct err e = { 0 };
	json_t *doc, *bg;

	status_init(&s, "boot");
	strcpy(s.unlock, "break-glass");
	s.break_glass.recorded = true;
	strcpy(s.break_glass.reg, "PCR15 (sha256)");
	strcpy(s.break_glass.event, "cvmboot break-glass: x");
	strcpy(s.break_glass.digest, "sha256:00ff");
	strcpy(s.break_glass.kbs_error, "KBS unreachable\x01");
	CHECK(status_write(&s, tmpdir, &e) == 0, "write: %s", e.msg);
	doc = load_status(tmpdir);
	if (!doc)
		return;
	bg = json_object_get(doc, "break_glass");
	CHECK(!strcmp(str(doc, "unlock"), "break-glass"), "unlock");
	CHECK(json_is_object(bg) && json_object_size(bg) == 4, "break_glass object");
	CHECK(!strcmp(str(bg, "register"), "PCR15 (sha256)") &&
	      !strcmp(str(bg, "event"), "cvmboot break-glass: x") &&
	      !strcmp(str(bg, "event_digest"), "sha256:00ff") &&
	      !strcmp(str(bg, "kbs_error"), "KBS unreachable?"), "break_glass fields");
	json_decref(doc);
}

static void test_failure(void)
{
	struct status s;
	struct err e = { 0 };
	json_t *doc;
	DIR *d;
	struct dirent *de;
	int entries = 0;

	status_init(&s, "get-resource");
	s.exit_code = CVM_E_NETWORK;
	snprintf(s.reason, sizeof(s.reason), "KBS https://k: \"budget\" exhausted \x01\xff\xfe");
	for (int i = 0; i < STATUS_MAX_PHASES + 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		status_phase(&s, name, i);
	}
	for (int i = 0; i < STATUS_MAX_ITEMS + 3; i++)
		status_add_resource(&s, "r");
	CHECK(s.n_phases == STATUS_MAX_PHASES && s.n_resources == STATUS_MAX_ITEMS, "bounded lists");
	/* Written twice over the same run_dir: replaced, no temp files. */
	CHECK(status_write(&s, tmpdir, &e) == 0, "write: %s", e.msg);
	CHECK(status_write(&s, tmpdir, &e) == 0, "rewrite: %s", e.msg);
	doc = load_status(tmpdir);
	if (!doc)
		return;
	CHECK(!strcmp(str(doc, "command"), "get-resource"), "command");
	CHECK(!strcmp(str(doc, "result"), "failed"), "result");
	CHECK(json_integer_value(json_object_get(doc, "exit_code")) == 6, "exit_code");
	CHECK(!strcmp(str(doc, "error"), "network"), "error %s", str(doc, "error"));
	CHECK(!strcmp(str(doc, "reason"), "KBS https://k: \"budget\" exhausted ???"), "reason '%s'",
	      str(doc, "reason"));
	CHECK(json_is_null(json_object_get(doc, "tee")) && json_is_null(json_object_get(doc, "kbs_url")) &&
	      json_is_null(json_object_get(doc, "token_expiry")) &&
	      json_is_null(json_object_get(doc, "sealed")) &&
	      json_is_null(json_object_get(doc, "unlock")) &&
	      json_is_null(json_object_get(doc, "break_glass")), "unknown values must be null");
	CHECK(json_object_size(json_object_get(doc, "phases")) == STATUS_MAX_PHASES, "phases");
	CHECK(json_array_size(json_object_get(doc, "volumes")) == 0, "volumes");
	json_decref(doc);
	d = opendir(tmpdir);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			entries++;
		else if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			CHECK(0, "leftover %s", de->d_name);
	if (d)
		closedir(d);
	CHECK(entries == 2, "entries %d (run, status.json)", entries);
}

static void test_unwritable(void)
{
	struct status s;
	struct err e = { 0 };
	char path[1100];
	FILE *f;

	/* run_dir cannot be created (a file is in the way). */
	snprintf(path, sizeof(path), "%s/blocker", tmpdir);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	strcat(path, "/run");
	status_init(&s, "unlock");
	CHECK(status_write(&s, path, &e) == CVM_E_SECRETS && strstr(e.msg, "status.json"),
	      "unwritable run_dir: %d %s", e.code, e.msg);
}

int main(void)
{
	char cmd[200];

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_success();
	test_break_glass();
	test_failure();
	test_unwritable();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_report("status");
}
