#!/usr/bin/python3
"""Reads a TPM 2.0 firmware event log (TCG PC Client PFP "crypto agile" format, as
/sys/kernel/security/tpm0/binary_bios_measurements holds it) and prints one JSON
object per event: {"pcr", "type", "digests": {"sha256": hex, ...}, "data": hex}.
Usage: eventlog.py FILE   (the VM test's independent reading of what was measured)"""
import json
import struct
import sys

ALGS = {0x0004: "sha1", 0x000B: "sha256", 0x000C: "sha384", 0x000D: "sha512"}


def events(log):
    off = 0

    def take(n):
        nonlocal off
        if off + n > len(log):
            raise SystemExit("event log truncated at offset %d" % off)
        off += n
        return log[off - n:off]

    # first event: TCG_PCR_EVENT (SHA-1 layout) carrying the Spec ID event
    pcr, etype = struct.unpack("<II", take(8))
    take(20)
    spec = take(struct.unpack("<I", take(4))[0])
    if not spec.startswith(b"Spec ID Event03\0"):
        raise SystemExit("not a crypto-agile event log")
    count = struct.unpack_from("<I", spec, 24)[0]
    sizes = dict(struct.unpack_from("<HH", spec, 28 + 4 * i) for i in range(count))
    while off < len(log):
        pcr, etype, n = struct.unpack("<III", take(12))
        digests = {}
        for _ in range(n):
            alg = struct.unpack("<H", take(2))[0]
            if alg not in sizes:
                raise SystemExit("digest of unknown algorithm 0x%04x" % alg)
            digests[ALGS.get(alg, "0x%04x" % alg)] = take(sizes[alg]).hex()
        data = take(struct.unpack("<I", take(4))[0])
        yield {"pcr": pcr, "type": etype, "digests": digests, "data": data.hex()}


def main():
    with open(sys.argv[1], "rb") as f:
        for e in events(f.read()):
            print(json.dumps(e))


if __name__ == "__main__":
    main()
