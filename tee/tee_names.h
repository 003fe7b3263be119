/* The names of the TEE backends built into this binary, for whoever checks
 * a configured name without using the backends (agent/config.c). */
#ifndef CVMBOOT_TEE_NAMES_H
#define CVMBOOT_TEE_NAMES_H

#include <stddef.h>

/* 0 if name is "auto" or a backend built in; else -1 and why says which
 * ("unknown TEE 'x' (...)" or "tee type 'tpm' is not built into this
 * cvmboot (built in: ...)", listing the names this binary takes). */
int tee_check_name(const char *name, char *why, size_t why_len);

#endif
