/* The agent's side of the KBS client: struct kbs_client_options from the
 * configuration (the client never sees struct config). */
#ifndef CVMBOOT_KBS_CONFIG_H
#define CVMBOOT_KBS_CONFIG_H

#include "config.h"
#include "kbs_options.h"

/* Fill o from cfg; its strings point into cfg, which must outlive o. */
void kbs_client_options_from_config(const struct config *cfg, struct kbs_client_options *o);

#endif
