/* Error carrying with context (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	e->code = code;
	e->cause = ERR_CAUSE_NONE;
	e->kbs_said[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int err_set_cause(struct err *e, enum err_cause cause)
{
	if (!e)
		return CVM_E_INTERNAL;
	e->cause = cause;
	return e->code;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	char prefix[512], old[sizeof(e->msg)];
	size_t plen, room;
	va_list ap;

	if (!e)
		return CVM_E_INTERNAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix) - 2, fmt, ap);
	va_end(ap);
	strcat(prefix, ": ");
	memcpy(old, e->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	/* Long messages are cut at the end: the context in front matters most. */
	plen = strlen(prefix);
	room = sizeof(e->msg) - 1 - plen;
	memcpy(e->msg, prefix, plen);
	strncpy(e->msg + plen, old, room);
	e->msg[sizeof(e->msg) - 1] = '\0';
	if (!e->code)
		e->code = CVM_E_INTERNAL;
	return e->code;
}

const char *err_code_name(int code)
{
	switch (code) {
	case CVM_OK: return "ok";
	case CVM_E_INTERNAL: return "internal";
	case CVM_E_USAGE: return "usage";
	case CVM_E_CONFIG: return "config";
	case CVM_E_TEE: return "tee";
	case CVM_E_REFUSED: return "refused";
	case CVM_E_NETWORK: return "network";
	case CVM_E_PROTOCOL: return "protocol";
	case CVM_E_RESOURCE: return "resource";
	case CVM_E_UNLOCK: return "unlock";
	case CVM_E_SECRETS: return "secrets";
	case CVM_E_DISABLED: return "disabled";
	}
	return "unknown";
}
