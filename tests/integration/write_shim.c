/* LD_PRELOAD shim for test_secret_files.py: write() to a temporary secret
 * file (a name ending in ".tmp" directly in $SHIM_DIR) writes half of the
 * buffer, then either fails with ENOSPC (SHIM_MODE=enospc: a full tmpfs) or
 * creates the file $SHIM_MARKER and blocks until the process is killed
 * (SHIM_MODE=stall: a write that hangs, for a SIGTERM to arrive in it).
 * Every other write() is passed through untouched. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);

ssize_t write(int fd, const void *buf, size_t count);

static write_fn real_write(void)
{
	static write_fn fn;

	if (!fn)
		fn = (write_fn)dlsym(RTLD_NEXT, "write");
	return fn;
}

/* Is fd a ".tmp" file directly in $SHIM_DIR? */
static int is_temp_secret(int fd)
{
	const char *dir = getenv("SHIM_DIR");
	char link[64], path[PATH_MAX];
	size_t dir_len, n;
	ssize_t len;

	if (!dir || !*dir)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, path, sizeof(path) - 1);
	if (len <= 0)
		return 0;
	path[len] = '\0';
	dir_len = strlen(dir);
	n = (size_t)len;
	return n > dir_len + 5 && strncmp(path, dir, dir_len) == 0 && path[dir_len] == '/' &&
	       !strchr(path + dir_len + 1, '/') && strcmp(path + n - 4, ".tmp") == 0;
}

static void mark_stalled(void)
{
	const char *marker = getenv("SHIM_MARKER");
	int fd;

	if (!marker)
		return;
	fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

ssize_t write(int fd, const void *buf, size_t count)
{
	const char *mode = getenv("SHIM_MODE");
	ssize_t n;

	if (!mode || count < 2 || !is_temp_secret(fd))
		return real_write()(fd, buf, count);
	/* Half the bytes reach the file first: a partial temporary file. */
	if (lseek(fd, 0, SEEK_CUR) == 0) {
		n = real_write()(fd, buf, count / 2);
		if (n > 0)
			return n;
	}
	if (strcmp(mode, "stall") == 0) {
		mark_stalled();
		for (;;)
			pause();
	}
	errno = ENOSPC;
	return -1;
}
