/* The operator's next step after a failed boot (see advice.h): says what
 * the KBS said, when it said something, and where to look. */
#include "advice.h"

#include <stdio.h>

/* Advice for a kind of failure the exit code alone does not tell apart;
 * NULL: the exit code's advice. */
static const char *cause_advice(enum err_cause cause)
{
	switch (cause) {
	case ERR_CAUSE_TLS_UNTRUSTED:
		return "no KBS could be trusted: check [kbs] ca_file against the KBS's TLS "
		       "certificate and host name";
	case ERR_CAUSE_OVERLOADED:
		return "the KBS stayed overloaded for the whole retry budget: check its load, "
		       "or raise [retry] budget";
	case ERR_CAUSE_DUPLICATE_UUID:
		return "two disks carry this volume's LUKS2 UUID: detach the one that is not "
		       "this VM's volume (the host attached it), then boot again";
	case ERR_CAUSE_BREAK_GLASS:
		return "the KBS gave no key and the break-glass recovery did not open the "
		       "volumes (see above): the seal register already shows the break-glass "
		       "event; reboot to try the KBS again";
	case ERR_CAUSE_NONE:
		break;
	}
	return NULL;
}

const char *advice_for(const struct err *e, char *out, size_t out_len)
{
	const char *said = e->kbs_said[0] ? e->kbs_said : "no reason given";
	const char *by_cause = cause_advice(e->cause);

	out[0] = '\0';
	if (by_cause) {
		snprintf(out, out_len, "%s", by_cause);
		return out;
	}
	switch (e->code) {
	case CVM_E_REFUSED:
		snprintf(out, out_len, "the KBS policy refused this VM's evidence or request (%.600s); "
			 "check the KBS's policy and the reference values it holds for this image",
			 said);
		break;
	case CVM_E_NETWORK:
		snprintf(out, out_len, "no KBS reachable: check the network and the KBS URLs "
			 "([kbs] url, rd.cvmboot.url=), and that the KBS is up");
		break;
	case CVM_E_RESOURCE:
		snprintf(out, out_len, "the KBS has no such resource (%.600s): check the resource "
			 "paths in cvmboot.conf against the KBS's repository", said);
		break;
	case CVM_E_PROTOCOL:
		snprintf(out, out_len, "the KBS's answer was unusable: check that each KBS URL points "
			 "at a Trustee KBS (not a proxy's error page or another service)");
		break;
	case CVM_E_TEE:
		snprintf(out, out_len, "no evidence from this VM's TEE: check [tee] type and that the "
			 "VM runs as a confidential VM (`cvmboot detect` says why)");
		break;
	case CVM_E_UNLOCK:
		snprintf(out, out_len, "the LUKS2 volume did not open: check that the disk is "
			 "attached and that its KBS resource holds this volume's key");
		break;
	case CVM_E_SECRETS:
		snprintf(out, out_len, "the secret files could not be written: check that [secrets] "
			 "dir is on a tmpfs with room");
		break;
	case CVM_E_CONFIG:
		snprintf(out, out_len, "fix the configuration (`cvmboot check-config` checks it)");
		break;
	}
	return out;
}
