# Functions of the VM test (sourced by tests/vm/run.sh): guest config,
# root image, initramfs, the test KBS behind a TLS front, one QEMU boot with
# a timestamped serial console, and the boot timeline.
# Needs: $src $build $work $rootfs $kver set by the caller.

vm_log() { printf 'vm: %s\n' "$*" >&2; }

# now_ms: wall clock in milliseconds.
now_ms() {
  local t=${EPOCHREALTIME/./}
  echo $((t / 1000))
}

# free_port: a TCP port free on 127.0.0.1 right now.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# free_port_pair: P such that P and P+1 are free on 127.0.0.1 right now.
free_port_pair() {
  /usr/bin/python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randrange(20000, 60000)
    socks = []
    try:
        for q in (p, p + 1):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", q))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(p)
    break
EOF
}

# make_tls_front DIR: CA + server cert for 10.0.2.100 (the address the guest
# dials), used by the TLS front that forwards to the test KBS.
make_tls_front() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=cvmboot VM test KBS CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=10.0.2.100 \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:10.0.2.100\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n' \
    > "$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
}

# make_resources DIR: the workload's mTLS files in a KBS resource tree.
make_resources() {
  local res=$1 w=$1/default/workload
  mkdir -p "$w" "$res/default/luks"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=workload-ca -keyout "$work/wl-ca.key" -out "$w/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=workload \
    -keyout "$w/tls.key" -out "$work/wl.csr" 2>/dev/null
  openssl x509 -req -in "$work/wl.csr" -CA "$w/ca.crt" -CAkey "$work/wl-ca.key" \
    -CAcreateserial -days 2 -out "$w/tls.crt" 2>/dev/null
}

# write_guest_conf FILE LUKS_UUID: the cvmboot.conf baked into initramfs and root.
write_guest_conf() {
  cat > "$1" <<EOF
# cvmboot VM test configuration
[kbs]
url = https://10.0.2.100
ca_file = /etc/cvmboot/kbs-ca.pem
connect_timeout = 5s
request_timeout = 15s
[retry]
budget = ${CVMBOOT_VM_BUDGET:-20s}
backoff_base = 500ms
backoff_cap = 4s
[tee]
type = ${CVMBOOT_VM_TEE:-sample}
[luks]
device_timeout = 30s
discover_tokens = false
[boot]
on_failure = poweroff
[resource.root]
path = default/luks/root
luks_device = UUID=$2
luks_name = root
[resource.tls-cert]
path = default/workload/tls.crt
file = tls.crt
mode = 0444
[resource.tls-key]
path = default/workload/tls.key
file = tls.key
[resource.ca]
path = default/workload/ca.crt
file = ca.crt
mode = 0444
[workload]
image = localhost/cvmboot-test:latest
command = /app/run.sh
env = CVMBOOT_TEST_ENV=from-config
EOF
}

# stage_rootfs DIR CONF IMAGE_TAR: the cached Debian root plus cvmboot's
# real-root units and the test's helpers.
stage_rootfs() {
  local d=$1 conf=$2 image=$3
  cp -a "$rootfs/." "$d/"
  rm -f "$d/.complete"
  install -D -m 0755 "$src/systemd/cvmboot-workload-start" "$d/usr/libexec/cvmboot/cvmboot-workload-start"
  install -D -m 0644 "$src/systemd/cvmboot-workload.service" "$d/etc/systemd/system/cvmboot-workload.service"
  install -D -m 0644 "$conf" "$d/etc/cvmboot/cvmboot.conf"
  # the signed scenario's config (signed.sh), put in place by signed-gate
  if [ -f "$work/guest-signed.conf" ]; then
    install -D -m 0644 "$work/guest-signed.conf" "$d/etc/cvmboot/cvmboot-signed.conf"
  fi
  # the test registry (signed.sh) speaks plain HTTP
  install -D -m 0644 /dev/stdin "$d/etc/containers/registries.conf.d/50-cvmboot-vmtest.conf" <<'EOF'
[[registry]]
location = "10.0.2.101:5000"
insecure = true
EOF
  mkdir -p "$d/etc/systemd/system/multi-user.target.wants"
  ln -sf ../cvmboot-workload.service "$d/etc/systemd/system/multi-user.target.wants/"
  # the test VM has no netavark-managed network: share the host namespace
  echo 'CVMBOOT_PODMAN_ARGS=--network=host' > "$d/etc/cvmboot/workload.env"
  install -D -m 0644 "$image" "$d/usr/share/cvmboot-test/image.tar"
  cat > "$d/etc/containers/storage.conf" <<'EOF'
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF
  cat > "$d/etc/containers/containers.conf" <<'EOF'
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
EOF
  rm -f "$d"/etc/cni/net.d/*.conflist
  # podman's own units are not needed by the test: keep the boot short
  for u in podman.service podman.socket podman-auto-update.timer podman-auto-update.service \
      podman-restart.service e2scrub_reap.service e2scrub_all.timer fstrim.timer \
      getty-static.service getty@tty2.service getty@tty3.service getty@tty4.service \
      getty@tty5.service getty@tty6.service; do
    ln -sf /dev/null "$d/etc/systemd/system/$u"
  done
  mkdir -p "$d/etc/systemd/journald.conf.d"
  printf '[Journal]\nForwardToConsole=yes\nTTYPath=/dev/ttyS0\nMaxLevelConsole=info\n' \
    > "$d/etc/systemd/journald.conf.d/console.conf"
  echo cvmboot-vm > "$d/etc/hostname"
  echo 0123456789abcdef0123456789abcdef > "$d/etc/machine-id"
  : > "$d/etc/fstab"
  ln -sf /dev/null "$d/etc/systemd/system/serial-getty@ttyS0.service"
  ln -sf /dev/null "$d/etc/systemd/system/getty@tty1.service"
  ln -sf /dev/null "$d/etc/systemd/system/apt-daily.timer"
  ln -sf /dev/null "$d/etc/systemd/system/apt-daily-upgrade.timer"
  # test only: load the image, report what the real root sees, power off
  # once the workload ran (or failed)
  install -D -m 0755 /dev/stdin "$d/usr/libexec/cvmboot-vmtest/report" <<'EOF'
#!/bin/sh
# cvmboot VM test: facts about the real root, printed to the console
dm=$(basename "$(readlink -f /dev/mapper/root)")
echo "VMTEST root-source=$(findmnt -no SOURCE /)"
echo "VMTEST root-dm-uuid=$(cat /sys/block/$dm/dm/uuid 2>/dev/null)"
echo "VMTEST run-fstype=$(stat -f -c %T /run/cvmboot)"
echo "VMTEST status-result=$(sed -n 's/.*"result"[[:space:]]*:[[:space:]]*"\([a-z]*\)".*/\1/p' /run/cvmboot/status.json)"
echo "VMTEST secrets=$(ls /run/cvmboot/secrets | tr '\n' ' ')"
echo "VMTEST phases-ms=$(tr -d ' \n' < /run/cvmboot/status.json | sed -n 's/.*"phases":{\([^}]*\)}.*/\1/p')"
echo "VMTEST status-unlock=$(sed -n 's/.*"unlock"[[:space:]]*:[[:space:]]*"\([a-z-]*\)".*/\1/p' /run/cvmboot/status.json)"
echo "VMTEST status-bg-register=$(sed -n 's/.*"register"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' /run/cvmboot/status.json)"
for i in 4 11 12 15; do
  echo "VMTEST pcr$i=$(cat /sys/class/tpm/tpm0/pcr-sha256/$i 2>/dev/null | tr A-F a-f)"
done
# the firmware's TPM event log, when the command line asks (tests/vm/uki.sh)
if grep -qw vmtest.eventlog /proc/cmdline; then
  log=/sys/kernel/security/tpm0/binary_bios_measurements
  base64 -w 76 $log | sed 's/^/VMTEST eventlog /'
  echo "VMTEST eventlog-sha256=$(sha256sum < $log | cut -d' ' -f1)"
fi
# the initrd network on the guest's monotonic clock (s), from the journal:
# NIC named, stack started, DHCP lease, route to the KBS seen,
# network-online, agent up
journalctl -b -o short-monotonic --no-pager 2>/dev/null | awk '
  function first(k) { if (!(k in t)) t[k] = substr($1, 2) + 0 }
  { sub(/^\[ */, "[") }
  /renamed from eth0/ { first("nic") }
  /Started (systemd-networkd|nm-initrd)\.service/ { first("stack") }
  /DHCPv4 address|dhcp4 .*new lease/ { first("lease") }
  /cvmboot: network: / { first("route") }
  /Reached target network-online\.target/ { first("online") }
  /cvmboot: TEE: .*attesting/ { first("agent") }
  END { printf "VMTEST net-s=nic:%s stack:%s lease:%s route:%s online:%s agent:%s\n", t["nic"], t["stack"], t["lease"], t["route"], t["online"], t["agent"] }'
EOF
  # test only (vmtest.signed, signed.sh): the gate's config, then the start
  # script in a unit of its own for an unsigned image and one signed by
  # another key (systemctl: the guest has no D-Bus for systemd-run); the
  # workload unit then pulls the signed one
  install -D -m 0755 /dev/stdin "$d/usr/libexec/cvmboot-vmtest/signed-gate" <<'EOF'
#!/bin/sh
# cvmboot VM test: the signed-image gate refuses what it must
grep -qw vmtest.signed /proc/cmdline || exit 0
# for this boot only: the root image is shared with the other scenarios
cp /etc/cvmboot/cvmboot-signed.conf /run/vmtest-signed.conf
mount --bind /run/vmtest-signed.conf /etc/cvmboot/cvmboot.conf
for tag in unsigned otherkey; do
  sed "s|^image = .*|image = 10.0.2.101:5000/cvmboot/app:$tag|" /etc/cvmboot/cvmboot.conf > /run/vmtest-$tag.conf
  systemctl start "cvmboot-vmtest-gate@$tag.service"
  echo "VMTEST gate-$tag rc=$(systemctl show -p ExecMainStatus --value "cvmboot-vmtest-gate@$tag.service") state=$(systemctl is-failed "cvmboot-vmtest-gate@$tag.service")"
done
exit 0
EOF
  cat > "$d/etc/systemd/system/cvmboot-vmtest-gate@.service" <<'EOF'
[Unit]
Description=cvmboot VM test: the workload start script for the image tag %i
DefaultDependencies=no
[Service]
Type=oneshot
Environment=CVMBOOT_CONF=/run/vmtest-%i.conf CVMBOOT_PODMAN_ARGS=--network=host
ExecStart=/usr/libexec/cvmboot/cvmboot-workload-start run
StandardOutput=journal+console
StandardError=journal+console
EOF
  cat > "$d/etc/systemd/system/cvmboot-vmtest.service" <<'EOF'
[Unit]
Description=cvmboot VM test: load the workload image, report the real root
After=local-fs.target
Before=cvmboot-workload.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/libexec/cvmboot-vmtest/report
ExecStart=/bin/sh -c 'podman image exists localhost/cvmboot-test:latest || podman load -q -i /usr/share/cvmboot-test/image.tar'
ExecStart=/usr/libexec/cvmboot-vmtest/signed-gate
TimeoutStartSec=infinity
StandardOutput=journal+console
StandardError=journal+console
EOF
  mkdir -p "$d/etc/systemd/system/cvmboot-workload.service.d"
  cat > "$d/etc/systemd/system/cvmboot-workload.service.d/vmtest.conf" <<'EOF'
[Unit]
Wants=cvmboot-vmtest.service
After=cvmboot-vmtest.service
OnSuccess=poweroff.target
OnFailure=poweroff.target
[Service]
Restart=no
EOF
}

# make_root_image IMG STAGE PASSFILE UUID: ext4 from STAGE, encrypted in
# place to LUKS2 with that UUID.
make_root_image() {
  local img=$1 stage=$2 pass=$3 uuid=$4 size
  size=$(( $(du -sm "$stage" | cut -f1) * 13 / 10 + 200 ))
  mkfs.ext4 -q -F -L cvmroot -d "$stage" "$img" "${size}M" > /dev/null
  truncate -s +32M "$img"
  cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 32M \
    --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --uuid "$uuid" --key-file "$pass" -q "$img"
}

# make_dracut_base DIR: a dracut base directory = the system's plus 90cvmboot.
make_dracut_base() {
  local d=$1 f
  mkdir -p "$d/modules.d"
  for f in /usr/lib/dracut/*; do
    [ "$(basename "$f")" = modules.d ] || ln -s "$f" "$d/"
  done
  for f in /usr/lib/dracut/modules.d/*; do ln -s "$f" "$d/modules.d/"; done
  ln -s "$src/dracut-module" "$d/modules.d/90cvmboot"
  # test speed only: the guest has one virtio NIC, so replace "every wired
  # NIC driver" (~45 MB, ~10 s of unpacking under TCG) with virtio_net
  rm "$d/modules.d/90kernel-network-modules"
  mkdir "$d/modules.d/90kernel-network-modules"
  cat > "$d/modules.d/90kernel-network-modules/module-setup.sh" <<'EOF'
#!/bin/bash
# cvmboot VM test: the virtio NIC driver only
check() { return 255; }
depends() { return 0; }
installkernel() { hostonly='' instmods virtio_net af_packet ipv6; }
install() { return 0; }
EOF
}

# initrd_dracut MODULES...: sets initrd_env (environment) and initrd_args
# (dracut options) of a slim --no-hostonly initramfs with these modules and
# the configuration $GUEST_CONF (default $work/guest.conf). With
# CVMBOOT_VM_NET_WAIT=online (for comparisons only) cvmboot.service waits for
# network-online.target as it did before cvmboot-wait-network.
initrd_dracut() {
  local include=()
  if [ "${CVMBOOT_VM_NET_WAIT:-route}" = online ]; then
    mkdir -p "$work/net-wait-online"
    printf '[Unit]\nAfter=network-online.target\n[Service]\nExecStartPre=\n' \
      > "$work/net-wait-online/90-wait-online.conf"
    include=(--include "$work/net-wait-online" /etc/systemd/system/cvmboot.service.d)
  fi
  mkdir -p "$work/dracut-confdir"
  initrd_env=(dracutbasedir="$work/dracut-base" CVMBOOT_BIN="$build/cvmboot"
    CVMBOOT_CONF="${GUEST_CONF:-$work/guest.conf}" CVMBOOT_CA_FILE="$work/front/ca.pem")
  initrd_args=(--no-hostonly --no-early-microcode --conf /dev/null "${include[@]}"
    --confdir "$work/dracut-confdir" --compress "zstd -3 -q -T0"
    -m "$*" --add-drivers "virtio_blk virtio_net virtio_pci ext4 dm_crypt tpm_tis")
}

# build_initrd OUT MODULES...: that initramfs, for the running kernel.
build_initrd() {
  local out=$1
  shift
  initrd_dracut "$@"
  env "${initrd_env[@]}" dracut --quiet --force --kver "$kver" "${initrd_args[@]}" "$out"
}

# kbs_start NAME [ARGS...]: the test KBS (plain HTTP on loopback) and the TLS
# front the guest's 10.0.2.100:443 leads to. Sets kbs_pid front_pid front_port.
kbs_start() {
  local name=$1 kdir=$work/$1.kbs kport
  shift
  mkdir -p "$kdir"
  /usr/bin/python3 "$src/tests/kbs/kbs.py" --workdir "$kdir" --resources "${KBS_RESOURCES:-$work/resources}" \
    --port 0 --http --trust "$work/vtpm/trust" "$@" > "$kdir/out" 2> "$kdir/err" &
  kbs_pid=$!
  for _ in $(seq 100); do grep -q READY "$kdir/out" 2>/dev/null && break; sleep 0.1; done
  kport=$(awk '/READY/ {print $2}' "$kdir/out")
  [ -n "$kport" ] || { cat "$kdir/err" >&2; vm_log "test KBS did not start"; return 1; }
  front_port=$(free_port)
  socat "OPENSSL-LISTEN:$front_port,bind=127.0.0.1,reuseaddr,fork,cert=$work/front/server.pem,key=$work/front/server.key,verify=0" \
    "TCP:127.0.0.1:$kport" 2> "$kdir/front.err" &
  front_pid=$!
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$front_port) 2>/dev/null && break
    sleep 0.1
  done
}

kbs_stop() {
  if [ -n "${front_pid:-}" ]; then kill "$front_pid" 2>/dev/null || true; wait "$front_pid" 2>/dev/null || true; fi
  if [ -n "${kbs_pid:-}" ]; then kill "$kbs_pid" 2>/dev/null || true; wait "$kbs_pid" 2>/dev/null || true; fi
  front_pid= kbs_pid=
  return 0
}

# provision_vtpm DIR: a swtpm state (DIR/state) with an RSA-2048 restricted
# signing AK under the EK persisted at 0x81010002, as a cloud provider would
# provision it; the AK's public key goes to DIR/trust/tpm-ak.pem for the KBS.
provision_vtpm() {
  local d=$1 port cport pid rc=0
  mkdir -p "$d/state" "$d/trust"
  # the swtpm TCTI talks to PORT (commands) and PORT+1 (control)
  port=$(free_port_pair)
  cport=$((port + 1))
  swtpm socket --tpm2 --tpmstate dir="$d/state" --flags not-need-init,startup-clear \
    --server type=tcp,port="$port",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port="$cport",bindaddr=127.0.0.1 > "$d/swtpm.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  (
    export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port" TSS2_LOG=all+none
    cd "$d"
    tpm2_createek -c ek.ctx -G rsa > /dev/null
    tpm2_createak -C ek.ctx -c ak.ctx -G rsa -g sha256 -s rsassa -u trust/tpm-ak.pem -f pem > /dev/null
    tpm2_flushcontext -t > /dev/null
    tpm2_flushcontext -s > /dev/null
    tpm2_evictcontrol -C o -c ak.ctx 0x81010002 > /dev/null
  ) > "$d/provision.log" 2>&1 || rc=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$rc" = 0 ] || { cat "$d/provision.log" >&2; vm_log "vTPM provisioning failed"; return 1; }
}

# The kernel command line of every test boot (plus each scenario's extra).
VM_CMDLINE="root=/dev/mapper/root rw console=ttyS0 panic=-1 rd.luks=0 rd.shell=0 rd.emergency=poweroff systemd.show_status=1"

# vm_boot NAME LIMIT_S NET CMDLINE_EXTRA: one QEMU boot ($INITRD, default
# $work/initrd.img; $ROOT_IMG, default $work/root.img) of at most LIMIT_S
# times $CVMBOOT_VM_TIME_SCALE (default 1) seconds, serial console in
# $work/NAME.console with "<ms since QEMU start> <line>" per line.
# NET: "kbs" (10.0.2.100:443 leads to the TLS front) or "none" (nothing there);
# $VM_EXTRA_FWD: more ",guestfwd=..." rules.
# With $VM_SERIAL_IN (a FIFO) set, what is written to it is typed on the
# serial console; else the console has no input.
# With $UKI set: boots that UKI under OVMF instead (uefi_media in uki.sh;
# the command line is the UKI's own, CMDLINE_EXTRA is ignored).
vm_boot() {
  local name=$1 limit=$(($2 * ${CVMBOOT_VM_TIME_SCALE:-1})) net=$3 extra=$4 tpmdir=$work/$1.tpm
  local netdev rc t0 media disks
  # $VM_EXTRA_DISK (raw): a second disk, as a host would attach one
  disks=(-drive "file=${ROOT_IMG:-$work/root.img},format=raw,if=virtio")
  [ -n "${VM_EXTRA_DISK:-}" ] && disks+=(-drive "file=$VM_EXTRA_DISK,format=raw,if=virtio")
  media=(-kernel "/boot/vmlinuz-$kver" -initrd "${INITRD:-$work/initrd.img}" -append "$VM_CMDLINE $extra")
  [ -n "${UKI:-}" ] && uefi_media "$name" "$UKI"
  mkdir -p "$tpmdir"
  # every boot starts from the provisioned vTPM (fresh PCRs, the same AK)
  [ -d "$work/vtpm/state" ] && cp -a "$work/vtpm/state/." "$tpmdir/"
  swtpm socket --tpm2 --tpmstate dir="$tpmdir" --ctrl type=unixio,path="$tpmdir/sock" \
    --daemon --pid file="$tpmdir/pid" --log file="$tpmdir/log"
  for _ in $(seq 50); do [ -S "$tpmdir/sock" ] && break; sleep 0.1; done
  netdev=user,id=n0,restrict=on
  [ "$net" = kbs ] && netdev+=",guestfwd=tcp:10.0.2.100:443-cmd:socat - TCP:127.0.0.1:$front_port"
  # more host services for the guest (signed.sh: registry, lookaside)
  netdev+=${VM_EXTRA_FWD:-}
  t0=$(now_ms)
  set +e
  timeout --kill-after=5 "$limit" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 \
    -display none -monitor none -serial stdio -no-reboot -nodefaults \
    "${media[@]}" "${disks[@]}" \
    -netdev "$netdev" -device virtio-net-pci,netdev=n0,romfile= \
    -chardev "socket,id=chrtpm,path=$tpmdir/sock" -tpmdev emulator,id=tpm0,chardev=chrtpm \
    -device tpm-tis,tpmdev=tpm0 \
    <> "${VM_SERIAL_IN:-/dev/null}" 2> "$work/$name.qemu.err" | while IFS= read -r line; do
      printf '%d %s\n' $(($(now_ms) - t0)) "${line%$'\r'}"
    done > "$work/$name.console"
  rc=${PIPESTATUS[0]}
  set -e
  # swtpm ends with QEMU (it gets CMD_SHUTDOWN); make sure of it
  if [ -f "$tpmdir/pid" ]; then kill "$(cat "$tpmdir/pid")" 2>/dev/null || true; fi
  sed -i 's/\x1b\[[0-9;]*[A-Za-z]//g' "$work/$name.console"
  echo "$(($(now_ms) - t0))" > "$work/$name.wall"
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && echo timeout > "$work/$name.timedout"
  return 0
}

# marker_ms NAME REGEX: ms of the first console line matching REGEX (empty if none).
marker_ms() {
  { grep -E -m1 -- "$2" "$work/$1.console" || true; } | cut -d' ' -f1
}

TIMELINE_MARKERS=(
  "kernel start|Linux version"
  "initrd systemd|Welcome to .*Initramfs|systemd 2[0-9][0-9] running in system mode"
  "NIC named|virtio_net virtio[0-9]+ [a-z0-9]+: renamed from eth0"
  "cvmboot start|Starting cvmboot.service"
  "route seen|cvmboot: network: "
  "network-online|Reached target .*Network is Online"
  "attested|cvmboot: attested to"
  "unlocked|cvmboot: unlocked"
  "switch-root|Welcome to Debian GNU/Linux [0-9]+ \\(bookworm\\)!"
  "workload up|CVMBOOT-WORKLOAD-UP"
)

# net_timeline NAME...: the initrd network per boot on the guest's own
# clock (the journal's monotonic stamps, seconds): NIC named, network stack
# started, DHCP lease, route to the KBS seen (cvmboot-wait-network),
# network-online, agent started; and how long network-online came after the
# lease (what waiting for it costs).
net_timeline() {
  local name
  printf '%-6s %7s %7s %7s %7s %7s %7s %13s\n' "guest s" nic stack lease route online agent "online-lease"
  for name in "$@"; do
    grep -o 'VMTEST net-s=.*' "$work/$name.console" | head -n1 | sed 's/^VMTEST net-s=//' |
      awk -v n="$name" '{ for (i = 1; i <= NF; i++) { split($i, kv, ":"); v[kv[1]] = kv[2] }
        d = (v["lease"] != "" && v["online"] != "") ? sprintf("%+.2f", v["online"] - v["lease"]) : "-"
        printf "%-6s %7s %7s %7s %7s %7s %7s %13s\n", n, v["nic"], v["stack"], v["lease"], v["route"], v["online"], v["agent"], d }'
  done
}

# timeline NAME...: one row per marker, one column per boot, plus the median.
timeline() {
  local m label re name v vals
  printf '%-16s' "boot timeline"
  for name in "$@"; do printf ' %9s' "$name"; done
  printf ' %9s\n' median
  for m in "${TIMELINE_MARKERS[@]}"; do
    label=${m%%|*}
    re=${m#*|}
    printf '%-16s' "$label"
    vals=()
    for name in "$@"; do
      v=$(marker_ms "$name" "$re")
      printf ' %9s' "${v:+$v ms}"
      [ -n "$v" ] && vals+=("$v")
    done
    if [ ${#vals[@]} -gt 0 ]; then
      printf ' %6s ms\n' "$(printf '%s\n' "${vals[@]}" | sort -n |
        awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}')"
    else
      printf ' %9s\n' -
    fi
  done
}
