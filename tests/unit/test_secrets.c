/* Unit tests for agent/secrets.c: the 0700 directory and its refusals (disk,
 * symlink, foreign owner, loose mode), atomic writes with the asked mode,
 * no partial or temporary file left behind, bad names. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "secrets.h"

#include "check.h"

static bool on_tmpfs(const char *path)
{
	struct statfs s;

	return statfs(path, &s) == 0 && (s.f_type == TMPFS_MAGIC || s.f_type == RAMFS_MAGIC);
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xFFFFu;
}

static char *join(const char *a, const char *b)
{
	static char bufs[8][1024];
	static int next;
	char *buf = bufs[next++ % 8];

	snprintf(buf, sizeof(bufs[0]), "%s/%s", a, b);
	return buf;
}

/* Contents of a small file, or "" (static buffer). */
static const char *read_file(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Number of entries in dir besides . and .., and whether one looks temporary. */
static int count_entries(const char *dir, bool *temp_seen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	*temp_seen = false;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		if (strstr(de->d_name, ".tmp") || de->d_name[0] == '.')
			*temp_seen = true;
	}
	closedir(d);
	return n;
}

static void rm_rf(const char *path)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

/* A directory on a disk (not tmpfs) for the refusal checks, or NULL. */
static char *disk_tmpdir(void)
{
	static char dir[1024];
	const char *candidates[] = { "/tmp", "/var/tmp", getenv("CVMBOOT_BUILD") };

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (!candidates[i] || on_tmpfs(candidates[i]))
			continue;
		snprintf(dir, sizeof(dir), "%s/cvmboot-test-secrets-XXXXXX", candidates[i]);
		if (mkdtemp(dir))
			return dir;
	}
	return NULL;
}

static void test_prepare_on_disk(const char *base)
{
	struct err e = { 0 };
	char *dir = join(base, "run/cvmboot/secrets");
	mode_t old;

	/* A disk is refused, and allowed only with allow_non_tmpfs. */
	CHECK(secrets_prepare_dir(dir, false, &e) == CVM_E_SECRETS && strstr(e.msg, "not on tmpfs"),
	      "disk accepted: %s", e.msg);
	memset(&e, 0, sizeof(e));
	CHECK(secrets_prepare_dir(dir, true, &e) == 0, "allow_non_tmpfs: %s", e.msg);
	CHECK(mode_of(dir) == 0700, "dir mode %o", mode_of(dir));
	CHECK(mode_of(join(base, "run/cvmboot")) == 0755, "parent mode %o", mode_of(join(base, "run/cvmboot")));
	/* Again: an existing good directory is fine. */
	CHECK(secrets_prepare_dir(dir, true, &e) == 0, "existing: %s", e.msg);

	/* Created under a strict umask: fixed to 0700. */
	old = umask(0277);
	dir = join(base, "umask/secrets");
	CHECK(secrets_prepare_dir(dir, true, &e) == 0 && mode_of(dir) == 0700, "umask 0277: %o %s",
	      mode_of(dir), e.msg);
	umask(old);

	/* An existing directory with a loose mode is refused, not silently used. */
	dir = join(base, "loose");
	mkdir(dir, 0700);
	chmod(dir, 0755);
	CHECK(secrets_prepare_dir(dir, true, &e) == CVM_E_SECRETS && strstr(e.msg, "mode 0755, expected 0700"),
	      "loose mode: %s", e.msg);
	CHECK(mode_of(dir) == 0755, "someone else's directory must not be changed");

	/* A symlink to a good directory is refused. */
	mkdir(join(base, "real"), 0700);
	CHECK(symlink(join(base, "real"), join(base, "link")) == 0, "symlink");
	CHECK(secrets_prepare_dir(join(base, "link"), true, &e) == CVM_E_SECRETS &&
	      strstr(e.msg, "symlink"), "symlink: %s", e.msg);

	/* A file in the way. */
	close(open(join(base, "file"), O_CREAT | O_WRONLY, 0600));
	CHECK(secrets_prepare_dir(join(base, "file"), true, &e) == CVM_E_SECRETS, "file: %s", e.msg);
	CHECK(secrets_prepare_dir(join(base, "file/sub"), true, &e) == CVM_E_SECRETS &&
	      strstr(e.msg, "cannot create"), "under a file: %s", e.msg);
	CHECK(secrets_prepare_dir("relative/secrets", true, &e) == CVM_E_SECRETS &&
	      strstr(e.msg, "absolute"), "relative: %s", e.msg);

	/* Owned by another user (needs root to set up). */
	if (geteuid() == 0) {
		dir = join(base, "foreign");
		mkdir(dir, 0700);
		CHECK(chown(dir, 65534, 65534) == 0, "chown");
		CHECK(secrets_prepare_dir(dir, true, &e) == CVM_E_SECRETS && strstr(e.msg, "owned by uid 65534"),
		      "foreign owner: %s", e.msg);
	} else {
		printf("skip: foreign-owner check needs root\n");
	}
}

static void test_prepare_on_tmpfs(void)
{
	char base[] = "/dev/shm/cvmboot-test-secrets-XXXXXX";
	struct err e = { 0 };
	char *dir;

	if (!on_tmpfs("/dev/shm") || !mkdtemp(base)) {
		printf("skip: /dev/shm is not a usable tmpfs\n");
		return;
	}
	dir = join(base, "a/secrets");
	CHECK(secrets_prepare_dir(dir, false, &e) == 0, "tmpfs refused: %s", e.msg);
	CHECK(mode_of(dir) == 0700, "tmpfs dir mode %o", mode_of(dir));
	CHECK(secrets_write(dir, "k", (const unsigned char *)"v", 1, 0400, &e) == 0 &&
	      !strcmp(read_file(join(dir, "k")), "v"), "write on tmpfs: %s", e.msg);
	rm_rf(base);
}

static void test_write(const char *base)
{
	struct err e = { 0 };
	char dir[1024];
	struct stat before, after;
	bool temp;
	int old_fd;
	char buf[16] = { 0 };

	snprintf(dir, sizeof(dir), "%s/w", base);
	mkdir(dir, 0700);
	CHECK(secrets_write(dir, "tls.key", (const unsigned char *)"first", 5, 0400, &e) == 0,
	      "write: %s", e.msg);
	CHECK(!strcmp(read_file(join(dir, "tls.key")), "first"), "content");
	CHECK(mode_of(join(dir, "tls.key")) == 0400, "mode %o", mode_of(join(dir, "tls.key")));
	CHECK(count_entries(dir, &temp) == 1 && !temp, "exactly one file, no temp left");

	/* Replace: a reader holding the old file still sees the old content (a
	 * new inode came in by rename; the old one was never truncated). */
	stat(join(dir, "tls.key"), &before);
	old_fd = open(join(dir, "tls.key"), O_RDONLY);
	CHECK(secrets_write(dir, "tls.key", (const unsigned char *)"second!", 7, 0440, &e) == 0,
	      "replace: %s", e.msg);
	stat(join(dir, "tls.key"), &after);
	CHECK(before.st_ino != after.st_ino, "replaced in place (same inode)");
	CHECK(read(old_fd, buf, sizeof(buf) - 1) == 5 && !strcmp(buf, "first"), "old content changed: %s", buf);
	close(old_fd);
	CHECK(!strcmp(read_file(join(dir, "tls.key")), "second!"), "new content");
	CHECK(mode_of(join(dir, "tls.key")) == 0440, "new mode %o", mode_of(join(dir, "tls.key")));
	CHECK(count_entries(dir, &temp) == 1 && !temp, "no temp after replace");

	/* Mode as asked, whatever the umask; empty data. */
	CHECK(secrets_write(dir, "ca.crt", (const unsigned char *)"", 0, 0644, &e) == 0, "empty: %s", e.msg);
	CHECK(mode_of(join(dir, "ca.crt")) == 0644 && !strcmp(read_file(join(dir, "ca.crt")), ""), "0644");
	CHECK(secrets_write(dir, "none", NULL, 0, 0000, &e) == 0 && mode_of(join(dir, "none")) == 0,
	      "mode 0: %s", e.msg);

	/* A symlink under the final name is replaced, never written through. */
	close(open(join(base, "outside"), O_CREAT | O_WRONLY | O_TRUNC, 0600));
	CHECK(symlink(join(base, "outside"), join(dir, "link")) == 0, "symlink");
	CHECK(secrets_write(dir, "link", (const unsigned char *)"x", 1, 0400, &e) == 0, "over symlink: %s", e.msg);
	CHECK(!strcmp(read_file(join(base, "outside")), ""), "wrote through a symlink");
	{
		struct stat st;

		CHECK(lstat(join(dir, "link"), &st) == 0 && S_ISREG(st.st_mode), "symlink not replaced");
	}
}

static void test_write_failures(const char *base)
{
	struct err e = { 0 };
	char dir[1024];
	static const char *const bad_names[] = { "", ".", "..", "a/b", "/abs", "new\nline", "tab\t" };
	char long_name[300];
	struct rlimit old_lim, lim;
	bool temp;

	snprintf(dir, sizeof(dir), "%s/f", base);
	mkdir(dir, 0700);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		CHECK(secrets_write(dir, bad_names[i], (const unsigned char *)"x", 1, 0400, &e) == CVM_E_SECRETS,
		      "name '%s' accepted", bad_names[i]);
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK(secrets_write(dir, long_name, (const unsigned char *)"x", 1, 0400, &e) == CVM_E_SECRETS,
	      "long name accepted");
	CHECK(secrets_write(dir, "m", (const unsigned char *)"x", 1, 01400, &e) == CVM_E_SECRETS,
	      "mode with sticky bit accepted");
	CHECK(count_entries(dir, &temp) == 0, "something was created for bad input");

	/* Missing or symlinked directory. */
	CHECK(secrets_write(join(base, "nope"), "k", (const unsigned char *)"x", 1, 0400, &e) == CVM_E_SECRETS,
	      "missing dir");
	CHECK(symlink(dir, join(base, "dirlink")) == 0, "symlink");
	CHECK(secrets_write(join(base, "dirlink"), "k", (const unsigned char *)"x", 1, 0400, &e) == CVM_E_SECRETS,
	      "symlinked dir accepted");

	/* rename fails (a directory holds the name): no temp file is left. */
	mkdir(join(dir, "occupied"), 0700);
	close(open(join(join(dir, "occupied"), "x"), O_CREAT | O_WRONLY, 0600));
	CHECK(secrets_write(dir, "occupied", (const unsigned char *)"x", 1, 0400, &e) == CVM_E_SECRETS &&
	      strstr(e.msg, "rename"), "rename over a directory: %s", e.msg);
	CHECK(count_entries(dir, &temp) == 1 && !temp, "temp file left after failed rename");

	/* write fails half way (file size limit): the old file stays whole. */
	CHECK(secrets_write(dir, "key", (const unsigned char *)"old", 3, 0400, &e) == 0, "old: %s", e.msg);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old_lim);
	lim = old_lim;
	lim.rlim_cur = 4096;
	setrlimit(RLIMIT_FSIZE, &lim);
	{
		unsigned char big[10000];

		memset(big, 'B', sizeof(big));
		CHECK(secrets_write(dir, "key", big, sizeof(big), 0400, &e) == CVM_E_SECRETS &&
		      strstr(e.msg, "write"), "oversize write: %s", e.msg);
	}
	setrlimit(RLIMIT_FSIZE, &old_lim);
	CHECK(!strcmp(read_file(join(dir, "key")), "old"), "partial file under the final name");
	CHECK(count_entries(dir, &temp) == 2 && !temp, "temp file left after failed write");
}

static void test_write_path(const char *base)
{
	struct err e = { 0 };
	char cwd[1024];
	char path[1024];

	snprintf(path, sizeof(path), "%s/out.bin", base);
	CHECK(secrets_write_path(path, (const unsigned char *)"abc", 3, 0600, &e) == 0, "path: %s", e.msg);
	CHECK(!strcmp(read_file(path), "abc") && mode_of(path) == 0600, "content/mode %o", mode_of(path));
	CHECK(secrets_write_path(path, (const unsigned char *)"de", 2, 0600, &e) == 0 &&
	      !strcmp(read_file(path), "de"), "replace");
	/* A bare file name goes to the current directory. */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL, "getcwd");
	CHECK(chdir(base) == 0, "chdir");
	CHECK(secrets_write_path("bare.out", (const unsigned char *)"z", 1, 0600, &e) == 0, "bare: %s", e.msg);
	CHECK(chdir(cwd) == 0, "chdir back");
	CHECK(!strcmp(read_file(join(base, "bare.out")), "z"), "bare name content");
	CHECK(secrets_write_path(join(base, "missing/x"), (const unsigned char *)"z", 1, 0600, &e) ==
	      CVM_E_SECRETS, "missing parent");
	CHECK(secrets_write_path(join(base, ""), (const unsigned char *)"z", 1, 0600, &e) == CVM_E_SECRETS,
	      "directory path");
	/* The operator's output directory may be reached through a symlink. */
	CHECK(symlink(base, join(base, "via")) == 0, "symlink");
	CHECK(secrets_write_path(join(base, "via/through.out"), (const unsigned char *)"s", 1, 0600, &e) == 0,
	      "through a directory symlink: %s", e.msg);
	CHECK(!strcmp(read_file(join(base, "through.out")), "s"), "content through symlink");
}

/* A file size limit fails the write with EFBIG (SIGXFSZ is ignored while a
 * secret is written) instead of killing the process; the default action is
 * back afterwards. Run in a child, where SIGXFSZ is at its default. */
static void test_size_limit_signal(const char *base)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		struct rlimit lim = { 4096, 4096 };
		unsigned char big[10000];
		struct sigaction after;
		struct err e = { 0 };

		signal(SIGXFSZ, SIG_DFL);
		memset(big, 'B', sizeof(big));
		setrlimit(RLIMIT_FSIZE, &lim);
		if (secrets_write(base, "limited", big, sizeof(big), 0400, &e) != CVM_E_SECRETS ||
		    !strstr(e.msg, "limited: write failed: File too large"))
			_exit(2);
		sigaction(SIGXFSZ, NULL, &after);
		_exit(after.sa_handler == SIG_DFL ? 0 : 3);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "size limit: child %s %d (2: wrong error, 3: SIGXFSZ not restored)",
	      WIFSIGNALED(status) ? "killed by signal" : "exited", WIFSIGNALED(status) ?
	      WTERMSIG(status) : WEXITSTATUS(status));
	CHECK(access(join(base, "limited"), F_OK) != 0, "a file under the final name");
}

int main(void)
{
	static char fallback[] = "/tmp/cvmboot-test-secrets-XXXXXX";
	char *base = disk_tmpdir();

	if (base) {
		test_prepare_on_disk(base);
	} else {
		printf("skip: no disk-backed temporary directory for the refusal checks\n");
		base = mkdtemp(fallback);
		if (!base) {
			perror("mkdtemp");
			return 2;
		}
	}
	test_write(base);
	test_write_failures(base);
	test_write_path(base);
	test_size_limit_signal(base);
	rm_rf(base);
	test_prepare_on_tmpfs();
	return check_report("secrets");
}
