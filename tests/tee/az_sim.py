"""Test doubles for the Azure paravisor vTPM backends, on loopback only.

ParavisorSim: a TCP proxy in front of swtpm (data port + control port, so a
"swtpm:host=127.0.0.1,port=X" TCTI can use it) that behaves like Azure's paravisor for
the two NV indices it owns: when the guest writes report data to NV 0x01400002, it
rebuilds the HCL report in NV 0x01400001 (user-data = that report data, the hardware
report's report_data = SHA-256 of the variable data, the AK = the swtpm AK) before
answering. The hardware report is a real one from the fixtures, so its AMD/Intel
signature no longer matches: verifiers run with az-simulated-paravisor=1.

ImdsStub: the instance metadata service endpoints the backends use:
GET /metadata/THIM/amd/certification and POST /acc/tdquote (both need Metadata: true).
"""
import base64
import hashlib
import json
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HCL_NV, REPORT_DATA_NV = 0x01400001, 0x01400002
HCL_NV_SIZE = 2048           # swtpm's largest NV index (Azure's holds 2600 bytes)
REPORT_TYPE_SNP, REPORT_TYPE_TDX = 2, 4
TPM_CC_NV_WRITE = 0x137
TPM_CC_QUOTE = 0x158
TPM_CC_PCR_EXTEND = 0x182
HW_SLOT = 1184


def _b64url_nopad(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def build_hcl(report_type, hw_template, ak_n, ak_e, report_data):
    """An HCL report (padded to HCL_NV_SIZE) in the layout of Azure's paravisor."""
    user_data = (bytes(report_data) + bytes(64))[:64]
    var = json.dumps({
        "keys": [{"kid": "HCLAkPub", "key_ops": ["sign"], "kty": "RSA",
                  "e": _b64url_nopad(ak_e.to_bytes((ak_e.bit_length() + 7) // 8, "big")),
                  "n": _b64url_nopad(ak_n.to_bytes(256, "big"))}],
        "vm-configuration": {"console-enabled": False, "secure-boot": True,
                             "tpm-enabled": True,
                             "vmUniqueId": "00000000-0000-4000-8000-00000000cafe"},
        "user-data": user_data.hex().upper()}, separators=(",", ":")).encode()
    hw = bytearray(hw_template.ljust(HW_SLOT, b"\0")[:HW_SLOT])
    rd_off = 0x50 if report_type == REPORT_TYPE_SNP else 128
    hw[rd_off:rd_off + 64] = hashlib.sha256(var).digest() + bytes(32)
    request = struct.pack("<5I", 20 + len(var), 1, report_type, 1, len(var))
    size = 32 + HW_SLOT + len(request) + len(var)
    header = struct.pack("<8I", 0x414C4348, 1, size, 2, 0, 0, 0, 0)
    report = header + bytes(hw) + request + var
    if len(report) > HCL_NV_SIZE:
        raise ValueError("HCL report does not fit the NV index")
    return report.ljust(HCL_NV_SIZE, b"\0")


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _recv_tpm(sock):
    head = _recv_exact(sock, 10)
    if head is None:
        return None
    size = struct.unpack(">I", head[2:6])[0]
    if size < 10 or size > 8192:
        return None
    rest = _recv_exact(sock, size - 10)
    return None if rest is None else head + rest


def nv_write_command(index, data, offset):
    """TPM2_NV_Write with owner authorization (empty password session)."""
    auth = struct.pack(">IHBH", 0x40000009, 0, 0, 0)
    params = struct.pack(">H", len(data)) + data + struct.pack(">H", offset)
    body = struct.pack(">III", 0x40000001, index, len(auth)) + auth + params
    return struct.pack(">HII", 0x8002, 10 + len(body), TPM_CC_NV_WRITE) + body


def pcr_extend_command(pcr, digest):
    """TPM2_PCR_Extend of the SHA-256 bank (empty password session)."""
    auth = struct.pack(">IHBH", 0x40000009, 0, 0, 0)
    values = struct.pack(">IH", 1, 0x000B) + digest
    body = struct.pack(">II", pcr, len(auth)) + auth + values
    return struct.pack(">HII", 0x8002, 10 + len(body), TPM_CC_PCR_EXTEND) + body


def _written_report_data(cmd):
    """(nvIndex, data) of a TPM2_NV_Write command."""
    index = struct.unpack(">I", cmd[14:18])[0]
    auth_size = struct.unpack(">I", cmd[18:22])[0]
    off = 22 + auth_size
    (n,) = struct.unpack(">H", cmd[off:off + 2])
    return index, cmd[off + 2:off + 2 + n]


class ParavisorSim:
    def __init__(self, swtpm_port, report_type, hw_template, ak_public_numbers):
        self.upstream = swtpm_port
        self.report_type = report_type
        self.hw_template = hw_template
        self.ak = ak_public_numbers
        self.refreshes = 0
        # Tests set this to make PCR 16 move right after the next N quotes (a
        # measurement racing the evidence collection).
        self.extend_after_quote = 0
        self.listeners = self._listen_pair()
        self.port = self.listeners[0].getsockname()[1]
        self._stop = False
        for lst, up in ((self.listeners[0], swtpm_port), (self.listeners[1], swtpm_port + 1)):
            threading.Thread(target=self._accept, args=(lst, up), daemon=True).start()

    @property
    def tcti(self):
        return "swtpm:host=127.0.0.1,port=%d" % self.port

    def hcl(self, report_data):
        return build_hcl(self.report_type, self.hw_template, self.ak.n, self.ak.e, report_data)

    @staticmethod
    def _listen_pair():
        for _ in range(50):
            a = socket.socket()
            a.bind(("127.0.0.1", 0))
            b = socket.socket()
            try:
                b.bind(("127.0.0.1", a.getsockname()[1] + 1))
            except OSError:
                a.close()
                b.close()
                continue
            a.listen(4)
            b.listen(4)
            return a, b
        raise RuntimeError("no free port pair")

    def _accept(self, listener, upstream_port):
        while not self._stop:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            target = self._serve_data if upstream_port == self.upstream else self._pump_pair
            threading.Thread(target=target, args=(client, upstream_port), daemon=True).start()

    def _pump_pair(self, client, port):
        up = socket.create_connection(("127.0.0.1", port))

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pump, args=(up, client), daemon=True).start()
        pump(client, up)

    def _serve_data(self, client, port):
        up = socket.create_connection(("127.0.0.1", port))
        try:
            while True:
                cmd = _recv_tpm(client)
                if cmd is None:
                    break
                up.sendall(cmd)
                resp = _recv_tpm(up)
                if resp is None:
                    break
                cc = struct.unpack(">I", cmd[6:10])[0]
                if cc == TPM_CC_NV_WRITE and resp[6:10] == b"\0\0\0\0":
                    index, data = _written_report_data(cmd)
                    if index == REPORT_DATA_NV:
                        self._refresh(up, data)
                if cc == TPM_CC_QUOTE and resp[6:10] == b"\0\0\0\0" and self.extend_after_quote > 0:
                    self.extend_after_quote -= 1
                    up.sendall(pcr_extend_command(16, hashlib.sha256(resp).digest()))
                    if _recv_tpm(up) is None:
                        break
                client.sendall(resp)
        finally:
            client.close()
            up.close()

    def _refresh(self, up, report_data):
        report = self.hcl(report_data)
        for off in range(0, len(report), 1024):
            up.sendall(nv_write_command(HCL_NV, report[off:off + 1024], off))
            resp = _recv_tpm(up)
            if resp is None or resp[6:10] != b"\0\0\0\0":
                raise RuntimeError("simulated paravisor could not write the HCL report")
        self.refreshes += 1

    def stop(self):
        self._stop = True
        for s in self.listeners:
            s.close()


class ImdsStub:
    def __init__(self, vcek_pem=None, td_quote=None):
        self.vcek_pem, self.td_quote = vcek_pem, td_quote
        self.requests = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, obj):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                stub.requests.append(("GET", self.path, self.headers.get("Metadata"), None))
                if self.headers.get("Metadata") != "true":
                    return self._answer(400, {"error": "Metadata header required"})
                if self.path == "/metadata/THIM/amd/certification" and stub.vcek_pem:
                    return self._answer(200, {"vcekCert": stub.vcek_pem, "certificateChain": "",
                                              "tcbm": "DB18000000000004"})
                return self._answer(404, {"error": "not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 1 << 20))
                stub.requests.append(("POST", self.path, self.headers.get("Metadata"), body))
                if self.headers.get("Metadata") != "true":
                    return self._answer(400, {"error": "Metadata header required"})
                if self.path == "/acc/tdquote" and stub.td_quote:
                    try:
                        report = json.loads(body)["report"]
                        base64.urlsafe_b64decode(report + "=" * (-len(report) % 4))
                    except (ValueError, KeyError, TypeError):
                        return self._answer(400, {"error": "bad report"})
                    return self._answer(200, {"quote": _b64url_nopad(stub.td_quote)})
                return self._answer(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
