/* SEV-SNP report (SNP firmware ABI, table "ATTESTATION_REPORT") -> the serde
 * JSON of virtee/sev's AttestationReport (rev d4878091, pinned by Trustee),
 * which Trustee re-encodes to binary to check the signature: every signed
 * byte must survive that round trip, so what cannot is refused here. */
#include "snp_report.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configfs_tsm.h"

/* Field offsets in the 1184-byte report. */
enum {
	OFF_VERSION = 0x000, OFF_GUEST_SVN = 0x004, OFF_POLICY = 0x008, OFF_FAMILY_ID = 0x010,
	OFF_IMAGE_ID = 0x020, OFF_VMPL = 0x030, OFF_SIG_ALGO = 0x034, OFF_CURRENT_TCB = 0x038,
	OFF_PLAT_INFO = 0x040, OFF_KEY_INFO = 0x048, OFF_REPORT_DATA = 0x050,
	OFF_MEASUREMENT = 0x090, OFF_HOST_DATA = 0x0C0, OFF_ID_KEY_DIGEST = 0x0E0,
	OFF_AUTHOR_KEY_DIGEST = 0x110, OFF_REPORT_ID = 0x140, OFF_REPORT_ID_MA = 0x160,
	OFF_REPORTED_TCB = 0x180, OFF_CPUID_FAM = 0x188, OFF_CPUID_MOD = 0x189,
	OFF_CPUID_STEP = 0x18A, OFF_CHIP_ID = 0x1A0, OFF_COMMITTED_TCB = 0x1E0,
	OFF_CURRENT = 0x1E8, OFF_COMMITTED = 0x1EC, OFF_LAUNCH_TCB = 0x1F0,
	OFF_LAUNCH_MIT = 0x1F8, OFF_CURRENT_MIT = 0x200, OFF_SIGNED_END = 0x2A0,
	OFF_SIG_R = 0x2A0, OFF_SIG_S = 0x2E8, SIG_COMPONENT_LEN = 72,
};

/* Layout of the TCB_VERSION fields: Turin (family 0x1A) adds FMC and moves SNP. */
enum tcb_layout { TCB_LEGACY, TCB_TURIN };

struct snp_span {
	unsigned off, len;
};

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* As the sev crate decides (Generation::identify_cpu, and for version 2 the
 * shape of CHIP_ID since the report has no CPUID fields). */
static int tcb_layout_of(const unsigned char *r, uint32_t version, enum tcb_layout *out,
			 struct err *e)
{
	unsigned fam = r[OFF_CPUID_FAM], mod = r[OFF_CPUID_MOD];

	if (version == 2) {
		if (all_zero(r + OFF_CHIP_ID, 64))
			return err_set(e, CVM_E_TEE, "SNP report version 2 with a masked CHIP_ID: its TCB layout cannot be determined");
		*out = all_zero(r + OFF_CHIP_ID + 8, 56) ? TCB_TURIN : TCB_LEGACY;
		return 0;
	}
	if (fam == 0x19 && (mod <= 0x0F || (mod >= 0x10 && mod <= 0x1F) || (mod >= 0xA0 && mod <= 0xAF)))
		*out = TCB_LEGACY; /* Milan, Genoa */
	else if (fam == 0x1A && mod <= 0x11)
		*out = TCB_TURIN;
	else
		return err_set(e, CVM_E_TEE, "SNP report from an unknown CPU (family 0x%02x, model 0x%02x)",
			       fam, mod);
	return 0;
}

/* Reserved bytes inside the signed range: the serde form drops them, so a
 * non-zero one would make the re-encoded report fail its signature. */
static int check_reserved(const unsigned char *r, uint32_t version, enum tcb_layout layout,
			  struct err *e)
{
	static const unsigned tcbs[] = { OFF_CURRENT_TCB, OFF_REPORTED_TCB, OFF_COMMITTED_TCB,
					 OFF_LAUNCH_TCB };
	struct snp_span spans[12];
	int n = 0;

	spans[n++] = (struct snp_span){ 0x04C, 4 };
	spans[n++] = version == 2 ? (struct snp_span){ 0x188, 24 } : (struct snp_span){ 0x18B, 21 };
	spans[n++] = (struct snp_span){ 0x1EB, 1 };
	spans[n++] = (struct snp_span){ 0x1EF, 1 };
	spans[n++] = version == 5 ? (struct snp_span){ 0x208, 152 } : (struct snp_span){ 0x1F8, 168 };
	for (int i = 0; i < 4; i++)
		spans[n++] = layout == TCB_LEGACY ? (struct snp_span){ tcbs[i] + 2, 4 }
						  : (struct snp_span){ tcbs[i] + 4, 3 };
	for (int i = 0; i < n; i++)
		if (!all_zero(r + spans[i].off, spans[i].len))
			return err_set(e, CVM_E_TEE,
				       "SNP report: reserved bytes at 0x%03x..0x%03x are not zero; Trustee's report form cannot carry them",
				       spans[i].off, spans[i].off + spans[i].len - 1);
	return 0;
}

static json_t *byte_array(const unsigned char *p, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer(p[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *tcb_object(const unsigned char *t, enum tcb_layout layout)
{
	if (layout == TCB_TURIN)
		return json_pack("{s:i, s:i, s:i, s:i, s:i}", "fmc", t[0], "bootloader", t[1], "tee",
				 t[2], "snp", t[3], "microcode", t[7]);
	return json_pack("{s:n, s:i, s:i, s:i, s:i}", "fmc", "bootloader", t[0], "tee", t[1], "snp",
			 t[6], "microcode", t[7]);
}

static json_t *version_object(const unsigned char *v)
{
	return json_pack("{s:i, s:i, s:i}", "major", v[2], "minor", v[1], "build", v[0]);
}

static json_t *u64_number(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? NULL : json_integer((json_int_t)v);
}

/* Adds name = value, taking the reference; a NULL value means a failed
 * build (out of memory or out of range) and fails the whole object. */
static int put(json_t *obj, const char *name, json_t *value)
{
	return value ? json_object_set_new(obj, name, value) : -1;
}

static int put_u64(json_t *obj, const char *name, uint64_t v, struct err *e)
{
	if (v > (uint64_t)INT64_MAX)
		return err_set(e, CVM_E_TEE, "SNP report: %s 0x%016llx is beyond what JSON integers carry here",
			       name, (unsigned long long)v);
	if (put(obj, name, u64_number(v)))
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	return 0;
}

static int fill_report(json_t *o, const unsigned char *r, uint32_t version, enum tcb_layout layout,
		       struct err *e)
{
	bool v3 = version >= 3, v5 = version >= 5;
	int bad = 0;

	bad |= put(o, "version", json_integer(version));
	bad |= put(o, "guest_svn", json_integer(le32(r + OFF_GUEST_SVN)));
	if (bad || put_u64(o, "policy", le64(r + OFF_POLICY), e))
		return bad ? err_set(e, CVM_E_INTERNAL, "out of memory") : e->code;
	bad |= put(o, "family_id", byte_array(r + OFF_FAMILY_ID, 16));
	bad |= put(o, "image_id", byte_array(r + OFF_IMAGE_ID, 16));
	bad |= put(o, "vmpl", json_integer(le32(r + OFF_VMPL)));
	bad |= put(o, "sig_algo", json_integer(le32(r + OFF_SIG_ALGO)));
	bad |= put(o, "current_tcb", tcb_object(r + OFF_CURRENT_TCB, layout));
	if (bad || put_u64(o, "plat_info", le64(r + OFF_PLAT_INFO), e))
		return bad ? err_set(e, CVM_E_INTERNAL, "out of memory") : e->code;
	bad |= put(o, "key_info", json_integer(le32(r + OFF_KEY_INFO)));
	bad |= put(o, "report_data", byte_array(r + OFF_REPORT_DATA, 64));
	bad |= put(o, "measurement", byte_array(r + OFF_MEASUREMENT, 48));
	bad |= put(o, "host_data", byte_array(r + OFF_HOST_DATA, 32));
	bad |= put(o, "id_key_digest", byte_array(r + OFF_ID_KEY_DIGEST, 48));
	bad |= put(o, "author_key_digest", byte_array(r + OFF_AUTHOR_KEY_DIGEST, 48));
	bad |= put(o, "report_id", byte_array(r + OFF_REPORT_ID, 32));
	bad |= put(o, "report_id_ma", byte_array(r + OFF_REPORT_ID_MA, 32));
	bad |= put(o, "reported_tcb", tcb_object(r + OFF_REPORTED_TCB, layout));
	bad |= put(o, "cpuid_fam_id", v3 ? json_integer(r[OFF_CPUID_FAM]) : json_null());
	bad |= put(o, "cpuid_mod_id", v3 ? json_integer(r[OFF_CPUID_MOD]) : json_null());
	bad |= put(o, "cpuid_step", v3 ? json_integer(r[OFF_CPUID_STEP]) : json_null());
	bad |= put(o, "chip_id", byte_array(r + OFF_CHIP_ID, 64));
	bad |= put(o, "committed_tcb", tcb_object(r + OFF_COMMITTED_TCB, layout));
	bad |= put(o, "current", version_object(r + OFF_CURRENT));
	bad |= put(o, "committed", version_object(r + OFF_COMMITTED));
	bad |= put(o, "launch_tcb", tcb_object(r + OFF_LAUNCH_TCB, layout));
	if (bad)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	if (v5) {
		if (put_u64(o, "launch_mit_vector", le64(r + OFF_LAUNCH_MIT), e) ||
		    put_u64(o, "current_mit_vector", le64(r + OFF_CURRENT_MIT), e))
			return e->code;
	} else {
		bad |= put(o, "launch_mit_vector", json_null());
		bad |= put(o, "current_mit_vector", json_null());
	}
	bad |= put(o, "signature", json_pack("{s:o, s:o}",
					     "r", byte_array(r + OFF_SIG_R, SIG_COMPONENT_LEN),
					     "s", byte_array(r + OFF_SIG_S, SIG_COMPONENT_LEN)));
	return bad ? err_set(e, CVM_E_INTERNAL, "out of memory") : 0;
}

int snp_report_to_json(const unsigned char *report, size_t len, json_t **out, struct err *e)
{
	enum tcb_layout layout = TCB_LEGACY;
	uint32_t version;
	json_t *o;

	if (len != SNP_REPORT_SIZE)
		return err_set(e, CVM_E_TEE, "SNP report is %zu bytes, expected %d (%s)", len,
			       SNP_REPORT_SIZE, len < SNP_REPORT_SIZE ? "truncated" : "oversized");
	version = le32(report + OFF_VERSION);
	if (version != 2 && version != 3 && version != 5)
		return err_set(e, CVM_E_TEE, "SNP report version %u is not supported (expected 2, 3 or 5)",
			       version);
	if (tcb_layout_of(report, version, &layout, e) || check_reserved(report, version, layout, e))
		return e->code;
	o = json_object();
	if (!o)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	if (fill_report(o, report, version, layout, e)) {
		json_decref(o);
		return e->code;
	}
	*out = o;
	return 0;
}

/* GHCB certificate-table GUIDs (byte order as uuid::Uuid::from_bytes reads them). */
static const struct {
	const char *name;
	unsigned char guid[16];
} known_certs[] = {
	{ "ARK", { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae } },
	{ "ASK", { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 } },
	{ "VCEK", { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd } },
	{ "VLEK", { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 } },
	{ "CRL", { 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea } },
};

#define CERT_ENTRY_SIZE 24
#define CERT_ENTRIES_MAX 64

static json_t *cert_type_of(const unsigned char *guid)
{
	char text[37];
	int n = 0;

	for (size_t i = 0; i < sizeof(known_certs) / sizeof(known_certs[0]); i++)
		if (memcmp(guid, known_certs[i].guid, 16) == 0)
			return json_string(known_certs[i].name);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			text[n++] = '-';
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%02x", guid[i]);
	}
	return json_pack("{s:s}", "OTHER", text);
}

static int cert_entry_to_json(const unsigned char *table, size_t len, size_t index, json_t *chain,
			      struct err *e)
{
	const unsigned char *entry = table + index * CERT_ENTRY_SIZE;
	uint64_t offset = le32(entry + 16), length = le32(entry + 20);
	json_t *obj;

	if (offset + length > len || offset < CERT_ENTRY_SIZE)
		return err_set(e, CVM_E_TEE,
			       "SNP certificate table entry %zu points outside the table (offset %llu, length %llu, table %zu bytes)",
			       index, (unsigned long long)offset, (unsigned long long)length, len);
	obj = json_pack("{s:o, s:o}", "cert_type", cert_type_of(entry), "data",
			byte_array(table + offset, (size_t)length));
	if (!obj || json_array_append_new(chain, obj))
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	return 0;
}

int snp_cert_table_to_json(const unsigned char *table, size_t len, json_t **out, struct err *e)
{
	json_t *chain;
	size_t i;

	if (len > SNP_CERT_TABLE_MAX)
		return err_set(e, CVM_E_TEE, "SNP certificate table is %zu bytes, more than %d", len,
			       SNP_CERT_TABLE_MAX);
	chain = json_array();
	if (!chain)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	for (i = 0;; i++) {
		if ((i + 1) * CERT_ENTRY_SIZE > len || i > CERT_ENTRIES_MAX) {
			json_decref(chain);
			return err_set(e, CVM_E_TEE,
				       "SNP certificate table (%zu bytes) has no terminating zero entry within %d entries",
				       len, CERT_ENTRIES_MAX);
		}
		if (all_zero(table + i * CERT_ENTRY_SIZE, 16))
			break;
		if (cert_entry_to_json(table, len, i, chain, e)) {
			json_decref(chain);
			return e->code;
		}
	}
	if (json_array_size(chain) == 0) {
		/* Trustee wants a VCEK in any chain it is given; none = fetch it itself. */
		json_decref(chain);
		chain = json_null();
	}
	*out = chain;
	return 0;
}

int snp_evidence_build(const unsigned char *report, size_t report_len, const unsigned char *certs,
		       size_t certs_len, json_t **out, struct err *e)
{
	json_t *rep = NULL, *chain = NULL;

	if (snp_report_to_json(report, report_len, &rep, e))
		return err_wrap(e, "snp");
	if (certs && certs_len) {
		if (snp_cert_table_to_json(certs, certs_len, &chain, e)) {
			json_decref(rep);
			return err_wrap(e, "snp");
		}
	} else {
		chain = json_null();
	}
	*out = json_pack("{s:o, s:o}", "attestation_report", rep, "cert_chain", chain);
	if (!*out)
		return err_set(e, CVM_E_INTERNAL, "out of memory");
	return 0;
}

int snp_evidence_from_files(const char *report_path, const char *certs_path, json_t **out,
			    struct err *e)
{
	unsigned char *report = NULL, *certs = NULL;
	size_t report_len = 0, certs_len = 0;
	json_t *rep = NULL, *chain = NULL;

	/* Read well beyond a report's size so an oversized file is named as such. */
	if (tee_read_bounded(report_path, 1u << 20, &report, &report_len, NULL, e))
		return e->code;
	if (snp_report_to_json(report, report_len, &rep, e)) {
		free(report);
		return err_wrap(e, "%s", report_path);
	}
	free(report);
	if (certs_path) {
		if (tee_read_bounded(certs_path, SNP_CERT_TABLE_MAX, &certs, &certs_len, NULL, e) ||
		    (certs_len && snp_cert_table_to_json(certs, certs_len, &chain, e))) {
			free(certs);
			json_decref(rep);
			return err_wrap(e, "%s", certs_path);
		}
		free(certs);
	}
	*out = json_pack("{s:o, s:o}", "attestation_report", rep, "cert_chain",
			 chain ? chain : json_null());
	return *out ? 0 : err_set(e, CVM_E_INTERNAL, "out of memory");
}
