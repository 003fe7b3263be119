/* Init-data binding on a (v)TPM: PCR 8 holds the document's SHA-256 digest
 * extended from zero, as Trustee's tpm and Azure vTPM verifiers check. */
#ifndef CVMBOOT_INIT_DATA_TPM_H
#define CVMBOOT_INIT_DATA_TPM_H

#include "tee.h"
#include "err.h"
#include "tpm_common.h"

/* Before a quote, with cfg->init_doc set: PCR 8 all zeros -> extend it with
 * the digest; already SHA-256(zeros || digest) -> nothing to do (the boot
 * job ran before); anything else -> CVM_E_TEE (the binding would not
 * verify). The document's algorithm must be sha256. No-op without init-data. */
int init_data_tpm_bind(struct tpm *t, const struct tee_options *cfg, struct err *e);

#endif
