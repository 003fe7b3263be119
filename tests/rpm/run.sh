#!/usr/bin/env bash
# RPM packaging test (meson suite 'rpm'): rpmlint on cvmboot.spec, a real
# `rpmbuild -tb` of a `meson dist` tarball, then the packages' exact file
# lists, modes, Requires and scriptlets; plus meson's default install paths.
# On Debian: tests/rpm/macros.test stands in for Fedora's meson and systemd
# macros (test only), and rpmbuild runs with --nodeps because Debian's empty
# rpm database cannot satisfy Fedora BuildRequires.
# Usage: tests/rpm/run.sh [SRC]   (default: CVMBOOT_SRC, else this checkout)
# Environment: CVMBOOT_RPM_KEEP=1 keeps the work directory.
set -euo pipefail

src=${1:-${CVMBOOT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}}
here=$src/tests/rpm
macros=$here/macros.test

for tool in rpmbuild rpmlint rpm rpmspec meson git; do
  command -v "$tool" > /dev/null || { echo "FAIL: $tool not installed (scripts/install-deps.sh)"; exit 1; }
done
if ! git -C "$src" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  echo "SKIP: $src is not a git checkout (meson dist needs one)"
  exit 77
fi

work=$(mktemp -d /tmp/cvmboot-rpm.XXXXXX)
cleanup() {
  if [ "${CVMBOOT_RPM_KEEP:-0}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
# same WHAT EXPECTED ACTUAL: exact comparison, with a diff when it fails.
same() {
  if [ "$2" = "$3" ]; then
    pass "$1"
  else
    fail "$1"
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/     /' || true
  fi
}

# ---------------------------------------------------------------- the spec
lint=$(rpmlint -r "$here/cvmboot.rpmlintrc" "$src/cvmboot.spec" 2>&1) || true
if grep -q '0 errors, 0 warnings' <<< "$lint"; then
  pass "rpmlint cvmboot.spec: 0 errors, 0 warnings"
else
  fail "rpmlint cvmboot.spec"
  grep -E ': [EW]: |errors' <<< "$lint" | sed 's/^/     /'
fi

meson_version=$(sed -n "s/^ *version : '\\([^']*\\)'.*/\\1/p" "$src/meson.build" | head -n1)
spec_version=$(rpmspec -q --srpm --qf '%{VERSION}\n' --load "$macros" "$src/cvmboot.spec" 2> /dev/null)
same "spec Version is meson's project version" "$meson_version" "$spec_version"

subpackages() { # rpmspec ARGS...: the package names the spec defines
  rpmspec -q --qf '%{NAME}\n' --load "$macros" "$@" "$src/cvmboot.spec" 2> /dev/null | sort
}
same "packages by default" "$(printf '%s\n' cvmboot cvmboot-dracut cvmboot-workload)" "$(subpackages)"
same "packages --with ansible" "$(printf '%s\n' cvmboot cvmboot-ansible cvmboot-dracut cvmboot-workload)" \
  "$(subpackages --with ansible)"

# ---------------------------------------------------------------- meson's paths
# Without options, the dracut module and the unit go where dracut's and
# systemd's pkg-config files say; the options override both.
meson setup "$work/dist-build" "$src" --prefix=/usr > "$work/setup.log" 2>&1 ||
  { cat "$work/setup.log"; exit 1; }
installed_dir() { # FILE: the directory meson installs source file FILE to
  meson introspect --installed "$work/dist-build" |
    /usr/bin/python3 -c 'import json, os, sys
for s, d in json.load(sys.stdin).items():
    if s.endswith("/" + sys.argv[1]): print(os.path.dirname(d))' "$1"
}
same "dracut module dir from pkg-config dracut" \
  "$(pkg-config --variable=dracutmodulesdir dracut)/90cvmboot" "$(installed_dir dracut-module/module-setup.sh)"
same "unit dir from pkg-config systemd" \
  "$(pkg-config --variable=systemdsystemunitdir systemd)" "$(installed_dir systemd/cvmboot-workload.service)"
reconfigure() { meson setup --reconfigure "$work/dist-build" "$src" "$@" > "$work/setup.log" 2>&1; }
reconfigure -Ddracutmodulesdir=/opt/d -Dsystemdsystemunitdir=/opt/u
same "-Ddracutmodulesdir" /opt/d/90cvmboot "$(installed_dir dracut-module/module-setup.sh)"
same "-Dsystemdsystemunitdir" /opt/u "$(installed_dir systemd/cvmboot-workload.service)"
reconfigure -Ddracutmodulesdir= -Dsystemdsystemunitdir=
same "example configuration is documentation, not /etc" /usr/share/doc/cvmboot \
  "$(installed_dir configs/cvmboot.conf)"

# ---------------------------------------------------------------- rpmbuild
if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
  echo "note: uncommitted changes are not in the meson dist tarball (it holds HEAD)"
fi
meson dist -C "$work/dist-build" --no-tests --allow-dirty --formats xztar > "$work/dist.log" 2>&1 ||
  { cat "$work/dist.log"; exit 1; }
tarball=$work/dist-build/meson-dist/cvmboot-$meson_version.tar.xz
[ -f "$tarball" ] && pass "meson dist made $(basename "$tarball")" || { fail "meson dist"; exit 1; }

with=()
# the Ansible role is packaged when the tree has it (cvmboot-ansible)
role_files=$(tar -tJf "$tarball" | sed -n "s|^cvmboot-$meson_version/ansible/roles/cvmboot/\\(.*[^/]\\)\$|\\1|p" | sort)
[ -n "$role_files" ] && with=(--with ansible)

t0=$(date +%s)
if nice rpmbuild -tb --nodeps --load "$macros" "${with[@]}" \
    --define "_topdir $work/rpmbuild" --define "_tmppath $work/tmp" "$tarball" \
    > "$work/rpmbuild.log" 2>&1; then
  pass "rpmbuild -tb ${with[*]} (with %check) in $(($(date +%s) - t0)) s"
else
  fail "rpmbuild -tb ${with[*]}"
  tail -n 30 "$work/rpmbuild.log" | sed 's/^/     /'
  echo "rpm: $passed passed, $failed failed"
  exit 1
fi
grep -q -E '^Ok: +[1-9]' "$work/rpmbuild.log" && grep -q -E '^Fail: +0' "$work/rpmbuild.log" &&
  pass "%check ran the unit and boot suites" || fail "%check ran the unit and boot suites"

rpm_of() { # NAME: the built package file
  find "$work/rpmbuild/RPMS" -name "$1-$meson_version-*.rpm" | head -n1
}
# files NAME: "MODE PATH" per packaged file, build-id links left out, man
# pages without their compression suffix (Fedora gzips them, Debian's rpm not)
files() {
  rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$(rpm_of "$1")" |
    grep -v ' /usr/lib/.build-id' | sed -E 's#(/man[0-9]/[^ ]*\.[0-9])\.(gz|bz2|xz|zst)$#\1#' | sort -k2
}
# requires NAME: the Requires, rpmlib() ones left out, deduplicated
requires() {
  rpm -qpR "$(rpm_of "$1")" | sed 's/ *$//' | grep -v '^rpmlib(' | sort -u
}
vr=$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$(rpm_of cvmboot)")

same "cvmboot: files" "$(cat <<EOF
-rwxr-xr-x /usr/bin/cvmboot
drwxr-xr-x /usr/share/doc/cvmboot
-rw-r--r-- /usr/share/doc/cvmboot/README.md
-rw-r--r-- /usr/share/doc/cvmboot/boot.md
-rw-r--r-- /usr/share/doc/cvmboot/cvmboot.conf.example
-rw-r--r-- /usr/share/doc/cvmboot/rhel.md
drwxr-xr-x /usr/share/licenses/cvmboot
-rw-r--r-- /usr/share/licenses/cvmboot/LICENSE
-rw-r--r-- /usr/share/man/man5/cvmboot.conf.5
-rw-r--r-- /usr/share/man/man8/cvmboot.8
EOF
)" "$(files cvmboot)"
same "cvmboot-dracut: files" "$(cat <<EOF
drwxr-xr-x /usr/lib/dracut/modules.d/90cvmboot
-rw-r--r-- /usr/lib/dracut/modules.d/90cvmboot/99-cvmboot-default.network
-rwxr-xr-x /usr/lib/dracut/modules.d/90cvmboot/cvmboot-cmdline.sh
-rwxr-xr-x /usr/lib/dracut/modules.d/90cvmboot/cvmboot-conf.sh
-rwxr-xr-x /usr/lib/dracut/modules.d/90cvmboot/cvmboot-generator
-rwxr-xr-x /usr/lib/dracut/modules.d/90cvmboot/cvmboot-wait-network.sh
-rw-r--r-- /usr/lib/dracut/modules.d/90cvmboot/cvmboot.service
-rwxr-xr-x /usr/lib/dracut/modules.d/90cvmboot/module-setup.sh
drwxr-xr-x /usr/libexec/cvmboot
-rwxr-xr-x /usr/libexec/cvmboot/build-uki
EOF
)" "$(files cvmboot-dracut)"
same "cvmboot-workload: files" "$(cat <<EOF
-rw-r--r-- /usr/lib/systemd/system/cvmboot-workload.service
drwxr-xr-x /usr/libexec/cvmboot
-rwxr-xr-x /usr/libexec/cvmboot/cvmboot-workload-start
EOF
)" "$(files cvmboot-workload)"
same "the module's files are the source tree's" \
  "$(git -C "$src" ls-files dracut-module | sed 's|^dracut-module/||' | sort)" \
  "$(files cvmboot-dracut | sed -n 's|^-.* /usr/lib/dracut/modules.d/90cvmboot/||p' | sort)"
same "cvmboot-dracut: build-uki is scripts/build-uki.sh" "$(git -C "$src" show HEAD:scripts/build-uki.sh)" \
  "$(rpm2cpio "$(rpm_of cvmboot-dracut)" | cpio -i --quiet --to-stdout ./usr/libexec/cvmboot/build-uki)"
if [ -n "$role_files" ]; then
  same "cvmboot-ansible: the role's files" "$role_files" \
    "$(files cvmboot-ansible | sed -n 's|^-.* /usr/share/ansible/roles/cvmboot/||p' | sort)"
fi

# Requires: the agent's come from its ELF dependencies (libc and the loader
# left out); the subpackages' are exactly the spec's plus their interpreters.
same "cvmboot: requires its libraries, nothing else" "$(cat <<EOF
libblkid.so.1
libcrypto.so.3
libcryptsetup.so.12
libcurl.so.4
libjansson.so.4
EOF
)" "$(requires cvmboot | grep -v -E '^(libc\.so|rtld\()' | sed 's/().*//; s/(.*//' | sort -u)"
# tpm2-tss is dlopen'ed by the TPM-based TEEs: recommended, not linked; the
# package's binary has every TEE but sample (-Dsample=false).
same "cvmboot: recommends tpm2-tss" "tpm2-tss" \
  "$(rpm -qp --recommends "$(rpm_of cvmboot)" | sed 's/(.*//')"
mkdir -p "$work/extract"
rpm2cpio "$(rpm_of cvmboot)" | (cd "$work/extract" && cpio -idm --quiet)
same "cvmboot: the TEEs built in" "tee: az-snp-vtpm az-tdx-vtpm snp tdx tpm" \
  "$("$work/extract/usr/bin/cvmboot" --version | sed -n 2p)"
same "cvmboot: no tss2 in NEEDED" "" \
  "$(readelf -d "$work/extract/usr/bin/cvmboot" | grep NEEDED | grep tss2)"
same "cvmboot-dracut: requires" "$(printf '%s\n' /bin/bash /bin/sh cryptsetup "cvmboot = $vr" \
  dracut dracut-network tpm2-tools)" "$(requires cvmboot-dracut)"
same "cvmboot-workload: requires" "$(printf '%s\n' /bin/sh "cvmboot = $vr" podman)" \
  "$(requires cvmboot-workload)"

# Scriptlets: nothing rebuilds the initramfs; the unit gets systemd's.
for p in cvmboot cvmboot-dracut cvmboot-workload; do
  scripts=$(rpm -qp --scripts "$(rpm_of "$p")")
  if grep -q -i -E 'dracut|initramfs|initrd|kernel-install|mkinitrd' <<< "$scripts"; then
    fail "$p: a scriptlet touches the initramfs"
  else
    pass "$p: no scriptlet touches the initramfs"
  fi
done
same "cvmboot-workload: systemd scriptlets" \
  "$(printf '%s\n' 'systemd_post cvmboot-workload.service' 'systemd_preun cvmboot-workload.service' \
    'systemd_postun cvmboot-workload.service')" \
  "$(rpm -qp --scripts "$(rpm_of cvmboot-workload)" | sed -n 's/^: \(systemd_.*\)$/\1/p')"

echo "rpm: $passed passed, $failed failed"
[ "$failed" = 0 ]
