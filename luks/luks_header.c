/* Checking a loaded LUKS2 header before any key is tried. The header is not
 * keyed: whoever can write the disk can rewrite it and its checksums, so
 * every field that decides how the data is encrypted is checked here, on the
 * very header libcryptsetup will activate with. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "luks_internal.h"
#include "validate.h"

#define HEADER_JSON_MAX (4u << 20) /* LUKS2 JSON areas are at most 4 MiB */
#define SECTOR 512u

/* What the one data segment says, once checked field by field. */
struct segment {
	const char *encryption, *integrity; /* integrity "" when none */
	uint64_t offset, size;              /* bytes; size 0 = "dynamic" */
};

/* A LUKS2 "u64 as a decimal string" field. */
static bool u64_field(json_t *obj, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	uint64_t n = 0;

	if (!s || !*s || strlen(s) > 20 || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*out = n;
	return true;
}

/* A string field in printable ASCII; NULL if absent or anything else. */
static const char *str_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	return s && strlen(s) == json_string_length(v) && ascii_printable(s) ? s : NULL;
}

/* Size in bytes of a block device or an image file. */
static int device_size(const char *device, uint64_t *size, struct err *e)
{
	int fd = open(device, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	int rc = 0;

	if (fd < 0)
		return err_set(e, CVM_E_UNLOCK, "cannot open %s: %s", device, strerror(errno));
	if (fstat(fd, &st) != 0)
		rc = err_set(e, CVM_E_UNLOCK, "cannot stat %s: %s", device, strerror(errno));
	else if (S_ISREG(st.st_mode))
		*size = (uint64_t)st.st_size;
	else if (!S_ISBLK(st.st_mode) || ioctl(fd, BLKGETSIZE64, size) != 0)
		rc = err_set(e, CVM_E_UNLOCK, "cannot read the size of %s", device);
	close(fd);
	return rc;
}

/* config: no mandatory requirement (an interrupted reencryption sets one). */
static int check_config(json_t *root, const char *device, struct err *e)
{
	json_t *req = json_object_get(json_object_get(root, "config"), "requirements");
	json_t *mandatory = json_object_get(req, "mandatory");

	if (mandatory && (!json_is_array(mandatory) || json_array_size(mandatory) > 0))
		return err_set(e, CVM_E_UNLOCK, "%s: the LUKS2 header has mandatory requirements "
			       "(a reencryption in progress?): refusing it", device);
	return 0;
}

static int check_integrity(json_t *seg, const char *device, struct segment *s, struct err *e)
{
	json_t *integ = json_object_get(seg, "integrity");
	const char *je, *ji;

	s->integrity = "";
	if (!integ)
		return 0;
	s->integrity = str_field(integ, "type");
	je = str_field(integ, "journal_encryption");
	ji = str_field(integ, "journal_integrity");
	if (!s->integrity || !je || !ji)
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment's integrity settings are "
			       "malformed", device);
	if (strcmp(je, "none") || strcmp(ji, "none"))
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment's integrity journal uses "
			       "encryption '%.64s' and integrity '%.64s' (only none is accepted)",
			       device, je, ji);
	return 0;
}

/* Exactly one segment, "0", of type crypt, plain settings, inside the device. */
static int check_segment(json_t *root, const char *device, uint64_t metadata_end,
			 uint64_t dev_size, struct segment *s, struct err *e)
{
	json_t *segs = json_object_get(root, "segments"), *seg, *flags;
	const char *type, *size;
	uint64_t tweak = 1, sector = 0;

	if (!json_is_object(segs) || json_object_size(segs) != 1 ||
	    !json_is_object(seg = json_object_get(segs, "0")))
		return err_set(e, CVM_E_UNLOCK, "%s: the LUKS2 header has %zu data segments, not "
			       "exactly one (a reencryption in progress?)", device,
			       json_is_object(segs) ? json_object_size(segs) : 0);
	type = str_field(seg, "type");
	if (!type || strcmp(type, "crypt"))
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment is of type '%.32s', not "
			       "crypt", device, type ? type : "?");
	s->encryption = str_field(seg, "encryption");
	if (!s->encryption)
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment names no encryption", device);
	if (check_integrity(seg, device, s, e))
		return e->code;
	flags = json_object_get(seg, "flags");
	if (flags && (!json_is_array(flags) || json_array_size(flags) > 0))
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment carries flags "
			       "(a reencryption in progress?)", device);
	if (!u64_field(seg, "iv_tweak", &tweak) || tweak != 0)
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment's iv_tweak is not 0", device);
	if (!json_is_integer(json_object_get(seg, "sector_size")) ||
	    (sector = (uint64_t)json_integer_value(json_object_get(seg, "sector_size"))) < SECTOR ||
	    sector > 4096 || (sector & (sector - 1)))
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment's sector size is not 512 "
			       "to 4096 bytes", device);
	if (!u64_field(seg, "offset", &s->offset))
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment's offset is not a number",
			       device);
	if (s->offset % sector || s->offset < metadata_end || s->offset >= dev_size)
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment's offset %" PRIu64 " is not "
			       "sane: it must follow the %" PRIu64 " bytes of header and keyslots "
			       "and lie inside the %" PRIu64 "-byte device", device, s->offset,
			       metadata_end, dev_size);
	size = str_field(seg, "size");
	s->size = 0;
	if (size && !strcmp(size, "dynamic"))
		return 0;
	if (!u64_field(seg, "size", &s->size) || s->size == 0 || s->size % sector ||
	    s->size > dev_size - s->offset)
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment's size '%.24s' is not sane: "
			       "it must be dynamic or fit the %" PRIu64 "-byte device after offset "
			       "%" PRIu64, device, size ? size : "?", dev_size, s->offset);
	return 0;
}

/* Every keyslot: a plain luks2 keyslot, raw area, no null cipher. */
static int check_keyslots(json_t *root, const char *device, struct err *e)
{
	json_t *slots = json_object_get(root, "keyslots"), *ks;
	const char *id;

	if (!json_is_object(slots))
		return err_set(e, CVM_E_UNLOCK, "%s: the LUKS2 header has no keyslots object", device);
	json_object_foreach(slots, id, ks) {
		json_t *area = json_object_get(ks, "area");
		const char *type = str_field(ks, "type"), *atype = str_field(area, "type");
		const char *enc = str_field(area, "encryption");

		if (!ascii_printable(id))
			return err_set(e, CVM_E_UNLOCK, "%s: a keyslot has a malformed id", device);
		if (!type || strcmp(type, "luks2") || !atype || strcmp(atype, "raw"))
			return err_set(e, CVM_E_UNLOCK, "%s: keyslot %.8s is of type '%.32s' with a "
				       "'%.32s' area, not a luks2 keyslot with a raw area (a "
				       "reencryption in progress?)", device, id, type ? type : "?",
				       atype ? atype : "?");
		if (!enc || cipher_name_is_null(enc))
			return err_set(e, CVM_E_UNLOCK, "%s: keyslot %.8s is encrypted with '%.64s': "
				       "a null cipher opens with any key; the header has been "
				       "tampered with", device, id, enc ? enc : "?");
	}
	return 0;
}

/* Exactly one digest binds keyslots to the data segment, and those keyslots
 * all hold a key of the volume key's size. */
static int check_digests(json_t *root, const char *device, int key_bytes, struct err *e)
{
	json_t *digests = json_object_get(root, "digests"), *slots_obj, *d, *v;
	const char *id;
	int bound = 0;
	size_t i;

	slots_obj = json_object_get(root, "keyslots");
	json_object_foreach(digests, id, d) {
		json_t *segs = json_object_get(d, "segments"), *slots = json_object_get(d, "keyslots");

		if (!json_is_array(segs) || json_array_size(segs) == 0)
			continue; /* an unbound key opens no data */
		bound++;
		json_array_foreach(slots, i, v) {
			const char *slot = json_is_string(v) && ascii_printable(json_string_value(v))
						   ? json_string_value(v) : "?";
			json_t *size = json_object_get(json_object_get(slots_obj, slot), "key_size");
			json_int_t bytes = json_is_integer(size) ? json_integer_value(size) : 0;

			if (bytes != key_bytes)
				return err_set(e, CVM_E_UNLOCK, "%s: keyslot %.8s of the data segment "
					       "holds a %lld-bit key, the volume key has %d bits",
					       device, slot,
					       bytes > 0 && bytes <= LUKS_KEY_MAX ? (long long)bytes * 8 : 0,
					       key_bytes * 8);
		}
	}
	if (bound != 1)
		return err_set(e, CVM_E_UNLOCK, "%s: %d digests bind keyslots to the data segment, "
			       "not exactly one", device, bound);
	return 0;
}

/* The segment against the allow-list, and against what libcryptsetup itself
 * will use (cipher, mode, key size, offset), so the two readings agree. */
static int check_cipher(struct crypt_device *cd, const char *device, const struct segment *s,
			const struct cipher_allow *allowed, struct err *e)
{
	const char *cipher = crypt_get_cipher(cd), *mode = crypt_get_cipher_mode(cd);
	int key_bytes = crypt_get_volume_key_size(cd);
	char used[2 * CIPHER_NAME_MAX + 2], list[512];

	if (cipher_name_is_null(s->encryption) || cipher_name_is_null(s->integrity))
		return err_set(e, CVM_E_UNLOCK, "%s: the data segment uses the null cipher "
			       "'%.64s%s%.64s': the data would be in clear; the header has been "
			       "tampered with", device, s->encryption,
			       s->integrity[0] ? "' with integrity '" : "", s->integrity);
	snprintf(used, sizeof(used), "%.64s-%.64s", cipher ? cipher : "?", mode ? mode : "?");
	if (!ascii_printable(used))
		snprintf(used, sizeof(used), "?");
	if (key_bytes <= 0 || strcmp(used, s->encryption) ||
	    crypt_get_data_offset(cd) != s->offset / SECTOR)
		return err_set(e, CVM_E_UNLOCK, "%s: libcryptsetup reads the data segment as %.130s "
			       "at sector %" PRIu64 ", the header says %.64s at byte %" PRIu64,
			       device, used, crypt_get_data_offset(cd), s->encryption, s->offset);
	if (cipher_allow_has(allowed, s->encryption, (unsigned)key_bytes * 8, s->integrity))
		return 0;
	cipher_allow_format(allowed, list, sizeof(list));
	return err_set(e, CVM_E_UNLOCK, "%s: the data segment uses cipher %.64s:%d%s%.64s, which "
		       "is not allowed ([luks] allowed_ciphers = %.300s)", device, s->encryption,
		       key_bytes * 8, s->integrity[0] ? ":" : "", s->integrity, list);
}

int luks_header_check(struct crypt_device *cd, const char *device,
		      const struct cipher_allow *allowed, struct err *e)
{
	struct cipher_allow def;
	uint64_t msize = 0, ksize = 0, dev_size = 0;
	const char *json = NULL;
	struct segment s;
	json_error_t jerr;
	json_t *root;
	int rc;

	if (!allowed) {
		cipher_allow_default(&def);
		allowed = &def;
	}
	if (crypt_dump_json(cd, &json, 0) < 0 || !json || strnlen(json, HEADER_JSON_MAX + 1) >
	    HEADER_JSON_MAX)
		return err_set(e, CVM_E_UNLOCK, "%s: cannot read the LUKS2 header's JSON", device);
	if (crypt_get_metadata_size(cd, &msize, &ksize) < 0 || msize > HEADER_JSON_MAX ||
	    ksize > UINT64_MAX / 2 - HEADER_JSON_MAX)
		return err_set(e, CVM_E_UNLOCK, "%s: cannot read the LUKS2 metadata size", device);
	if (device_size(device, &dev_size, e))
		return e->code;
	root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return err_set(e, CVM_E_UNLOCK, "%s: the LUKS2 header's JSON does not parse", device);
	}
	rc = check_config(root, device, e);
	if (!rc)
		rc = check_keyslots(root, device, e);
	if (!rc)
		rc = check_segment(root, device, 2 * msize + ksize, dev_size, &s, e);
	if (!rc)
		rc = check_digests(root, device, crypt_get_volume_key_size(cd), e);
	if (!rc)
		rc = check_cipher(cd, device, &s, allowed, e);
	if (!rc && crypt_reencrypt_status(cd, NULL) != CRYPT_REENCRYPT_NONE)
		rc = err_set(e, CVM_E_UNLOCK, "%s: a reencryption is in progress", device);
	json_decref(root);
	return rc;
}
