# Loopback TLS fixtures for cvmboot's TLS tests: short-lived CAs and server certificates
# (valid, expired, for another host), and in-process servers that relay TLS to a plain-HTTP
# test KBS or misbehave in the handshake. Independent of the agent's code.
"""Ca(name).issue(...) -> Leaf; Front(mode, leaf=..., backend_port=...): .url .accepted .close()."""

import datetime
import ipaddress
import os
import socket
import ssl
import struct
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(host):
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class Leaf:
    """A server certificate (PEM chain: leaf then its CA) and its key, written to files."""

    def __init__(self, directory, stem, chain_pem, key_pem):
        self.chain = os.path.join(directory, stem + ".pem")
        self.key = os.path.join(directory, stem + "-key.pem")
        with open(self.chain, "wb") as f:
            f.write(chain_pem)
        fd = os.open(self.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)

    def context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.chain, self.key)
        return ctx


class Ca:
    """A self-signed P-256 CA valid from 5 minutes ago for one day; .path is its PEM file."""

    def __init__(self, directory, name):
        self.directory = directory
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        start = _now() - datetime.timedelta(minutes=5)
        self.cert = (x509.CertificateBuilder()
                     .subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), critical=True)
                     .add_extension(self.ski, critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.path = os.path.join(directory, name.replace(" ", "-") + ".pem")
        with open(self.path, "wb") as f:
            f.write(self.pem)

    def issue(self, stem, hosts=LOOPBACK_NAMES, valid_from=-300, valid_until=86400):
        """A server certificate for hosts, valid from now+valid_from to now+valid_until
        (seconds; both negative makes an expired one)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(_name(hosts[0])).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now + datetime.timedelta(seconds=valid_from))
                .not_valid_after(now + datetime.timedelta(seconds=valid_until))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    self.ski), critical=False)
                .sign(self.key, hashes.SHA256()))
        chain = cert.public_bytes(serialization.Encoding.PEM) + self.pem
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return Leaf(self.directory, stem, chain, key_pem)


def bundle(path, *cas):
    """A CA bundle file holding several CAs (rotation); returns path."""
    with open(path, "wb") as f:
        for ca in cas:
            f.write(ca.pem)
    return path


def _pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _reset(conn):
    """Close with an RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _read_request(tls):
    """One HTTP request (headers and Content-Length body); b"" at end of stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = tls.recv(65536)
        if not chunk:
            break
        body += chunk
    return head


class Front:
    """A loopback TLS server on 127.0.0.1, in threads of the test process.

    mode "relay":  TLS with leaf, then the bytes go to and from 127.0.0.1:backend_port
                   (a plain-HTTP test KBS), so the agent talks to the KBS through it.
    mode "stall":  accepts TCP and never sends a byte (the handshake never completes).
    mode "reset":  reads the ClientHello, then resets the connection (RST); after the
                   first `resets` connections (None = all) it relays like "relay".
    mode "canned": TLS with leaf, then answers every request with canned(n, head) bytes
                   (n counts requests from 0) and closes after the answer.
    .accepted counts TCP connections; .requests holds the canned mode's request heads."""

    def __init__(self, mode, leaf=None, backend_port=None, resets=None, canned=None):
        self.mode = mode
        self.ctx = leaf.context() if leaf else None
        self.backend_port = backend_port
        self.resets = resets
        self.canned = canned
        self.accepted = 0
        self.requests = []
        self.lock = threading.Lock()
        self.held = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "https://127.0.0.1:%d" % self.port
        self.closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                n = self.accepted
                self.accepted += 1
                self.held.append(conn)
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def _serve(self, conn, n):
        conn.settimeout(30)
        try:
            if self.mode == "stall":
                return  # held open in self.held until close()
            if self.mode == "reset" and (self.resets is None or n < self.resets):
                conn.recv(16384)
                _reset(conn)
                return
            tls = self.ctx.wrap_socket(conn, server_side=True)
            if self.mode == "canned":
                self._answer(tls)
            else:
                backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=30)
                threading.Thread(target=_pump, args=(backend, tls), daemon=True).start()
                _pump(tls, backend)
        except (OSError, ssl.SSLError, ValueError):
            try:
                conn.close()
            except OSError:
                pass

    def _answer(self, tls):
        head = _read_request(tls)
        if not head:
            return
        with self.lock:
            n = len(self.requests)
            self.requests.append(head.decode("latin-1"))
        tls.sendall(self.canned(n, head))
        tls.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.sock.close()
        with self.lock:
            for conn in self.held:
                try:
                    conn.close()
                except OSError:
                    pass
