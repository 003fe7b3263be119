# Trustee's admin API for the test KBS: set and delete resources (a later attested
# GET serves what was set) and the resource policy, behind an EdDSA bearer JWT.
"""AdminApi: POST/DELETE /kbs/v0/resource/REPO/TYPE/TAG (raw bytes),
POST/GET /kbs/v0/resource-policy ({"policy": base64url(Rego)}), each needing
`Authorization: Bearer <JWT>` signed with the Ed25519 key whose public half is
--admin-public-key (alg EdDSA, exp required and checked, iat/nbf checked when
present, role checked when --admin-role is given). Without --admin-public-key
every admin request is refused (Trustee's DenyAll). 401 AdminAuth on any
authentication failure. Resource bytes are never logged."""

import base64
import binascii
import json
import os
import re
import tempfile
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_TOKEN = 8192
CLOCK_SKEW = 60  # seconds a token's iat/nbf may lie in the future
RESOURCE_PREFIX = "/kbs/v0/resource/"
POLICY_PATH = "/kbs/v0/resource-policy"


class AdminError(Exception):
    """A refusal: Trustee problem type, detail, HTTP status (None: the KBS's mapping)."""

    def __init__(self, type_name, detail, status=None):
        super().__init__(detail)
        self.type_name, self.detail, self.status = type_name, detail, status


def add_arguments(parser):
    parser.add_argument("--admin-public-key", default=None, metavar="PEM",
                        help="Ed25519 public key that verifies admin bearer JWTs "
                             "(default: every admin request is refused)")
    parser.add_argument("--admin-role", default=None,
                        help="the role claim admin tokens must carry (default: not checked)")


def is_admin(method, path):
    """Which requests are admin requests (the attested GET of a resource is not)."""
    if path == POLICY_PATH:
        return method in ("GET", "POST")
    return path.startswith(RESOURCE_PREFIX) and method in ("POST", "DELETE", "PUT")


def _b64url(text):
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AdminApi:
    def __init__(self, public_key_path, role, resources_dir, workdir):
        self.key = None
        if public_key_path:
            with open(public_key_path, "rb") as f:
                key = serialization.load_pem_public_key(f.read())
            if not isinstance(key, Ed25519PublicKey):
                raise SystemExit("--admin-public-key must be an Ed25519 public key")
            self.key = key
        self.role = role
        self.resources = os.path.realpath(resources_dir)
        self.policy_file = os.path.join(os.path.realpath(workdir), "resource-policy.rego")

    # -- authentication
    def verify(self, headers):
        """The claims of a valid admin token, else AdminError (401 AdminAuth)."""
        if self.key is None:
            raise AdminError("AdminAuth", "Admin auth error: admin API disabled", 401)
        auth = headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AdminError("AdminAuth", "Admin auth error: no Bearer token", 401)
        if len(token) > MAX_TOKEN or token.count(".") != 2:
            raise AdminError("AdminAuth", "Admin auth error: malformed JWT", 401)
        head_b64, claims_b64, sig_b64 = token.split(".")
        try:
            header = json.loads(_b64url(head_b64))
            claims = json.loads(_b64url(claims_b64))
            signature = _b64url(sig_b64)
        except (ValueError, binascii.Error):
            raise AdminError("AdminAuth", "Admin auth error: malformed JWT", 401)
        if not isinstance(header, dict) or header.get("alg") != "EdDSA":
            raise AdminError("AdminAuth", "Admin auth error: alg must be EdDSA", 401)
        try:
            self.key.verify(signature, ("%s.%s" % (head_b64, claims_b64)).encode("ascii"))
        except InvalidSignature:
            raise AdminError("AdminAuth", "Admin auth error: signature does not verify", 401)
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims):
        now = time.time()
        if not isinstance(claims, dict):
            raise AdminError("AdminAuth", "Admin auth error: claims are not an object", 401)
        exp = claims.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise AdminError("AdminAuth", "Admin auth error: exp missing or not a number", 401)
        if now >= exp:
            raise AdminError("AdminAuth", "Admin auth error: token expired", 401)
        for name in ("iat", "nbf"):
            value = claims.get(name)
            if value is not None and (not isinstance(value, int) or value > now + CLOCK_SKEW):
                raise AdminError("AdminAuth", "Admin auth error: %s in the future" % name, 401)
        if self.role is not None and claims.get("role") != self.role:
            raise AdminError("AdminAuth", "Admin auth error: role %r not allowed"
                             % (claims.get("role"),), 401)

    # -- endpoints
    def handle(self, method, path, headers, body, entry):
        """Returns (status, body, content type or None); raises AdminError."""
        entry["auth"] = "admin"
        claims = self.verify(headers)
        entry["admin_role"] = claims.get("role")
        if path == POLICY_PATH:
            return self._policy(method, body, entry)
        rpath = self._resource_path(path)
        entry["resource"] = rpath
        full = os.path.join(self.resources, *rpath.split("/"))
        if method in ("POST", "PUT"):
            entry["admin_action"] = "set-resource"
            entry["admin_bytes"] = len(body)
            self._write(full, body, 0o600)
            return 200, b"", None
        entry["admin_action"] = "delete-resource"
        try:
            os.unlink(full)
        except FileNotFoundError:
            raise AdminError("PluginInternalError",
                             "Plugin internal error: resource %s not found" % rpath)
        return 200, b"", None

    @staticmethod
    def _resource_path(path):
        parts = path[len(RESOURCE_PREFIX):].split("/")
        if len(parts) != 3 or not all(SEGMENT.match(p) and p not in (".", "..") for p in parts):
            raise AdminError("InvalidRequestPath", "Request path %s is invalid" % path)
        return "/".join(parts)

    def _policy(self, method, body, entry):
        if method == "GET":
            entry["admin_action"] = "get-policy"
            try:
                with open(self.policy_file, "rb") as f:
                    return 200, f.read(), "text/plain"
            except FileNotFoundError:
                return 200, b"", "text/plain"
        entry["admin_action"] = "set-policy"
        try:
            request = json.loads(body)
            policy = _b64url(request["policy"]).decode("utf-8")
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            raise AdminError("PolicyEngine", "Set policy error: the body must be "
                             "{\"policy\": base64url(UTF-8 Rego)}")
        if "package policy" not in policy:
            raise AdminError("PolicyEngine", "Set policy error: not a Rego policy "
                             "(no 'package policy')")
        self._write(self.policy_file, policy.encode("utf-8"), 0o644)
        return 200, b"", None

    def _write(self, full, data, mode):
        """Atomically: a temporary file beside it, then rename."""
        directory = os.path.dirname(full)
        os.makedirs(directory, exist_ok=True)
        if not os.path.realpath(directory).startswith(
                (self.resources + os.sep, os.path.dirname(self.policy_file))):
            raise AdminError("InvalidRequestPath", "resource path escapes the store")
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".admin.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode)
            os.rename(tmp, full)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
