#!/usr/bin/python3
# Trustee-compatible test KBS (RCAR protocol 0.4.0) for cvmboot's tests: auth, attest
# with plug-in evidence verifiers, JWE resources, a request log and injectable faults.
"""Usage: kbs.py --workdir DIR --resources DIR [--port 0] [--bind 127.0.0.1] [--http]
          [--fault NAME[=VALUE] ...] [--trust DIR] [--policy FILE]
          [--session-lifetime SECONDS] [--error-profile legacy|current]
          [--verifier-option KEY=VALUE ...] [--challenge-extra-params JSON]
          [--attest-capacity N --attest-cost-ms T [--overload-status 503|429]
           [--overload-retry-after S|none]]
          [--admin-public-key PEM] [--admin-role ROLE]
Prints "READY <port>" once listening, serves until SIGTERM. See faults.py for --fault."""

import argparse
import datetime
import email.utils
import hashlib
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

import initdata  # noqa: E402
import admin  # noqa: E402
import jcs  # noqa: E402
import jose  # noqa: E402
import jwe  # noqa: E402
import overload  # noqa: E402
import verifiers  # noqa: E402
from faults import FaultSet, FaultSyntaxError  # noqa: E402

PROTOCOL_VERSION = "0.4.0"
ERROR_PREFIX = "https://github.com/confidential-containers/kbs/errors/"
# TEE names Trustee's kbs-types know; anything else fails its typed parse.
KNOWN_TEES = ("sample", "snp", "tdx", "az-snp-vtpm", "az-tdx-vtpm", "tpm", "sgx", "cca",
              "csv", "se", "hygondcu", "nvidia", "sampledevice")
SEGMENT_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_BODY = 4 * 1024 * 1024
OVERSIZE_BYTES = 2 * 1024 * 1024

# Trustee's mapping from error type to status. "legacy": every error is 401 except
# InvalidRequestPath/PluginNotFound (404); that is what kbs-protocol.md describes.
# "current": newer Trustee (kbs/src/error.rs after the status-code rework).
STATUS_CURRENT = {
    "JweError": 400, "SerdeError": 400,
    "TokenNotFound": 401, "TokenVerifierError": 401, "AdminAuth": 401,
    "PolicyDeny": 403,
    "InvalidRequestPath": 404, "PluginNotFound": 404,
    "PluginInternalError": 500, "AttestationError": 500, "PolicyEngine": 500,
}


class Problem(Exception):
    """An RFC 7807 error answer: problem type name and detail."""

    def __init__(self, type_name, detail, status=None):
        super().__init__(detail)
        self.type_name = type_name
        self.detail = detail
        self.status = status


class Response:
    def __init__(self, status, body=b"", headers=None, problem=None):
        self.status = status
        self.body = body
        self.headers = list(headers or [])
        self.problem = problem


def json_body(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


class Session:
    def __init__(self, sid, tee, nonce, expires):
        self.sid = sid
        self.tee = tee
        self.nonce = nonce
        self.expires = expires
        self.attested = False
        self.token = None
        self.tee_pubkey = None  # the JWK dict as sent


class KbsState:
    """Everything the request handlers share; guarded by self.lock."""

    def __init__(self, args, faults, policy):
        self.args = args
        self.faults = faults
        self.policy = policy
        self.lock = threading.Lock()
        self.sessions = {}
        self.token_key = ec.generate_private_key(ec.SECP256R1())
        self.conn_counter = 0
        self.request_counter = 0
        self.attested_sessions = 0
        self.log = open(os.path.join(args.workdir, "requests.jsonl"), "a", encoding="utf-8")
        self.verifier_ctx_options = dict(args.verifier_option or [])
        self.overload = None  # overload.Overload when --attest-capacity is given

    def status_for(self, type_name):
        if self.args.error_profile == "current":
            return STATUS_CURRENT.get(type_name, 401)
        if type_name in ("InvalidRequestPath", "PluginNotFound"):
            return 404
        if type_name == "PolicyDeny" and "policy_deny_status" in self.policy:
            return int(self.policy["policy_deny_status"])
        return 401

    def write_log(self, entry):
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self.lock:
            self.log.write(line)
            self.log.flush()


# ---------------------------------------------------------------- TLS material

def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def make_tls_material(workdir):
    """Create a P-256 CA and a server certificate for 127.0.0.1/localhost."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (x509.CertificateBuilder()
               .subject_name(_name("cvmboot test KBS CA")).issuer_name(_name("cvmboot test KBS CA"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                            False), critical=True)
               .add_extension(ca_ski, critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {name: os.path.join(workdir, name)
             for name in ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(_pem_cert(ca_cert))
    _write_private(paths["ca-key.pem"], _pem_key(ca_key))
    with open(paths["server.pem"], "wb") as f:
        f.write(_pem_cert(cert) + _pem_cert(ca_cert))
    _write_private(paths["server-key.pem"], _pem_key(key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(paths["server.pem"], paths["server-key.pem"])
    return ctx


# ---------------------------------------------------------------- protocol logic

def parse_cookie(header):
    if not header:
        return None
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "kbs-session-id":
            return value.strip()
    return None


def runtime_data_digest(nonce, tee_pubkey, additional_evidence):
    """SHA-384 of the JCS form of the runtime data, as Trustee's AS computes it."""
    material = {"additional-evidence": additional_evidence, "nonce": nonce,
                "tee-pubkey": tee_pubkey}
    return hashlib.sha384(jcs.canonicalize(material)).digest()


class Kbs:
    """The three RCAR endpoints. Each handler returns a Response or raises Problem."""

    def __init__(self, state):
        self.state = state

    # -- /auth
    def auth(self, body, entry):
        try:
            req = json.loads(body)
        except ValueError as exc:
            raise Problem("SerdeError", "Serialize/Deserialize failed: %s" % exc)
        if not isinstance(req, dict) or not {"version", "tee", "extra-params"} <= set(req):
            raise Problem("SerdeError", "auth request needs version, tee and extra-params")
        entry["tee"] = req.get("tee")
        if req["version"] != PROTOCOL_VERSION:
            raise Problem("AttestationError", "KBS Client Protocol Version Mismatch: %r, want %s"
                          % (req["version"], PROTOCOL_VERSION))
        if req["tee"] not in KNOWN_TEES:
            raise Problem("SerdeError", "unknown tee %r" % (req["tee"],))
        nonce = jose.b64std_encode(secrets.token_bytes(32))
        sid = uuid.uuid4().hex
        expires = time.time() + self.state.args.session_lifetime
        with self.state.lock:
            self.state.sessions[sid] = Session(sid, req["tee"], nonce, expires)
        entry["session"] = sid
        cookie = "kbs-session-id=%s; Expires=%s" % (sid, email.utils.formatdate(expires, usegmt=True))
        extra = self.state.args.challenge_extra_params
        return Response(200, json_body({"nonce": nonce,
                                        "extra-params": json.loads(extra) if extra else ""}),
                        [("Set-Cookie", cookie), ("Content-Type", "application/json")])

    def _session(self, headers, entry):
        sid = parse_cookie(headers.get("Cookie"))
        entry["session"] = sid
        if sid is None:
            return None
        with self.state.lock:
            return self.state.sessions.get(sid)

    # -- /attest
    def attest(self, headers, body, entry):
        session = self._session(headers, entry)
        if session is None:
            raise Problem("AttestationError", "no valid kbs-session-id cookie")
        entry["tee"] = session.tee
        if time.time() >= session.expires:
            raise Problem("AttestationError", "session expired")
        if session.attested:
            return Response(200, json_body({"token": session.token}),
                            [("Content-Type", "application/json")])
        try:
            req = json.loads(body)
        except ValueError as exc:
            raise Problem("SerdeError", "Serialize/Deserialize failed: %s" % exc)
        runtime, evidence, init_data = self._attest_fields(req)
        if runtime["nonce"] != session.nonce:
            raise Problem("AttestationError", "runtime-data nonce does not match the session's")
        try:
            jose.parse_tee_pubkey(runtime["tee-pubkey"])
        except jose.JoseError as exc:
            raise Problem("AttestationError", "invalid tee-pubkey: %s" % exc)
        self._attest_policy(session, entry)
        digest = runtime_data_digest(runtime["nonce"], runtime["tee-pubkey"],
                                     evidence["additional_evidence"])
        entry["digest"] = digest.hex()
        ctx = verifiers.VerifierContext(self.state.args.trust, self.state.verifier_ctx_options,
                                        session.tee)
        try:
            claims = verifiers.load(session.tee).verify(evidence["primary_evidence"], digest, ctx)
        except verifiers.VerificationError as exc:
            raise Problem("AttestationError", "evidence verification failed: %s" % exc)
        except Exception as exc:  # a verifier that chokes on hostile evidence still refuses
            traceback.print_exc()
            raise Problem("AttestationError", "evidence verification failed (verifier error "
                          "%s: %s)" % (type(exc).__name__, exc))
        try:
            init_claims = initdata.check(session.tee, init_data, claims, self.state.policy)
        except initdata.InitDataError as exc:
            raise Problem(exc.type_name, str(exc))
        entry["init_data_digest"] = init_claims.get("digest")
        return self._issue_token(session, runtime["tee-pubkey"], claims, init_claims or None, entry)

    @staticmethod
    def _attest_fields(req):
        if not isinstance(req, dict):
            raise Problem("SerdeError", "attestation is not a JSON object")
        runtime, evidence = req.get("runtime-data"), req.get("tee-evidence")
        if (not isinstance(runtime, dict) or not isinstance(runtime.get("nonce"), str)
                or "tee-pubkey" not in runtime):
            raise Problem("SerdeError", "runtime-data needs nonce and tee-pubkey")
        if (not isinstance(evidence, dict) or "primary_evidence" not in evidence
                or not isinstance(evidence.get("additional_evidence"), str)):
            raise Problem("SerdeError", "tee-evidence needs primary_evidence and "
                                        "additional_evidence (string)")
        init_data = req.get("init-data")
        if init_data is not None and (not isinstance(init_data, dict)
                                      or not isinstance(init_data.get("format"), str)
                                      or not isinstance(init_data.get("body"), str)):
            raise Problem("SerdeError", "init-data needs format and body strings")
        return runtime, evidence, init_data

    def _attest_policy(self, session, entry):
        policy = self.state.policy
        allowed = policy.get("allowed_tees")
        if allowed is not None and session.tee not in allowed:
            raise Problem("PolicyDeny", "Access denied by policy: tee %s not allowed" % session.tee)
        if policy.get("deny_attest"):
            raise Problem("PolicyDeny", "Access denied by policy: attestation denied")
        if self.state.faults.take("deny-attest", "attest"):
            entry["fault"] = "deny-attest"
            raise Problem("PolicyDeny", "Access denied by policy (injected deny-attest)")

    def _issue_token(self, session, tee_pubkey, claims, init_data, entry):
        now = time.time()
        with self.state.lock:
            self.state.attested_sessions += 1
            first = self.state.attested_sessions == 1
        if self.state.faults.take("expire-always", "attest") or (
                first and self.state.faults.take("expire-after-attest", "attest")):
            entry["fault"] = "expire-after-attest" if first else "expire-always"
            session.expires = now
        token = jose.jwt_sign_es256({
            "iss": "cvmboot-test-kbs", "iat": int(now), "exp": int(session.expires),
            "tee": session.tee, "tee-pubkey": tee_pubkey,
            "evaluation-reports": [{"policy-id": "default", "policy-hash": "",
                                    "evaluation-result": "allowed"}],
            "tcb-status": claims,
            "customized_claims": {"init_data": init_data, "runtime_data": None},
        }, self.state.token_key)
        session.token, session.tee_pubkey, session.attested = token, tee_pubkey, True
        return Response(200, json_body({"token": token}), [("Content-Type", "application/json")])

    # -- /resource
    def resource(self, path, headers, entry):
        parts = path[len("/kbs/v0/resource/"):].split("/")
        if len(parts) != 3 or not all(SEGMENT_RE.match(p) and p not in (".", "..") for p in parts):
            raise Problem("InvalidRequestPath", "Request path %s is invalid" % path)
        tee_pubkey = self._resource_key(headers, entry)
        rpath = "/".join(parts)
        if rpath in self.state.policy.get("deny_resources", []):
            raise Problem("PolicyDeny", "Access denied by policy")
        root = os.path.realpath(self.state.args.resources)
        fpath = os.path.realpath(os.path.join(root, *parts))
        if not fpath.startswith(root + os.sep) or not os.path.isfile(fpath):
            raise Problem("PluginInternalError",
                          "Plugin internal error: resource %s not found" % rpath)
        with open(fpath, "rb") as f:
            data = f.read()
        try:
            public_key = jose.parse_tee_pubkey(tee_pubkey)
        except jose.JoseError as exc:
            raise Problem("JweError", "JWE failed: %s" % exc)
        answer = jwe.encrypt(public_key, data)
        if self.state.faults.take("corrupt-tag", "resource"):
            entry["fault"] = "corrupt-tag"
            tag = bytearray(jose.b64url_decode(answer["tag"]))
            tag[0] ^= 0x01
            answer["tag"] = jose.b64url_encode(bytes(tag))
        entry["resource"] = rpath
        return Response(200, json_body(answer), [("Content-Type", "application/json")])

    def _resource_key(self, headers, entry):
        auth = headers.get("Authorization")
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Problem("TokenVerifierError", "Authorization is not a Bearer token")
            entry["auth"] = "bearer"
            try:
                claims = jose.jwt_verify_es256(token.strip(), self.state.token_key.public_key())
            except (jose.JoseError, ValueError) as exc:
                raise Problem("TokenVerifierError", "Token Verifier error: %s" % exc)
            if not isinstance(claims.get("exp"), int) or time.time() >= claims["exp"]:
                raise Problem("TokenVerifierError", "Token Verifier error: token expired")
            entry["tee"] = claims.get("tee")
            return claims.get("tee-pubkey")
        session = self._session(headers, entry)
        entry["auth"] = "cookie"
        if session is None or not session.attested:
            raise Problem("TokenNotFound", "Attestation Token not found")
        entry["tee"] = session.tee
        if time.time() >= session.expires:
            raise Problem("TokenNotFound", "Attestation Token not found (session expired)")
        return session.tee_pubkey


# ---------------------------------------------------------------- HTTP layer

def classify(method, path):
    if admin.is_admin(method, path):
        return "admin"
    if path == "/kbs/v0/auth" and method == "POST":
        return "auth"
    if path == "/kbs/v0/attest" and method == "POST":
        return "attest"
    if path.startswith("/kbs/v0/resource/") and method == "GET":
        return "resource"
    return "other"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cvmboot-test-kbs/0.1"
    sys_version = ""
    timeout = 60

    def setup(self):
        state = self.server.state
        with state.lock:
            state.conn_counter += 1
            self.conn_id = "%d-%d" % (self.client_address[1], state.conn_counter)
        if self.server.tls_context is not None:
            self.request.settimeout(10)
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError):
            pass

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("kbs: %s - %s\n" % (self.conn_id, fmt % args))

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_DELETE(self):
        self._serve("DELETE")

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
                if len(body) > MAX_BODY:
                    raise Problem("SerdeError", "request body too large")
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise Problem("SerdeError", "request body too large")
        return self.rfile.read(length) if length else b""

    def _serve(self, method):
        state = self.server.state
        with state.lock:
            state.request_counter += 1
            req_no = state.request_counter
        path = urlsplit(self.path).path
        endpoint = classify(method, path)
        entry = {"time": time.time(), "n": req_no, "method": method, "path": path,
                 "endpoint": endpoint, "conn": self.conn_id, "peer_port": self.client_address[1],
                 "session": parse_cookie(self.headers.get("Cookie")), "tee": None,
                 "status": None, "problem": None, "fault": None}
        try:
            body = self._read_body()
        except (Problem, ValueError):
            body = None
        fault_resp = self._pre_faults(endpoint, entry)
        if fault_resp == "drop":
            self.close_connection = True
            entry["status"] = 0
            state.write_log(entry)
            return
        resp = fault_resp or self._answer_within_capacity(method, path, endpoint, body, entry)
        entry["status"] = resp.status
        entry["problem"] = resp.problem
        self._send(resp, endpoint, entry)

    def _pre_faults(self, endpoint, entry):
        faults = self.server.state.faults
        delay = faults.take("delay", endpoint)
        if delay:
            entry["fault"] = "delay"
            time.sleep(delay.ms / 1000.0)
        if faults.take("drop", endpoint):
            entry["fault"] = "drop"
            return "drop"
        fail = faults.take("fail", endpoint)
        if fail:
            entry["fault"] = "fail"
            detail = "injected fault: status %d" % fail.status
            if fail.problem:
                headers = [("Content-Type", "application/json")]
                body = json_body({"type": ERROR_PREFIX + fail.problem, "detail": detail})
            else:
                headers = [("Content-Type", "text/plain")]
                body = detail.encode()
            if fail.retry_after is not None:
                headers.append(("Retry-After", str(fail.retry_after)))
                entry["retry_after"] = fail.retry_after
            return Response(fail.status, body, headers, fail.problem)
        return None

    def _answer_within_capacity(self, method, path, endpoint, body, entry):
        model = self.server.state.overload
        if model is None or endpoint != "attest":
            return self._answer(method, path, endpoint, body, entry)
        resp = model.serve(lambda: self._answer(method, path, endpoint, body, entry), entry)
        if isinstance(resp, Response):
            return resp
        status, headers, body = resp
        return Response(status, body, headers)

    def _answer(self, method, path, endpoint, body, entry):
        kbs = Kbs(self.server.state)
        try:
            if body is None:
                raise Problem("SerdeError", "unreadable or oversized request body")
            if endpoint == "auth":
                return kbs.auth(body, entry)
            if endpoint == "attest":
                return kbs.attest(self.headers, body, entry)
            if endpoint == "resource":
                return kbs.resource(path, self.headers, entry)
            if endpoint == "admin":
                return self._admin(method, path, body, entry)
            segs = path.split("/")
            if len(segs) >= 4 and segs[1:3] == ["kbs", "v0"] and segs[3] not in (
                    "auth", "attest", "resource"):
                raise Problem("PluginNotFound", "Plugin %s not found" % segs[3])
            raise Problem("InvalidRequestPath", "Request path %s is invalid" % path)
        except Problem as prob:
            status = prob.status or self.server.state.status_for(prob.type_name)
            entry["detail"] = prob.detail
            return Response(status, json_body({"type": ERROR_PREFIX + prob.type_name,
                                               "detail": prob.detail}),
                            [("Content-Type", "application/json")], prob.type_name)
        except Exception:  # a bug in the test KBS: say so loudly, answer 500
            traceback.print_exc()
            return Response(500, json_body({"type": ERROR_PREFIX + "InternalError",
                                            "detail": "test KBS bug"}),
                            [("Content-Type", "application/json")], "InternalError")

    def _admin(self, method, path, body, entry):
        try:
            status, payload, ctype = self.server.state.admin.handle(method, path, self.headers,
                                                                    body, entry)
        except admin.AdminError as exc:
            raise Problem(exc.type_name, exc.detail, exc.status)
        return Response(status, payload, [("Content-Type", ctype)] if ctype else [])

    def _send(self, resp, endpoint, entry):
        """Apply the answer-shaping faults, log the request, then write the answer.
        The log line is written before the body so a client never outruns it."""
        faults = self.server.state.faults
        body = resp.body
        declared = len(body)
        truncate = False
        if faults.take("oversize", endpoint):
            entry["fault"] = "oversize"
            body = b'{"pad":"' + b"A" * (OVERSIZE_BYTES - 10) + b'"}'
            declared = len(body)
        elif faults.take("truncate", endpoint):
            entry["fault"] = "truncate"
            truncate = True
            declared = len(body) + 64
        drip = faults.take("slow-drip", endpoint)
        if drip:
            entry["fault"] = "slow-drip"
        self.server.state.write_log(entry)
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(declared))
        if truncate:
            self.send_header("Connection", "close")
        try:
            if drip:
                self.end_headers()
                self._drip(body, drip.bytes_per_sec)
            else:
                # headers and body in one write: no Nagle/delayed-ACK stall
                self._headers_buffer.append(b"\r\n")
                self.wfile.write(b"".join(self._headers_buffer) + body)
                self._headers_buffer = []
            self.wfile.flush()
        except (ConnectionError, ssl.SSLError, OSError):
            self.close_connection = True
        if truncate:
            self.close_connection = True

    def _drip(self, body, rate):
        step = max(1, rate // 10)
        for i in range(0, len(body), step):
            self.wfile.write(body[i:i + step])
            self.wfile.flush()
            time.sleep(step / float(rate))


class KbsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # a fleet connects at once: one thread per connection

    def __init__(self, addr, state, tls_context):
        self.state = state
        self.tls_context = tls_context
        super().__init__(addr, Handler)


def load_policy(path):
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        policy = json.load(f)
    if not isinstance(policy, dict):
        raise SystemExit("policy file must hold a JSON object")
    return policy


def parse_args(argv):
    p = argparse.ArgumentParser(description="cvmboot test KBS (Trustee RCAR 0.4.0)")
    p.add_argument("--workdir", required=True)
    p.add_argument("--resources", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--http", action="store_true", help="serve plain HTTP")
    p.add_argument("--fault", action="append", default=[], metavar="NAME[=VALUE]")
    p.add_argument("--trust", default=None, help="verifier trust directory")
    p.add_argument("--policy", default=None, help="JSON policy file")
    p.add_argument("--session-lifetime", type=float, default=300.0)
    p.add_argument("--error-profile", choices=("legacy", "current"), default="legacy")
    p.add_argument("--verifier-option", action="append", metavar="KEY=VALUE",
                   type=lambda s: tuple(s.split("=", 1)) if "=" in s else (s, ""))
    p.add_argument("--challenge-extra-params", default=None, metavar="JSON",
                   help='extra-params of the /auth answer (default ""), e.g. '
                        '\'{"selected-hash-algorithm":"sha384"}\'')
    p.add_argument("-v", "--verbose", action="store_true")
    overload.add_arguments(p)
    admin.add_arguments(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    os.makedirs(args.workdir, exist_ok=True)
    try:
        faults = FaultSet.parse(args.fault)
    except FaultSyntaxError as exc:
        sys.stderr.write("kbs: bad --fault: %s\n" % exc)
        return 2
    state = KbsState(args, faults, load_policy(args.policy))
    try:
        state.overload = overload.Overload.from_args(args)
    except ValueError as exc:
        sys.stderr.write("kbs: %s\n" % exc)
        return 2
    state.admin = admin.AdminApi(args.admin_public_key, args.admin_role, args.resources,
                                 args.workdir)
    tls_context = None if args.http else make_tls_material(args.workdir)
    server = KbsServer((args.bind, args.port), state, tls_context)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
