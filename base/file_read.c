/* Whole-file reads of bounded size (see file_read.h). */
#include "file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void buf_free(struct secret *b, unsigned flags)
{
	if (flags & FILE_READ_SECRET) {
		secret_clear(b);
	} else {
		free(b->data);
		b->data = NULL;
		b->len = 0;
	}
}

/* Room for cap bytes and the NUL: a secret gets all of max + 1 at once (its
 * pages are never copied by a realloc), a plain buffer grows as it fills. */
static int buf_grow(struct secret *b, size_t cap, unsigned flags)
{
	unsigned char *nb;

	if (flags & FILE_READ_SECRET)
		return b->data || secret_alloc(b, cap + 1) ? 0 : -1;
	nb = realloc(b->data, cap + 1);
	if (!nb)
		return -1;
	b->data = nb;
	return 0;
}

int file_read_bounded(const char *path, size_t max, unsigned flags, int code,
		      struct secret *out, int *missing, struct err *e)
{
	size_t cap = (flags & FILE_READ_SECRET) || max < 4096 ? max + 1 : 4096, n = 0;
	int fd;

	out->data = NULL;
	out->len = 0;
	if (missing)
		*missing = 0;
	if (max >= (size_t)-2)
		return err_set(e, CVM_E_INTERNAL, "%s: read limit too large", path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT && missing) {
			*missing = 1;
			return code;
		}
		return err_set(e, code, "cannot open %s: %s", path, strerror(errno));
	}
	if (buf_grow(out, cap, flags)) {
		close(fd);
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap > max) /* we already hold max + 1 bytes: too large */
				break;
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if (buf_grow(out, cap, flags)) {
				buf_free(out, flags);
				close(fd);
				return err_set(e, CVM_E_INTERNAL, "out of memory");
			}
		}
		r = read(fd, out->data + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int saved = errno;

			buf_free(out, flags);
			close(fd);
			return err_set(e, code, "cannot read %s: %s", path, strerror(saved));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		buf_free(out, flags);
		return err_set(e, code, "%s is longer than %zu bytes", path, max);
	}
	out->data[n] = '\0';
	out->len = n;
	return 0;
}
