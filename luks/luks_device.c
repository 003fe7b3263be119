/* Finding LUKS2 devices: waiting for a path or UUID= to appear (udev's
 * /dev/disk/by-uuid, else a libblkid scan; a UUID on two devices is refused),
 * and loading their header. */
#include <blkid.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "log.h"
#include "progress.h"
#include "luks_internal.h"
#include "validate.h"

#define POLL_INTERVAL_MS 100
/* While a device is awaited, a line for the console this often. */
#define REPORT_INTERVAL_MS 5000

static int copy_out(const char *path, char *resolved, size_t resolved_len, struct err *e)
{
	if (strlen(path) >= resolved_len)
		return err_set(e, CVM_E_UNLOCK, "device path '%.200s...' is too long", path);
	memcpy(resolved, path, strlen(path) + 1);
	return 0;
}

bool luks_same_device(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
		return strcmp(a, b) == 0;
	if (S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* A host can attach a second disk carrying the same LUKS UUID (a copy of the
 * real header over data it chose, or an old replayed disk); which one udev's
 * /dev/disk/by-uuid names is then up to the order they appear. So every block
 * device is probed, and a UUID found on more than one is refused. */
int luks_check_uuid_unique(const char *uuid, const char *found, struct err *e)
{
	blkid_cache cache = NULL;
	blkid_dev_iterate it;
	blkid_dev dev;
	char other[PATH_MAX] = "";
	int rc = 0;

	if (blkid_get_cache(&cache, "/dev/null") != 0)
		return err_set(e, CVM_E_UNLOCK, "UUID=%s: cannot list the block devices to check "
			       "that only one carries this UUID", uuid);
	blkid_probe_all(cache);
	it = blkid_dev_iterate_begin(cache);
	if (!it) {
		blkid_put_cache(cache);
		return err_set(e, CVM_E_UNLOCK, "UUID=%s: cannot list the block devices to check "
			       "that only one carries this UUID", uuid);
	}
	blkid_dev_set_search(it, "UUID", (char *)uuid);
	while (blkid_dev_next(it, &dev) == 0) {
		const char *name;

		dev = blkid_verify(cache, dev);
		if (!dev)
			continue;
		name = blkid_dev_devname(dev);
		if (name && !luks_same_device(name, found)) {
			snprintf(other, sizeof(other), "%s", name);
			break;
		}
	}
	blkid_dev_iterate_end(it);
	blkid_put_cache(cache);
	if (other[0]) {
		err_set(e, CVM_E_UNLOCK, "UUID=%s is on two devices, %.200s and %.200s: a disk was "
			"attached with a copy of this volume's header; refusing to guess which one "
			"is ours", uuid, found, other);
		rc = err_set_cause(e, ERR_CAUSE_DUPLICATE_UUID);
	}
	return rc;
}

/* 0 and *found set when the device with this UUID is present now. */
static int find_by_uuid(const char *uuid, char *resolved, size_t resolved_len, bool *found,
			struct err *e)
{
	char link[PATH_MAX], *real, *devname;
	blkid_cache cache = NULL;
	int rc;

	snprintf(link, sizeof(link), "/dev/disk/by-uuid/%s", uuid);
	real = realpath(link, NULL);
	if (real) {
		*found = true;
		rc = luks_check_uuid_unique(uuid, real, e);
		if (!rc)
			rc = copy_out(real, resolved, resolved_len, e);
		free(real);
		return rc;
	}
	/* No udev in this initramfs (or not yet): ask libblkid to probe the
	 * block devices; "/dev/null" keeps it from reading or writing a cache file. */
	if (blkid_get_cache(&cache, "/dev/null") != 0)
		return 0;
	devname = blkid_get_devname(cache, "UUID", uuid);
	blkid_put_cache(cache);
	if (!devname)
		return 0;
	*found = true;
	rc = luks_check_uuid_unique(uuid, devname, e);
	if (!rc)
		rc = copy_out(devname, resolved, resolved_len, e);
	free(devname);
	return rc;
}

/* 0 and *found set when path exists and is a block device or image file. */
static int find_path(const char *path, char *resolved, size_t resolved_len, bool *found,
		     struct err *e)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return err_set(e, CVM_E_UNLOCK, "cannot access %s: %s", path, strerror(errno));
	}
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
		return err_set(e, CVM_E_UNLOCK, "%s is neither a block device nor an image file",
			       path);
	*found = true;
	return copy_out(path, resolved, resolved_len, e);
}

static void format_timeout(long timeout_ms, char *buf, size_t len)
{
	if (timeout_ms % 1000 == 0)
		snprintf(buf, len, "%lds", timeout_ms / 1000);
	else
		snprintf(buf, len, "%ldms", timeout_ms);
}

/* "waiting for device UUID=...: not there at look 51; looking again every
 * 0.1 s, 24.9 s of the 30.0 s device timeout left" */
static void report_wait(const char *device, int looks, long left_ms, long timeout_ms)
{
	char every[32], left[32], timeout[32];

	progress_seconds(POLL_INTERVAL_MS, every, sizeof(every));
	progress_seconds(left_ms, left, sizeof(left));
	progress_seconds(timeout_ms, timeout, sizeof(timeout));
	progress_msg(LOG_NOTICE, "waiting for device %.200s: not there at look %d; looking again "
		     "every %s, %s of the %s device timeout left", device, looks, every, left,
		     timeout);
}

int luks_wait_device(const char *device, long timeout_ms, char *resolved, size_t resolved_len,
		     struct err *e)
{
	const char *uuid = NULL;
	long long deadline;
	char shown[32];
	bool found = false;
	int reports = 0;

	if (!device || !device[0] || strlen(device) >= PATH_MAX)
		return err_set(e, CVM_E_UNLOCK, "invalid device name");
	if (strncmp(device, "UUID=", 5) == 0) {
		uuid = device + 5;
		if (!uuid_valid(uuid))
			return err_set(e, CVM_E_UNLOCK, "invalid UUID in '%.100s': expected "
				       "8-4-4-4-12 lowercase hex digits, as cryptsetup luksUUID "
				       "prints it", device);
	}
	if (timeout_ms < 0)
		timeout_ms = 0;
	deadline = monotonic_ms() + timeout_ms;
	for (int looks = 1;; looks++) {
		int rc = uuid ? find_by_uuid(uuid, resolved, resolved_len, &found, e)
			      : find_path(device, resolved, resolved_len, &found, e);

		if (rc)
			return rc;
		if (found)
			return 0;
		long long left = deadline - monotonic_ms();

		if (left <= 0)
			break;
		if (timeout_ms - left >= (long long)REPORT_INTERVAL_MS * reports + REPORT_INTERVAL_MS) {
			report_wait(device, looks, (long)left, timeout_ms);
			reports++;
		}
		sleep_ms(left < POLL_INTERVAL_MS ? (long)left : POLL_INTERVAL_MS);
	}
	format_timeout(timeout_ms, shown, sizeof(shown));
	return err_set(e, CVM_E_UNLOCK, "device %s did not appear within %s", device, shown);
}

static void route_log_line(int level, const char *msg, void *usrptr)
{
	size_t n = msg ? strlen(msg) : 0;

	(void)usrptr;
	if (level == CRYPT_LOG_DEBUG_JSON || n == 0)
		return;
	while (n > 0 && msg[n - 1] == '\n')
		n--;
	log_debug("libcryptsetup: %.*s", (int)n, msg);
}

void luks_route_logs(struct crypt_device *cd)
{
	crypt_set_log_callback(cd, route_log_line, NULL);
}

int luks_load(const char *device, struct crypt_device **out, struct err *e)
{
	struct crypt_device *cd = NULL;
	int r;

	*out = NULL;
	luks_route_logs(NULL);
	r = crypt_init(&cd, device);
	if (r < 0)
		return err_set(e, CVM_E_UNLOCK, "cannot open %s: %s", device, strerror(-r));
	luks_route_logs(cd);
	r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r < 0) {
		bool luks1 = crypt_load(cd, CRYPT_LUKS1, NULL) == 0;

		crypt_free(cd);
		if (luks1)
			return err_set(e, CVM_E_UNLOCK, "%s is not a LUKS2 volume (it is LUKS1: "
				       "convert it with cryptsetup convert --type luks2)", device);
		if (r == -EINVAL || r == -ENXIO)
			return err_set(e, CVM_E_UNLOCK, "%s is not a LUKS2 volume", device);
		return err_set(e, CVM_E_UNLOCK, "%s is not a LUKS2 volume (cannot read its "
			       "header: %s)", device, strerror(-r));
	}
	*out = cd;
	return 0;
}

int luks_get_uuid(const char *device, char *uuid, size_t uuid_len, struct err *e)
{
	struct crypt_device *cd;
	const char *u;
	int rc = 0;

	if (luks_load(device, &cd, e))
		return e->code;
	u = crypt_get_uuid(cd);
	if (!u || !uuid_valid(u) || strlen(u) >= uuid_len)
		rc = err_set(e, CVM_E_UNLOCK, "%s has no usable LUKS2 UUID", device);
	else
		memcpy(uuid, u, strlen(u) + 1);
	crypt_free(cd);
	return rc;
}
