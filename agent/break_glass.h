/* Break-glass (opt-in): once the KBS could not give the keys, record a
 * distinct event in the measurement register, then ask at the console for
 * a LUKS recovery passphrase through systemd-ask-password. */
#ifndef CVMBOOT_BREAK_GLASS_H
#define CVMBOOT_BREAK_GLASS_H

#include <stdbool.h>

#include "config.h"
#include "err.h"
#include "secmem.h"
#include "status.h"

#define BREAK_GLASS_TRIES 3
#define BREAK_GLASS_PASSPHRASE_MAX 512 /* bytes, as LUKS_KEY_MAX */
/* What is extended into the seal register (PCR or RTMR) before asking. */
#define BREAK_GLASS_EVENT "cvmboot break-glass: console recovery passphrase, no KBS key"

/* Whether a failed boot with this exit code may fall back to the passphrase:
 * break_glass is on and the KBS did not give the keys (unreachable, refused,
 * malformed answer, resource missing). Never for a TEE, configuration or
 * LUKS failure. */
bool break_glass_applies(const struct config *cfg, int code);

/* Extend the seal register with BREAK_GLASS_EVENT and note it in st. Fails
 * (and nothing may be asked) when the TEE has no register to extend. */
int break_glass_record(const struct config *cfg, const char *kbs_error, struct status *st,
		       struct err *e);

/* Ask for the recovery passphrase (try `attempt` of BREAK_GLASS_TRIES),
 * waiting at most cfg->break_glass_timeout_ms. out receives it (without the
 * newline; empty when only Enter was pressed); the caller wipes it with secret_clear. */
int break_glass_ask(const struct config *cfg, int attempt, struct secret *out, struct err *e);

#endif
