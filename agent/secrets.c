/* Secret files: a 0700 directory on tmpfs/ramfs owned by us, and files
 * written atomically (private temp file, fsync, chmod, rename). */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fdio.h"
#include "validate.h"

#define SECRET_NAME_MAX 200 /* leaves room for the temp name's prefix and suffix */

/* Create one directory level; 1 if created, 0 if it existed, -1 on error. */
static int make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0)
		return 1;
	return errno == EEXIST ? 0 : -1;
}

int secrets_mkdir_p(const char *dir, mode_t mode, bool *created, struct err *e)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	int rc;

	if (len == 0 || len >= sizeof(path))
		return err_set(e, CVM_E_SECRETS, "bad directory path '%.80s'", dir);
	memcpy(path, dir, len + 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	/* Parents first (0755), each may already exist. */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = make_dir(path, 0755);
		*p = '/';
		if (rc < 0)
			return err_set(e, CVM_E_SECRETS, "cannot create directory %.*s: %s",
				       (int)(p - path), path, strerror(errno));
	}
	rc = make_dir(path, mode);
	if (rc < 0)
		return err_set(e, CVM_E_SECRETS, "cannot create directory %s: %s", path, strerror(errno));
	if (created)
		*created = rc == 1;
	return 0;
}

static bool on_memory_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

int secrets_prepare_dir(const char *dir, bool allow_non_tmpfs, struct err *e)
{
	struct stat st;
	bool created = false;
	int fd, rc = 0;

	if (dir[0] != '/')
		return err_set(e, CVM_E_SECRETS, "secrets directory '%.80s' is not an absolute path", dir);
	if (secrets_mkdir_p(dir, 0700, &created, e))
		return e->code;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, CVM_E_SECRETS, "%s: cannot open directory%s: %s", dir,
			       errno == ELOOP || errno == ENOTDIR ? " (a symlink or not a directory)" : "",
			       strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = err_set(e, CVM_E_SECRETS, "%s: %s", dir, strerror(errno));
	} else if (st.st_uid != geteuid()) {
		rc = err_set(e, CVM_E_SECRETS, "%s: owned by uid %u, not by us (uid %u)", dir,
			     (unsigned)st.st_uid, (unsigned)geteuid());
	} else if ((st.st_mode & 07777) != 0700) {
		if (created && fchmod(fd, 0700) == 0)
			rc = 0;
		else
			rc = err_set(e, CVM_E_SECRETS, "%s: mode %04o, expected 0700", dir,
				     (unsigned)(st.st_mode & 07777));
	}
	if (!rc && !on_memory_fs(fd)) {
		if (!allow_non_tmpfs)
			rc = err_set(e, CVM_E_SECRETS,
				     "%s: not on tmpfs or ramfs; refusing to store secrets on a disk", dir);
	}
	close(fd);
	return rc;
}

/* A plain file name: no '/', not "." or "..", no control characters. */
static int check_file_name(const char *name, struct err *e)
{
	size_t n = strlen(name);

	if (n == 0 || n > SECRET_NAME_MAX || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strchr(name, '/'))
		return err_set(e, CVM_E_SECRETS, "bad file name '%.80s'", name);
	if (has_control_chars(name))
		return err_set(e, CVM_E_SECRETS, "bad file name (control character)");
	return 0;
}

/* Create ".NAME.XXXXXXXX.tmp" in dirfd exclusively, mode 0600. */
static int create_temp(int dirfd, const char *name, char *tmp, size_t tmp_size)
{
	for (int tries = 0; tries < 16; tries++) {
		unsigned int rnd = 0;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
			rnd = (unsigned)getpid() * 2654435761u + (unsigned)tries;
		snprintf(tmp, tmp_size, ".%s.%08x.tmp", name, rnd);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* While a temporary file exists, a signal that would end the process (a
 * SIGTERM from systemd, a ^C) first removes it, then ends the process as it
 * would have: nothing half-written stays behind. Only signals left at their
 * default action are taken over; SIGXFSZ is ignored meanwhile, so a file
 * size limit fails the write (EFBIG) instead of killing us. */
static const int guarded_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
#define N_GUARDED (sizeof(guarded_signals) / sizeof(guarded_signals[0]))

static struct {
	volatile sig_atomic_t armed;
	int dirfd;
	char tmp[SECRET_NAME_MAX + 32];
	struct sigaction old[N_GUARDED];
	bool taken[N_GUARDED];
	struct sigaction old_xfsz;
	sigset_t mask, old_mask;
} guard;

static void remove_temp_and_die(int sig)
{
	if (guard.armed)
		unlinkat(guard.dirfd, guard.tmp, 0);
	/* SA_RESETHAND put the default action back; the signal stays blocked
	 * until this handler returns, then ends the process. */
	raise(sig);
}

/* Block the guarded signals and take them over; guard_arm and guard_end
 * unblock them again. */
static void guard_begin(void)
{
	struct sigaction sa = { .sa_handler = remove_temp_and_die, .sa_flags = SA_RESETHAND };
	struct sigaction ign = { .sa_handler = SIG_IGN };

	sigemptyset(&guard.mask);
	for (size_t i = 0; i < N_GUARDED; i++)
		sigaddset(&guard.mask, guarded_signals[i]);
	sigprocmask(SIG_BLOCK, &guard.mask, &guard.old_mask);
	sa.sa_mask = guard.mask;
	for (size_t i = 0; i < N_GUARDED; i++) {
		guard.taken[i] = sigaction(guarded_signals[i], NULL, &guard.old[i]) == 0 &&
				 guard.old[i].sa_handler == SIG_DFL &&
				 !(guard.old[i].sa_flags & SA_SIGINFO) &&
				 sigaction(guarded_signals[i], &sa, NULL) == 0;
	}
	sigaction(SIGXFSZ, &ign, &guard.old_xfsz);
}

/* The temporary file tmp now exists in dirfd: let signals in. */
static void guard_arm(int dirfd, const char *tmp)
{
	guard.dirfd = dirfd;
	snprintf(guard.tmp, sizeof(guard.tmp), "%s", tmp);
	guard.armed = 1;
	sigprocmask(SIG_SETMASK, &guard.old_mask, NULL);
}

/* The temporary file is gone (renamed or removed): give the signals back. */
static void guard_end(void)
{
	sigprocmask(SIG_BLOCK, &guard.mask, NULL);
	guard.armed = 0;
	for (size_t i = 0; i < N_GUARDED; i++)
		if (guard.taken[i])
			sigaction(guarded_signals[i], &guard.old[i], NULL);
	sigaction(SIGXFSZ, &guard.old_xfsz, NULL);
	sigprocmask(SIG_SETMASK, &guard.old_mask, NULL);
}

/* Write name in dirfd atomically: the final name holds the old content or the
 * complete new one, never a part; no temporary file outlives the call, even
 * when a signal ends the process during it. */
static int write_atomic_at(int dirfd, const char *shown_dir, const char *name,
			   const unsigned char *data, size_t len, mode_t mode, struct err *e)
{
	char tmp[SECRET_NAME_MAX + 32];
	int fd, saved;
	const char *step;

	guard_begin();
	fd = create_temp(dirfd, name, tmp, sizeof(tmp));
	if (fd < 0) {
		saved = errno;
		guard_end();
		return err_set(e, CVM_E_SECRETS, "%s/%s: cannot create temporary file: %s", shown_dir,
			       name, strerror(saved));
	}
	guard_arm(dirfd, tmp);
	if (fd_write_all(fd, data, len) < 0)
		step = "write";
	else if (fchmod(fd, mode) < 0)
		step = "chmod";
	else if (fsync(fd) < 0)
		step = "fsync";
	else
		step = NULL;
	saved = errno;
	if (close(fd) < 0 && !step) {
		step = "close";
		saved = errno;
	}
	if (!step && renameat(dirfd, tmp, dirfd, name) < 0) {
		step = "rename";
		saved = errno;
	}
	if (step)
		unlinkat(dirfd, tmp, 0);
	guard_end();
	if (step)
		return err_set(e, CVM_E_SECRETS, "%s/%s: %s failed: %s", shown_dir, name, step,
			       strerror(saved));
	fsync(dirfd); /* the rename itself; a no-op on tmpfs */
	return 0;
}

/* nofollow: refuse a directory that is a symlink (the secrets directory);
 * an operator's own output path may go through one. */
static int write_in_dir(const char *dir, bool nofollow, const char *name, const unsigned char *data,
			size_t len, mode_t mode, struct err *e)
{
	int dirfd, rc;

	if (check_file_name(name, e))
		return e->code;
	if (mode & ~(mode_t)0777)
		return err_set(e, CVM_E_SECRETS, "%s: bad mode %o", name, (unsigned)mode);
	if (!data && len)
		return err_set(e, CVM_E_INTERNAL, "%s: no data", name);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (dirfd < 0)
		return err_set(e, CVM_E_SECRETS, "%s: cannot open directory: %s", dir, strerror(errno));
	rc = write_atomic_at(dirfd, dir, name, data ? data : (const unsigned char *)"", len, mode, e);
	close(dirfd);
	return rc;
}

int secrets_write(const char *dir, const char *name, const unsigned char *data, size_t len,
		  mode_t mode, struct err *e)
{
	return write_in_dir(dir, true, name, data, len, mode, e);
}

int secrets_write_path(const char *path, const unsigned char *data, size_t len, mode_t mode,
		       struct err *e)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dir_len;

	if (!slash)
		return write_in_dir(".", false, path, data, len, mode, e);
	dir_len = slash == path ? 1 : (size_t)(slash - path);
	if (dir_len >= sizeof(dir))
		return err_set(e, CVM_E_SECRETS, "path too long");
	memcpy(dir, path, dir_len);
	dir[dir_len] = '\0';
	return write_in_dir(dir, false, slash + 1, data, len, mode, e);
}
