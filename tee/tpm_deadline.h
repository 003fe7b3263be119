/* A TCTI in front of the real one that bounds every TPM exchange by a
 * deadline, so a TPM (or swtpm socket) that stops answering cannot hang the
 * boot: it works for every TCTI (device, swtpm, mssim), blocking or not. */
#ifndef CVMBOOT_TPM_DEADLINE_H
#define CVMBOOT_TPM_DEADLINE_H

#include <stdbool.h>

#include <tss2/tss2_tcti.h>

/* Open the TCTI named by conf (tctildr syntax; NULL = the tctildr default)
 * behind the deadline TCTI. Opening is bounded too (the device and swtpm
 * TCTIs already talk to the TPM then), and so is each later command
 * (transmit and receive together): at most timeout_ms. A timeout returns
 * TSS2_TCTI_RC_IO_ERROR and sets *timed_out. */
TSS2_RC tpm_deadline_open(const char *conf, long timeout_ms, TSS2_TCTI_CONTEXT **out,
			  bool *timed_out);
/* Whether a command timed out; every later command then fails at once. */
bool tpm_deadline_expired(const TSS2_TCTI_CONTEXT *tcti);
/* Finalize the real TCTI (unless a command that never came back still holds
 * it: that one goes with the process) and free the wrapper. NULL is fine. */
void tpm_deadline_close(TSS2_TCTI_CONTEXT *tcti);

#endif
