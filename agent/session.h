/* An attested session: selects the TEE, makes the key pair, attests to the
 * KBS and fetches resources. What every command that needs a secret uses. */
#ifndef CVMBOOT_SESSION_H
#define CVMBOOT_SESSION_H

#include "config.h"
#include "cleanup.h"
#include "err.h"
#include "kbs_options.h"
#include "secmem.h"
#include "status.h"

struct session;

/* Select the TEE (cfg->tee), attest to the first reachable KBS. st (may be
 * NULL) receives tee, KBS URL, token expiry and phase timings. */
int session_open(const struct config *cfg, struct status *st, struct session **out,
		 struct err *e);
/* The same with the KBS client's options given (cvmboot unlock: the KBS
 * URLs a LUKS token records); the TEE options still come from cfg. */
int session_open_kbs(const struct config *cfg, const struct kbs_client_options *kbs_opts,
		     struct status *st, struct session **out, struct err *e);
/* Fetch and decrypt one resource (REPO/TYPE/TAG). Wipe out with secret_clear. */
int session_fetch(struct session *s, const char *path, struct secret *out, struct err *e);
/* Extend the TEE's measurement register with the end-of-fetch event, if
 * cfg->seal_pcr >= 0 and the TEE supports it. */
int session_seal(struct session *s, struct status *st, struct err *e);
void session_close(struct session *s);
DEFINE_POINTER_CLEANUP(struct session, session_close)
/* TCP/TLS connections opened so far (1 when keep-alive held). */
long session_connections(const struct session *s);

#endif
