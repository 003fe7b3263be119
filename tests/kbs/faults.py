# Fault switches of the test KBS (--fault NAME[=VALUE]): parsing and thread-safe
# "does this fault fire for this request" bookkeeping.
"""Fault syntax (ENDPOINT is auth, attest, resource or any; N is a count or 'all'):

  delay=ENDPOINT:MS[:N]          sleep MS milliseconds before answering (default all)
  fail=ENDPOINT:N:STATUS[:retry_after=S|none][:type=ProblemType|none]
    (5xx default to a plain-text body with no KBS problem type, as a proxy sends)
                                 first N requests answer STATUS with a problem body;
                                 429/503 carry Retry-After: 1 unless retry_after says
                                 otherwise (other statuses only when retry_after given)
  drop=ENDPOINT[:N]              close the connection without answering (default 1)
  truncate=ENDPOINT[:N]          declare a Content-Length 64 bytes longer than the
                                 body, send the body, close (default 1)
  oversize=ENDPOINT[:N]          answer 200 with a 2 MiB body (default all)
  slow-drip=ENDPOINT:BPS[:N]     send the body at BPS bytes per second (default all)
  corrupt-tag[=N]                flip a bit of the JWE tag of resource answers (all)
  deny-attest[=N]                /attest answers PolicyDeny (all)
  expire-after-attest            the first attested session/token expires at once
  expire-always                  every attested session/token expires at once
"""

import threading

ENDPOINTS = ("auth", "attest", "resource", "any")
UNLIMITED = None


class FaultSyntaxError(ValueError):
    pass


class Fault:
    def __init__(self, name, endpoint, count):
        self.name = name
        self.endpoint = endpoint
        self.remaining = count  # None = unlimited
        self.ms = 0
        self.status = 0
        self.retry_after = None
        self.problem = None
        self.bytes_per_sec = 0

    def __repr__(self):
        return "Fault(%s %s remaining=%s)" % (self.name, self.endpoint, self.remaining)


def _count(text, what):
    if text in ("all", "*"):
        return UNLIMITED
    try:
        value = int(text)
    except ValueError:
        raise FaultSyntaxError("%s: count %r is not a number" % (what, text)) from None
    if value < 0:
        raise FaultSyntaxError("%s: negative count" % what)
    return value


def _endpoint(text, what):
    if text not in ENDPOINTS:
        raise FaultSyntaxError("%s: endpoint %r not one of %s" % (what, text, ", ".join(ENDPOINTS)))
    return text


def _int(text, what):
    try:
        return int(text)
    except ValueError:
        raise FaultSyntaxError("%s: %r is not a number" % (what, text)) from None


def _parse_fail(spec, parts):
    if len(parts) < 3:
        raise FaultSyntaxError("fail=ENDPOINT:N:STATUS[:retry_after=S][:type=T]")
    fault = Fault("fail", _endpoint(parts[0], spec), _count(parts[1], spec))
    fault.status = _int(parts[2], spec)
    if not 100 <= fault.status <= 599:
        raise FaultSyntaxError("%s: bad status" % spec)
    fault.retry_after = 1 if fault.status in (429, 503) else None
    # A 5xx without type=... is what a proxy or a crashed server sends: plain
    # text, no KBS problem type. type=T makes it the KBS's own answer.
    fault.problem = {401: "TokenNotFound", 403: "PolicyDeny",
                     404: "InvalidRequestPath"}.get(fault.status,
                                                    None if fault.status >= 500 else "InjectedFault")
    for extra in parts[3:]:
        key, _, value = extra.partition("=")
        if key == "retry_after":
            fault.retry_after = None if value == "none" else _int(value, spec)
        elif key == "type":
            fault.problem = None if value == "none" else value
        else:
            raise FaultSyntaxError("%s: unknown option %r" % (spec, key))
    return fault


def parse_one(spec):
    name, _, value = spec.partition("=")
    parts = value.split(":") if value else []
    if name == "fail":
        return _parse_fail(spec, parts)
    if name == "delay":
        if len(parts) not in (2, 3):
            raise FaultSyntaxError("delay=ENDPOINT:MS[:N]")
        fault = Fault(name, _endpoint(parts[0], spec),
                      _count(parts[2], spec) if len(parts) == 3 else UNLIMITED)
        fault.ms = _int(parts[1], spec)
        return fault
    if name == "slow-drip":
        if len(parts) not in (2, 3):
            raise FaultSyntaxError("slow-drip=ENDPOINT:BYTES_PER_SEC[:N]")
        fault = Fault(name, _endpoint(parts[0], spec),
                      _count(parts[2], spec) if len(parts) == 3 else UNLIMITED)
        fault.bytes_per_sec = _int(parts[1], spec)
        if fault.bytes_per_sec <= 0:
            raise FaultSyntaxError("%s: rate must be positive" % spec)
        return fault
    if name in ("drop", "truncate", "oversize"):
        if len(parts) not in (1, 2):
            raise FaultSyntaxError("%s=ENDPOINT[:N]" % name)
        default = UNLIMITED if name == "oversize" else 1
        return Fault(name, _endpoint(parts[0], spec),
                     _count(parts[1], spec) if len(parts) == 2 else default)
    if name in ("corrupt-tag", "deny-attest"):
        endpoint = "resource" if name == "corrupt-tag" else "attest"
        return Fault(name, endpoint, _count(value, spec) if value else UNLIMITED)
    if name in ("expire-after-attest", "expire-always"):
        if value:
            raise FaultSyntaxError("%s takes no value" % name)
        return Fault(name, "attest", UNLIMITED)
    raise FaultSyntaxError("unknown fault %r" % name)


class FaultSet:
    def __init__(self, faults):
        self.faults = faults
        self.lock = threading.Lock()

    @classmethod
    def parse(cls, specs):
        return cls([parse_one(spec) for spec in specs])

    def take(self, name, endpoint):
        """Return the first matching fault that still fires (consuming one use), or None."""
        with self.lock:
            for fault in self.faults:
                if fault.name != name or fault.endpoint not in (endpoint, "any"):
                    continue
                if fault.remaining is None:
                    return fault
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None
