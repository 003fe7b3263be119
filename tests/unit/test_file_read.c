/* Unit tests for base/file_read.c: exact bytes at and across the growth
 * steps, the limit refused not cut, missing files reported or not, secret
 * buffers from secret_alloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_read.h"

#include "check.h"

static char dir[] = "/tmp/cvmboot-file-read-XXXXXX";

static const char *write_file(const char *name, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	for (size_t i = 0; f && i < len; i++)
		fputc('a' + (int)(i % 26), f);
	if (f)
		fclose(f);
	return path;
}

static void check_size(size_t len, size_t max, unsigned flags)
{
	const char *path = write_file("f", len);
	struct secret out;
	struct err e = { 0 };
	long live = secret_live_count();
	int rc = file_read_bounded(path, max, flags, CVM_E_TEE, &out, NULL, &e);

	if (len > max) {
		CHECK(rc == CVM_E_TEE && strstr(e.msg, "is longer than"),
		      "len %zu max %zu: rc %d (%s)", len, max, rc, e.msg);
		CHECK(!out.data && out.len == 0, "failed read left a buffer");
		CHECK(secret_live_count() == live, "secret buffer leaked");
		return;
	}
	CHECK(rc == 0, "len %zu max %zu: %s", len, max, e.msg);
	CHECK(out.len == len, "len %zu read %zu", len, out.len);
	for (size_t i = 0; rc == 0 && i < len; i++)
		if (out.data[i] != 'a' + (int)(i % 26)) {
			CHECK(0, "byte %zu of %zu differs", i, len);
			break;
		}
	CHECK(rc || out.data[len] == '\0', "no NUL after the bytes");
	if (flags & FILE_READ_SECRET) {
		CHECK(secret_live_count() == live + 1, "not a secret buffer");
		secret_clear(&out);
	} else {
		free(out.data);
	}
}

int main(void)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 8192, 10000 };
	struct secret out;
	struct err e = { 0 };
	int missing = -1, rc;

	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (unsigned flags = 0; flags <= FILE_READ_SECRET; flags++) {
			check_size(sizes[i], 10000, flags);
			check_size(sizes[i], 4096, flags);
			check_size(sizes[i], 0, flags);
		}

	snprintf(e.msg, sizeof(e.msg), "untouched");
	rc = file_read_bounded("/nonexistent/x", 10, 0, CVM_E_USAGE, &out, &missing, &e);
	CHECK(rc == CVM_E_USAGE && missing == 1 && !strcmp(e.msg, "untouched"),
	      "missing file: rc %d missing %d msg %s", rc, missing, e.msg);
	rc = file_read_bounded("/nonexistent/x", 10, 0, CVM_E_USAGE, &out, NULL, &e);
	CHECK(rc == CVM_E_USAGE && strstr(e.msg, "cannot open /nonexistent/x"),
	      "missing file without *missing: rc %d msg %s", rc, e.msg);
	rc = file_read_bounded(dir, 10, 0, CVM_E_TEE, &out, NULL, &e);
	CHECK(rc == CVM_E_TEE && strstr(e.msg, "cannot read"), "directory: rc %d msg %s", rc, e.msg);

	unlink(write_file("f", 0));
	rmdir(dir);
	return check_report("file_read");
}
