/* The PE reader and UKI measurements (uki/) on synthetic images: what a
 * well-formed UKI gives, and the refusal of every malformed or ambiguous
 * one, including every truncation and random header damage (run under
 * ASan/valgrind: no read may leave the buffer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "check.h"
#include "pe.h"
#include "uki.h"

#define PE_OFF 0x40
#define OPT_OFF (PE_OFF + 24)
#define OPT_SIZE 240                 /* PE32+ with 16 data directories */
#define TABLE_OFF (OPT_OFF + OPT_SIZE)
#define FILE_ALIGN 0x200
#define IMG_CAP (64 * 1024)

struct sec {
	const char *name;
	const char *data;                /* a string, unless len is set */
	uint32_t vsize;                  /* 0: the data's length */
	uint32_t len;
};

static void put16(unsigned char *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static uint32_t align(uint32_t v, uint32_t a) { return (v + a - 1) / a * a; }

/* A PE32+ image (image version 1, as a Linux kernel's) with these
 * sections, data contiguous after the headers; returns its size. */
static size_t build_pe(unsigned char *img, const struct sec *s, unsigned n)
{
	uint32_t hdr = align(TABLE_OFF + 40 * n, FILE_ALIGN), off = hdr, va = 0x1000;

	memset(img, 0, IMG_CAP);
	img[0] = 'M';
	img[1] = 'Z';
	put32(img + 0x3c, PE_OFF);
	memcpy(img + PE_OFF, "PE\0\0", 4);
	put16(img + PE_OFF + 4, 0x8664);
	put16(img + PE_OFF + 6, (uint16_t)n);
	put16(img + PE_OFF + 20, OPT_SIZE);
	put16(img + OPT_OFF, 0x20b);
	put16(img + OPT_OFF + 44, 1);              /* MajorImageVersion */
	put32(img + OPT_OFF + 60, hdr);
	put32(img + OPT_OFF + 64, 0x12345678);     /* CheckSum: not hashed */
	put32(img + OPT_OFF + 108, 16);
	for (unsigned i = 0; i < n; i++) {
		unsigned char *h = img + TABLE_OFF + 40 * i;
		uint32_t len = s[i].len ? s[i].len : (uint32_t)strlen(s[i].data);
		uint32_t raw = align(len, FILE_ALIGN);
		uint32_t vsize = s[i].vsize ? s[i].vsize : len;

		memcpy(h, s[i].name, strlen(s[i].name));
		put32(h + 8, vsize);
		put32(h + 12, va);
		put32(h + 16, raw);
		put32(h + 20, off);
		memcpy(img + off, s[i].data, len);
		off += raw;
		va += align(vsize, 0x1000);
	}
	put32(img + OPT_OFF + 56, va);             /* SizeOfImage */
	return off;
}

static const char magic252[] = "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####";

static void sha256(const void *d, size_t n, unsigned char *out)
{
	EVP_Digest(d, n, out, NULL, EVP_sha256(), NULL);
}

static void extend(unsigned char *pcr, const void *d, size_t n)
{
	unsigned char h[32];

	sha256(d, n, h);
	uki_pcr_extend(pcr, h);
}

static unsigned char img[IMG_CAP];
static unsigned char kernel[IMG_CAP / 4];
static size_t kernel_len;
#define LINUX_SEC { ".linux", (const char *)kernel, 0, (uint32_t)kernel_len }

/* The PE image the .linux sections hold. */
static void build_kernel(void)
{
	const struct sec s[] = { { ".text", "KERNEL CODE", 0, 0 } };
	static unsigned char buf[IMG_CAP];

	kernel_len = build_pe(buf, s, 1);
	memcpy(kernel, buf, kernel_len);
}

static int measure(size_t len, const char *phases, struct uki_measurements *m, struct err *e)
{
	memset(e, 0, sizeof(*e));
	return uki_measure(img, len, phases, m, e);
}

static void test_good_uki(void)
{
	/* in file order unlike the stub's measuring order; .sbat never measured */
	const struct sec s[] = {
		{ ".sdmagic", magic252, 0, 0 }, { ".sbat", "sbat,1\n", 0, 0 },
		{ ".cmdline", "root=/dev/vda", 0, 0 }, { ".initrd", "INITRD", 0, 0 },
		LINUX_SEC,
		{ ".osrel", "ID=test\n", 0, 0 },
	};
	size_t len = build_pe(img, s, 6);
	unsigned char want[32] = { 0 }, kernel_ac[32];
	struct uki_measurements m;
	struct err e;

	CHECK(measure(len, "", &m, &e) == 0, "%s", e.msg);
	CHECK(strcmp(m.stub_version, "252.39-1~deb12u2") == 0, "%s", m.stub_version);
	extend(want, ".linux", 7);
	extend(want, kernel, kernel_len);
	extend(want, ".osrel", 7);
	extend(want, "ID=test\n", 8);
	extend(want, ".cmdline", 9);
	extend(want, "root=/dev/vda", 13);
	extend(want, ".initrd", 8);
	extend(want, "INITRD", 6);
	CHECK(memcmp(m.pcr11, want, 32) == 0, "PCR 11 of the sections");
	CHECK(measure(len, "::enter-initrd:", &m, &e) == 0, "%s", e.msg);
	extend(want, "enter-initrd", 12);
	CHECK(memcmp(m.pcr11, want, 32) == 0, "PCR 11 with the enter-initrd phase");

	/* PCR 4: boot option action, separator, the UKI, the kernel */
	{
		struct pe_image k;

		CHECK(pe_parse(&k, kernel, kernel_len, &e) == 0, "%s", e.msg);
		CHECK(pe_authenticode(&k, EVP_sha256(), kernel_ac, &e) == 0, "%s", e.msg);
		CHECK(memcmp(kernel_ac, m.kernel_authenticode, 32) == 0, "kernel Authenticode");
	}
	memset(want, 0, sizeof(want));
	extend(want, "Calling EFI Application from Boot Option", 40);
	extend(want, "\0\0\0\0", 4);
	uki_pcr_extend(want, m.authenticode);
	uki_pcr_extend(want, kernel_ac);
	CHECK(memcmp(m.pcr4, want, 32) == 0, "PCR 4 chain");

	/* TDX direct boot: SHA-384 Authenticode, and the kernel's load options */
	{
		struct pe_image u;
		unsigned char ac384[48], params[48];
		static const char utf16[] = "r\0o\0o\0t\0=\0/\0d\0e\0v\0/\0v\0d\0a\0\0\0";

		CHECK(pe_parse(&u, img, len, &e) == 0, "%s", e.msg);
		CHECK(pe_authenticode(&u, EVP_sha384(), ac384, &e) == 0, "%s", e.msg);
		CHECK(memcmp(ac384, m.tdvf_kernel, 48) == 0, "tdvfkernel");
		EVP_Digest(utf16, sizeof(utf16) - 1, params, NULL, EVP_sha384(), NULL);
		CHECK(m.has_kernel_params && memcmp(params, m.tdvf_kernel_params, 48) == 0,
		      "tdvfkernelparams");
	}

	/* the VirtualSize of a section beyond its file data reads as zeros
	 * (more than pe.c's zero buffer: several rounds of it, and a partial one) */
	{
		const struct sec pad[] = {
			{ ".sdmagic", magic252, 0, 0 },
			LINUX_SEC,
			{ ".initrd", "INITRD", 3 * 4096 + 100, 0 },
		};
		static unsigned char initrd[3 * 4096 + 100] = "INITRD";
		unsigned char w2[32] = { 0 };

		CHECK(measure(build_pe(img, pad, 3), "", &m, &e) == 0, "%s", e.msg);
		extend(w2, ".linux", 7);
		extend(w2, kernel, kernel_len);
		extend(w2, ".initrd", 8);
		extend(w2, initrd, sizeof(initrd));
		CHECK(memcmp(m.pcr11, w2, 32) == 0, "zero-filled .initrd");
		len = build_pe(img, s, 6);
	}

	/* Authenticode ignores CheckSum but covers every other header byte */
	{
		unsigned char before[32];

		CHECK(measure(len, "", &m, &e) == 0, "%s", e.msg);
		memcpy(before, m.authenticode, 32);
		put32(img + OPT_OFF + 64, 0);
		CHECK(measure(len, "", &m, &e) == 0 && memcmp(before, m.authenticode, 32) == 0,
		      "CheckSum changed the Authenticode digest");
		img[PE_OFF + 8] ^= 1; /* TimeDateStamp */
		CHECK(measure(len, "", &m, &e) == 0 && memcmp(before, m.authenticode, 32) != 0,
		      "TimeDateStamp did not change the Authenticode digest");
	}
}

static void expect_refused(size_t len, const char *phases, const char *needle, const char *what)
{
	struct uki_measurements m;
	struct err e;

	CHECK(measure(len, phases, &m, &e) == CVM_E_USAGE && strstr(e.msg, needle),
	      "%s: got \"%s\"", what, e.msg);
}

static void test_refusals(void)
{
	const struct sec good[] = {
		{ ".sdmagic", magic252, 0, 0 }, LINUX_SEC, { ".cmdline", "x", 0, 0 },
	};
	size_t len;

	len = build_pe(img, good, 3);
	img[0] = 'X';
	expect_refused(len, "", "no MZ header", "no MZ");
	len = build_pe(img, good, 3);
	put32(img + 0x3c, (uint32_t)len);
	expect_refused(len, "", "no PE signature", "e_lfanew beyond the file");
	len = build_pe(img, good, 3);
	put16(img + PE_OFF + 6, 97);
	expect_refused(len, "", "more than the 96", "too many sections");
	len = build_pe(img, good, 3);
	put32(img + OPT_OFF + 108, 17);
	expect_refused(len, "", "NumberOfRvaAndSizes", "17 data directories");
	len = build_pe(img, good, 3);
	put32(img + OPT_OFF + 60, (uint32_t)len + 1);
	expect_refused(len, "", "SizeOfHeaders", "SizeOfHeaders beyond the file");
	len = build_pe(img, good, 3);
	put32(img + TABLE_OFF + 40 + 16, 0x10000);   /* .linux SizeOfRawData */
	expect_refused(len, "", "beyond the end of the file", "section data beyond the file");
	len = build_pe(img, good, 3);
	put32(img + TABLE_OFF + 40 + 8, 0xfffffff0); /* .linux VirtualSize */
	expect_refused(len, "", "beyond SizeOfImage", "VirtualSize beyond SizeOfImage");
	len = build_pe(img, good, 3);
	put32(img + TABLE_OFF + 2 * 40 + 20, 0x200); /* .cmdline data over the headers */
	expect_refused(len, "", "overlapping or gapped", "overlapping sections");
	len = build_pe(img, good, 3);
	put32(img + OPT_OFF + 112 + 4 * 8, 8);      /* certificate table in the middle */
	put32(img + OPT_OFF + 112 + 4 * 8 + 4, 8);
	expect_refused(len, "", "certificate table", "certificate table not at the end");
	put32(img + OPT_OFF + 56, 0x7fffffff);
	expect_refused(len, "", "SizeOfImage", "SizeOfImage above the limit");

	/* UKI rules */
	{
		const struct sec no_magic[] = { LINUX_SEC };
		const struct sec stub255[] = {
			{ ".sdmagic", "#### LoaderInfo: systemd-stub 255.4 ####", 0, 0 },
			LINUX_SEC,
		};
		const struct sec no_linux[] = { { ".sdmagic", magic252, 0, 0 }, { ".initrd", "I", 0, 0 } };
		const struct sec twice[] = {
			{ ".sdmagic", magic252, 0, 0 }, LINUX_SEC, { ".initrd", "I", 0, 0 },
			{ ".initrd", "J", 0, 0 },
		};
		const struct sec prefix[] = {
			{ ".sdmagic", magic252, 0, 0 }, LINUX_SEC, { ".linuxXY", "evil", 0, 0 },
		};

		expect_refused(build_pe(img, no_magic, 1), "", "no .sdmagic", "no .sdmagic");
		expect_refused(build_pe(img, stub255, 2), "", "systemd-stub 255.4", "stub 255");
		expect_refused(build_pe(img, no_linux, 2), "", "no .linux", "no .linux");
		expect_refused(build_pe(img, twice, 4), "", "appears 2 times", ".initrd twice");
		expect_refused(build_pe(img, prefix, 3), "", "taken for .linux", ".linuxXY");
	}
	len = build_pe(img, good, 3);
	expect_refused(len, "enter initrd", "printable", "phase with a space");
	expect_refused(len, "a:b:c:d:e:f:g:h:i", "more than 8", "9 phases");
	{
		char long_word[UKI_MAX_PHASE_LEN + 2];

		memset(long_word, 'a', sizeof(long_word) - 1);
		long_word[sizeof(long_word) - 1] = '\0';
		expect_refused(len, long_word, "longer than", "a 65-character phase");
	}
}

/* Every prefix of a good image, and random damage to its headers: refused
 * cleanly or measured, never a read outside the buffer. */
static void test_truncation_and_damage(void)
{
	const struct sec s[] = {
		{ ".sdmagic", magic252, 0, 0 }, LINUX_SEC, { ".initrd", "I", 0, 0 },
	};
	size_t len = build_pe(img, s, 3), hdr = TABLE_OFF + 3 * 40;
	struct uki_measurements m;
	struct err e;
	unsigned accepted = 0;

	for (size_t n = 0; n < len; n++) {
		unsigned char *copy = malloc(n ? n : 1);

		memcpy(copy, img, n);
		memset(&e, 0, sizeof(e));
		CHECK(uki_measure(copy, n, "", &m, &e) != 0, "a %zu-byte prefix was accepted", n);
		free(copy);
	}
	srand(9);
	for (int round = 0; round < 20000; round++) {
		unsigned char *copy = malloc(len);

		build_pe(img, s, 3);
		memcpy(copy, img, len);
		for (int k = 0; k < 1 + rand() % 4; k++)
			copy[(size_t)rand() % hdr] = (unsigned char)rand();
		memset(&e, 0, sizeof(e));
		if (uki_measure(copy, len, "", &m, &e) == 0)
			accepted++;
		else
			CHECK(e.msg[0], "refused without a message");
		free(copy);
	}
	printf("damaged headers: %u of 20000 still measured\n", accepted);
}

/* The load options systemd-stub gives the kernel for a .cmdline: up to the
 * first NUL, control characters as spaces, trailing spaces dropped. */
static void test_kernel_params(void)
{
	static const char raw[] = " a\tb \n\0junk";
	const struct sec s[] = {
		{ ".sdmagic", magic252, 0, 0 }, LINUX_SEC,
		{ ".cmdline", raw, 0, sizeof(raw) - 1 },
	};
	const struct sec none[] = { { ".sdmagic", magic252, 0, 0 }, LINUX_SEC };
	const struct sec high[] = {
		{ ".sdmagic", magic252, 0, 0 }, LINUX_SEC, { ".cmdline", "quiet \xc3\xa9", 0, 0 },
	};
	static const char want16[] = " \0a\0 \0b\0\0\0";
	unsigned char want[48];
	struct uki_measurements m;
	struct err e;

	EVP_Digest(want16, sizeof(want16) - 1, want, NULL, EVP_sha384(), NULL);
	CHECK(measure(build_pe(img, s, 3), "", &m, &e) == 0, "%s", e.msg);
	CHECK(m.has_kernel_params && memcmp(want, m.tdvf_kernel_params, 48) == 0,
	      "mangled command line");
	CHECK(measure(build_pe(img, none, 2), "", &m, &e) == 0 && !m.has_kernel_params,
	      "no .cmdline, no load options");
	expect_refused(build_pe(img, high, 3), "", "above ASCII", "a non-ASCII command line");
}

static void test_kernel_refusals(void)
{
	const struct sec not_pe[] = {
		{ ".sdmagic", magic252, 0, 0 }, { ".linux", "bzImage", 0, 0 },
	};
	const struct sec old[] = {
		{ ".sdmagic", magic252, 0, 0 },
		LINUX_SEC,
	};
	const struct sec padded[] = {
		{ ".sdmagic", magic252, 0, 0 },
		{ ".linux", (const char *)kernel, (uint32_t)kernel_len + 4096, (uint32_t)kernel_len },
	};
	size_t len;

	expect_refused(build_pe(img, not_pe, 2), "", "the kernel in .linux: not a PE image",
		       "a .linux that is not a PE image");
	expect_refused(build_pe(img, padded, 2), "", "beyond its", "a .linux with VirtualSize > data");
	put16(kernel + OPT_OFF + 44, 0);
	len = build_pe(img, old, 2);
	expect_refused(len, "", "predates the EFI initrd protocol", "a kernel of image version 0");
	put16(kernel + OPT_OFF + 44, 1);
	put16(kernel + PE_OFF + 4, 0xaa64);
	len = build_pe(img, old, 2);
	expect_refused(len, "", "for machine 0xaa64", "an arm64 kernel in an x86-64 UKI");
	put16(kernel + PE_OFF + 4, 0x8664);
}

int main(void)
{
	build_kernel();
	test_good_uki();
	test_kernel_params();
	test_kernel_refusals();
	test_refusals();
	test_truncation_and_damage();
	return check_report("uki");
}
