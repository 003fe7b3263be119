/* LD_PRELOAD shim for bench/memory.sh: when the process exits, copies its
 * /proc/self/smaps_rollup, /proc/self/maps and /proc/self/smaps to
 * $SMAPS_OUT.rollup, .maps and .smaps (the memory at the end of a run,
 * libraries still mapped). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void copy(const char *from, const char *dir, const char *suffix)
{
	char path[4096], buf[8192];
	ssize_t n;
	int in, out;

	snprintf(path, sizeof(path), "%s.%s", dir, suffix);
	in = open(from, O_RDONLY | O_CLOEXEC);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
}

__attribute__((destructor)) static void smaps_at_exit(void)
{
	const char *out = getenv("SMAPS_OUT");

	if (!out)
		return;
	copy("/proc/self/smaps_rollup", out, "rollup");
	copy("/proc/self/maps", out, "maps");
	copy("/proc/self/smaps", out, "smaps");
}
