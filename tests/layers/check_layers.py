#!/usr/bin/env python3
"""The layer rule of docs/architecture.md, checked two ways.

1. Sources: every #include "X" in a layer's folder names a header of that
   layer or of a layer below it (else: FILE:LINE includes X from LAYER).
2. Build: each layer's static library (read from meson's introspection)
   sees only its own and lower source folders on its include path, and a
   probe that includes a header from above fails to compile with exactly
   those flags, while one including a header of the layer itself compiles.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

SRC = os.environ.get("CVMBOOT_SRC") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CVMBOOT_BUILD", "")

# layer -> the folders it may include from (itself first), and its library
LAYERS = {
    "base": (["base"], "cvmboot-base"),
    "uki": (["uki", "base"], "cvmboot-uki"),
    "luks": (["luks", "base"], "cvmboot-luks"),
    "tee": (["tee", "base"], "cvmboot-tee"),
    "kbs": (["kbs", "tee", "base"], "cvmboot-kbs"),
}
ALL = ["base", "uki", "luks", "tee", "kbs", "agent"]  # every folder of sources
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')

problems = []


def owner(header):
    """The folders holding a header of that name."""
    return [d for d in ALL if os.path.isfile(os.path.join(SRC, d, header))]


def check_sources():
    for layer, (allowed, _) in LAYERS.items():
        folder = os.path.join(SRC, layer)
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    header = m.group(1)
                    if any(os.path.isfile(os.path.join(SRC, d, header)) for d in allowed):
                        continue
                    where = owner(header)
                    problems.append("%s/%s:%d includes %s from %s (layer %s may include %s)" % (
                        layer, name, n, header, "/".join(where) or "nowhere in the tree",
                        layer, ", ".join(allowed)))


def targets():
    path = os.path.join(BUILD, "meson-info", "intro-targets.json")
    with open(path, encoding="utf-8") as f:
        return {t["name"]: t for t in json.load(f)}


def compiles(compiler, params, text):
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.c")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(text)
        r = subprocess.run(compiler + params + ["-fsyntax-only", probe],
                           cwd=BUILD, capture_output=True, text=True)
        return r.returncode == 0, r.stderr


def check_build():
    if not BUILD:
        problems.append("CVMBOOT_BUILD is not set: cannot read the build's targets")
        return
    ts = targets()
    src_dirs = {os.path.realpath(os.path.join(SRC, d)): d for d in ALL}
    src_dirs[os.path.realpath(SRC)] = "the source root"
    for layer, (allowed, lib) in LAYERS.items():
        t = ts.get(lib)
        if t is None:
            problems.append("no library %s in the build" % lib)
            continue
        ts0 = t["target_sources"][0]
        params = ts0["parameters"]
        seen = []
        for p in params:
            if p.startswith("-I"):
                d = src_dirs.get(os.path.realpath(os.path.join(BUILD, p[2:])))
                if d:
                    seen.append(d)
        for d in seen:
            if d not in allowed:
                problems.append("library %s (layer %s) has %s on its include path" % (lib, layer, d))
        own = sorted(n for n in os.listdir(os.path.join(SRC, layer)) if n.endswith(".h"))[0]
        ok, err = compiles(ts0["compiler"], params, '#include "%s"\n' % own)
        if not ok:
            problems.append("probe including %s/%s does not compile with %s's flags: %s" % (
                layer, own, lib, err.strip()[:300]))
        for higher in ALL:
            if higher in allowed:
                continue
            header = sorted(n for n in os.listdir(os.path.join(SRC, higher)) if n.endswith(".h"))[0]
            for spelling in (header, "%s/%s" % (higher, header)):
                ok, _ = compiles(ts0["compiler"], params, '#include "%s"\n' % spelling)
                if ok:
                    problems.append("library %s (layer %s) can include %s: upward include compiles" % (
                        lib, layer, spelling))


check_sources()
check_build()
for p in problems:
    print("FAIL", p)
if problems:
    sys.exit(1)
print("layers: %d layers checked, no upward include" % len(LAYERS))
