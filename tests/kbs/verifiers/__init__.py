# Evidence verifier plug-ins of the test KBS: one module per TEE name ('-' -> '_'),
# each defining verify(evidence: dict, report_data: bytes, ctx) -> dict of claims.
"""Verifier loader, the context handed to verifiers, and their rejection exception."""

import importlib
import re


class VerificationError(Exception):
    """The evidence was rejected; the message says why."""


class VerifierContext:
    """What a verifier may use besides the evidence.

    trust_dir: the KBS's --trust DIR (trusted certificates etc.) or None.
    options:   dict of extra options (--verifier-option KEY=VALUE).
    tee:       the TEE name the client announced at /auth.
    """

    def __init__(self, trust_dir=None, options=None, tee=None):
        self.trust_dir = trust_dir
        self.options = dict(options or {})
        self.tee = tee


_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def load(tee):
    """Return the verifier module for a TEE name, or raise VerificationError."""
    if not isinstance(tee, str) or not _NAME_RE.match(tee):
        raise VerificationError("invalid tee name %r" % (tee,))
    name = tee.replace("-", "_")
    try:
        module = importlib.import_module("verifiers." + name)
    except ModuleNotFoundError as exc:
        if exc.name == "verifiers." + name:
            raise VerificationError("no verifier for tee %r" % tee) from None
        raise
    if not callable(getattr(module, "verify", None)):
        raise VerificationError("verifier for %r has no verify()" % tee)
    return module
