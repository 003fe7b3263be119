#!/usr/bin/env bash
# Configures and builds cvmboot in DIR (default build/) with the project's
# hardened defaults; extra arguments go to meson setup (e.g. -Db_sanitize=...).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" "$@" >/dev/null
else
  meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
