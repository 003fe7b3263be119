/* cvmboot: the command line. Global options, configuration merge (defaults,
 * file, kernel command line), then one subcommand. */
#include <getopt.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "err.h"
#include "init_data.h"
#include "log.h"
#include "secmem.h"
#include "status.h"
#include "tee.h"

static const char usage_text[] =
	"Usage: cvmboot [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Attest this confidential VM to a Trustee KBS, fetch its secrets, unlock its disks.\n"
	"\n"
	"Commands:\n"
	"  boot [--no-activate]              the initramfs job: attest, fetch every configured\n"
	"                                    resource, unlock LUKS2 volumes, stage files, status\n"
	"  get-resource REPO/TYPE/TAG [-o FILE]\n"
	"                                    attest and fetch one resource (stdout or 0600 FILE)\n"
	"  evidence [--tee T] [--report-data HEX] [--report FILE [--certs FILE]]\n"
	"                                    print the evidence JSON (debugging)\n"
	"  detect                            say which TEE is found, and why\n"
	"  enroll DEVICE --resource PATH (--key-file F | --generate-key F) [--passphrase-file F]\n"
	"                                    add a cvmboot keyslot and token to a LUKS2 volume\n"
	"  unlock DEVICE [--name NAME] [--no-activate]\n"
	"                                    attest, fetch the key named by the token, open\n"
	"  reference-values --uki FILE [--phases WORD[:WORD...]]\n"
	"                                    the PCR values a KBS should expect from a UKI (JSON)\n"
	"  tokens DEVICE [--json]            list the cvmboot tokens and active keyslots\n"
	"  disenroll DEVICE [--resource PATH]\n"
	"                                    remove the cvmboot token and its keyslot\n"
	"  check-config                      parse and validate the configuration, say so\n"
	"\n"
	"Options:\n"
	"  -c, --config PATH    configuration file (default " CVMBOOT_DEFAULT_CONFIG ")\n"
	"      --cmdline PATH   kernel command line to read rd.cvmboot.* from (default /proc/cmdline)\n"
	"  -v, --verbose        debug logging\n"
	"  -h, --help           this help\n"
	"      --version        print the version\n"
	"\n"
	"Exit codes: 0 ok, 1 internal, 2 usage, 3 config, 4 tee, 5 refused by the KBS,\n"
	"6 network (retry budget exhausted), 7 protocol (malformed answer), 8 resource not\n"
	"found, 9 unlock, 10 secrets, 11 disabled (rd.cvmboot=0). See cvmboot(8).\n";

struct command {
	const char *name;
	int (*run)(struct config *cfg, int argc, char **argv);
};

static const struct command commands[] = {
	{ "boot", cmd_boot },
	{ "get-resource", cmd_get_resource },
	{ "evidence", cmd_evidence },
	{ "detect", cmd_detect },
	{ "enroll", cmd_enroll },
	{ "unlock", cmd_unlock },
	{ "reference-values", cmd_reference_values },
	{ "tokens", cmd_tokens },
	{ "disenroll", cmd_disenroll },
	{ "check-config", cmd_check_config },
};

/* The boot job records even a configuration failure in status.json (in the
 * run_dir configured so far, else the default), so the operator sees why. */
static void record_config_failure(const struct config *cfg, const struct err *e)
{
	static struct status st;
	struct err ignored = { 0 };

	status_init(&st, "boot");
	st.exit_code = e->code ? e->code : CVM_E_CONFIG;
	snprintf(st.reason, sizeof(st.reason), "configuration: %.990s", e->msg);
	if (status_write(&st, cfg->run_dir, &ignored))
		log_error("cannot write status: %s", ignored.msg);
}

static int load_config(struct config *cfg, const char *config_path, bool config_explicit,
		       const char *cmdline_path, bool cmdline_explicit, bool is_boot,
		       bool attests)
{
	struct err e = { 0 };

	config_defaults(cfg);
	if (config_load_file(cfg, config_path, config_explicit, &e))
		goto fail;
	if (cmdline_explicit || access(cmdline_path, R_OK) == 0)
		if (config_apply_cmdline_file(cfg, cmdline_path, &e))
			goto fail;
	if (attests && config_apply_init_data(cfg, &e)) /* enroll and detect do not need it */
		goto fail;
	if (config_validate(cfg, &e))
		goto fail;
	return 0;
fail:
	log_error("configuration: %s", e.msg);
	if (is_boot)
		record_config_failure(cfg, &e);
	return e.code ? e.code : CVM_E_CONFIG;
}

/* Keys live in this process's memory: no core dump may carry them to disk,
 * and no unprivileged process may ptrace them out. */
static void protect_process_memory(void)
{
	struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("cannot disable core dumps; key material could reach a core file");
	if (!secmem_init())
		log_warn("no OpenSSL secure heap: private keys live on the normal heap");
}

/* The version, and the TEEs built into this binary (meson -Dtpm, -Dazure,
 * -Dsample): the dracut module reads the second line. */
static void print_version(void)
{
	printf("cvmboot %s\ntee:", CVMBOOT_VERSION);
	for (int i = 0; tee_backends[i]; i++)
		printf(" %s", tee_backends[i]->name);
	putchar('\n');
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "cmdline", required_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *config_path = CVMBOOT_DEFAULT_CONFIG, *cmdline_path = CVMBOOT_DEFAULT_CMDLINE;
	bool config_explicit = false, cmdline_explicit = false, verbose = false;
	static struct config cfg; /* large: keep it off the stack */
	int opt, rc;

	protect_process_memory();
	while ((opt = getopt_long(argc, argv, "+c:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; config_explicit = true; break;
		case 'k': cmdline_path = optarg; cmdline_explicit = true; break;
		case 'v': verbose = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': print_version(); return 0;
		default: fputs(usage_text, stderr); return CVM_E_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return CVM_E_USAGE;
	}
	if (verbose)
		log_set_level(LOG_DEBUG);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		rc = load_config(&cfg, config_path, config_explicit, cmdline_path, cmdline_explicit,
				 commands[i].run == cmd_boot,
				 commands[i].run != cmd_enroll && commands[i].run != cmd_detect);
		if (rc)
			return rc;
		if (cfg.debug)
			log_set_level(LOG_DEBUG);
		/* Subcommands parse their own options from their own argv; 0 makes
		 * GNU getopt start afresh. */
		int first = optind;

		optind = 0;
		return commands[i].run(&cfg, argc - first, argv + first);
	}
	log_error("unknown command '%s' (see cvmboot --help)", argv[optind]);
	return CVM_E_USAGE;
}
