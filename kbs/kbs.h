/* The KBS client: RCAR handshake (auth, attest) and resource retrieval,
 * with retries, failover between KBS URLs and re-attestation on 401. */
#ifndef CVMBOOT_KBS_H
#define CVMBOOT_KBS_H

#include <stddef.h>

#include "cleanup.h"
#include "err.h"
#include "kbs_options.h"
#include "secmem.h"
#include "tee.h"

#define KBS_PROTOCOL_VERSION "0.4.0"

struct kbs;

/* opts and tee_opts are copied; the strings they point to must outlive k. */
struct kbs *kbs_new(const struct kbs_client_options *opts, const struct tee_backend *tee,
		    const struct tee_options *tee_opts, struct err *e);
void kbs_free(struct kbs *k);
DEFINE_POINTER_CLEANUP(struct kbs, kbs_free)
/* auth + attest, trying the URLs in order on network failure or a
 * certificate that does not verify; a busy KBS (429/503) is asked again on
 * the same session. Returns 0 or the error code; e is written only then. */
int kbs_attest(struct kbs *k, struct err *e);
/* GET a resource (REPO/TYPE/TAG) and decrypt it; one fresh attestation on
 * 401. Returns 0 or the error code; e is written only then. */
int kbs_get_resource(struct kbs *k, const char *path, struct secret *out, struct err *e);
const char *kbs_url(const struct kbs *k);          /* the KBS in use */
long long kbs_token_expiry(const struct kbs *k);   /* exp claim of the token, 0 if unknown */
long kbs_connections(const struct kbs *k);         /* TCP/TLS connections opened so far */

#endif
