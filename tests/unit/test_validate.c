/* Unit tests for base/validate.c: every control byte and DEL refused,
 * printable ASCII and UTF-8 taken; paths that exist, are directories, are
 * files, or are missing. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "validate.h"

#include "check.h"

int main(void)
{
	char dir[] = "/tmp/cvmboot-validate-XXXXXX", file[64], s[4];

	for (int c = 1; c < 256; c++) {
		bool want = c < 0x20 || c == 0x7f;

		snprintf(s, sizeof(s), "a%cb", c);
		CHECK(has_control_chars(s) == want, "byte 0x%02x: %d", c, has_control_chars(s));
	}
	CHECK(!has_control_chars(""), "empty string");
	CHECK(!has_control_chars("caf\xc3\xa9 = ok"), "UTF-8 text");
	CHECK(has_control_chars("end\n"), "trailing newline");

	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	snprintf(file, sizeof(file), "%s/f", dir);
	fclose(fopen(file, "w"));
	CHECK(path_exists(dir) && path_is_dir(dir), "directory %s", dir);
	CHECK(path_exists(file) && !path_is_dir(file), "file %s", file);
	CHECK(!path_exists("/nonexistent/x") && !path_is_dir("/nonexistent/x"), "missing path");
	unlink(file);
	rmdir(dir);
	CHECK(!path_exists(dir), "removed directory still seen");
	return check_report("validate");
}
