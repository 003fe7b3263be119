/* Break-glass (see break_glass.h): the register extension that marks this
 * boot as not attested, and the passphrase prompt through
 * systemd-ask-password (console agent or plymouth, whichever runs). */
#include "break_glass.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "hex.h"
#include "log.h"
#include "progress.h"
#include "tee.h"

#define ASK_PASSWORD "systemd-ask-password"
#define ASK_MARGIN_MS 10000 /* beyond its own --timeout before we kill it */

bool break_glass_applies(const struct config *cfg, int code)
{
	if (cfg->break_glass != BREAK_GLASS_PASSPHRASE)
		return false;
	return code == CVM_E_NETWORK || code == CVM_E_REFUSED || code == CVM_E_PROTOCOL ||
	       code == CVM_E_RESOURCE;
}

/* "sha256:<hex>" (or sha384 for an RTMR) of the event, as extended. */
static void event_digest(const char *tee, char *out, size_t out_len)
{
	bool rtmr = !strcmp(tee, "tdx");
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *hex;

	out[0] = '\0';
	if (!EVP_Digest(BREAK_GLASS_EVENT, strlen(BREAK_GLASS_EVENT), md, &len,
			rtmr ? EVP_sha384() : EVP_sha256(), NULL))
		return;
	hex = hex_encode(md, len);
	if (hex)
		snprintf(out, out_len, "%s:%s", rtmr ? "sha384" : "sha256", hex);
	free(hex);
}

int break_glass_record(const struct config *cfg, const char *kbs_error, struct status *st,
		       struct err *e)
{
	const struct tee_backend *tee;
	char what[256] = "";
	int rc;

	if (tee_select(cfg, &tee, e))
		return err_wrap(e, "no TEE to record the break-glass event in");
	if (!tee->seal)
		return err_set(e, CVM_E_TEE, "TEE %s has no register to record the break-glass event "
			       "in: no passphrase is asked", tee->name);
	rc = tee->seal(cfg, (const unsigned char *)BREAK_GLASS_EVENT, strlen(BREAK_GLASS_EVENT),
		       what, sizeof(what), e);
	if (rc == TEE_SEAL_UNAVAILABLE)
		return err_set(e, CVM_E_TEE, "cannot record the break-glass event (%s): no passphrase "
			       "is asked", what);
	if (rc)
		return err_wrap(e, "recording the break-glass event");
	snprintf(st->tee, sizeof(st->tee), "%s", tee->name);
	snprintf(st->break_glass.reg, sizeof(st->break_glass.reg), "%s", what);
	snprintf(st->break_glass.event, sizeof(st->break_glass.event), "%s", BREAK_GLASS_EVENT);
	event_digest(tee->name, st->break_glass.digest, sizeof(st->break_glass.digest));
	snprintf(st->break_glass.kbs_error, sizeof(st->break_glass.kbs_error), "%s", kbs_error);
	st->break_glass.recorded = true;
	progress_keep(LOG_CRIT, "BREAK-GLASS: extended %s with \"%s\": every later "
		      "attestation of this boot shows it", what, BREAK_GLASS_EVENT);
	return 0;
}

/* Wait for the child until deadline (not at all when kill_it), then kill
 * it: it must not hold the boot after it closed its output. Returns 0 when
 * it ended on its own (status set), -1 when it was killed. */
static int reap(pid_t pid, bool kill_it, long long deadline, int *status)
{
	while (!kill_it) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if ((r < 0 && errno != EINTR) || monotonic_ms() >= deadline)
			break;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

/* Read the child's answer until EOF, at most until deadline (monotonic ms). */
static int read_answer(int fd, long long deadline, struct secret *buf, size_t *len, struct err *e)
{
	*len = 0;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - monotonic_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			return err_set(e, CVM_E_UNLOCK, ASK_PASSWORD " did not answer in time");
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(e, CVM_E_INTERNAL, "poll: %s", strerror(errno));
		if (r == 0)
			continue;
		if (*len >= buf->len)
			return err_set(e, CVM_E_UNLOCK, "the recovery passphrase is longer than %d bytes",
				       BREAK_GLASS_PASSPHRASE_MAX);
		n = read(fd, buf->data + *len, buf->len - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(e, CVM_E_INTERNAL, "reading from " ASK_PASSWORD ": %s",
				       strerror(errno));
		if (n == 0)
			return 0;
		*len += (size_t)n;
	}
}

static pid_t spawn_ask(const struct config *cfg, int attempt, int out_fd)
{
	char timeout[32], prompt[160];
	pid_t pid;

	snprintf(timeout, sizeof(timeout), "--timeout=%ld", (cfg->break_glass_timeout_ms + 999) / 1000);
	snprintf(prompt, sizeof(prompt), "cvmboot break-glass: the KBS gave no key. Recovery passphrase "
		 "(try %d of %d):", attempt, BREAK_GLASS_TRIES);
	pid = fork();
	if (pid != 0)
		return pid;
	if (dup2(out_fd, STDOUT_FILENO) < 0)
		_exit(127);
	execlp(ASK_PASSWORD, ASK_PASSWORD, "--id=cvmboot:break-glass", "--icon=drive-harddisk",
	       timeout, prompt, (char *)NULL);
	_exit(127);
}

int break_glass_ask(const struct config *cfg, int attempt, struct secret *out, struct err *e)
{
	struct secret buf _cleanup_secret_ = { 0 }; /* room for MAX, the newline, one more */
	long long deadline = monotonic_ms() + cfg->break_glass_timeout_ms + ASK_MARGIN_MS;
	int fds[2], status = 0, rc;
	size_t len = 0;
	pid_t pid;

	if (!secret_alloc(&buf, BREAK_GLASS_PASSPHRASE_MAX + 2))
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set(e, CVM_E_INTERNAL, "pipe: %s", strerror(errno));
	pid = spawn_ask(cfg, attempt, fds[1]);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return err_set(e, CVM_E_INTERNAL, "fork: %s", strerror(errno));
	}
	rc = read_answer(fds[0], deadline, &buf, &len, e);
	close(fds[0]);
	if (reap(pid, rc != 0, deadline, &status) < 0 && !rc)
		return err_set(e, CVM_E_UNLOCK, ASK_PASSWORD " did not end in time");
	if (rc)
		return rc;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return err_set(e, CVM_E_UNLOCK, "no recovery passphrase: " ASK_PASSWORD " %s %d "
			       "(timed out after %ld s, cancelled, or not installed)",
			       WIFEXITED(status) ? "exited with" : "killed by signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			       (cfg->break_glass_timeout_ms + 999) / 1000);
	if (len > 0 && buf.data[len - 1] == '\n')
		len--;
	if (len == 0)
		return 0; /* out stays empty: a wrong try */
	if (len > BREAK_GLASS_PASSPHRASE_MAX)
		return err_set(e, CVM_E_UNLOCK, "the recovery passphrase is longer than %d bytes",
			       BREAK_GLASS_PASSPHRASE_MAX);
	if (!secret_alloc(out, len))
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	memcpy(out->data, buf.data, len);
	return 0;
}
