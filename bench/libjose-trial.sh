#!/usr/bin/env bash
# The libjose trial of issue 11: can latchset/jose (Debian's libjose-dev)
# replace kbs/jwe.c? Builds bench/libjose_trial.c against the installed
# libjose, decrypts the project's JWE vectors (tests/unit/vectors, made by
# python3-cryptography) with jose_jwe_dec(), and prints the table, the
# algorithms this libjose build offers, and the size of what it would add.
# Figures only; docs/jwe.md says what was concluded from them.
# Needs: libjose-dev and jose (apt-get install libjose-dev jose).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
for need in /usr/include/jose/jose.h /usr/bin/jose; do
  [ -e "$need" ] || { echo "missing $need: apt-get install libjose-dev jose" >&2; exit 2; }
done
work=$(mktemp -d /tmp/cvmboot-bench-jose.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -Wextra -Werror -o "$work/trial" "$src/bench/libjose_trial.c" \
  -ljose -ljansson -lcrypto
echo "libjose: $(dpkg-query -W -f '${Version}' libjose0 2>/dev/null || echo '?'), OpenSSL $(openssl version | cut -d' ' -f2)"
"$work/trial" "$src/tests/unit/vectors/jwe_python.json"
echo
echo "algorithms this libjose offers (jose alg):"
jose alg | tr '\n' ' ' | fold -s -w 78
echo
for alg in RSA-OAEP-256 ECDH-ES+A256KW A256GCM; do
  if jose alg | grep -qx -- "$alg"; then echo "  $alg: yes"; else echo "  $alg: NO"; fi
done
echo
lib=$(readlink -f /usr/lib/x86_64-linux-gnu/libjose.so.0)
echo "size: $(stat -c %s "$lib") bytes $(basename "$lib") (+ libz, NEEDED by it)"
echo "lines: $(cat "$src/kbs/jwe.c" "$src/base/b64.c" | wc -l) in kbs/jwe.c + base/b64.c"
