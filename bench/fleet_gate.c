/* LD_PRELOAD for bench/fleet.sh: holds a started agent after the dynamic
 * loader has mapped and relocated its libraries, until its stdin (the
 * fleet's gate pipe) reaches end of file. On one host 200 agents load
 * their libraries one core after another; in a fleet each VM loads its
 * own on its own CPU, so that time is not the retry policy's to carry.
 * It says it is ready with one byte on the descriptor FLEET_READY_FD. */
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void wait_for_release(void)
{
	const char *ready = getenv("FLEET_READY_FD");
	char c;

	if (ready) {
		int fd = atoi(ready);

		if (write(fd, "r", 1) != 1)
			_exit(125);
		close(fd);
	}
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
}
