/* What the KBS answers, read without trusting it: RFC 7807 problem bodies,
 * the auth challenge, the attest token (kbs-protocol.md sections 1-4). */
#include "kbs_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

#define PROBLEM_TYPE_PREFIX "https://github.com/confidential-containers/kbs/errors/"

/* Printable, bounded copy of a KBS-supplied string for an error message. */
static void sanitize(const char *in, char *out, size_t out_len)
{
	size_t j = 0;

	for (size_t i = 0; in && in[i] && j + 1 < out_len; i++)
		out[j++] = isprint((unsigned char)in[i]) ? in[i] : '?';
	out[j] = '\0';
}

/* Describe a non-200 answer as "HTTP 401 PolicyDeny: <detail>" from its
 * RFC 7807 body (or just the status), and in SAID (may be NULL) as the KBS
 * put it, "PolicyDeny: <detail>" (empty without a KBS problem type);
 * returns whether the body carried a KBS problem type, i.e. came from the
 * KBS itself rather than a proxy. */
bool describe_problem(const struct http_response *r, char *out, size_t out_len, char *said,
		      size_t said_len)
{
	char type[128] = "", detail[512] = "";
	json_t *j = r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	const char *t = json_string_value(json_object_get(j, "type"));
	const char *d = json_string_value(json_object_get(j, "detail"));
	bool from_kbs = t && strncmp(t, PROBLEM_TYPE_PREFIX, strlen(PROBLEM_TYPE_PREFIX)) == 0;

	sanitize(from_kbs ? t + strlen(PROBLEM_TYPE_PREFIX) : t, type, sizeof(type));
	sanitize(d, detail, sizeof(detail));
	json_decref(j);
	if (type[0] || detail[0])
		snprintf(out, out_len, "HTTP %ld %s: %s", r->status, type[0] ? type : "(no type)",
			 detail[0] ? detail : "(no detail)");
	else
		snprintf(out, out_len, "HTTP %ld (no problem details)", r->status);
	if (said && said_len) {
		said[0] = '\0';
		if (from_kbs && type[0])
			snprintf(said, said_len, "%s: %s", type, detail[0] ? detail : "(no detail)");
	}
	return from_kbs;
}

json_t *parse_json_object(const struct http_response *r, const char *what, struct err *e)
{
	json_error_t jerr;
	json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);

	if (!json_is_object(j)) {
		json_decref(j);
		err_set(e, CVM_E_PROTOCOL, "%s: answer is not a JSON object (%s)", what, jerr.text);
		return NULL;
	}
	return j;
}

/* The hash algorithm the KBS selected, if it says: we only do SHA-384,
 * which Trustee uses for every TEE we support. */
int check_selected_hash(json_t *extra, struct err *e)
{
	const char *alg;

	if (json_is_string(extra) || json_is_null(extra) || !extra)
		return 0;
	if (!json_is_object(extra))
		return err_set(e, CVM_E_PROTOCOL, "auth: extra-params is neither a string nor an object");
	alg = json_string_value(json_object_get(extra, "selected-hash-algorithm"));
	if (alg && strcmp(alg, "sha384") != 0)
		return err_set(e, CVM_E_PROTOCOL,
			       "auth: KBS selected hash algorithm '%.32s', cvmboot only offers sha384", alg);
	return 0;
}

/* The token's "exp" claim, for status.json; 0 if it cannot be read. */
long long token_expiry(const char *token)
{
	const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	unsigned char *payload = NULL;
	size_t len = 0;
	long long exp = 0;

	if (!dot2 || b64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), true, &payload, &len))
		return 0;
	json_t *claims = json_loadb((char *)payload, len, 0, NULL);
	if (json_is_integer(json_object_get(claims, "exp")))
		exp = json_integer_value(json_object_get(claims, "exp"));
	json_decref(claims);
	free(payload);
	return exp;
}
