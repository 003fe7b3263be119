/* The KBS client: RCAR handshake and resource retrieval (kbs-protocol.md
 * sections 1-4), with retries inside a time budget: failover between KBS
 * URLs on network and certificate errors, an overloaded /attest sent again
 * on the same session, and one re-attestation on a 401. */
#include "kbs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "http.h"
#include "jcs.h"
#include "jwe.h"
#include "kbs_parse.h"
#include "log.h"
#include "progress.h"
#include "retry.h"
#include "session_key.h"

#define NONCE_MAX 1024
#define TOKEN_MAX 65536
/* Busy answers in a row after which another configured KBS is tried: one
 * that answers only 503 may be a proxy in front of a dead KBS. */
#define BUSY_BEFORE_FAILOVER 3

/* The last failure at one KBS, for the final error. */
struct kbs_try {
	bool tls_refused;  /* its certificate did not verify: not tried again */
	bool overloaded;   /* its last failure was a 429/503 */
	char why[320];     /* empty: not tried, or no failure there */
};

struct kbs {
	struct kbs_client_options opts; /* pointing into the caller's configuration */
	const struct tee_backend *tee;
	struct tee_options tee_opts; /* what the TEE reads of cfg */
	struct http *http;
	int url_idx;
	EVP_PKEY *key;
	json_t *jwk;
	json_t *attestation; /* /attest body of the session under way (its nonce, our evidence) */
	bool attested;
	int attest_sends;    /* /attest requests sent on that session */
	int busy_in_a_row;   /* 429/503 answers in a row from the current KBS */
	int failures;        /* failed exchanges of the operation under way */
	long long token_expiry;
	const struct retry *budget; /* of the operation under way: bounds each request */
	struct kbs_try tries[KBS_MAX_URLS];
};

/* How one exchange ended. */
enum outcome {
	DONE,
	RETRY,    /* transient: after a wait, this KBS again (busy) or the next one */
	RENEW,    /* the KBS lost our session: a new /auth at once */
	NEXT_KBS, /* this KBS cannot be trusted (TLS): the next one; final when none is left */
	FINAL,    /* the KBS's considered answer, or a local failure */
};

/* One exchange: how it ended, and why when it did not end DONE. Each
 * exchange has its own, so nothing of a failed attempt outlives it. */
struct attempt {
	enum outcome o;
	long status;         /* HTTP status, 0 when there was no answer */
	long retry_after_ms; /* the KBS's Retry-After, -1 if none */
	struct err e;
};

struct kbs *kbs_new(const struct kbs_client_options *opts, const struct tee_backend *tee,
		    const struct tee_options *tee_opts, struct err *e)
{
	CLEANUP(kbs_freep) struct kbs *k = calloc(1, sizeof(*k));

	if (!k) {
		err_set(e, CVM_E_INTERNAL, "out of memory");
		return NULL;
	}
	k->opts = *opts;
	k->tee = tee;
	k->tee_opts = *tee_opts;
	if (!(k->http = http_new(&k->opts, e)) || tee_key_generate(opts->key_alg, &k->key, e) ||
	    !(k->jwk = tee_key_jwk(k->key, opts->key_alg, e)))
		return NULL;
	return TAKE_PTR(k);
}

void kbs_free(struct kbs *k)
{
	if (!k)
		return;
	http_free(k->http);
	EVP_PKEY_free(k->key); /* OpenSSL wipes private key material on free */
	json_decref(k->jwk);
	json_decref(k->attestation);
	free(k);
}

const char *kbs_url(const struct kbs *k) { return k->opts.urls[k->url_idx]; }
long long kbs_token_expiry(const struct kbs *k) { return k->token_expiry; }
long kbs_connections(const struct kbs *k) { return http_connections(k->http); }

/* Worth retrying: rate limiting, or a server error that did not come from
 * the KBS itself. A 5xx carrying a KBS problem type (newer Trustee answers
 * AttestationError and PluginInternalError with 500) is the KBS's
 * considered answer, so it is final; 502/503/504 come from gateways and
 * overload and are always retried. */
static bool is_retryable(long status, bool from_kbs)
{
	if (status == 429 || status == 502 || status == 503 || status == 504)
		return true;
	return status >= 500 && !from_kbs;
}

/* Busy, not broken: the KBS (or its proxy) answered and asked us to come
 * back, so the session there lives and we stay with it. */
static bool is_busy(long status)
{
	return status == 429 || status == 503;
}

/* Classify an answer into a (whose e says what happened unless DONE). */
static void classify(const struct kbs *k, const struct http_response *r, const char *what,
		     struct attempt *a)
{
	char problem[700], said[sizeof(a->e.kbs_said)];

	a->status = r->status;
	a->retry_after_ms = r->retry_after_ms;
	if (r->too_large) {
		a->o = FINAL;
		err_set(&a->e, CVM_E_PROTOCOL, "%s: response larger than %ld bytes, refused", what,
			k->opts.max_response_bytes);
	} else if (r->status == 0 && r->tls_unverified) {
		/* Not transient: retrying cannot make this certificate verify. */
		a->o = NEXT_KBS;
		err_set(&a->e, CVM_E_NETWORK, "%s: TLS: the KBS certificate does not verify against "
			"ca_file %s (%s)", what, k->opts.ca_file[0] ? k->opts.ca_file : "(system store)",
			r->transport_error);
		err_set_cause(&a->e, ERR_CAUSE_TLS_UNTRUSTED);
	} else if (r->status == 0) {
		a->o = RETRY;
		err_set(&a->e, CVM_E_NETWORK, "%s: %s", what, r->transport_error);
	} else if (r->status == 200) {
		a->o = DONE;
	} else if (is_retryable(r->status, describe_problem(r, problem, sizeof(problem), said,
							    sizeof(said)))) {
		a->o = RETRY;
		err_set(&a->e, CVM_E_NETWORK, "%s: %s", what, problem);
		if (is_busy(r->status))
			err_set_cause(&a->e, ERR_CAUSE_OVERLOADED);
	} else {
		a->o = FINAL;
		err_set(&a->e, r->status == 404 ? CVM_E_RESOURCE :
			r->status == 400 ? CVM_E_PROTOCOL : CVM_E_REFUSED, "%s: refused: %s", what,
			problem);
		snprintf(a->e.kbs_said, sizeof(a->e.kbs_said), "%s", said);
	}
}

/* A failure of our own (out of memory, ...): final. */
static void local_failure(struct attempt *a, const char *what)
{
	a->o = FINAL;
	err_set(&a->e, CVM_E_INTERNAL, "%s: out of memory", what);
}

/* A request may take what is left of the budget, and no more. */
static long request_timeout_ms(const struct kbs *k)
{
	return k->budget ? retry_remaining_ms(k->budget) : 0;
}

/* POST body to ENDPOINT of the current KBS. r is always initialised, so
 * the caller may clear it whatever happened. */
static void post_json(struct kbs *k, const char *endpoint, const json_t *body,
		      struct http_response *r, struct attempt *a)
{
	char url[KBS_URL_MAX + 64];
	CLEANUP(freep) char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s/kbs/v0/%s", kbs_url(k), endpoint);
	if (!text || http_request(k->http, url, text, request_timeout_ms(k), r))
		local_failure(a, endpoint);
	else
		classify(k, r, endpoint, a);
}

/* Evidence for this nonce, bound to our key (kbs-protocol.md section 2). */
static json_t *attestation_body(struct kbs *k, const char *nonce, struct err *e)
{
	unsigned char digest[48];
	json_t *evidence = NULL, *body;

	if (runtime_data_digest(nonce, k->jwk, "", digest)) {
		err_set(e, CVM_E_INTERNAL, "cannot compute the runtime-data digest");
		return NULL;
	}
	if (k->tee->evidence(&k->tee_opts, digest, sizeof(digest), &evidence, e)) {
		err_wrap(e, "%s evidence", k->tee->name);
		return NULL;
	}
	body = json_pack("{s:{s:s, s:O}, s:{s:o, s:s}}",
			 "runtime-data", "nonce", nonce, "tee-pubkey", k->jwk,
			 "tee-evidence", "primary_evidence", evidence, "additional_evidence", "");
	/* Trustee's Attestation "init-data": {"format":"toml","body":...} (docs/init-data.md) */
	if (body && k->opts.init_data_toml &&
	    json_object_set_new(body, "init-data",
				json_pack("{s:s, s:s%}", "format", "toml", "body",
					  k->opts.init_data_toml, k->opts.init_data_len))) {
		json_decref(body);
		body = NULL;
	}
	if (!body)
		err_set(e, CVM_E_INTERNAL, "attest: out of memory");
	return body;
}

/* Forget the session (and the attestation) held with the current KBS. */
static void drop_session(struct kbs *k)
{
	json_decref(k->attestation);
	k->attestation = NULL;
	k->attest_sends = 0;
	k->attested = false;
	http_reset_cookies(k->http);
}

/* The attestation of a new session: POST /auth, then evidence bound to its nonce. */
static void open_session(struct kbs *k, struct attempt *a)
{
	struct http_response r;
	CLEANUP(json_decrefp) json_t *req = NULL;
	CLEANUP(json_decrefp) json_t *challenge = NULL;
	const char *nonce;

	drop_session(k);
	req = json_pack("{s:s, s:s, s:{s:[s]}}", "version", KBS_PROTOCOL_VERSION, "tee",
			k->tee->name, "extra-params", "supported-hash-algorithms", "sha384");
	post_json(k, "auth", req, &r, a);
	challenge = a->o == DONE ? parse_json_object(&r, "auth", &a->e) : NULL;
	http_response_clear(&r);
	if (a->o != DONE)
		return;
	nonce = json_string_value(json_object_get(challenge, "nonce"));
	if (!challenge) {
		a->o = FINAL;
	} else if (!nonce || !nonce[0] || strlen(nonce) > NONCE_MAX) {
		a->o = FINAL;
		err_set(&a->e, CVM_E_PROTOCOL, "auth: challenge has no usable nonce");
	} else if (check_selected_hash(json_object_get(challenge, "extra-params"), &a->e) ||
		   !(k->attestation = attestation_body(k, nonce, &a->e))) {
		a->o = FINAL;
	}
}

/* POST the session's attestation; on 200, take the token. */
static void send_attestation(struct kbs *k, struct attempt *a)
{
	struct http_response r;
	const char *token;
	CLEANUP(json_decrefp) json_t *j = NULL;

	k->attest_sends++;
	post_json(k, "attest", k->attestation, &r, a);
	if (a->o == FINAL && a->status == 401 && k->attest_sends > 1) {
		/* Only a retry gets here: the session expired while we waited. */
		a->o = RENEW;
	} else if (a->o == DONE) {
		j = parse_json_object(&r, "attest", &a->e);
		token = json_string_value(json_object_get(j, "token"));
		if (!token || strlen(token) > TOKEN_MAX) {
			if (j)
				err_set(&a->e, CVM_E_PROTOCOL, "attest: answer has no usable token");
			a->o = FINAL;
		} else {
			k->token_expiry = token_expiry(token);
			k->attested = true;
			json_decref(k->attestation);
			k->attestation = NULL;
		}
	}
	http_response_clear(&r);
}

/* One step of the RCAR handshake with the current KBS: a new session
 * (auth) unless one is under way, then its attestation. An overloaded
 * /attest is sent again on the same session, same nonce and evidence. */
static void handshake(struct kbs *k, struct attempt *a)
{
	if (!k->attestation) {
		open_session(k, a);
		if (a->o != DONE)
			return;
	}
	send_attestation(k, a);
}

/* The next KBS, in order, that has not refused TLS (maybe the current one); -1 if none. */
static int next_usable(const struct kbs *k)
{
	for (int step = 1; step <= k->opts.n_urls; step++) {
		int i = (k->url_idx + step) % k->opts.n_urls;

		if (!k->tries[i].tls_refused)
			return i;
	}
	return -1;
}

/* The final error of an operation: "WHAT: URL: why; URL: why", every KBS
 * that failed with the reason, in the order configured. */
static int final_error(struct kbs *k, const struct attempt *last, const char *what, struct err *e)
{
	char list[sizeof(e->msg)] = "";
	enum err_cause cause = ERR_CAUSE_NONE;
	size_t used = 0;

	for (int i = 0; i < k->opts.n_urls && used < sizeof(list); i++) {
		if (!k->tries[i].why[0])
			continue;
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%.200s: %s",
					 used ? "; " : "", k->opts.urls[i], k->tries[i].why);
		/* a KBS out for its certificate says more than a busy one */
		if (k->tries[i].tls_refused)
			cause = ERR_CAUSE_TLS_UNTRUSTED;
		else if (k->tries[i].overloaded && cause == ERR_CAUSE_NONE)
			cause = ERR_CAUSE_OVERLOADED;
	}
	err_set(e, last->e.code, "%s: %s", what, list);
	return err_set_cause(e, cause);
}

/* "gave up after 7 round(s) in 3004 ms (retry budget 3000 ms): URL: why; ..." */
static int budget_spent(struct kbs *k, const struct retry *rt, const struct attempt *last,
			struct err *e)
{
	char what[128];

	snprintf(what, sizeof(what), "gave up after %d round(s) in %lld ms (retry budget %ld ms)",
		 rt->attempt + 1, monotonic_ms() - rt->start_ms, rt->budget_ms);
	return final_error(k, last, what, e);
}

/* One line per failed exchange, for a person at the console: "waiting
 * for the KBS: attempt 3 failed (attestation at URL: why); retrying in
 * 1.2 s, 55.0 s of the 60.0 s retry budget left" ("trying URL in" when the
 * next attempt goes to another KBS). */
static void report_wait(struct kbs *k, const struct retry *rt, const struct attempt *a,
			const char *what, int from, long delay)
{
	char next[224], in[32], left[32], budget[32];

	if (k->url_idx == from)
		snprintf(next, sizeof(next), "retrying");
	else
		snprintf(next, sizeof(next), "trying %.200s", kbs_url(k));
	progress_seconds(delay, in, sizeof(in));
	progress_seconds(retry_remaining_ms(rt), left, sizeof(left));
	progress_seconds(rt->budget_ms, budget, sizeof(budget));
	progress_msg(LOG_WARNING, "waiting for the KBS: attempt %d failed (%s at %.200s: %.300s); "
		     "%s in %s, %s of the %s retry budget left", k->failures, what,
		     k->opts.urls[from], a->e.msg, next, in, left, budget);
}

/* After an exchange that failed but is not final: decide whether and where
 * to go on. A transport error, a gateway error or a certificate that does
 * not verify moves to the next KBS at once; a busy KBS is asked again, on
 * the same session, until it has been busy BUSY_BEFORE_FAILOVER times in a
 * row (then the next KBS, if any); we back off whenever we come back to a
 * KBS. Returns 0 to go on, else the final error in e. */
static int after_failure(struct kbs *k, struct retry *rt, const struct attempt *a,
			 const char *what, struct err *e)
{
	int from = k->url_idx, to;
	long delay = 0;

	snprintf(k->tries[from].why, sizeof(k->tries[from].why), "%.319s", a->e.msg);
	k->tries[from].overloaded = a->e.cause == ERR_CAUSE_OVERLOADED;
	k->failures++;
	if (a->o == RENEW) {
		log_notice("%s at %s: %s; the session is gone, starting a new one", what,
			   kbs_url(k), a->e.msg);
		drop_session(k);
		return retry_remaining_ms(rt) > 0 ? 0 : budget_spent(k, rt, a, e);
	}
	k->tries[from].tls_refused = a->o == NEXT_KBS;
	k->busy_in_a_row = a->o == RETRY && is_busy(a->status) ? k->busy_in_a_row + 1 : 0;
	to = k->busy_in_a_row > 0 && k->busy_in_a_row < BUSY_BEFORE_FAILOVER ? from
									     : next_usable(k);
	if (to < 0)
		return final_error(k, a, "no KBS left to try", e);
	if (to <= from)
		delay = retry_next_delay_ms(rt, a->retry_after_ms);
	if (delay < 0 || retry_remaining_ms(rt) <= 0)
		return budget_spent(k, rt, a, e);
	if (to != from) {
		k->url_idx = to;
		k->busy_in_a_row = 0;
		drop_session(k);
	}
	report_wait(k, rt, a, what, from, delay);
	sleep_ms(delay);
	return retry_remaining_ms(rt) > 0 ? 0 : budget_spent(k, rt, a, e);
}

static int attest_within(struct kbs *k, struct retry *rt, struct err *e)
{
	for (;;) {
		struct attempt a = { .retry_after_ms = -1 };

		handshake(k, &a);
		if (a.o == DONE)
			return 0;
		if (a.o == FINAL) {
			*e = a.e;
			return err_wrap(e, "attestation to %s", kbs_url(k));
		}
		if (after_failure(k, rt, &a, "attestation", e))
			return e->code;
	}
}

/* An operation has its own retry budget, and its final error names the
 * failures of this operation (and the KBSs out for their certificate). */
static void begin_operation(struct kbs *k, struct retry *rt)
{
	retry_init(rt, k->opts.backoff_base_ms, k->opts.backoff_cap_ms, k->opts.retry_budget_ms);
	k->budget = rt;
	k->busy_in_a_row = 0;
	k->failures = 0;
	for (int i = 0; i < k->opts.n_urls; i++)
		if (!k->tries[i].tls_refused)
			k->tries[i].why[0] = '\0';
}

int kbs_attest(struct kbs *k, struct err *e)
{
	struct retry rt;
	int rc;

	begin_operation(k, &rt);
	rc = attest_within(k, &rt, e);
	k->budget = NULL;
	return rc;
}

static void fetch_once(struct kbs *k, const char *path, struct secret *out, struct attempt *a)
{
	char url[KBS_URL_MAX + KBS_PATH_MAX + 32], what[KBS_PATH_MAX + 16];
	struct http_response r;

	snprintf(url, sizeof(url), "%s/kbs/v0/resource/%s", kbs_url(k), path);
	snprintf(what, sizeof(what), "resource %s", path);
	if (http_request(k->http, url, NULL, request_timeout_ms(k), &r)) {
		local_failure(a, what);
	} else {
		classify(k, &r, what, a);
		if (a->o == DONE && jwe_decrypt(r.body, r.body_len, k->key, out, &a->e)) {
			err_wrap(&a->e, "%s", what);
			a->o = FINAL;
		}
	}
	http_response_clear(&r);
}

static int get_resource_within(struct kbs *k, const char *path, struct secret *out,
			       struct retry *rt, struct err *e)
{
	bool reattested = false;

	for (;;) {
		struct attempt a = { .retry_after_ms = -1 };

		if (!k->attested && attest_within(k, rt, e))
			return e->code;
		fetch_once(k, path, out, &a);
		if (a.o == DONE)
			return 0;
		if (a.o == FINAL && a.status == 401 && !reattested) {
			/* Session gone or policy said no: one fresh attestation tells which. */
			log_notice("resource %s: %s; attesting again once", path, a.e.msg);
			reattested = true;
			drop_session(k);
			continue;
		}
		if (a.o == FINAL) {
			*e = a.e;
			return err_wrap(e, "KBS %s", kbs_url(k));
		}
		if (after_failure(k, rt, &a, "resource fetch", e))
			return e->code;
	}
}

int kbs_get_resource(struct kbs *k, const char *path, struct secret *out, struct err *e)
{
	struct retry rt;
	int rc;

	/* The URL's buffer holds a valid path and no more: never send a cut one. */
	if (!resource_path_valid(path))
		return err_set(e, CVM_E_CONFIG, "resource path '%.100s' is not REPOSITORY/TYPE/TAG "
			       "(at most %d bytes of A-Z a-z 0-9 . _ -)", path ? path : "",
			       RESOURCE_PATH_MAX);
	begin_operation(k, &rt);
	rc = get_resource_within(k, path, out, &rt, e);
	k->budget = NULL;
	return rc;
}
