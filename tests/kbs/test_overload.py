#!/usr/bin/python3
# Self-tests of the test KBS's overload model (overload.py): attestations beyond
# the capacity are refused at once with the configured status and Retry-After,
# the session survives a refusal, and many clients at once are all served.
"""Run: /usr/bin/python3 tests/kbs/test_overload.py"""

import os
import shutil
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from rcar_client import RcarClient  # noqa: E402


class OverloadCase(unittest.TestCase):
    def start(self, *args):
        self.tmp = tempfile.mkdtemp(prefix="kbs-overload.")
        res = harness.make_resources(os.path.join(self.tmp, "res"), {"a/b/c": b"X"})
        self.kbs = harness.start_kbs(os.path.join(self.tmp, "work"), res, extra_args=args)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self.kbs.stop)

    def client(self):
        c = RcarClient(self.kbs.url, self.kbs.ca, timeout=20)
        self.addCleanup(c.close)
        self.assertEqual(c.auth()[0], 200)
        return c

    def busy_then_refused(self, status, retry_after):
        """A holds the only slot; B's /attest is refused at once, then served
        on the same session once A is done."""
        a, b = self.client(), self.client()
        result = {}
        worker = threading.Thread(target=lambda: result.update(a=a.attest()))
        worker.start()
        # A is inside its 800 ms verification when B asks (200 ms to get there).
        threading.Event().wait(0.2)
        code, payload = b.attest()
        self.assertEqual(code, status, payload)
        self.assertIn(b"overloaded", payload)
        worker.join()
        self.assertEqual(result["a"][0], 200)
        self.assertEqual(b.attest()[0], 200)  # same cookie: the session survived
        refused = [e for e in self.kbs.requests() if e.get("fault") == "overload"]
        self.assertEqual(len(refused), 1)
        self.assertEqual(refused[0].get("retry_after"), retry_after)
        self.assertEqual(refused[0]["session"], b.cookie.split("=", 1)[1])
        self.assertEqual(b.resource("a/b/c")[0], 200)

    def test_503_retry_after(self):
        self.start("--attest-capacity", "1", "--attest-cost-ms", "800")
        self.busy_then_refused(503, 1)

    def test_429_without_retry_after(self):
        self.start("--attest-capacity", "1", "--attest-cost-ms", "800",
                   "--overload-status", "429", "--overload-retry-after", "none")
        self.busy_then_refused(429, None)

    def test_many_clients_at_once(self):
        """60 clients attesting at once, each on its own connection and
        thread: all served; with capacity 60 none is refused."""
        self.start("--attest-capacity", "60", "--attest-cost-ms", "300")
        clients = [self.client() for _ in range(60)]
        codes = []
        threads = [threading.Thread(target=lambda c=c: codes.append(c.attest()[0]))
                   for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(codes, [200] * 60)
        self.assertFalse([e for e in self.kbs.requests() if e.get("fault")])

    def test_bad_flags_refused(self):
        tmp = tempfile.mkdtemp(prefix="kbs-overload.")
        self.addCleanup(shutil.rmtree, tmp, True)
        with self.assertRaises(RuntimeError):
            harness.start_kbs(os.path.join(tmp, "w"), tmp, extra_args=(
                "--attest-capacity", "2", "--overload-retry-after", "-1"), timeout=10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
