/* Readers of the KBS's JSON answers (problem details, challenge, token),
 * kept apart from the client's control flow so they can be fuzzed alone. */
#ifndef CVMBOOT_KBS_PARSE_H
#define CVMBOOT_KBS_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "http.h"

/* Describe a non-200 answer as "HTTP 401 PolicyDeny: <detail>" from its
 * RFC 7807 body (or just the status), and in said (NULL: not wanted) as
 * the KBS put it, "PolicyDeny: <detail>", empty without a KBS problem
 * type; returns whether the body carried a KBS problem type, i.e. came
 * from the KBS itself rather than a proxy. */
bool describe_problem(const struct http_response *r, char *out, size_t out_len, char *said,
		      size_t said_len);
/* The answer's body as a JSON object (duplicate keys refused), or NULL with
 * e set to CVM_E_PROTOCOL naming what (e.g. "auth"). */
json_t *parse_json_object(const struct http_response *r, const char *what, struct err *e);
/* The challenge's extra-params: absent, a string, or an object whose
 * selected-hash-algorithm (if any) is sha384. 0 or CVM_E_PROTOCOL. */
int check_selected_hash(json_t *extra, struct err *e);
/* The "exp" claim of a JWT (payload only, signature not checked: it is for
 * status.json); 0 if it cannot be read. */
long long token_expiry(const char *token);

#endif
