/* The agent's side of the TEE interface: struct tee_options from the
 * configuration (the backends never see struct config). */
#ifndef CVMBOOT_TEE_CONFIG_H
#define CVMBOOT_TEE_CONFIG_H

#include "config.h"
#include "tee.h"

/* Fill o from cfg; its strings point into cfg, which must outlive o. */
void tee_options_from_config(const struct config *cfg, struct tee_options *o);

#endif
