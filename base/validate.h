/* One check per rule, for every layer that needs it (docs/architecture.md):
 * control characters in text from outside, and what a path names. */
#ifndef CVMBOOT_VALIDATE_H
#define CVMBOOT_VALIDATE_H

#include <stdbool.h>

/* A byte below 0x20 or DEL (0x7f) in the NUL-terminated s: refused in
 * configuration keys and section names and in kernel command line
 * options (tabs included). */
bool has_control_chars(const char *s);
/* path exists (stat follows links). */
bool path_exists(const char *path);
/* path exists and is a directory (stat follows links). */
bool path_is_dir(const char *path);

#endif
