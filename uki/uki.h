/* What booting a unified kernel image (UKI) extends into the TPM's SHA-256
 * PCRs, computed from the file alone: PCR 11 as systemd-stub 252 measures
 * the UKI's sections (plus the boot phases systemd-pcrphase adds), and
 * PCR 4 as UEFI firmware measures an application it boots directly (and
 * the kernel systemd-stub then loads through it); plus the SHA-384 event
 * digests a TDX direct boot of the UKI logs. */
#ifndef CVMBOOT_UKI_H
#define CVMBOOT_UKI_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define UKI_DIGEST_LEN 32             /* SHA-256 */
#define UKI_TDX_DIGEST_LEN 48         /* SHA-384, the TDX event log's */
#define UKI_MAX_PHASES 8
#define UKI_MAX_PHASE_LEN 64

struct uki_measurements {
	char stub_version[64];            /* from the .sdmagic section, e.g. "252.39-1~deb12u2" */
	unsigned char authenticode[UKI_DIGEST_LEN];        /* the UKI */
	unsigned char kernel_authenticode[UKI_DIGEST_LEN]; /* the PE image in .linux */
	unsigned char pcr4[UKI_DIGEST_LEN];  /* booted directly by the firmware */
	unsigned char pcr11[UKI_DIGEST_LEN]; /* sections, then phases */
	unsigned char pcr12[UKI_DIGEST_LEN]; /* untouched: no command line passed in */
	/* TDX direct boot (TDVF given the UKI as the VM's kernel): the event log
	 * digests of the kernel image and of the kernel's load options */
	unsigned char tdvf_kernel[UKI_TDX_DIGEST_LEN];
	unsigned char tdvf_kernel_params[UKI_TDX_DIGEST_LEN];
	bool has_kernel_params;           /* false: no .cmdline, the kernel gets none */
};

/* Measure the UKI in data[0..size). phases: systemd-pcrphase words extended
 * after the sections, colon-separated ("enter-initrd"), "" for none. */
int uki_measure(const unsigned char *data, size_t size, const char *phases,
		struct uki_measurements *m, struct err *e);

/* PCR extend in the SHA-256 bank: pcr = SHA-256(pcr || digest). */
void uki_pcr_extend(unsigned char pcr[UKI_DIGEST_LEN], const unsigned char digest[UKI_DIGEST_LEN]);

#endif
