/* KBS resource paths: REPOSITORY/TYPE/TAG. */
#ifndef CVMBOOT_RESOURCE_PATH_H
#define CVMBOOT_RESOURCE_PATH_H

#include <stdbool.h>

/* Exactly three non-empty segments of [A-Za-z0-9._-], none "." or "..",
 * at most 255 bytes in all. */
bool resource_path_valid(const char *path);

#endif
