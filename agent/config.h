/* cvmboot configuration: defaults, /etc/cvmboot/cvmboot.conf (INI) and the
 * kernel command line (rd.cvmboot.*), in increasing order of precedence. */
#ifndef CVMBOOT_CONFIG_H
#define CVMBOOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cipher_allow.h"
#include "err.h"
#include "kbs_options.h"
#include "validate.h"

#define CVMBOOT_DEFAULT_CONFIG "/etc/cvmboot/cvmboot.conf"
#define CVMBOOT_DEFAULT_CMDLINE "/proc/cmdline"

#define CFG_MAX_URLS KBS_MAX_URLS
#define CFG_MAX_RESOURCES 32
#define CFG_MAX_ENV 32
#define CFG_MAX_PORTS 16
#define CFG_URL_MAX VALIDATE_URL_SIZE
#define CFG_PATH_MAX 512
#define CFG_NAME_MAX VALIDATE_NAME_SIZE

struct init_data;

enum resource_kind {
	RESOURCE_FILE = 0, /* written to <secrets dir>/<file> */
	RESOURCE_LUKS,     /* key for a LUKS2 volume; never written anywhere */
};

enum failure_policy {
	FAILURE_EMERGENCY = 0, /* default: emergency.target (no shell unless rd.shell) */
	FAILURE_POWEROFF,
	FAILURE_RETRY,        /* retry forever with backoff */
};

enum break_glass_mode {
	BREAK_GLASS_OFF = 0,   /* default: no console recovery */
	BREAK_GLASS_PASSPHRASE, /* ask for a LUKS recovery passphrase once the KBS failed */
};

#define BREAK_GLASS_TIMEOUT_DEFAULT_MS 300000L  /* 5 min */
#define BREAK_GLASS_TIMEOUT_MAX_MS 86400000L    /* one day */

struct resource_cfg {
	char name[CFG_NAME_MAX];      /* from the section [resource.NAME] */
	char path[CFG_PATH_MAX];      /* KBS path REPOSITORY/TYPE/TAG */
	enum resource_kind kind;
	char file[CFG_NAME_MAX];      /* RESOURCE_FILE: file name in the secrets dir */
	mode_t mode;                  /* RESOURCE_FILE: default 0400 */
	char device[CFG_PATH_MAX];    /* RESOURCE_LUKS: /dev/... or UUID=... */
	char mapper[CFG_NAME_MAX];    /* RESOURCE_LUKS: /dev/mapper/<mapper> */
};

struct config {
	/* [kbs] */
	char urls[CFG_MAX_URLS][CFG_URL_MAX]; /* tried in order, failover on network errors */
	int n_urls;
	char ca_file[CFG_PATH_MAX];   /* PEM bundle used to verify the KBS; "" = system store */
	bool insecure_http;           /* allow http:// URLs (loudly logged) */
	long connect_timeout_ms;      /* default 5000 */
	long request_timeout_ms;      /* default 15000 (whole request) */
	long max_response_bytes;      /* default 1 MiB */

	/* [retry] */
	long retry_budget_ms;         /* total time for one KBS operation incl. retries; default 120000 */
	long backoff_base_ms;         /* default 500 */
	long backoff_cap_ms;          /* default 10000 */

	/* [tee] */
	char tee[32];                 /* "auto" (default) or a backend name */
	enum key_alg key_alg;
	char tpm_tcti[CFG_PATH_MAX];  /* "" = tpm2-tss default (device:/dev/tpmrm0) */
	uint32_t tpm_ak_handle;       /* default 0x81010002 */
	long tpm_timeout_ms;          /* longest wait for one TPM command; default 30000 */
	int seal_pcr;                 /* PCR extended after the fetch; -1 = off; default 15 */
	char configfs_tsm_root[CFG_PATH_MAX]; /* default /sys/kernel/config/tsm/report */
	char azure_imds_url[CFG_URL_MAX];     /* default http://169.254.169.254 */
	char ccel_path[CFG_PATH_MAX];  /* default /sys/firmware/acpi/tables/data/CCEL */
	char init_data[CFG_PATH_MAX];  /* Trustee init-data TOML document; "" = none */
	bool init_data_ca;             /* init-data's cvmboot.ca may set the KBS CA; default false */
	struct init_data *init_doc;    /* init_data loaded (config_apply_init_data), or NULL */

	/* [secrets] */
	char run_dir[CFG_PATH_MAX];   /* default /run/cvmboot (status.json lives here) */
	char secrets_dir[CFG_PATH_MAX]; /* default /run/cvmboot/secrets */
	bool allow_non_tmpfs;         /* tests only: accept a secrets dir not on tmpfs/ramfs */

	/* [luks] */
	long device_timeout_ms;       /* wait for a device to appear; default 30000 */
	bool discover_tokens;         /* unlock volumes found by their cvmboot token; default true */
	bool no_activate;             /* verify the key only (hosts without device-mapper) */
	struct cipher_allow luks_ciphers; /* data encryptions a header may name; default aes-xts-plain64:512 */

	/* [boot] */
	bool enabled;                 /* rd.cvmboot=0 turns the boot job off */
	enum failure_policy on_failure;
	enum break_glass_mode break_glass; /* file only; rd.cvmboot.break_glass=off turns it off */
	long break_glass_timeout_ms;  /* wait for one passphrase; default 5 min */

	/* [workload] (consumed by cvmboot-workload in the real root) */
	char workload_image[CFG_PATH_MAX];
	char workload_command[CFG_PATH_MAX];
	char workload_env[CFG_MAX_ENV][CFG_PATH_MAX];
	int n_workload_env;
	char workload_ports[CFG_MAX_PORTS][CFG_NAME_MAX];
	int n_workload_ports;
	char workload_signing_key[CFG_PATH_MAX]; /* KBS path of the image signing key; "" = no gate */
	char workload_lookaside[CFG_URL_MAX];    /* GPG signatures' lookaside URL; "" = none */

	/* [resource.NAME] sections, in file order; kernel command line may add/override */
	struct resource_cfg resources[CFG_MAX_RESOURCES];
	int n_resources;

	bool debug;                   /* rd.cvmboot.debug or -v */
};

/* Fill c with the documented defaults. */
void config_defaults(struct config *c);
/* Parse an INI file into c (on top of what c holds). A missing file is an
 * error only if must_exist. Errors name the file, line and key. */
int config_load_file(struct config *c, const char *path, bool must_exist, struct err *e);
/* Apply rd.cvmboot.* options from a kernel command line string. */
int config_apply_cmdline_string(struct config *c, const char *cmdline, struct err *e);
/* Read the command line from path (default /proc/cmdline) and apply it. */
int config_apply_cmdline_file(struct config *c, const char *path, struct err *e);
/* Check cross-field rules (URLs well formed, http only if insecure_http,
 * resources complete, ...). Whether a URL is needed at all is up to the
 * command: check n_urls > 0 there. */
int config_validate(const struct config *c, struct err *e);

/* Helpers shared with the cmdline parser and tests. */
int config_parse_duration_ms(const char *s, long *out);   /* "5s", "500ms", "2m", "10" (seconds) */
int config_parse_key_alg(const char *s, enum key_alg *out);
const char *config_key_alg_name(enum key_alg a);
struct resource_cfg *config_find_resource(struct config *c, const char *name);
int config_parse_bool(const char *s, bool *out);                 /* true/false/yes/no/1/0 */
int config_parse_failure_policy(const char *s, enum failure_policy *out);
int config_parse_break_glass(const char *s, enum break_glass_mode *out); /* off/passphrase */
int config_check_tee_name(const char *s, char *why, size_t why_len); /* "auto" or a TEE built into this binary */
int config_check_resource_path(const char *s);                   /* REPO/TYPE/TAG */
/* url_check (base/validate.h) as a CVM_E_CONFIG error "URL '...': why";
 * *is_http set. */
int config_check_url(const char *url, bool *is_http, struct err *e);
/* The KBS URL number n (from 1, for errors) as [kbs] url takes it: well
 * formed, and http:// only with insecure_http. */
int config_check_kbs_url(const struct config *c, int n, const char *url, struct err *e);
void config_trim_url(char *url);                                 /* drop trailing '/' */
/* Add a resource named name (file resource: file = name, mode 0400) or
 * return the existing one; NULL (and e set) if the name is invalid or the
 * table is full. */
struct resource_cfg *config_add_resource(struct config *c, const char *name, struct err *e);

#endif
