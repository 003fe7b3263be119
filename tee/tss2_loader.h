/* tpm2-tss at run time: tss2_load() opens its libraries with dlopen the first
 * time a TPM-based TEE needs them, so a build or boot without one never maps
 * them. Include this after the tss2 headers: each tpm2-tss function named
 * below then calls through the pointer tss2_load() resolved. */
#ifndef CVMBOOT_TSS2_LOADER_H
#define CVMBOOT_TSS2_LOADER_H

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "err.h"

/* X(library, function) for every tpm2-tss function cvmboot calls. */
#define TSS2_LOADER_FUNCTIONS(X) \
	X(ESYS, Esys_Initialize) \
	X(ESYS, Esys_Finalize) \
	X(ESYS, Esys_Free) \
	X(ESYS, Esys_TR_Close) \
	X(ESYS, Esys_TR_FromTPMPublic) \
	X(ESYS, Esys_GetCapability) \
	X(ESYS, Esys_PCR_Read) \
	X(ESYS, Esys_PCR_Extend) \
	X(ESYS, Esys_Quote) \
	X(ESYS, Esys_ReadPublic) \
	X(ESYS, Esys_NV_ReadPublic) \
	X(ESYS, Esys_NV_Read) \
	X(ESYS, Esys_NV_Write) \
	X(ESYS, Esys_NV_DefineSpace) \
	X(ESYS, Esys_NV_UndefineSpace) \
	X(MU, Tss2_MU_TPMS_ATTEST_Unmarshal) \
	X(MU, Tss2_MU_TPMT_SIGNATURE_Marshal) \
	X(RC, Tss2_RC_Decode) \
	X(TCTILDR, Tss2_TctiLdr_Initialize) \
	X(TCTILDR, Tss2_TctiLdr_Finalize)

#define TSS2_LOADER_POINTER(lib, f) extern __typeof__(f) *tss2_sym_##f;
TSS2_LOADER_FUNCTIONS(TSS2_LOADER_POINTER)
#undef TSS2_LOADER_POINTER

/* Load the four tpm2-tss libraries (once; later calls return at once).
 * CVM_E_TEE naming the library or function when one is missing. */
int tss2_load(struct err *e);

#ifndef TSS2_LOADER_NO_REDIRECT
#define Esys_Initialize (*tss2_sym_Esys_Initialize)
#define Esys_Finalize (*tss2_sym_Esys_Finalize)
#define Esys_Free (*tss2_sym_Esys_Free)
#define Esys_TR_Close (*tss2_sym_Esys_TR_Close)
#define Esys_TR_FromTPMPublic (*tss2_sym_Esys_TR_FromTPMPublic)
#define Esys_GetCapability (*tss2_sym_Esys_GetCapability)
#define Esys_PCR_Read (*tss2_sym_Esys_PCR_Read)
#define Esys_PCR_Extend (*tss2_sym_Esys_PCR_Extend)
#define Esys_Quote (*tss2_sym_Esys_Quote)
#define Esys_ReadPublic (*tss2_sym_Esys_ReadPublic)
#define Esys_NV_ReadPublic (*tss2_sym_Esys_NV_ReadPublic)
#define Esys_NV_Read (*tss2_sym_Esys_NV_Read)
#define Esys_NV_Write (*tss2_sym_Esys_NV_Write)
#define Esys_NV_DefineSpace (*tss2_sym_Esys_NV_DefineSpace)
#define Esys_NV_UndefineSpace (*tss2_sym_Esys_NV_UndefineSpace)
#define Tss2_MU_TPMS_ATTEST_Unmarshal (*tss2_sym_Tss2_MU_TPMS_ATTEST_Unmarshal)
#define Tss2_MU_TPMT_SIGNATURE_Marshal (*tss2_sym_Tss2_MU_TPMT_SIGNATURE_Marshal)
#define Tss2_RC_Decode (*tss2_sym_Tss2_RC_Decode)
#define Tss2_TctiLdr_Initialize (*tss2_sym_Tss2_TctiLdr_Initialize)
#define Tss2_TctiLdr_Finalize (*tss2_sym_Tss2_TctiLdr_Finalize)
#endif

#endif
