/* Reading a whole file of bounded size: TEE attributes (sysfs, configfs,
 * the CCEL table) and key or passphrase files, through one loop. */
#ifndef CVMBOOT_FILE_READ_H
#define CVMBOOT_FILE_READ_H

#include <stddef.h>

#include "err.h"
#include "secmem.h"

/* out->data comes from secret_alloc (free it with secret_clear), else from
 * malloc (free it with free). */
#define FILE_READ_SECRET 1u

/* Read all of path, at most max bytes, into out (out->len bytes, and a NUL
 * beyond them). A file larger than max is refused, never cut. Failures are
 * reported with code (the caller's exit class). With missing non-NULL, an
 * absent file sets *missing = 1 and returns code leaving e untouched (the
 * caller decides whether that is an error). On failure out is empty. */
int file_read_bounded(const char *path, size_t max, unsigned flags, int code,
		      struct secret *out, int *missing, struct err *e);

#endif
