# Init-data checks of the test KBS, after the TEE verifier: parse the document the way
# Trustee's attestation service does, hash the body, compare with the TEE's field.
"""check(tee, init_data, claims, policy) -> dict of init-data claims, or raises InitDataError.

Per TEE, as Trustee's verifiers (deps/verifier/src/*/mod.rs) do:
  snp:          HOST_DATA (32 bytes)   == digest cut / zero-padded to 32
  tdx:          MRCONFIGID (48 bytes)  == digest cut / zero-padded to 48
  tpm, az-*:    PCR 8                  == SHA-256(32 zero bytes || digest); digest must be 32
  sample:       the evidence's init_data (base64 of the digest) == digest. Trustee's sample
                verifier only warns; this KBS checks it so the tests can fail.
The claims come from the verifier, which has already checked the evidence's signatures.
Policy keys: "init_data_digest" (hex: the only document accepted, PolicyDeny otherwise),
"require_init_data" (true: an attestation without init-data is denied).
"""

import hashlib
import tomllib

ALGORITHMS = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
FIELDS = {"snp": ("host_data", 32), "tdx": ("mr_config_id", 48)}
PCR_TEES = ("tpm", "az-snp-vtpm", "az-tdx-vtpm")


class InitDataError(Exception):
    """Refused: .type_name is the KBS problem type (AttestationError or PolicyDeny)."""

    def __init__(self, type_name, detail):
        super().__init__(detail)
        self.type_name = type_name


def _refuse(detail):
    raise InitDataError("AttestationError", "init-data: " + detail)


def parse(init_data):
    """The digest of a {"format","body"} member, after Trustee's parse (serde Initdata)."""
    if init_data.get("format") != "toml":
        _refuse("unsupported format %r" % init_data.get("format"))
    body = init_data["body"]
    try:
        doc = tomllib.loads(body)
    except tomllib.TOMLDecodeError as exc:
        _refuse("body is not TOML: %s" % exc)
    if not isinstance(doc.get("version"), str):
        _refuse("version missing or not a string")
    algorithm = doc.get("algorithm")
    if algorithm not in ALGORITHMS:
        _refuse("algorithm %r is not sha256, sha384 or sha512" % (algorithm,))
    data = doc.get("data")
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        _refuse("data must be a table of strings")
    return ALGORITHMS[algorithm](body.encode("utf-8")).digest(), data


def _fit(digest, length):
    return digest[:length].ljust(length, b"\0")


def _bound_field(tee, digest, claims):
    """(name, value in the evidence, value the digest implies) for tee."""
    if tee in FIELDS:
        name, length = FIELDS[tee]
        return name, claims.get(name), _fit(digest, length).hex()
    if tee in PCR_TEES:
        if len(digest) != 32:
            _refuse("a %d-byte digest cannot be checked against PCR 8 (Trustee needs sha256)"
                    % len(digest))
        return "PCR 8", claims.get("init_data"), hashlib.sha256(bytes(32) + digest).hexdigest()
    if tee == "sample":
        return "sample init_data", claims.get("init_data"), digest.hex()
    _refuse("no init-data binding known for tee %r" % tee)
    return None


def check(tee, init_data, claims, policy):
    policy = policy or {}
    if init_data is None:
        if policy.get("require_init_data") or policy.get("init_data_digest"):
            raise InitDataError("PolicyDeny", "Access denied by policy: no init-data")
        return {}
    digest, data = parse(init_data)
    name, have, want = _bound_field(tee, digest, claims)
    if have != want:
        _refuse("the evidence's %s is %s, the document implies %s (a changed document?)"
                % (name, have, want))
    pinned = policy.get("init_data_digest")
    if pinned is not None and pinned != digest.hex():
        raise InitDataError("PolicyDeny", "Access denied by policy: init-data digest %s is not "
                                          "the one allowed" % digest.hex())
    return {"digest": digest.hex(), "data": data}
