# Overload model of the test KBS: at most CAPACITY attestations verified at once,
# each costing COST milliseconds; an /attest beyond that is refused at once.
"""--attest-capacity N --attest-cost-ms T [--overload-status 503|429]
[--overload-retry-after S|none]

Models a KBS after a maintenance window: verifying evidence is the expensive
step, so only /attest is limited. A refused /attest answers STATUS (default
503) with a plain-text body, as a proxy or a loaded server does, and
`Retry-After: S` (default 1; `none` leaves it out). The session it was sent
on is untouched: a client may send the same attestation again. Refusals are
logged in requests.jsonl with fault "overload"."""

import threading
import time


def add_arguments(parser):
    group = parser.add_argument_group("overload model (off unless --attest-capacity is given)")
    group.add_argument("--attest-capacity", type=int, default=0, metavar="N",
                       help="at most N /attest requests verified at once")
    group.add_argument("--attest-cost-ms", type=int, default=200, metavar="T",
                       help="each verified /attest takes T ms (default 200)")
    group.add_argument("--overload-status", type=int, choices=(429, 503), default=503,
                       help="status of a refused /attest (default 503)")
    group.add_argument("--overload-retry-after", default="1", metavar="S|none",
                       help="Retry-After seconds of a refusal, or none (default 1)")


class Overload:
    def __init__(self, capacity, cost_ms, status, retry_after):
        if capacity <= 0 or cost_ms < 0:
            raise ValueError("--attest-capacity must be positive and --attest-cost-ms >= 0")
        self.capacity = capacity
        self.cost = cost_ms / 1000.0
        self.status = status
        self.retry_after = retry_after  # seconds, or None
        self.slots = threading.BoundedSemaphore(capacity)

    @classmethod
    def from_args(cls, args):
        """The model the command line asks for, or None when it is off."""
        if not args.attest_capacity:
            return None
        retry_after = None
        if args.overload_retry_after != "none":
            retry_after = int(args.overload_retry_after)
            if retry_after < 0:
                raise ValueError("--overload-retry-after must be >= 0 or none")
        return cls(args.attest_capacity, args.attest_cost_ms, args.overload_status, retry_after)

    def serve(self, answer, entry):
        """Run answer() in a verification slot taking the modelled time, or
        refuse. Returns answer()'s result or (status, headers, body) of the
        refusal."""
        if not self.slots.acquire(blocking=False):
            entry["fault"] = "overload"
            headers = [("Content-Type", "text/plain")]
            if self.retry_after is not None:
                headers.append(("Retry-After", str(self.retry_after)))
                entry["retry_after"] = self.retry_after
            return (self.status, headers, b"KBS overloaded: too many attestations at once\n")
        try:
            time.sleep(self.cost)
            return answer()
        finally:
            self.slots.release()
