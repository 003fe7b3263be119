# A fake configfs-tsm report directory (/sys/kernel/config/tsm/report) as a FUSE file
# system, behaving like the kernel's for SEV-SNP or TDX: test-signed reports, real quotes.
"""Usage: configfs_tsm_fake.py MOUNTPOINT --mode snp|tdx [options]   (runs in the foreground)

mkdir NAME creates an entry with provider, generation, inblob, outblob, privlevel,
privlevel_floor and (SNP) auxblob. Each write to inblob or privlevel bumps generation;
reading outblob produces, for the current inblob:
  snp: the --snp-template report with report_data = inblob and vmpl = privlevel,
       signed (ECDSA P-384) with --snp-key; auxblob = a GHCB certificate table
       holding --snp-vcek as the VCEK;
  tdx: the --tdx-quote quote (v4 or v5) with REPORTDATA replaced by inblob.
The hidden file MOUNTPOINT/.control takes lines "provider=NAME" (what entries report),
"race=1" (another writer: reading outblob bumps generation by 2 more), and
"launch_data=HEX" (what the host set at launch: SNP HOST_DATA, 32 bytes, or TDX
MRCONFIGID, 48 bytes; empty = the template's) at run time.
"""

import argparse
import errno
import os
import stat
import struct
import sys
import threading
import time
import uuid

import fusepy
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

VCEK_GUID = uuid.UUID("63da758d-e664-4564-adc5-f4b93be8accd").bytes
PROVIDERS = {"snp": "sev_guest", "tdx": "tdx_guest"}
TDX_REPORT_DATA = {4: 568, 5: 574}


def sign_snp(report, key):
    der = key.sign(bytes(report[:0x2A0]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    report[0x2A0:0x2E8] = r.to_bytes(72, "little")
    report[0x2E8:0x330] = s.to_bytes(72, "little")
    report[0x330:0x4A0] = bytes(0x4A0 - 0x330)


def ghcb_cert_table(vcek_der):
    table = VCEK_GUID + struct.pack("<II", 48, len(vcek_der)) + bytes(24)
    return table + vcek_der


class Entry:
    def __init__(self, provider):
        self.provider = provider
        self.generation = 0
        self.inblob = b""
        self.privlevel = 0
        self.outblob = None
        self.auxblob = b""
        self.ctime = time.time()


class TsmFs(fusepy.Operations):
    def __init__(self, args):
        self.mode = args.mode
        self.provider = PROVIDERS[args.mode]
        self.race = False
        self.launch_data = None
        self.mutex = threading.Lock()
        self.entries = {}
        self.args = args
        if args.mode == "snp":
            with open(args.snp_key, "rb") as f:
                self.key = serialization.load_pem_private_key(f.read(), None)
            with open(args.snp_template, "rb") as f:
                self.template = f.read()
            with open(args.snp_vcek, "rb") as f:
                self.aux = ghcb_cert_table(f.read())
        else:
            with open(args.tdx_quote, "rb") as f:
                self.template = f.read()
        self.attrs = ["provider", "generation", "inblob", "outblob", "privlevel", "privlevel_floor"]
        if args.mode == "snp":
            self.attrs.append("auxblob")

    # --- helpers ---
    def _split(self, path):
        parts = [p for p in path.split("/") if p]
        if len(parts) > 2:
            raise fusepy.FuseOSError(errno.ENOENT)
        return parts

    def _entry(self, name):
        entry = self.entries.get(name)
        if entry is None:
            raise fusepy.FuseOSError(errno.ENOENT)
        return entry

    def _generate(self, entry):
        data = entry.inblob[:64] + bytes(64 - min(len(entry.inblob), 64))
        if self.mode == "snp":
            report = bytearray(self.template)
            report[0x30:0x34] = struct.pack("<I", entry.privlevel)
            report[0x50:0x90] = data
            if self.launch_data is not None:
                report[0xC0:0xE0] = self.launch_data
            sign_snp(report, self.key)
            return bytes(report), self.aux
        quote = bytearray(self.template)
        off = TDX_REPORT_DATA[struct.unpack_from("<H", quote, 0)[0]]
        quote[off:off + 64] = data
        if self.launch_data is not None:  # MRCONFIGID: 184 bytes into the TD report body
            quote[off - 520 + 184:off - 520 + 232] = self.launch_data
        return bytes(quote), b""

    def _content(self, entry, attr):
        if attr == "provider":
            return (entry.provider + "\n").encode()
        if attr == "generation":
            return b"%d\n" % entry.generation
        if attr == "privlevel":
            return b"%d\n" % entry.privlevel
        if attr == "privlevel_floor":
            return b"0\n"
        if attr in ("outblob", "auxblob"):
            if not entry.inblob:
                raise fusepy.FuseOSError(errno.EINVAL)
            if entry.outblob is None:
                entry.outblob, entry.auxblob = self._generate(entry)
                if self.race:  # someone else wrote inblob twice meanwhile
                    entry.generation += 2
            return entry.outblob if attr == "outblob" else entry.auxblob
        return b""

    # --- file system operations ---
    def getattr(self, path, fh=None):
        parts = self._split(path)
        now = time.time()
        if not parts:
            return dict(st_mode=stat.S_IFDIR | 0o755, st_nlink=2 + len(self.entries),
                        st_ctime=now, st_mtime=now, st_atime=now)
        if parts == [".control"]:
            return dict(st_mode=stat.S_IFREG | 0o600, st_nlink=1, st_size=0)
        with self.mutex:
            entry = self._entry(parts[0])
            if len(parts) == 1:
                return dict(st_mode=stat.S_IFDIR | 0o755, st_nlink=2, st_ctime=entry.ctime,
                            st_mtime=entry.ctime, st_atime=entry.ctime)
        if parts[1] not in self.attrs:
            raise fusepy.FuseOSError(errno.ENOENT)
        writable = parts[1] in ("inblob", "privlevel")
        mode = (0o644 if writable else 0o444) if parts[1] != "inblob" else 0o200
        return dict(st_mode=stat.S_IFREG | mode, st_nlink=1, st_size=0)

    def readdir(self, path, fh):
        parts = self._split(path)
        if not parts:
            return [".", ".."] + sorted(self.entries)
        self._entry(parts[0])
        return [".", ".."] + self.attrs

    def mkdir(self, path, mode):
        parts = self._split(path)
        if len(parts) != 1:
            raise fusepy.FuseOSError(errno.EPERM)
        with self.mutex:
            if parts[0] in self.entries:
                raise fusepy.FuseOSError(errno.EEXIST)
            self.entries[parts[0]] = Entry(self.provider)
        return 0

    def rmdir(self, path):
        parts = self._split(path)
        with self.mutex:
            self._entry(parts[0])
            del self.entries[parts[0]]
        return 0

    def open(self, path, flags):
        parts = self._split(path)
        if parts == [".control"]:
            return 0
        if len(parts) != 2 or parts[1] not in self.attrs:
            raise fusepy.FuseOSError(errno.ENOENT)
        return 0

    def truncate(self, path, length, fh=None):
        return 0

    def read(self, path, size, offset, fh):
        parts = self._split(path)
        if parts == [".control"]:
            return b""
        with self.mutex:
            entry = self._entry(parts[0])
            if parts[1] == "inblob":
                raise fusepy.FuseOSError(errno.EACCES)
            data = self._content(entry, parts[1])
        return data[offset:offset + size]

    def write(self, path, data, offset, fh):
        parts = self._split(path)
        if parts == [".control"]:
            for line in data.decode().splitlines():
                key, _, value = line.partition("=")
                if key == "provider":
                    self.provider = value.strip()
                elif key == "race":
                    self.race = value.strip() == "1"
                elif key == "launch_data":
                    raw = bytes.fromhex(value.strip())
                    if raw and len(raw) != (32 if self.mode == "snp" else 48):
                        raise fusepy.FuseOSError(errno.EINVAL)
                    self.launch_data = raw or None
            return len(data)
        with self.mutex:
            entry = self._entry(parts[0])
            if parts[1] == "inblob":
                if offset + len(data) > 64:
                    raise fusepy.FuseOSError(errno.EFBIG)
                blob = bytearray(entry.inblob.ljust(offset, b"\0"))
                blob[offset:offset + len(data)] = data
                entry.inblob = bytes(blob)
            elif parts[1] == "privlevel":
                try:
                    level = int(data.decode().strip())
                except ValueError:
                    raise fusepy.FuseOSError(errno.EINVAL) from None
                if not 0 <= level <= 3:
                    raise fusepy.FuseOSError(errno.EINVAL)
                entry.privlevel = level
            else:
                raise fusepy.FuseOSError(errno.EACCES)
            entry.generation += 1
            entry.outblob = None
        return len(data)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mountpoint")
    p.add_argument("--mode", choices=["snp", "tdx"], required=True)
    p.add_argument("--snp-key", help="PEM P-384 private key signing reports")
    p.add_argument("--snp-template", help="1184-byte report used as the template")
    p.add_argument("--snp-vcek", help="DER certificate served in auxblob as the VCEK")
    p.add_argument("--tdx-quote", help="TD quote (v4/v5) used as the template")
    args = p.parse_args()
    fs = TsmFs(args)
    fusepy.FUSE(fs, args.mountpoint, foreground=True, nothreads=False, direct_io=True,
                default_permissions=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
