/* Unit tests for kbs/kbs.c over a scripted transport (http_request and
 * json_dumps are wrapped at link time): an overloaded /attest is sent again
 * on the same session, a success leaves no error behind, a 401 on a re-sent
 * /attest starts one new session, a failed allocation on the request path
 * ends cleanly (no uninitialised response is cleared), and the /attest body
 * carries the init-data document only when one is configured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "kbs.h"
#include "kbs_config.h"
#include "tee_config.h"

#include "check.h"

/* One scripted answer: status, Retry-After (-1: none), body; status -1
 * makes http_request fail locally (out of memory). */
struct answer {
	long status, retry_after_ms;
	const char *body;
};

#define MAX_CALLS 16
static const struct answer *script;
static int n_script, calls;
static char endpoints[MAX_CALLS][16], hosts[MAX_CALLS][32];
static char *bodies[MAX_CALLS];
static int dumps_calls, dumps_fail_at; /* json_dumps call number (1-based) that fails */

int __wrap_http_request(struct http *h, const char *url, const char *body, long timeout_ms,
			struct http_response *r);
char *__wrap_json_dumps(const json_t *json, size_t flags);
char *__real_json_dumps(const json_t *json, size_t flags);

int __wrap_http_request(struct http *h, const char *url, const char *body, long timeout_ms,
			struct http_response *r)
{
	const struct answer *a;
	const char *slash = strrchr(url, '/');

	(void)h;
	(void)timeout_ms;
	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	if (calls >= n_script || calls >= MAX_CALLS) {
		snprintf(r->transport_error, sizeof(r->transport_error), "script ended");
		calls++;
		return 0;
	}
	a = &script[calls];
	snprintf(endpoints[calls], sizeof(endpoints[calls]), "%s",
		 strstr(url, "/resource/") ? "resource" : slash + 1);
	snprintf(hosts[calls], sizeof(hosts[calls]), "%.*s", (int)strcspn(url + 8, "/"), url + 8);
	bodies[calls] = body ? strdup(body) : NULL;
	calls++;
	if (a->status < 0)
		return -1;
	r->status = a->status;
	r->retry_after_ms = a->retry_after_ms;
	r->body = strdup(a->body);
	r->body_len = strlen(a->body);
	return 0;
}

char *__wrap_json_dumps(const json_t *json, size_t flags)
{
	if (++dumps_calls == dumps_fail_at)
		return NULL;
	return __real_json_dumps(json, flags);
}

static struct config cfg;
static const char *init_toml; /* init-data document text for the next attest(), or NULL */

static void reset(const struct answer *s, int n, int fail_dumps_at)
{
	for (int i = 0; i < MAX_CALLS; i++) {
		free(bodies[i]);
		bodies[i] = NULL;
		endpoints[i][0] = hosts[i][0] = '\0';
	}
	script = s;
	n_script = n;
	calls = 0;
	dumps_calls = 0;
	dumps_fail_at = fail_dumps_at;
}

/* Leave garbage where the next calls keep their locals, so a struct read
 * before it is written shows as a crash even without a sanitizer. */
static void __attribute__((noinline)) dirty_stack(void)
{
	volatile unsigned char junk[32768];

	memset((void *)junk, 0xA5, sizeof(junk));
}

/* A client on the sample TEE with cfg's options (and init_toml, if set). */
static struct kbs *new_client(struct err *e)
{
	struct kbs_client_options o;
	struct tee_options t;

	kbs_client_options_from_config(&cfg, &o);
	if (init_toml) {
		o.init_data_toml = init_toml;
		o.init_data_len = strlen(init_toml);
	}
	tee_options_from_config(&cfg, &t);
	return kbs_new(&o, tee_by_name("sample"), &t, e);
}

static int attest(struct err *e)
{
	struct kbs *k = new_client(e);
	int rc;

	if (!k)
		return -1;
	dirty_stack();
	rc = kbs_attest(k, e);
	kbs_free(k);
	return rc;
}

#define CHALLENGE { 200, -1, "{\"nonce\":\"bm9uY2U=\",\"extra-params\":\"\"}" }
#define TOKEN { 200, -1, "{\"token\":\"e30.eyJleHAiOjQyfQ.c2ln\"}" }
#define BUSY_503 { 503, 0, "busy" }
#define BUSY_429 { 429, -1, "busy" }
#define GONE_401 { 401, -1, "{\"type\":\"https://github.com/confidential-containers/kbs/errors/" \
		   "AttestationError\",\"detail\":\"session expired\"}" }

static void test_busy_attest_same_session(void)
{
	static const struct answer s[] = { CHALLENGE, BUSY_503, BUSY_429, TOKEN };
	struct err e = { 0 };
	int rc;

	reset(s, 4, 0);
	rc = attest(&e);
	CHECK(rc == 0, "rc %d: %s", rc, e.msg);
	CHECK(e.code == 0 && e.msg[0] == '\0', "a healed failure left an error: %d '%s'", e.code,
	      e.msg);
	CHECK(calls == 4, "%d requests", calls);
	CHECK(!strcmp(endpoints[0], "auth") && !strcmp(endpoints[1], "attest") &&
	      !strcmp(endpoints[2], "attest") && !strcmp(endpoints[3], "attest"),
	      "a busy /attest cost a new /auth: %s %s %s %s", endpoints[0], endpoints[1],
	      endpoints[2], endpoints[3]);
	CHECK(bodies[1] && bodies[2] && bodies[3] && !strcmp(bodies[1], bodies[2]) &&
	      !strcmp(bodies[1], bodies[3]), "the /attest retries are not the same attestation");
	CHECK(bodies[1] && strstr(bodies[1], "\"nonce\":\"bm9uY2U=\""), "nonce not sent");
}

/* Trustee's Attestation "init-data": {"format":"toml","body":<the text>},
 * sent only when a document is configured. */
static void test_init_data_in_attest_body(void)
{
	static const struct answer s[] = { CHALLENGE, TOKEN };
	json_t *body, *init;
	char *text = NULL;
	struct err e = { 0 };
	int rc;

	reset(s, 2, 0);
	init_toml = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\nk = \"v\"\n";
	rc = attest(&e);
	init_toml = NULL;
	CHECK(rc == 0 && calls == 2 && bodies[1], "rc %d, %d calls: %s", rc, calls, e.msg);
	body = bodies[1] ? json_loads(bodies[1], 0, NULL) : NULL;
	init = json_object_get(body, "init-data");
	text = init ? json_dumps(init, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	CHECK(text && !strcmp(text, "{\"body\":\"version = \\\"0.1.0\\\"\\n"
			      "algorithm = \\\"sha384\\\"\\n[data]\\nk = \\\"v\\\"\\n\","
			      "\"format\":\"toml\"}"),
	      "%s", text ? text : "NULL");
	free(text);
	json_decref(body);

	reset(s, 2, 0);
	rc = attest(&e);
	body = rc == 0 && bodies[1] ? json_loads(bodies[1], 0, NULL) : NULL;
	CHECK(body && !json_object_get(body, "init-data"), "init-data sent with no document");
	json_decref(body);
}

/* A path the URL buffer cannot hold, or not REPOSITORY/TYPE/TAG, is refused
 * before any request: never a cut path sent to the KBS. */
static void test_bad_resource_path_sends_nothing(void)
{
	char long_path[300];
	struct secret out = { 0 };
	struct err e = { 0 };
	struct kbs *k;
	int rc;

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	memcpy(long_path, "a/b/", 4);
	reset(NULL, 0, 0);
	k = new_client(&e);
	CHECK(k, "kbs_new: %s", e.msg);
	if (!k)
		return;
	rc = kbs_get_resource(k, long_path, &out, &e);
	CHECK(rc == CVM_E_CONFIG && strstr(e.msg, "is not REPOSITORY/TYPE/TAG (at most 255 bytes"),
	      "299-byte path: %d %s", rc, e.msg);
	memset(&e, 0, sizeof(e));
	rc = kbs_get_resource(k, "a/../c", &out, &e);
	CHECK(rc == CVM_E_CONFIG && strstr(e.msg, "resource path 'a/../c'"), "a/../c: %d %s", rc,
	      e.msg);
	CHECK(calls == 0, "%d requests sent for refused paths", calls);
	kbs_free(k);
}

static void test_session_gone_renews_once(void)
{
	static const struct answer s[] = { CHALLENGE, BUSY_503, GONE_401, CHALLENGE, TOKEN };
	struct err e = { 0 };
	int rc;

	reset(s, 5, 0);
	rc = attest(&e);
	CHECK(rc == 0 && e.code == 0, "rc %d code %d: %s", rc, e.code, e.msg);
	CHECK(calls == 5 && !strcmp(endpoints[3], "auth") && !strcmp(endpoints[4], "attest"),
	      "no new session after a 401 on a re-sent /attest (%d calls)", calls);
}

static void test_first_attest_401_is_final(void)
{
	static const struct answer s[] = { CHALLENGE, GONE_401, CHALLENGE, TOKEN };
	struct err e = { 0 };
	int rc;

	reset(s, 4, 0);
	rc = attest(&e);
	CHECK(rc == CVM_E_REFUSED && e.code == CVM_E_REFUSED, "rc %d code %d", rc, e.code);
	CHECK(strstr(e.msg, "AttestationError") != NULL, "message: %s", e.msg);
	CHECK(calls == 2, "a refusal of a fresh session was retried (%d calls)", calls);
}

/* A KBS busy three times in a row may be a proxy before a dead KBS: with
 * another configured, that one is tried (a new session there). */
static void test_busy_three_times_fails_over(void)
{
	static const struct answer s[] = { CHALLENGE, BUSY_503, BUSY_503, BUSY_503, CHALLENGE,
					   TOKEN };
	static const struct answer one[] = { CHALLENGE, BUSY_503, BUSY_429, BUSY_503, BUSY_429,
					     TOKEN };
	struct err e = { 0 };
	int rc;

	cfg.n_urls = 2;
	reset(s, 6, 0);
	rc = attest(&e);
	CHECK(rc == 0 && e.code == 0, "rc %d code %d: %s", rc, e.code, e.msg);
	CHECK(calls == 6, "%d calls", calls);
	for (int i = 0; i < 4; i++)
		CHECK(!strcmp(hosts[i], "kbs.invalid"), "call %d went to %s", i, hosts[i]);
	CHECK(!strcmp(hosts[4], "kbs2.invalid") && !strcmp(endpoints[4], "auth") &&
	      !strcmp(hosts[5], "kbs2.invalid"), "no failover after 3 busy answers: %s %s",
	      hosts[4], endpoints[4]);
	/* With one KBS, it is asked again and again on its session. */
	cfg.n_urls = 1;
	reset(one, 6, 0);
	rc = attest(&e);
	CHECK(rc == 0 && calls == 6 && !strcmp(endpoints[4], "attest") &&
	      !strcmp(endpoints[5], "attest"), "one KBS: rc %d, %d calls, call 4 %s", rc, calls,
	      endpoints[4]);
}

static void test_alloc_failures(void)
{
	static const struct answer s[] = { CHALLENGE, TOKEN };
	static const struct answer fail_auth[] = { { -1, -1, "" } };
	static const struct answer fail_attest[] = { CHALLENGE, { -1, -1, "" } };
	struct err e = { 0 };
	int rc;

	/* Serialising the /auth request fails (the first json_dumps). */
	reset(s, 2, 1);
	rc = attest(&e);
	CHECK(rc == CVM_E_INTERNAL && strstr(e.msg, "out of memory"), "auth dumps: %d %s", rc,
	      e.msg);
	CHECK(calls == 0, "a request was sent although it could not be built");
	/* Serialising the /attest request fails (the second). */
	memset(&e, 0, sizeof(e));
	reset(s, 2, 2);
	rc = attest(&e);
	CHECK(rc == CVM_E_INTERNAL && strstr(e.msg, "attest: out of memory"), "attest dumps: %d %s",
	      rc, e.msg);
	CHECK(calls == 1, "%d requests", calls);
	/* The transport fails locally on either request. */
	memset(&e, 0, sizeof(e));
	reset(fail_auth, 1, 0);
	rc = attest(&e);
	CHECK(rc == CVM_E_INTERNAL && strstr(e.msg, "auth: out of memory"), "auth: %d %s", rc,
	      e.msg);
	memset(&e, 0, sizeof(e));
	reset(fail_attest, 2, 0);
	rc = attest(&e);
	CHECK(rc == CVM_E_INTERNAL && strstr(e.msg, "attest: out of memory"), "attest: %d %s", rc,
	      e.msg);
}

int main(void)
{
	config_defaults(&cfg);
	cfg.n_urls = 1;
	snprintf(cfg.urls[0], sizeof(cfg.urls[0]), "https://kbs.invalid");
	snprintf(cfg.urls[1], sizeof(cfg.urls[1]), "https://kbs2.invalid");
	snprintf(cfg.tee, sizeof(cfg.tee), "sample");
	cfg.backoff_base_ms = 1;
	cfg.backoff_cap_ms = 2;
	cfg.retry_budget_ms = 5000;
	test_busy_attest_same_session();
	test_init_data_in_attest_body();
	test_bad_resource_path_sends_nothing();
	test_session_gone_renews_once();
	test_first_attest_401_is_final();
	test_busy_three_times_fails_over();
	test_alloc_failures();
	reset(NULL, 0, 0);
	return check_report("kbs_session");
}
