/* What the libFuzzer harnesses share: the entry points, an invariant check
 * that aborts (libFuzzer then saves the input), and a NUL-terminated copy. */
#ifndef CVMBOOT_FUZZ_H
#define CVMBOOT_FUZZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

/* The error contract of every parser: 0 and no error, or the code it
 * returned set in e with a message. CVMBOOT_FUZZ_VERBOSE=1 prints each
 * verdict (to see how far a seed gets). */
static inline void fuzz_check_err(int rc, const struct err *e)
{
	if (getenv("CVMBOOT_FUZZ_VERBOSE"))
		fprintf(stderr, "verdict: %d %s\n", rc, rc ? e->msg : "ok");
	if (rc == 0)
		FUZZ_CHECK(e->code == 0, "success with error %d set: %s", e->code, e->msg);
	else
		FUZZ_CHECK(e->code == rc && e->msg[0], "failure %d without its error (code %d, \"%s\")",
			   rc, e->code, e->msg);
}

/* data as a malloc'ed C string (it may hold NULs: the string ends at the first). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An in-memory file, for parsers that are given a path: each input is
 * written to it, and read through /proc/self/fd/N. */
struct fuzz_file {
	int fd;
	char path[64];
};

static inline void fuzz_file_open(struct fuzz_file *f, const char *name)
{
	f->fd = memfd_create(name, MFD_CLOEXEC);
	if (f->fd < 0)
		abort();
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

static inline void fuzz_file_set(const struct fuzz_file *f, const uint8_t *data, size_t size)
{
	if (ftruncate(f->fd, 0) < 0 || pwrite(f->fd, data, size, 0) != (ssize_t)size)
		abort();
}

#endif
