/* Progress and refusal lines for the console and the plymouth splash (see
 * progress.h). plymouth runs by posix_spawnp (no shell), its output to
 * /dev/null, each call waited for at most PROGRESS_PLYMOUTH_WAIT_MS. */
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define PLYMOUTH "plymouth"
#define POLL_MS 10

extern char **environ;

static bool use_plymouth;
static char shown[1024]; /* the message on the splash now, to replace */

void progress_use_plymouth(bool on) { use_plymouth = on; }

void progress_seconds(long ms, char *out, size_t out_len)
{
	if (ms < 0)
		ms = 0;
	snprintf(out, out_len, "%ld.%ld s", ms / 1000, (ms % 1000) / 100);
}

/* Run plymouth with ARGS; its exit status, or -1 when it could not run or
 * did not finish in time (then it is killed). */
static int run_plymouth(const char *arg1, const char *arg2)
{
	char *argv[] = { PLYMOUTH, (char *)arg1, (char *)arg2, NULL };
	posix_spawn_file_actions_t fa;
	long long deadline;
	int status, rc = -1;
	pid_t pid;

	if (posix_spawn_file_actions_init(&fa))
		return -1;
	if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) ||
	    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) ||
	    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0) ||
	    posix_spawnp(&pid, PLYMOUTH, &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		return -1; /* no plymouth here: nothing to show the line on */
	}
	posix_spawn_file_actions_destroy(&fa);
	deadline = monotonic_ms() + PROGRESS_PLYMOUTH_WAIT_MS;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			break;
		}
		if (r < 0 && errno == ECHILD)
			break; /* reaped elsewhere (SIGCHLD ignored): nothing to kill */
		if ((r < 0 && errno != EINTR) || monotonic_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			log_debug("plymouth %s did not finish in %d ms: killed", arg1,
				  PROGRESS_PLYMOUTH_WAIT_MS);
			break;
		}
		sleep_ms(POLL_MS);
	}
	return rc;
}

/* Show LINE on the splash, if plymouth runs; instead of the last progress
 * line when REPLACE. */
static void plymouth_show(const char *line, bool replace)
{
	char arg[sizeof(shown) + 16];

	if (run_plymouth("--ping", NULL) != 0)
		return;
	if (replace && shown[0]) {
		snprintf(arg, sizeof(arg), "--text=%s", shown);
		run_plymouth("hide-message", arg);
		shown[0] = '\0';
	}
	snprintf(arg, sizeof(arg), "--text=%s", line);
	if (run_plymouth("display-message", arg) == 0 && replace)
		snprintf(shown, sizeof(shown), "%s", line);
}

__attribute__((format(printf, 3, 0)))
static void emit(int priority, bool replace, const char *fmt, va_list ap)
{
	char line[sizeof(shown) - 16], text[sizeof(shown)];

	vsnprintf(line, sizeof(line), fmt, ap);
	log_msg(priority, "%s", line);
	if (use_plymouth && priority <= log_get_level()) {
		snprintf(text, sizeof(text), "cvmboot: %s", line);
		plymouth_show(text, replace);
	}
}

void progress_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(priority, true, fmt, ap);
	va_end(ap);
}

void progress_keep(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(priority, false, fmt, ap);
	va_end(ap);
}
