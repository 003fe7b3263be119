/* Secret files under the secrets directory (tmpfs only): directory 0700,
 * files written atomically (temp file + rename) with their configured mode. */
#ifndef CVMBOOT_SECRETS_H
#define CVMBOOT_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Create dir (and parents) 0700 root-only; refuse if it is not on tmpfs or
 * ramfs unless allow_non_tmpfs. */
int secrets_prepare_dir(const char *dir, bool allow_non_tmpfs, struct err *e);
/* mkdir -p: missing parents 0755, dir itself with mode; *created (may be
 * NULL) tells whether dir was made now. */
int secrets_mkdir_p(const char *dir, mode_t mode, bool *created, struct err *e);
/* Write data to dir/name atomically with mode. name must be a plain file
 * name (no '/', not "." or ".."). */
int secrets_write(const char *dir, const char *name, const unsigned char *data, size_t len,
		  mode_t mode, struct err *e);
/* Write data to an arbitrary path atomically with mode 0600 (get-resource -o). */
int secrets_write_path(const char *path, const unsigned char *data, size_t len, mode_t mode,
		       struct err *e);

#endif
