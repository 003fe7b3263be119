/* PE/COFF headers, sections and the Authenticode digest (Microsoft's "Windows
 * Authenticode Portable Executable Signature Format", computed the way
 * EDK2's measured boot does), over an untrusted buffer. */
#include "pe.h"

#include <string.h>

enum {
	DOS_LFANEW = 0x3c,            /* offset of e_lfanew in the DOS header */
	COFF_SIZE = 20,
	OPT_MAGIC_PE32 = 0x10b,
	OPT_MAGIC_PE32PLUS = 0x20b,
	OPT_MAJOR_IMAGE_VERSION = 44, /* offsets inside the optional header */
	OPT_SIZE_OF_IMAGE = 56,
	OPT_SIZE_OF_HEADERS = 60,
	OPT_CHECKSUM = 64,
	OPT_NDIRS_PE32 = 92,
	OPT_NDIRS_PE32PLUS = 108,
	DIR_SECURITY = 4,             /* data directory index of the certificate table */
	DIR_ENTRY_SIZE = 8,
	MAX_DIRS = 16,
	SECTION_HEADER_SIZE = 40,
};

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int parse_section(struct pe_image *pe, const unsigned char *h, struct pe_section *s,
			 struct err *e)
{
	for (int i = 0; i < 8; i++)
		s->name[i] = (h[i] >= 0x20 && h[i] < 0x7f) || !h[i] ? (char)h[i] : '?';
	s->name[8] = '\0';
	s->virtual_size = le32(h + 8);
	s->virtual_address = le32(h + 12);
	s->raw_size = le32(h + 16);
	s->raw_offset = le32(h + 20);
	if (s->raw_size && (uint64_t)s->raw_offset + s->raw_size > pe->size)
		return err_set(e, CVM_E_USAGE, "section %s: data (offset %u, %u bytes) beyond the "
			       "end of the file (%zu bytes)", s->name, s->raw_offset, s->raw_size,
			       pe->size);
	if ((uint64_t)s->virtual_address + s->virtual_size > pe->size_of_image)
		return err_set(e, CVM_E_USAGE, "section %s: VirtualAddress %u + VirtualSize %u "
			       "beyond SizeOfImage %u", s->name, s->virtual_address,
			       s->virtual_size, pe->size_of_image);
	return 0;
}

/* Optional header: sizes, CheckSum, and the certificate table entry. */
static int parse_optional_header(struct pe_image *pe, size_t opt, uint16_t opt_size,
				 struct err *e)
{
	const unsigned char *d = pe->data;
	uint16_t magic;
	size_t ndirs_off, dirs_off;
	uint32_t ndirs;

	if (opt_size < 2)
		return err_set(e, CVM_E_USAGE, "optional header too small (%u bytes)", opt_size);
	magic = le16(d + opt);
	if (magic != OPT_MAGIC_PE32 && magic != OPT_MAGIC_PE32PLUS)
		return err_set(e, CVM_E_USAGE, "optional header magic 0x%x is neither PE32 nor PE32+",
			       magic);
	ndirs_off = magic == OPT_MAGIC_PE32 ? OPT_NDIRS_PE32 : OPT_NDIRS_PE32PLUS;
	dirs_off = ndirs_off + 4;
	if (opt_size < dirs_off)
		return err_set(e, CVM_E_USAGE, "optional header too small (%u bytes, need %zu)",
			       opt_size, dirs_off);
	ndirs = le32(d + opt + ndirs_off);
	if (ndirs > MAX_DIRS || opt_size < dirs_off + (size_t)ndirs * DIR_ENTRY_SIZE)
		return err_set(e, CVM_E_USAGE, "NumberOfRvaAndSizes %u does not fit the optional "
			       "header (%u bytes)", ndirs, opt_size);
	pe->major_image_version = le16(d + opt + OPT_MAJOR_IMAGE_VERSION);
	pe->size_of_image = le32(d + opt + OPT_SIZE_OF_IMAGE);
	pe->size_of_headers = le32(d + opt + OPT_SIZE_OF_HEADERS);
	pe->checksum_off = opt + OPT_CHECKSUM;
	if (pe->size_of_image > PE_MAX_IMAGE)
		return err_set(e, CVM_E_USAGE, "SizeOfImage %u is above the limit of %u bytes",
			       pe->size_of_image, PE_MAX_IMAGE);
	if (ndirs > DIR_SECURITY) {
		pe->certdir_off = opt + dirs_off + DIR_SECURITY * DIR_ENTRY_SIZE;
		pe->cert_off = le32(d + pe->certdir_off);
		pe->cert_size = le32(d + pe->certdir_off + 4);
	}
	return 0;
}

/* The sections that have file data, sorted by file offset, into pe->file_order. */
static void sort_by_file_offset(struct pe_image *pe)
{
	pe->nfile = 0;
	for (unsigned i = 0; i < pe->nsections; i++) {
		unsigned j;

		if (!pe->sections[i].raw_size)
			continue;
		/* insertion sort: at most PE_MAX_SECTIONS entries */
		for (j = pe->nfile++; j > 0 && pe->sections[pe->file_order[j - 1]].raw_offset >
					      pe->sections[i].raw_offset; j--)
			pe->file_order[j] = pe->file_order[j - 1];
		pe->file_order[j] = (uint8_t)i;
	}
}

/* Sections' file data must follow the headers and each other without gap or
 * overlap, and a certificate table must end the file: then every reader of
 * Authenticode (firmware, sbsign, pesign) hashes the same bytes. */
static int check_layout(struct pe_image *pe, struct err *e)
{
	uint64_t end = pe->size_of_headers;

	sort_by_file_offset(pe);
	for (unsigned n = 0; n < pe->nfile; n++) {
		const struct pe_section *s = &pe->sections[pe->file_order[n]];

		if (s->raw_offset != end)
			return err_set(e, CVM_E_USAGE, "section %s: data at offset %u, expected %llu "
				       "(right after the %s): overlapping or gapped section data is "
				       "refused", s->name, s->raw_offset, (unsigned long long)end,
				       n ? "previous section" : "headers");
		end += s->raw_size;
	}
	if (pe->cert_size &&
	    ((uint64_t)pe->cert_off + pe->cert_size != pe->size || pe->cert_off < end))
		return err_set(e, CVM_E_USAGE, "certificate table (offset %u, %u bytes) is not at "
			       "the end of the file after the sections", pe->cert_off, pe->cert_size);
	pe->data_end = (size_t)end;
	return 0;
}

int pe_parse(struct pe_image *pe, const unsigned char *data, size_t size, struct err *e)
{
	uint64_t pe_off, opt, table;
	uint16_t opt_size;

	memset(pe, 0, sizeof(*pe));
	pe->data = data;
	pe->size = size;
	if (size > PE_MAX_IMAGE)
		return err_set(e, CVM_E_USAGE, "file of %zu bytes is above the limit of %u bytes",
			       size, PE_MAX_IMAGE);
	if (size < DOS_LFANEW + 4 || data[0] != 'M' || data[1] != 'Z')
		return err_set(e, CVM_E_USAGE, "not a PE image (no MZ header)");
	pe_off = le32(data + DOS_LFANEW);
	if (pe_off + 4 + COFF_SIZE > size || memcmp(data + pe_off, "PE\0\0", 4) != 0)
		return err_set(e, CVM_E_USAGE, "not a PE image (no PE signature at offset %llu)",
			       (unsigned long long)pe_off);
	pe->machine = le16(data + pe_off + 4);
	pe->nsections = le16(data + pe_off + 6);
	opt_size = le16(data + pe_off + 20);
	opt = pe_off + 4 + COFF_SIZE;
	table = opt + opt_size;
	if (pe->nsections > PE_MAX_SECTIONS)
		return err_set(e, CVM_E_USAGE, "%u sections: more than the %d allowed",
			       pe->nsections, PE_MAX_SECTIONS);
	if (table + (uint64_t)pe->nsections * SECTION_HEADER_SIZE > size)
		return err_set(e, CVM_E_USAGE, "headers (%u sections) beyond the end of the file",
			       pe->nsections);
	if (parse_optional_header(pe, (size_t)opt, opt_size, e))
		return e->code;
	if (pe->size_of_headers > size ||
	    pe->size_of_headers < table + (uint64_t)pe->nsections * SECTION_HEADER_SIZE)
		return err_set(e, CVM_E_USAGE, "SizeOfHeaders %u does not cover the headers or "
			       "exceeds the file", pe->size_of_headers);
	for (unsigned i = 0; i < pe->nsections; i++)
		if (parse_section(pe, data + table + (size_t)i * SECTION_HEADER_SIZE,
				  &pe->sections[i], e))
			return e->code;
	return check_layout(pe, e);
}

const struct pe_section *pe_section_find(const struct pe_image *pe, const char *name)
{
	for (unsigned i = 0; i < pe->nsections; i++)
		if (strncmp(pe->sections[i].name, name, sizeof(pe->sections[i].name)) == 0)
			return &pe->sections[i];
	return NULL;
}

int pe_section_digest_update(const struct pe_image *pe, const struct pe_section *s,
			     EVP_MD_CTX *md_ctx, struct err *e)
{
	/* the zero padding past the file's bytes, a page at a time (a const
	 * buffer is stored in the binary: kept small) */
	static const unsigned char zeros[4096];
	uint32_t from_file = s->raw_size < s->virtual_size ? s->raw_size : s->virtual_size;
	uint32_t left = s->virtual_size - from_file;

	if (from_file && EVP_DigestUpdate(md_ctx, pe->data + s->raw_offset, from_file) != 1)
		return err_set(e, CVM_E_INTERNAL, "digest of section %s failed", s->name);
	while (left) {
		uint32_t n = left < sizeof(zeros) ? left : (uint32_t)sizeof(zeros);

		if (EVP_DigestUpdate(md_ctx, zeros, n) != 1)
			return err_set(e, CVM_E_INTERNAL, "digest of section %s failed", s->name);
		left -= n;
	}
	return 0;
}

static int authenticode_update(const struct pe_image *pe, EVP_MD_CTX *c)
{
	const unsigned char *d = pe->data;
	size_t after_sum = pe->checksum_off + 4;
	int ok = EVP_DigestUpdate(c, d, pe->checksum_off);

	/* the headers, without CheckSum and the certificate table entry */
	if (pe->certdir_off) {
		ok &= EVP_DigestUpdate(c, d + after_sum, pe->certdir_off - after_sum);
		ok &= EVP_DigestUpdate(c, d + pe->certdir_off + DIR_ENTRY_SIZE,
				       pe->size_of_headers - pe->certdir_off - DIR_ENTRY_SIZE);
	} else {
		ok &= EVP_DigestUpdate(c, d + after_sum, pe->size_of_headers - after_sum);
	}
	/* the sections with file data, in file order (contiguous: check_layout) */
	for (unsigned n = 0; n < pe->nfile; n++) {
		const struct pe_section *s = &pe->sections[pe->file_order[n]];

		ok &= EVP_DigestUpdate(c, d + s->raw_offset, s->raw_size);
	}
	/* what follows, up to the certificate table */
	if (pe->size > pe->data_end + pe->cert_size)
		ok &= EVP_DigestUpdate(c, d + pe->data_end, pe->size - pe->data_end - pe->cert_size);
	return ok == 1 ? 0 : -1;
}

int pe_authenticode(const struct pe_image *pe, const EVP_MD *md, unsigned char *out,
		    struct err *e)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int rc = 0;

	/* pe_parse guarantees: CheckSum and the certificate entry lie inside
	 * SizeOfHeaders (they precede the section table it covers). */
	if (!c || EVP_DigestInit_ex(c, md, NULL) != 1 || authenticode_update(pe, c) ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		rc = err_set(e, CVM_E_INTERNAL, "Authenticode digest failed");
	EVP_MD_CTX_free(c);
	return rc;
}
