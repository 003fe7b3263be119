/* A PE/COFF image (an EFI application such as a UKI) read from an untrusted
 * buffer: every header field, offset and size is checked before use. Gives
 * the sections and the Authenticode digest the firmware measures. */
#ifndef CVMBOOT_PE_H
#define CVMBOOT_PE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"

#define PE_MAX_SECTIONS 96           /* the PE/COFF specification's limit */
#define PE_MAX_IMAGE (1024u << 20)   /* 1 GiB: file size and SizeOfImage */

struct pe_section {
	char name[9];                /* the 8-byte name, NUL-terminated */
	uint32_t virtual_size, virtual_address, raw_size, raw_offset;
};

struct pe_image {
	const unsigned char *data;   /* not owned */
	size_t size;
	uint16_t machine;
	uint16_t major_image_version; /* a Linux kernel's EFI stub: its boot protocol generation */
	uint32_t size_of_headers, size_of_image;
	size_t checksum_off;         /* file offset of OptionalHeader.CheckSum */
	size_t certdir_off;          /* file offset of the certificate table's data directory entry; 0: none */
	uint32_t cert_off, cert_size; /* the certificate table (signatures); size 0: unsigned */
	unsigned nsections;
	struct pe_section sections[PE_MAX_SECTIONS];
	unsigned nfile;              /* sections with file data, */
	uint8_t file_order[PE_MAX_SECTIONS]; /* their indexes by file offset */
	size_t data_end;             /* end of the headers and section data */
};

/* Parse and check the headers of data[0..size). Errors name the field. */
int pe_parse(struct pe_image *pe, const unsigned char *data, size_t size, struct err *e);

/* The section with exactly this name, or NULL. */
const struct pe_section *pe_section_find(const struct pe_image *pe, const char *name);

/* The section's contents as a loader maps them: VirtualSize bytes, taken
 * from the file up to SizeOfRawData and zero beyond; fed to md_ctx. */
int pe_section_digest_update(const struct pe_image *pe, const struct pe_section *s,
			     EVP_MD_CTX *md_ctx, struct err *e);

/* The Authenticode digest of the image with md (what UEFI firmware
 * measures for an EFI application, and what a signature signs): headers
 * without CheckSum and the certificate table entry, sections in file order,
 * trailing data, never the certificate table. out gets EVP_MD_size(md) bytes. */
int pe_authenticode(const struct pe_image *pe, const EVP_MD *md, unsigned char *out,
		    struct err *e);

#endif
