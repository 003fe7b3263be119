/* Error carrying: a code (the process exit code class) and a message that
 * gathers context as it travels up; logged once, at the top. */
#ifndef CVMBOOT_ERR_H
#define CVMBOOT_ERR_H

#include <stddef.h>

/* Exit codes of the cvmboot command (documented in README and cvmboot(8)). */
enum cvm_exit {
	CVM_OK = 0,
	CVM_E_INTERNAL = 1,     /* bug, out of memory, unexpected failure */
	CVM_E_USAGE = 2,        /* bad command line arguments */
	CVM_E_CONFIG = 3,       /* bad configuration file or kernel command line */
	CVM_E_TEE = 4,          /* no TEE found, or evidence could not be collected */
	CVM_E_REFUSED = 5,      /* the KBS refused attestation or a resource (policy) */
	CVM_E_NETWORK = 6,      /* KBS unreachable: retry budget exhausted */
	CVM_E_PROTOCOL = 7,     /* KBS answered something malformed (bad JSON, bad JWE, too big) */
	CVM_E_RESOURCE = 8,     /* resource does not exist on the KBS (404) */
	CVM_E_UNLOCK = 9,       /* LUKS2 device missing, not LUKS2, or key rejected */
	CVM_E_SECRETS = 10,     /* secrets could not be written safely */
	CVM_E_DISABLED = 11,    /* rd.cvmboot=0: nothing done (boot job only) */
};

/* What failed, finer than the exit code, for the operator's advice
 * (agent/advice.c): set where the error is made, kept by err_wrap, cleared
 * by err_set. */
enum err_cause {
	ERR_CAUSE_NONE = 0,
	ERR_CAUSE_TLS_UNTRUSTED,  /* a KBS's certificate did not verify against ca_file */
	ERR_CAUSE_OVERLOADED,     /* the KBS answered 429/503 */
	ERR_CAUSE_DUPLICATE_UUID, /* a LUKS2 UUID on two block devices */
	ERR_CAUSE_BREAK_GLASS,    /* the break-glass passphrase did not open the volumes */
};

struct err {
	int code;
	enum err_cause cause;
	char msg[1024];
	/* What the KBS itself said when it refused: "PolicyDeny: <detail>"
	 * (its problem type and detail, printable); empty when the error did
	 * not come from a KBS problem answer. err_set clears it. */
	char kbs_said[640];
};

/* Set the error (overwriting any previous one); returns code. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Say what kind of failure e is (after err_set); returns e->code. */
int err_set_cause(struct err *e, enum err_cause cause);
/* Prefix context to an existing error: "context: previous message"; returns e->code. */
int err_wrap(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Short name of an exit code, e.g. "refused"; used in status.json. */
const char *err_code_name(int code);

#endif
