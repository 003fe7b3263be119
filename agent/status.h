/* /run/cvmboot/status.json: what the last run did, for the operator and the
 * workload unit. Names only, never secret values. */
#ifndef CVMBOOT_STATUS_H
#define CVMBOOT_STATUS_H

#include <stdbool.h>

#include "config.h"

#define STATUS_MAX_PHASES 16
#define STATUS_MAX_ITEMS CFG_MAX_RESOURCES

struct status {
	char command[32];          /* "boot", "get-resource", "unlock" */
	char tee[32];
	char kbs_url[CFG_URL_MAX];
	long long token_expiry;    /* unix time from the attestation token's exp, 0 = unknown */
	struct { char name[32]; long ms; } phases[STATUS_MAX_PHASES];
	int n_phases;
	char resources[STATUS_MAX_ITEMS][CFG_NAME_MAX]; /* names of resources fetched */
	int n_resources;
	char volumes[STATUS_MAX_ITEMS][CFG_PATH_MAX];   /* devices unlocked (or verified) */
	int n_volumes;
	char sealed[256];          /* what was extended after the fetch, "" if nothing */
	char unlock[16];           /* how the boot got its keys: "kbs", "break-glass", "" */
	struct {
		bool recorded;         /* the break-glass event was extended */
		char reg[256];         /* which register, as the TEE says it */
		char event[128];       /* the event text extended */
		char digest[112];      /* "sha256:<hex>" (or sha384) of the event */
		char kbs_error[512];   /* why the KBS gave no key */
	} break_glass;
	int exit_code;             /* enum cvm_exit */
	char reason[1024];         /* on failure: the error message */
	long long started;         /* unix time */
};

void status_init(struct status *s, const char *command);
void status_phase(struct status *s, const char *name, long ms);
void status_add_resource(struct status *s, const char *name);
void status_add_volume(struct status *s, const char *device);
/* Write run_dir/status.json atomically (mode 0644: it holds no secret). */
int status_write(const struct status *s, const char *run_dir, struct err *e);

#endif
