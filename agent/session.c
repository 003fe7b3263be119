/* An attested session (see session.h): TEE selection, KBS handshake,
 * resource fetches and the end-of-fetch seal. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kbs.h"
#include "log.h"
#include "retry.h"
#include "kbs_config.h"
#include "tee_config.h"

struct session {
	const struct config *cfg;
	const struct tee_backend *tee;
	struct tee_options tee_opts;
	struct kbs *kbs;
};

int session_open(const struct config *cfg, struct status *st, struct session **out,
		 struct err *e)
{
	struct kbs_client_options o;

	kbs_client_options_from_config(cfg, &o);
	return session_open_kbs(cfg, &o, st, out, e);
}

int session_open_kbs(const struct config *cfg, const struct kbs_client_options *kbs_opts,
		     struct status *st, struct session **out, struct err *e)
{
	CLEANUP(session_closep) struct session *s = NULL;
	long long t0 = monotonic_ms();

	*out = NULL;
	if (kbs_opts->n_urls == 0)
		return err_set(e, CVM_E_CONFIG, "no KBS URL configured ([kbs] url or rd.cvmboot.url)");
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	s->cfg = cfg;
	tee_options_from_config(cfg, &s->tee_opts);
	if (tee_select(&s->tee_opts, &s->tee, e))
		return e->code;
	if (st)
		snprintf(st->tee, sizeof(st->tee), "%s", s->tee->name);
	log_info("TEE: %s; attesting to %s", s->tee->name, kbs_opts->urls[0]);
	if (!(s->kbs = kbs_new(kbs_opts, s->tee, &s->tee_opts, e)))
		return e->code;
	if (kbs_attest(s->kbs, e)) {
		if (st)
			snprintf(st->kbs_url, sizeof(st->kbs_url), "%s", kbs_url(s->kbs));
		return e->code;
	}
	if (st) {
		snprintf(st->kbs_url, sizeof(st->kbs_url), "%s", kbs_url(s->kbs));
		st->token_expiry = kbs_token_expiry(s->kbs);
		status_phase(st, "attest", (long)(monotonic_ms() - t0));
	}
	log_info("attested to %s as %s", kbs_url(s->kbs), s->tee->name);
	*out = TAKE_PTR(s);
	return 0;
}

int session_fetch(struct session *s, const char *path, struct secret *out, struct err *e)
{
	if (kbs_get_resource(s->kbs, path, out, e))
		return e->code;
	log_info("fetched resource %s (%zu bytes)", path, out->len);
	return 0;
}

long session_connections(const struct session *s) { return kbs_connections(s->kbs); }

int session_seal(struct session *s, struct status *st, struct err *e)
{
	static const char event[] = "cvmboot: boot-phase resources fetched";
	char what[256] = "";
	int rc;

	if (s->cfg->seal_pcr < 0 || !s->tee->seal) {
		log_debug("sealing: %s", s->cfg->seal_pcr < 0 ? "disabled (seal_pcr = -1)"
				: "not supported by this TEE");
		return 0;
	}
	rc = s->tee->seal(&s->tee_opts, (const unsigned char *)event, sizeof(event) - 1, what,
			  sizeof(what), e);
	if (rc == TEE_SEAL_UNAVAILABLE) {
		log_warn("boot phase not sealed: %s", what);
		return 0;
	}
	if (rc)
		return err_wrap(e, "sealing the boot phase");
	log_info("sealed the boot phase: extended %s", what);
	if (st)
		snprintf(st->sealed, sizeof(st->sealed), "%s", what);
	return 0;
}

void session_close(struct session *s)
{
	if (!s)
		return;
	kbs_free(s->kbs);
	free(s);
}
