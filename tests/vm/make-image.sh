#!/usr/bin/env bash
# Builds the VM test's workload image by hand, without a registry or a
# container engine: a docker-archive tarball (manifest.json + config + one
# layer) holding busybox-static and /app/run.sh, for `podman load`.
# Usage: tests/vm/make-image.sh BUSYBOX OUT.tar [TAG [NOTE]]
# (NOTE goes into the config's history: images that differ only by it have
# different digests, as the signed scenario needs)
set -euo pipefail

busybox=$1
out=$2
tag=${3:-localhost/cvmboot-test:latest}
note=${4:-}
tmp=$(mktemp -d /tmp/cvmboot-image.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

root=$tmp/root
mkdir -p "$root/bin" "$root/app" "$root/etc" "$root/tmp" "$root/run/secrets"
cp "$busybox" "$root/bin/busybox"
for tool in sh cat echo sha256sum cut test ls sleep wc head; do
  ln -s busybox "$root/bin/$tool"
done
echo 'root:x:0:0:root:/:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
# The test workload: proves it can read the mTLS files cvmboot staged, and
# prints the certificate's digest (never the key) for the host to compare.
cat > "$root/app/run.sh" <<'EOF'
#!/bin/sh
# cvmboot VM test workload
set -e
dir=/run/secrets/cvmboot
sum=$(sha256sum "$dir/tls.crt" | cut -d' ' -f1)
keybytes=$(wc -c < "$dir/tls.key")
echo "CVMBOOT-WORKLOAD-UP cert-sha256=$sum key-bytes=$keybytes env=${CVMBOOT_TEST_ENV:-unset}"
EOF
chmod 0755 "$root/app/run.sh"

img=$tmp/img
mkdir -p "$img"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$img/layer.tar" .
diff_id=$(sha256sum "$img/layer.tar" | cut -d' ' -f1)
cat > "$img/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Env":["PATH=/bin"],"Cmd":["/app/run.sh"],"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"cvmboot tests/vm/make-image.sh${note:+ $note}"}]}
EOF
config_id=$(sha256sum "$img/config.json" | cut -d' ' -f1)
mv "$img/config.json" "$img/$config_id.json"
cat > "$img/manifest.json" <<EOF
[{"Config":"$config_id.json","RepoTags":["$tag"],"Layers":["layer.tar"]}]
EOF
tar --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$img" -cf "$out" manifest.json "$config_id.json" layer.tar
