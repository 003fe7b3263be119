/* PCR 11, PCR 4 and the TDX direct-boot digests of a UKI boot, predicted
 * from the file (see uki.h). The rules are systemd-stub 252's: other stub
 * versions measure other sections and are refused rather than guessed at. */
#include "uki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pe.h"

#define STUB_MAGIC_PREFIX "#### LoaderInfo: systemd-stub "
#define STUB_MAGIC_SUFFIX " ####"
#define STUB_MAJOR 252

/* systemd-stub 252's UKI sections in the order it measures them (its
 * UnifiedSection enumeration); .pcrsig is looked up but never measured. */
static const struct {
	const char *name;
	bool measured;
} stub_sections[] = {
	{ ".linux", true }, { ".osrel", true }, { ".cmdline", true }, { ".initrd", true },
	{ ".splash", true }, { ".dtb", true }, { ".pcrsig", false }, { ".pcrpkey", true },
};

/* systemd-stub 252 starts a kernel whose EFI stub speaks the initrd
 * protocol (PE MajorImageVersion >= 1, every kernel since 5.8) with the
 * firmware's LoadImage(): the firmware then measures the .linux image's
 * Authenticode digest into PCR 4 as well. Older kernels (the EFI handover
 * path, not measured) are refused rather than guessed at. */
static int kernel_authenticode(const struct pe_image *uki, const struct pe_section *s,
			       unsigned char *out, struct err *e)
{
	struct pe_image kernel;

	if (s->virtual_size > s->raw_size)
		return err_set(e, CVM_E_USAGE, "section .linux: VirtualSize %u beyond its %u bytes "
			       "of file data", s->virtual_size, s->raw_size);
	if (pe_parse(&kernel, uki->data + s->raw_offset, s->virtual_size, e))
		return err_wrap(e, "the kernel in .linux");
	if (kernel.machine != uki->machine)
		return err_set(e, CVM_E_USAGE, "the kernel in .linux is for machine 0x%x, the UKI "
			       "for 0x%x", kernel.machine, uki->machine);
	if (kernel.major_image_version < 1)
		return err_set(e, CVM_E_USAGE, "the kernel in .linux predates the EFI initrd "
			       "protocol (PE image version %u): systemd-stub would start it by the "
			       "EFI handover protocol, which is not modelled here",
			       kernel.major_image_version);
	return pe_authenticode(&kernel, EVP_sha256(), out, e);
}

/* The load options systemd-stub 252 hands the kernel for .cmdline, whose
 * SHA-384 the kernel's EFI stub measures (EV_EVENT_TAG "LOADED_IMAGE::
 * LoadOptions"): the text up to its first NUL, control characters turned
 * into spaces, trailing spaces dropped, as UTF-16LE with a terminating NUL.
 * Bytes above ASCII are refused (their conversion is not modelled). */
static int kernel_params_digest(const struct pe_image *pe, struct uki_measurements *m,
				struct err *e)
{
	const struct pe_section *s = pe_section_find(pe, ".cmdline");
	const unsigned char *text;
	uint32_t len = 0, max;
	EVP_MD_CTX *c;
	int ok;

	if (!s || !s->virtual_size)
		return 0;
	max = s->raw_size < s->virtual_size ? s->raw_size : s->virtual_size;
	text = pe->data + s->raw_offset;
	while (len < max && text[len])
		if (text[len++] > 0x7f)
			return err_set(e, CVM_E_USAGE, ".cmdline holds a byte above ASCII at offset %u",
				       len - 1);
	while (len && (text[len - 1] == ' ' || text[len - 1] <= 0x1f))
		len--;
	c = EVP_MD_CTX_new();
	ok = c && EVP_DigestInit_ex(c, EVP_sha384(), NULL) == 1;
	for (uint32_t i = 0; ok && i <= len; i++) {
		unsigned char unit[2] = { i == len ? 0 : text[i] <= 0x1f ? ' ' : text[i], 0 };

		ok = EVP_DigestUpdate(c, unit, sizeof(unit)) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(c, m->tdvf_kernel_params, NULL) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return err_set(e, CVM_E_INTERNAL, "SHA-384 failed");
	m->has_kernel_params = true;
	return 0;
}

/* EV_EFI_ACTION event data the firmware measures into PCR 4 before it calls
 * the first boot option's application (TCG PC Client PFP, 10.4.4). */
static const char boot_option_action[] = "Calling EFI Application from Boot Option";

void uki_pcr_extend(unsigned char pcr[UKI_DIGEST_LEN], const unsigned char digest[UKI_DIGEST_LEN])
{
	unsigned char buf[2 * UKI_DIGEST_LEN];

	memcpy(buf, pcr, UKI_DIGEST_LEN);
	memcpy(buf + UKI_DIGEST_LEN, digest, UKI_DIGEST_LEN);
	EVP_Digest(buf, sizeof(buf), pcr, NULL, EVP_sha256(), NULL);
}

static void extend_data(unsigned char pcr[UKI_DIGEST_LEN], const void *data, size_t len)
{
	unsigned char d[UKI_DIGEST_LEN];

	EVP_Digest(data, len, d, NULL, EVP_sha256(), NULL);
	uki_pcr_extend(pcr, d);
}

/* systemd-stub finds a section by comparing the first strlen(name) bytes of
 * each section name, the last match winning: a UKI where that choice is not
 * the one section of exactly that name is refused as ambiguous. */
static int check_unambiguous(const struct pe_image *pe, struct err *e)
{
	for (size_t k = 0; k < sizeof(stub_sections) / sizeof(stub_sections[0]); k++) {
		const char *want = stub_sections[k].name;
		unsigned matches = 0;

		for (unsigned i = 0; i < pe->nsections; i++) {
			const char *have = pe->sections[i].name;

			if (strncmp(have, want, strlen(want)) != 0)
				continue;
			if (strcmp(have, want) != 0)
				return err_set(e, CVM_E_USAGE, "section %s would be taken for %s by "
					       "systemd-stub: refused as ambiguous", have, want);
			matches++;
		}
		if (matches > 1)
			return err_set(e, CVM_E_USAGE, "section %s appears %u times: refused as "
				       "ambiguous", want, matches);
	}
	return 0;
}

/* The stub's version from its .sdmagic section; only STUB_MAJOR is accepted. */
static int check_stub(const struct pe_image *pe, struct uki_measurements *m, struct err *e)
{
	const struct pe_section *s = pe_section_find(pe, ".sdmagic");
	const char *text, *end;
	size_t len, vlen;

	if (!s || !s->raw_size)
		return err_set(e, CVM_E_USAGE, "no .sdmagic section: not a UKI built on systemd-stub");
	len = s->raw_size < s->virtual_size ? s->raw_size : s->virtual_size;
	text = (const char *)pe->data + s->raw_offset;
	end = memchr(text, '\0', len);
	len = end ? (size_t)(end - text) : len;
	if (len < sizeof(STUB_MAGIC_PREFIX STUB_MAGIC_SUFFIX) - 1 ||
	    memcmp(text, STUB_MAGIC_PREFIX, sizeof(STUB_MAGIC_PREFIX) - 1) != 0 ||
	    memcmp(text + len - (sizeof(STUB_MAGIC_SUFFIX) - 1), STUB_MAGIC_SUFFIX,
		   sizeof(STUB_MAGIC_SUFFIX) - 1) != 0)
		return err_set(e, CVM_E_USAGE, ".sdmagic does not name a systemd-stub version");
	vlen = len - (sizeof(STUB_MAGIC_PREFIX STUB_MAGIC_SUFFIX) - 1);
	if (vlen == 0 || vlen >= sizeof(m->stub_version))
		return err_set(e, CVM_E_USAGE, ".sdmagic: systemd-stub version of %zu characters", vlen);
	for (size_t i = 0; i < vlen; i++) {
		char c = text[sizeof(STUB_MAGIC_PREFIX) - 1 + i];

		m->stub_version[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	m->stub_version[vlen] = '\0';
	if (strtoul(m->stub_version, NULL, 10) != STUB_MAJOR ||
	    strspn(m->stub_version, "0123456789") != 3)
		return err_set(e, CVM_E_USAGE, "UKI built on systemd-stub %s: only systemd-stub %d's "
			       "measurements are known here", m->stub_version, STUB_MAJOR);
	return 0;
}

static int measure_sections(const struct pe_image *pe, unsigned char pcr[UKI_DIGEST_LEN],
			    struct err *e)
{
	for (size_t k = 0; k < sizeof(stub_sections) / sizeof(stub_sections[0]); k++) {
		const struct pe_section *s = pe_section_find(pe, stub_sections[k].name);
		unsigned char d[UKI_DIGEST_LEN];
		EVP_MD_CTX *c;
		int rc = 0;

		if (!s || !s->virtual_size || !stub_sections[k].measured)
			continue;
		extend_data(pcr, stub_sections[k].name, strlen(stub_sections[k].name) + 1);
		c = EVP_MD_CTX_new();
		if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
		    pe_section_digest_update(pe, s, c, e) || EVP_DigestFinal_ex(c, d, NULL) != 1)
			rc = e->code ? e->code : err_set(e, CVM_E_INTERNAL, "SHA-256 failed");
		EVP_MD_CTX_free(c);
		if (rc)
			return rc;
		uki_pcr_extend(pcr, d);
	}
	return 0;
}

/* Extend each colon-separated phase word (empty words skipped, as
 * systemd-measure does); words are printable ASCII, bounded. */
static int measure_phases(const char *phases, unsigned char pcr[UKI_DIGEST_LEN], struct err *e)
{
	unsigned count = 0;

	for (const char *p = phases; *p;) {
		size_t len = strcspn(p, ":");

		for (size_t i = 0; i < len; i++)
			if (p[i] <= 0x20 || p[i] >= 0x7f)
				return err_set(e, CVM_E_USAGE, "phase words are printable ASCII "
					       "without spaces");
		if (len > UKI_MAX_PHASE_LEN)
			return err_set(e, CVM_E_USAGE, "phase word longer than %d characters",
				       UKI_MAX_PHASE_LEN);
		if (len) {
			if (++count > UKI_MAX_PHASES)
				return err_set(e, CVM_E_USAGE, "more than %d phase words",
					       UKI_MAX_PHASES);
			extend_data(pcr, p, len);
		}
		p += len;
		if (*p == ':')
			p++;
	}
	return 0;
}

int uki_measure(const unsigned char *data, size_t size, const char *phases,
		struct uki_measurements *m, struct err *e)
{
	static const unsigned char separator[4] = { 0 };
	struct pe_image pe;
	const struct pe_section *linux_section;

	memset(m, 0, sizeof(*m));
	if (pe_parse(&pe, data, size, e))
		return e->code;
	if (check_stub(&pe, m, e) || check_unambiguous(&pe, e))
		return e->code;
	linux_section = pe_section_find(&pe, ".linux");
	if (!linux_section || !linux_section->virtual_size)
		return err_set(e, CVM_E_USAGE, "no .linux section: not a UKI");
	if (measure_sections(&pe, m->pcr11, e) || measure_phases(phases, m->pcr11, e))
		return e->code;
	if (pe_authenticode(&pe, EVP_sha256(), m->authenticode, e) ||
	    kernel_authenticode(&pe, linux_section, m->kernel_authenticode, e) ||
	    pe_authenticode(&pe, EVP_sha384(), m->tdvf_kernel, e) ||
	    kernel_params_digest(&pe, m, e))
		return e->code;
	extend_data(m->pcr4, boot_option_action, strlen(boot_option_action));
	extend_data(m->pcr4, separator, sizeof(separator));
	uki_pcr_extend(m->pcr4, m->authenticode);
	uki_pcr_extend(m->pcr4, m->kernel_authenticode);
	/* m->pcr12 stays zero: systemd-stub 252 extends PCR 12 only with a
	 * command line passed in by the loader (which, without Secure Boot,
	 * replaces .cmdline and leaves PCR 11 as it is) and with credentials. */
	return 0;
}
