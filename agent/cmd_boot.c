/* `cvmboot boot`: the initramfs job. Attest, fetch every resource (and the
 * workload's image signing key), seal the boot phase, unlock the LUKS2
 * volumes, stage the secret files and the image policy, and record the
 * outcome in status.json. Fails closed: any error stops the boot, but for
 * the opt-in break-glass passphrase when the KBS gave no key. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "advice.h"
#include "break_glass.h"
#include "commands.h"
#include "image_policy.h"
#include "log.h"
#include "luks.h"
#include "progress.h"
#include "retry.h"
#include "secrets.h"
#include "session.h"
#include "status.h"

/* A LUKS2 volume to open: configured, or found by its cvmboot token. */
struct volume {
	char label[CFG_NAME_MAX];  /* resource name, or "token:<device>" */
	char device[CFG_PATH_MAX];
	char mapper[CFG_NAME_MAX];
	char resource[CFG_PATH_MAX];
	bool opened;               /* activated by this run: closed again if the boot fails */
	bool done;                 /* opened or verified (break-glass tries) */
	char resolved[CFG_PATH_MAX]; /* the device path once it exists */
};

struct boot_plan {
	struct volume volumes[CFG_MAX_RESOURCES];
	int n_volumes;
	struct secret files[CFG_MAX_RESOURCES]; /* fetched values, by resource index */
	struct secret keys[CFG_MAX_RESOURCES];  /* fetched volume keys, by volume index */
	bool written[CFG_MAX_RESOURCES];        /* files this run wrote, by resource index */
	struct secret signing_key;              /* [workload] signing_key (public) */
};

static void plan_wipe(struct boot_plan *p)
{
	for (int i = 0; i < CFG_MAX_RESOURCES; i++) {
		secret_clear(&p->files[i]);
		secret_clear(&p->keys[i]);
	}
	secret_clear(&p->signing_key);
}

/* Whether a planned volume is this device: the same LUKS2 UUID when it was
 * named by UUID=, else the same block device (or file) whatever the path. */
static bool same_volume(const struct volume *v, const char *device, const char *uuid)
{
	if (strncmp(v->device, "UUID=", 5) == 0)
		return strcasecmp(v->device + 5, uuid) == 0;
	return luks_same_device(v->device, device);
}

static bool plan_has_volume(const struct boot_plan *p, const char *device, const char *uuid)
{
	for (int i = 0; i < p->n_volumes; i++)
		if (same_volume(&p->volumes[i], device, uuid))
			return true;
	return false;
}

static int plan_add(struct boot_plan *p, const char *label, const char *device,
		    const char *mapper, const char *resource, struct err *e)
{
	struct volume *v;

	if (p->n_volumes >= CFG_MAX_RESOURCES)
		return err_set(e, CVM_E_CONFIG, "more than %d LUKS2 volumes", CFG_MAX_RESOURCES);
	v = &p->volumes[p->n_volumes++];
	snprintf(v->label, sizeof(v->label), "%s", label);
	snprintf(v->device, sizeof(v->device), "%s", device);
	snprintf(v->mapper, sizeof(v->mapper), "%s", mapper);
	snprintf(v->resource, sizeof(v->resource), "%s", resource);
	return 0;
}

/* Volumes that carry a cvmboot token, among the block devices present now. */
static int discover_token_volumes(struct boot_plan *p, struct err *e)
{
	DIR *d = opendir("/sys/class/block");
	struct dirent *de;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct luks_token_info info;
		struct err ignored = { 0 };
		char device[CFG_PATH_MAX], mapper[CFG_NAME_MAX], label[CFG_NAME_MAX], uuid[40];

		/* dm-* are mappings already open (perhaps ours), ram* never LUKS. */
		if (de->d_name[0] == '.' || strncmp(de->d_name, "dm-", 3) == 0 ||
		    strncmp(de->d_name, "ram", 3) == 0)
			continue;
		snprintf(device, sizeof(device), "/dev/%.200s", de->d_name);
		if (luks_read_token(device, &info, &ignored) != 0 ||
		    luks_get_uuid(device, uuid, sizeof(uuid), &ignored) != 0)
			continue;
		/* Two disks with this token's UUID: one is a copy (perhaps an old
		 * one) that would be opened with the same key. */
		if (luks_check_uuid_unique(uuid, device, e)) {
			closedir(d);
			return e->code;
		}
		if (plan_has_volume(p, device, uuid))
			continue;
		snprintf(mapper, sizeof(mapper), "cvmboot-%.40s", de->d_name);
		snprintf(label, sizeof(label), "token:%.50s", de->d_name);
		if (plan_add(p, label, device, mapper, info.resource, e)) {
			closedir(d);
			return e->code;
		}
		log_info("found LUKS2 volume %s with a cvmboot token for %s", device, info.resource);
	}
	closedir(d);
	return 0;
}

static int plan_volumes(const struct config *cfg, struct boot_plan *p, struct err *e)
{
	for (int i = 0; i < cfg->n_resources; i++) {
		const struct resource_cfg *r = &cfg->resources[i];

		if (r->kind == RESOURCE_LUKS &&
		    plan_add(p, r->name, r->device, r->mapper[0] ? r->mapper : r->name, r->path, e))
			return e->code;
	}
	return cfg->discover_tokens ? discover_token_volumes(p, e) : 0;
}

static int fetch_all(const struct config *cfg, struct session *s, struct boot_plan *p,
		     struct status *st, struct err *e)
{
	for (int i = 0; i < cfg->n_resources; i++) {
		const struct resource_cfg *r = &cfg->resources[i];

		if (r->kind != RESOURCE_FILE)
			continue;
		if (session_fetch(s, r->path, &p->files[i], e))
			return err_wrap(e, "resource '%s'", r->name);
		status_add_resource(st, r->name);
	}
	for (int i = 0; i < p->n_volumes; i++) {
		if (session_fetch(s, p->volumes[i].resource, &p->keys[i], e))
			return err_wrap(e, "key for volume '%s'", p->volumes[i].label);
		status_add_resource(st, p->volumes[i].label);
	}
	if (cfg->workload_signing_key[0]) {
		if (session_fetch(s, cfg->workload_signing_key, &p->signing_key, e))
			return err_wrap(e, "[workload] signing_key");
		status_add_resource(st, "workload-signing-key");
	}
	return 0;
}

static int unlock_all(const struct config *cfg, struct boot_plan *p, bool no_activate,
		      struct status *st, struct err *e)
{
	for (int i = 0; i < p->n_volumes; i++) {
		struct volume *v = &p->volumes[i];
		char resolved[CFG_PATH_MAX];

		if (luks_wait_device(v->device, cfg->device_timeout_ms, resolved, sizeof(resolved), e) ||
		    luks_unlock(resolved, v->mapper, p->keys[i].data, p->keys[i].len, no_activate,
				&cfg->luks_ciphers, e))
			return err_wrap(e, "volume '%s'", v->label);
		v->opened = !no_activate;
		secret_clear(&p->keys[i]);
		status_add_volume(st, resolved);
		log_info("%s %s (%s)", no_activate ? "verified the key of" : "unlocked", resolved,
			 no_activate ? "no activation" : v->mapper);
	}
	return 0;
}

/* The signed-image gate: policy.json and the key for cvmboot-workload. */
static int stage_image_policy(const struct config *cfg, struct boot_plan *p, struct err *e)
{
	if (!cfg->workload_signing_key[0])
		return 0;
	if (image_policy_write(cfg->run_dir, cfg->workload_image, cfg->workload_lookaside,
			       p->signing_key.data, p->signing_key.len, e))
		return err_wrap(e, "[workload] signing_key %s", cfg->workload_signing_key);
	log_info("image policy for %s written to %s/%s/policy.json", cfg->workload_image,
		 cfg->run_dir, IMAGE_POLICY_DIR);
	return 0;
}

static int stage_files(const struct config *cfg, struct boot_plan *p, struct err *e)
{
	bool any = false;

	for (int i = 0; i < cfg->n_resources; i++)
		any |= cfg->resources[i].kind == RESOURCE_FILE;
	if (!any)
		return 0;
	if (secrets_prepare_dir(cfg->secrets_dir, cfg->allow_non_tmpfs, e))
		return e->code;
	for (int i = 0; i < cfg->n_resources; i++) {
		const struct resource_cfg *r = &cfg->resources[i];

		if (r->kind != RESOURCE_FILE)
			continue;
		if (secrets_write(cfg->secrets_dir, r->file, p->files[i].data, p->files[i].len,
				  r->mode, e))
			return err_wrap(e, "resource '%s'", r->name);
		p->written[i] = true;
		secret_clear(&p->files[i]);
	}
	return 0;
}

/* A failed boot leaves nothing behind for an emergency shell (or a retry) to
 * find: the files this run wrote are removed and its mappings closed, the
 * last opened first. Best effort; whatever cannot be undone is logged. */
static void roll_back(const struct config *cfg, struct boot_plan *p)
{
	int files = 0, closed = 0, left = 0;

	for (int i = 0; i < CFG_MAX_RESOURCES; i++) {
		char path[2 * CFG_PATH_MAX];

		if (!p->written[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", cfg->secrets_dir, cfg->resources[i].file);
		if (unlink(path) == 0 || errno == ENOENT) {
			files++;
		} else {
			log_error("cannot remove %s after the failed boot: %s", path, strerror(errno));
			left++;
		}
		p->written[i] = false;
	}
	for (int i = p->n_volumes - 1; i >= 0; i--) {
		struct err e = { 0 };

		if (!p->volumes[i].opened)
			continue;
		if (luks_close(p->volumes[i].mapper, &e) == 0) {
			closed++;
		} else {
			log_error("after the failed boot: %s", e.msg);
			left++;
		}
		p->volumes[i].opened = false;
	}
	if (files || closed || left)
		log_notice("failed boot rolled back: %d file(s) removed, %d mapping(s) closed%s",
			   files, closed, left ? ", some left (see above)" : "");
}

/* Each volume not yet open tried with one passphrase; *left gets how many
 * it did not open. */
static void try_passphrase(const struct config *cfg, struct boot_plan *p, bool no_activate,
			  const struct secret *pw, struct status *st, int *left)
{
	*left = 0;
	for (int i = 0; i < p->n_volumes; i++) {
		struct volume *v = &p->volumes[i];
		struct err ue = { 0 };

		if (v->done)
			continue;
		if (pw->len == 0 || luks_unlock(v->resolved, v->mapper, pw->data, pw->len, no_activate,
						&cfg->luks_ciphers, &ue)) {
			log_error("break-glass: volume '%s': %s", v->label,
				  pw->len ? ue.msg : "empty passphrase");
			(*left)++;
			continue;
		}
		v->done = true;
		v->opened = !no_activate;
		status_add_volume(st, v->resolved);
		progress_keep(LOG_CRIT, "BREAK-GLASS: %s %s with the recovery passphrase",
			      no_activate ? "verified" : "unlocked", v->resolved);
	}
}

/* Ask for the recovery passphrase (BREAK_GLASS_TRIES times at most) and
 * open every planned volume with it. */
static int unlock_with_passphrase(const struct config *cfg, struct boot_plan *p, bool no_activate,
				  struct status *st, struct err *e)
{
	for (int i = 0; i < p->n_volumes; i++)
		if (luks_wait_device(p->volumes[i].device, cfg->device_timeout_ms,
				     p->volumes[i].resolved, sizeof(p->volumes[i].resolved), e))
			return err_wrap(e, "volume '%s'", p->volumes[i].label);
	for (int attempt = 1; attempt <= BREAK_GLASS_TRIES; attempt++) {
		struct secret pw _cleanup_secret_ = { 0 };
		int left = 0;

		if (break_glass_ask(cfg, attempt, &pw, e))
			return e->code;
		try_passphrase(cfg, p, no_activate, &pw, st, &left);
		if (!left)
			return 0;
		progress_keep(LOG_ERR, "BREAK-GLASS: the passphrase does not open %d "
			      "volume(s) (try %d of %d)", left, attempt, BREAK_GLASS_TRIES);
	}
	return err_set(e, CVM_E_UNLOCK, "the recovery passphrase opened not every volume in %d tries",
		       BREAK_GLASS_TRIES);
}

/* The KBS gave no key (e says why): with break_glass = passphrase, record
 * the event, then unlock with a passphrase typed at the console. Files
 * fetched so far are dropped: no workload secret is released this way. */
static int break_glass_boot(const struct config *cfg, bool no_activate, struct boot_plan *p,
			    struct status *st, struct err *e)
{
	char kbs_error[sizeof(e->msg)];
	struct err bg = { 0 };
	long long t = monotonic_ms();

	if (!break_glass_applies(cfg, e->code))
		return e->code;
	snprintf(kbs_error, sizeof(kbs_error), "%s", e->msg);
	plan_wipe(p);
	if (p->n_volumes == 0)
		return err_wrap(e, "break-glass: no LUKS2 volume to open with a passphrase");
	progress_keep(LOG_CRIT, "BREAK-GLASS: the KBS gave no key (%s, %s); asking for "
		      "the recovery passphrase. This boot will not count as attested.",
		      err_code_name(e->code), kbs_error);
	/* no register, no prompt: the boot fails with the KBS's error class */
	if (break_glass_record(cfg, kbs_error, st, &bg)) {
		err_set(e, e->code, "%s; break-glass: %s", kbs_error, bg.msg);
		return e->code;
	}
	if (unlock_with_passphrase(cfg, p, no_activate, st, &bg)) {
		err_set(e, bg.code, "%s; break-glass: %s", kbs_error, bg.msg);
		return err_set_cause(e, ERR_CAUSE_BREAK_GLASS);
	}
	snprintf(st->unlock, sizeof(st->unlock), "break-glass");
	status_phase(st, "break-glass", (long)(monotonic_ms() - t));
	progress_keep(LOG_CRIT, "BREAK-GLASS: %d volume(s) %s with the recovery passphrase; "
		      "no secret file released", p->n_volumes, no_activate ? "verified" : "opened");
	return 0;
}

static int run_boot(const struct config *cfg, bool no_activate, struct boot_plan *p,
		    struct status *st, struct err *e)
{
	struct session *s = NULL;
	long long t;
	int rc;

	if (!cfg->enabled)
		return err_set(e, CVM_E_DISABLED, "disabled on the kernel command line (rd.cvmboot=0)");
	t = monotonic_ms();
	if (plan_volumes(cfg, p, e))
		return e->code;
	status_phase(st, "plan", (long)(monotonic_ms() - t));
	if (cfg->n_resources == 0 && p->n_volumes == 0 && !cfg->workload_signing_key[0])
		return err_set(e, CVM_E_CONFIG, "nothing to do: no [resource.*] configured and no "
			       "LUKS2 volume with a cvmboot token found");
	if (session_open(cfg, st, &s, e))
		return break_glass_boot(cfg, no_activate, p, st, e);
	t = monotonic_ms();
	rc = fetch_all(cfg, s, p, st, e);
	status_phase(st, "fetch", (long)(monotonic_ms() - t));
	log_debug("KBS connections opened: %ld", session_connections(s));
	if (!rc) {
		t = monotonic_ms();
		rc = session_seal(s, st, e);
		status_phase(st, "seal", (long)(monotonic_ms() - t));
	}
	session_close(s);
	if (rc)
		return break_glass_boot(cfg, no_activate, p, st, e);
	t = monotonic_ms();
	if (unlock_all(cfg, p, no_activate, st, e))
		return e->code;
	status_phase(st, "unlock", (long)(monotonic_ms() - t));
	t = monotonic_ms();
	if (stage_files(cfg, p, e) || stage_image_policy(cfg, p, e))
		return e->code;
	status_phase(st, "stage", (long)(monotonic_ms() - t));
	snprintf(st->unlock, sizeof(st->unlock), "kbs");
	return 0;
}

int cmd_boot(struct config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
		{ "no-activate", no_argument, NULL, 'n' },
		{ 0 },
	};
	static struct boot_plan plan; /* large: off the stack */
	static struct status st;
	struct err e = { 0 }, status_err = { 0 };
	long long t0 = monotonic_ms();
	bool no_activate = cfg->no_activate;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt != 'n')
			return CVM_E_USAGE;
		no_activate = true;
	}
	if (optind != argc) {
		log_error("usage: cvmboot boot [--no-activate]");
		return CVM_E_USAGE;
	}
	/* the boot job's waits and failure show on the splash too */
	progress_use_plymouth(true);
	status_init(&st, "boot");
	rc = run_boot(cfg, no_activate, &plan, &st, &e);
	plan_wipe(&plan);
	if (rc)
		roll_back(cfg, &plan);
	status_phase(&st, "total", (long)(monotonic_ms() - t0));
	st.exit_code = rc;
	if (rc) {
		snprintf(st.reason, sizeof(st.reason), "%s", e.msg);
		char advice[1024];

		progress_msg(LOG_ERR, "boot failed (%s): %s", err_code_name(rc), e.msg);
		if (advice_for(&e, advice, sizeof(advice))[0])
			progress_keep(LOG_ERR, "%s", advice);
	} else {
		log_notice("boot job done: %d resource(s) fetched, %d volume(s) %s in %lld ms",
			   st.n_resources, st.n_volumes, no_activate ? "verified" : "unlocked",
			   monotonic_ms() - t0);
	}
	if (status_write(&st, cfg->run_dir, &status_err)) {
		log_error("cannot write status: %s", status_err.msg);
		if (!rc) {
			rc = status_err.code ? status_err.code : CVM_E_SECRETS;
			roll_back(cfg, &plan);
		}
	}
	return rc;
}
