#!/usr/bin/python3
# cvmboot's init-data reader against Python's tomllib, an independent TOML 1.0 parser:
# seed documents in every accepted form, then seeded random mutations of them. Whatever
# cvmboot accepts, tomllib must read as the same version, algorithm and [data], and the
# digest must be the algorithm over the exact bytes (what Trustee computes).
"""usage: test_init_data_tomllib.py INIT_DATA_DUMP"""

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import tomllib

SEEDS = [
    'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n',
    'algorithm = "sha384"\nversion = "0.1.0"\n\n[data]\n"cvmboot.url" = "https://kbs.example"\n',
    "# comment\nversion = '0.1.0' # trailing\nalgorithm = 'sha512'\r\n[ data ]\r\n"
    "k = '''\nmulti\nline'''\n'q k' = \"tab\\there \\u00e9 \\U0001F600\"\n",
    'version = "0.1.0"\nalgorithm = "sha256"\n["data"]\nj = """\\\n   joined \\\n  line"""\n'
    "e = ''\nquotes = '''''x'''''\n",
    'version = "0.1.0"\nalgorithm = "sha256"\n[data]\npolicy = \'\'\'\npackage p\n'
    'default allow := false\n\'\'\'\n"aa.toml" = """\n[token_configs]\nkbs = "x"\n"""\n',
]
ALPHABET = ['"', "'", "\\", "\n", "\r", "#", "[", "]", "=", ".", " ", "\t", "u", "U", "0",
            "a", "\x00", "\x7f", "\x01", "\xe9", "{", "}", ",", "1", "true", "'''", '"""',
            "\\u", "version", "data", "\ufeff", "\udc80"]
MUTANTS = 3000


def run_dump(tool, paths):
    """cvmboot's reading of each file: a dict, or {"error", "code"}."""
    out = subprocess.run([tool] + paths, capture_output=True, check=True).stdout
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(paths)
    return results


def tomllib_view(raw):
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return doc


def mutate(rng, text):
    pos = rng.randrange(len(text) + 1)
    piece = rng.choice(ALPHABET)
    op = rng.randrange(3)
    if op == 0:
        return text[:pos] + piece + text[pos:]
    if op == 1:
        return text[:pos] + text[pos + rng.randrange(1, 4):]
    return text[:pos] + piece + text[pos + 1:]


def encode(text):
    return text.encode("utf-8", "surrogateescape")


def main():
    tool = sys.argv[1]
    rng = random.Random(20261201)
    failures = []
    accepted = refused = 0
    cases = [(s, True) for s in SEEDS]
    for _ in range(MUTANTS):
        text = rng.choice(SEEDS)
        for _ in range(rng.randrange(1, 4)):
            text = mutate(rng, text)
        cases.append((text, False))
    cases = [(encode(text), must) for text, must in cases if text]
    with tempfile.TemporaryDirectory(prefix="cvmboot-init-data-tomllib.") as tmp:
        paths = []
        for i, (raw, _) in enumerate(cases):
            paths.append(os.path.join(tmp, "doc%d.toml" % i))
            with open(paths[-1], "wb") as f:
                f.write(raw)
        results = run_dump(tool, paths)
    for (raw, must_accept), path, ours in zip(cases, paths, results):
        if "error" in ours:
            refused += 1
            if must_accept:
                failures.append("seed refused: %r: %s" % (raw, ours["error"]))
            elif ours["code"] != 3 or not ours["error"].startswith(path):
                failures.append("refusal without exit 3 / file name: %r: %s" % (raw, ours))
            continue
        accepted += 1
        want = {"version": ours["version"], "algorithm": ours["algorithm"], "data": ours["data"]}
        theirs = tomllib_view(raw)
        if theirs != want:
            failures.append("cvmboot read %r as %r, tomllib as %r" % (raw, want, theirs))
        digest = hashlib.new(ours["algorithm"], raw).hexdigest()
        if ours["digest"] != digest:
            failures.append("digest of %r is %s, want %s" % (raw, ours["digest"], digest))
    print("%d documents accepted, %d refused, %d disagreements"
          % (accepted, refused, len(failures)))
    for f in failures[:20]:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
