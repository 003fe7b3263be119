/* What tee/tdx.c offers beside its backend hooks (for its tests): TDX
 * runtime measurement registers through the kernel's sysfs ABI (Linux 6.16+,
 * Documentation/ABI/testing/sysfs-devices-virtual-misc-tdx_guest). */
#ifndef CVMBOOT_TDX_H
#define CVMBOOT_TDX_H

#include <stddef.h>

#include "err.h"

#define TDX_MEASUREMENTS_DIR "/sys/devices/virtual/misc/tdx_guest/measurements"

/* The RTMR a TPM PCR index maps to (the UEFI CC mapping guest-components
 * uses: PCR 1,7 -> RTMR0; 2-6 -> RTMR1; 8-15 -> RTMR2; others -> RTMR3). */
int tdx_rtmr_for_pcr(int pcr);
/* Extend RTMR rtmr (0..3) under dir with SHA-384(event): writes the 48-byte
 * digest to dir/rtmr<N>:sha384, which the kernel extends into the register. */
int tdx_rtmr_extend_event(const char *dir, int rtmr, const unsigned char *event, size_t len,
			  struct err *e);

#endif
