/* KBS resource paths: REPOSITORY/TYPE/TAG. */
#ifndef CVMBOOT_RESOURCE_PATH_H
#define CVMBOOT_RESOURCE_PATH_H

#include <stdbool.h>

#define RESOURCE_PATH_MAX 255 /* bytes of a path, its NUL not included */

/* Exactly three non-empty segments of [A-Za-z0-9._-], none "." or "..",
 * at most RESOURCE_PATH_MAX bytes in all. */
bool resource_path_valid(const char *path);

#endif
