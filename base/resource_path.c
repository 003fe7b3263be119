/* KBS resource path validation (see resource_path.h). */
#include "resource_path.h"

#include <string.h>

#include "validate.h"

bool resource_path_valid(const char *path)
{
	int segments = 0;
	const char *p = path;

	if (!path || strlen(path) > RESOURCE_PATH_MAX)
		return false;
	for (;;) {
		size_t len = 0;

		while (p[len] && p[len] != '/') {
			if (!name_char(p[len]))
				return false;
			len++;
		}
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		segments++;
		if (!p[len])
			break;
		p += len + 1;
	}
	return segments == 3;
}
