/* `cvmboot get-resource`: attest and fetch one resource, to stdout or to a
 * 0600 file (what `trustee-attester get-resource` does, without base64 on a
 * terminal). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "fdio.h"
#include "log.h"
#include "resource_path.h"
#include "secrets.h"
#include "session.h"

int cmd_get_resource(struct config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *output = NULL, *path;
	struct session *s = NULL;
	struct secret value _cleanup_secret_ = { 0 };
	struct err e = { 0 };
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		if (opt != 'o')
			return CVM_E_USAGE;
		output = optarg;
	}
	if (optind != argc - 1) {
		log_error("usage: cvmboot get-resource REPOSITORY/TYPE/TAG [-o FILE]");
		return CVM_E_USAGE;
	}
	path = argv[optind];
	if (!resource_path_valid(path)) {
		log_error("invalid resource path '%.256s': expected REPOSITORY/TYPE/TAG", path);
		return CVM_E_USAGE;
	}
	if (!output && isatty(STDOUT_FILENO)) {
		log_error("refusing to print a secret to a terminal: use -o FILE or a pipe");
		return CVM_E_USAGE;
	}
	/* The return codes decide: e only says why when one is not 0. */
	rc = session_open(cfg, NULL, &s, &e);
	if (rc == 0)
		rc = session_fetch(s, path, &value, &e);
	if (rc == 0 && output)
		rc = secrets_write_path(output, value.data, value.len, 0600, &e);
	else if (rc == 0 && fd_write_all(STDOUT_FILENO, value.data, value.len) != 0)
		rc = err_set(&e, CVM_E_SECRETS, "cannot write the resource to stdout: %s",
			     strerror(errno));
	session_close(s);
	if (rc)
		log_error("get-resource %s: %s", path, e.msg);
	return rc;
}
