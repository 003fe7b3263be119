/* The KBS client: RCAR handshake and resource retrieval (kbs-protocol.md
 * sections 1-4), with retries inside a time budget, failover between KBS
 * URLs on network errors, and one re-attestation on a 401. */
#include "kbs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jcs.h"
#include "jwe.h"
#include "kbs_parse.h"
#include "log.h"
#include "retry.h"
#include "teekey.h"

#define NONCE_MAX 1024
#define TOKEN_MAX 65536

struct kbs {
	const struct config *cfg;
	const struct tee_backend *tee;
	struct http *http;
	int url_idx;
	EVP_PKEY *key;
	json_t *jwk;
	bool attested;
	long long token_expiry;
	const struct retry *budget; /* of the operation under way: bounds each request */
};

/* How one exchange ended: done, worth retrying (network), or final. */
enum outcome { DONE, RETRY, FINAL };

struct kbs *kbs_new(const struct config *cfg, const struct tee_backend *tee, struct err *e)
{
	struct kbs *k = calloc(1, sizeof(*k));

	if (!k) {
		err_set(e, CVM_E_INTERNAL, "out of memory");
		return NULL;
	}
	k->cfg = cfg;
	k->tee = tee;
	if (!(k->http = http_new(cfg, e)) || tee_key_generate(cfg->key_alg, &k->key, e) ||
	    !(k->jwk = tee_key_jwk(k->key, cfg->key_alg, e))) {
		kbs_free(k);
		return NULL;
	}
	return k;
}

void kbs_free(struct kbs *k)
{
	if (!k)
		return;
	http_free(k->http);
	EVP_PKEY_free(k->key); /* OpenSSL wipes private key material on free */
	json_decref(k->jwk);
	free(k);
}

const char *kbs_url(const struct kbs *k) { return k->cfg->urls[k->url_idx]; }
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

/* Classify an answer; on RETRY/FINAL, e says what happened. */
static enum outcome classify(const struct kbs *k, const struct http_response *r,
			     const char *what, struct err *e)
{
	char problem[700];

	if (r->too_large) {
		err_set(e, CVM_E_PROTOCOL, "%s: response larger than %ld bytes, refused", what,
			k->cfg->max_response_bytes);
		return FINAL;
	}
	if (r->status == 0 && r->tls_unverified) {
		/* Not transient: retrying cannot make the certificate verify. */
		err_set(e, CVM_E_NETWORK, "%s: TLS: the KBS certificate does not verify against "
			"ca_file %s (%s)", what, k->cfg->ca_file[0] ? k->cfg->ca_file : "(system store)",
			r->transport_error);
		return FINAL;
	}
	if (r->status == 0) {
		err_set(e, CVM_E_NETWORK, "%s: %s", what, r->transport_error);
		return RETRY;
	}
	if (r->status == 200)
		return DONE;
	if (is_retryable(r->status, describe_problem(r, problem, sizeof(problem)))) {
		err_set(e, CVM_E_NETWORK, "%s: %s", what, problem);
		return RETRY;
	}
	err_set(e, r->status == 404 ? CVM_E_RESOURCE : r->status == 400 ? CVM_E_PROTOCOL : CVM_E_REFUSED,
		"%s: refused: %s", what, problem);
	return FINAL;
}

/* A request may take what is left of the budget, and no more. */
static long request_timeout_ms(const struct kbs *k)
{
	return k->budget ? retry_remaining_ms(k->budget) : 0;
}

static enum outcome post_json(struct kbs *k, const char *endpoint, json_t *body,
			      struct http_response *r, long *retry_after_ms, struct err *e)
{
	char url[CFG_URL_MAX + 64];
	char *text = json_dumps(body, JSON_COMPACT);

	if (!text) {
		err_set(e, CVM_E_INTERNAL, "out of memory");
		return FINAL;
	}
	snprintf(url, sizeof(url), "%s/kbs/v0/%s", kbs_url(k), endpoint);
	if (http_request(k->http, url, text, request_timeout_ms(k), r)) {
		free(text);
		err_set(e, CVM_E_INTERNAL, "out of memory");
		return FINAL;
	}
	free(text);
	*retry_after_ms = r->retry_after_ms;
	return classify(k, r, endpoint, e);
}

/* Evidence for this nonce, bound to our key (kbs-protocol.md section 2). */
static json_t *attestation_body(struct kbs *k, const char *nonce, struct err *e)
{
	unsigned char digest[48];
	json_t *evidence = NULL;

	if (runtime_data_digest(nonce, k->jwk, "", digest)) {
		err_set(e, CVM_E_INTERNAL, "cannot compute the runtime-data digest");
		return NULL;
	}
	if (k->tee->evidence(k->cfg, digest, sizeof(digest), &evidence, e)) {
		err_wrap(e, "%s evidence", k->tee->name);
		return NULL;
	}
	return json_pack("{s:{s:s, s:O}, s:{s:o, s:s}}",
			 "runtime-data", "nonce", nonce, "tee-pubkey", k->jwk,
			 "tee-evidence", "primary_evidence", evidence, "additional_evidence", "");
}

/* One auth + attest exchange with the current KBS; retry_after_ms gets the
 * server's Retry-After when it sent one. */
static enum outcome handshake(struct kbs *k, long *retry_after_ms, struct err *e)
{
	struct http_response r;
	enum outcome o;
	json_t *req, *challenge, *att;
	const char *nonce;

	k->attested = false;
	http_reset_cookies(k->http);
	req = json_pack("{s:s, s:s, s:{s:[s]}}", "version", KBS_PROTOCOL_VERSION, "tee",
			k->tee->name, "extra-params", "supported-hash-algorithms", "sha384");
	o = req ? post_json(k, "auth", req, &r, retry_after_ms, e) : FINAL;
	json_decref(req);
	if (o != DONE) {
		http_response_clear(&r);
		return o;
	}
	challenge = parse_json_object(&r, "auth", e);
	http_response_clear(&r);
	if (!challenge)
		return FINAL;
	nonce = json_string_value(json_object_get(challenge, "nonce"));
	if (!nonce || !nonce[0] || strlen(nonce) > NONCE_MAX ||
	    check_selected_hash(json_object_get(challenge, "extra-params"), e)) {
		if (!e->code)
			err_set(e, CVM_E_PROTOCOL, "auth: challenge has no usable nonce");
		json_decref(challenge);
		return FINAL;
	}
	att = attestation_body(k, nonce, e);
	json_decref(challenge);
	if (!att)
		return FINAL;
	o = post_json(k, "attest", att, &r, retry_after_ms, e);
	json_decref(att);
	if (o == DONE) {
		json_t *j = parse_json_object(&r, "attest", e);
		const char *token = json_string_value(json_object_get(j, "token"));

		if (!token || strlen(token) > TOKEN_MAX) {
			if (j)
				err_set(e, CVM_E_PROTOCOL, "attest: answer has no usable token");
			o = FINAL;
		} else {
			k->token_expiry = token_expiry(token);
			k->attested = true;
		}
		json_decref(j);
	}
	http_response_clear(&r);
	return o;
}

/* After a retryable failure: move to the next KBS (failover), and back off
 * only when every KBS has been tried in this round. Returns -1 when the
 * budget is spent. */
static int next_attempt(struct kbs *k, struct retry *rt, long retry_after_ms, const char *what,
			struct err *e)
{
	const char *failed = kbs_url(k);
	long delay = 0;

	if (k->cfg->n_urls > 1) {
		k->url_idx = (k->url_idx + 1) % k->cfg->n_urls;
		k->attested = false;
	}
	if (k->url_idx == 0) {
		delay = retry_next_delay_ms(rt, retry_after_ms);
		if (delay < 0)
			return -1;
	} else if (retry_remaining_ms(rt) <= 0) {
		return -1;
	}
	log_warn("%s at %s failed (%s); %s %s in %ld ms", what, failed, e->msg,
		 strcmp(failed, kbs_url(k)) ? "trying" : "retrying", kbs_url(k), delay);
	sleep_ms(delay);
	return retry_remaining_ms(rt) > 0 ? 0 : -1;
}

/* "gave up after 7 rounds in 3004 ms (retry budget 3000 ms; tried https://a, https://b)" */
static int budget_exhausted(struct kbs *k, struct retry *rt, struct err *e)
{
	char tried[CFG_MAX_URLS * (CFG_URL_MAX + 2)] = "";
	size_t used = 0;

	for (int i = 0; i < k->cfg->n_urls && used < sizeof(tried); i++)
		used += (size_t)snprintf(tried + used, sizeof(tried) - used, "%s%s", i ? ", " : "",
					 k->cfg->urls[i]);
	return err_wrap(e, "gave up after %d round(s) in %ld ms (retry budget %ld ms; tried %s)",
			rt->attempt + 1, (long)(monotonic_ms() - rt->start_ms),
			k->cfg->retry_budget_ms, tried);
}

static int attest_within(struct kbs *k, struct retry *rt, struct err *e)
{
	for (;;) {
		long retry_after = -1;
		enum outcome o = handshake(k, &retry_after, e);

		if (o == DONE)
			return 0;
		if (o == FINAL)
			return err_wrap(e, "attestation to %s", kbs_url(k));
		if (next_attempt(k, rt, retry_after, "attestation", e))
			return budget_exhausted(k, rt, e);
	}
}

int kbs_attest(struct kbs *k, struct err *e)
{
	struct retry rt;

	int rc;

	retry_init(&rt, k->cfg->backoff_base_ms, k->cfg->backoff_cap_ms, k->cfg->retry_budget_ms);
	k->budget = &rt;
	rc = attest_within(k, &rt, e);
	k->budget = NULL;
	return rc;
}

static enum outcome fetch_once(struct kbs *k, const char *path, struct secret *out,
			       long *retry_after_ms, long *status, struct err *e)
{
	char url[CFG_URL_MAX + CFG_PATH_MAX + 32], what[CFG_PATH_MAX + 16];
	struct http_response r;
	enum outcome o;

	snprintf(url, sizeof(url), "%s/kbs/v0/resource/%s", kbs_url(k), path);
	snprintf(what, sizeof(what), "resource %s", path);
	if (http_request(k->http, url, NULL, request_timeout_ms(k), &r)) {
		err_set(e, CVM_E_INTERNAL, "out of memory");
		return FINAL;
	}
	*retry_after_ms = r.retry_after_ms;
	*status = r.status;
	o = classify(k, &r, what, e);
	if (o == DONE && jwe_decrypt(r.body, r.body_len, k->key, out, e)) {
		err_wrap(e, "%s", what);
		o = FINAL;
	}
	http_response_clear(&r);
	return o;
}

static int get_resource_within(struct kbs *k, const char *path, struct secret *out,
			       struct retry *rt, struct err *e)
{
	bool reattested = false;

	for (;;) {
		long retry_after = -1, status = 0;
		enum outcome o;

		if (!k->attested && attest_within(k, rt, e))
			return e->code;
		o = fetch_once(k, path, out, &retry_after, &status, e);
		if (o == DONE)
			return 0;
		if (o == FINAL && status == 401 && !reattested) {
			/* Session gone or policy said no: one fresh attestation tells which. */
			log_notice("resource %s: %s; attesting again once", path, e->msg);
			reattested = true;
			k->attested = false;
			continue;
		}
		if (o == FINAL)
			return err_wrap(e, "KBS %s", kbs_url(k));
		if (next_attempt(k, rt, retry_after, "resource fetch", e))
			return budget_exhausted(k, rt, e);
	}
}

int kbs_get_resource(struct kbs *k, const char *path, struct secret *out, struct err *e)
{
	struct retry rt;
	int rc;

	retry_init(&rt, k->cfg->backoff_base_ms, k->cfg->backoff_cap_ms, k->cfg->retry_budget_ms);
	k->budget = &rt;
	rc = get_resource_within(k, path, out, &rt, e);
	k->budget = NULL;
	return rc;
}
