/* What an operator can do about a failed boot: one line for the console,
 * from the error's cause (err_set_cause) or else its class, and what the
 * KBS said. */
#ifndef CVMBOOT_ADVICE_H
#define CVMBOOT_ADVICE_H

#include <stddef.h>

#include "err.h"

/* The advice for e in out ("" when there is none to give); returns out. */
const char *advice_for(const struct err *e, char *out, size_t out_len);

#endif
