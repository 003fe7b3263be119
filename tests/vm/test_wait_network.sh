#!/bin/sh
# Host-side tests (no VM) of cvmboot-wait-network, cvmboot.service's
# ExecStartPre: which routes end the wait for which KBS URLs, the
# network-online.target fallback, the budget cap; and the helpers' "all"
# mode it reads the URLs with. Fake route tables and a fake systemctl.
# Usage: tests/vm/test_wait_network.sh [SRC]   (prints "wait-network: N passed, M failed")
set -u

src=${1:-${CVMBOOT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}}
tmp=$(mktemp -d /tmp/cvmboot-waitnet.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=shcheck.sh
. "$src/tests/vm/shcheck.sh"
nl='
'

# ---- the helpers' "all" mode
. "$src/dracut-module/cvmboot-conf.sh"
printf '[kbs]\nurl = https://a ; first\nurl=https://b\n[x]\nurl = https://c\n' > "$tmp/multi.conf"
expect "ini all: every value, in order" "$(cvmboot_ini_get "$tmp/multi.conf" kbs url all)" "https://a${nl}https://b"
expect "ini: still the last value by default" "$(cvmboot_ini_get "$tmp/multi.conf" kbs url)" "https://b"
expect "cmdline all: every value" \
    "$(cvmboot_cmdline_get "rd.cvmboot.url=https://x quiet rd.cvmboot.url=https://y" rd.cvmboot.url all)" \
    "https://x${nl}https://y"
expect "cmdline all: none" "$(cvmboot_cmdline_get "quiet" rd.cvmboot.url all)" ""

# ---- route tables (the kernel's formats)
hdr4='Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT'
printf '%s\n' "$hdr4" > "$tmp/r4.none"
# 10.0.2.0/24 (the test VM's: QEMU's restricted DHCP gives no gateway)
printf '%s\nens2\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' "$hdr4" > "$tmp/r4.subnet"
# 192.168.1.0/24
printf '%s\nens2\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' "$hdr4" > "$tmp/r4.other"
printf '%s\nens2\t00000000\t0202000A\t0003\t0\t0\t1024\t00000000\t0\t0\t0\n' "$hdr4" > "$tmp/r4.default"
printf '%s\nens2\t00000000\t0202000A\t0002\t0\t0\t1024\t00000000\t0\t0\t0\n' "$hdr4" > "$tmp/r4.down"
z32=00000000000000000000000000000000
printf '%s 00 %s 00 %s 00000400 00000001 00000000 00200200       lo\n' $z32 $z32 $z32 > "$tmp/r6.lo"
{
    cat "$tmp/r6.lo"
    printf '%s 00 %s 00 fe800000000000000000000000000002 00000400 00000001 00000000 00450003     ens2\n' $z32 $z32
} > "$tmp/r6.default"
printf '#!/bin/sh\nexit 1\n' > "$tmp/inactive"
printf '#!/bin/sh\n[ "$*" = "-q is-active network-online.target" ]\n' > "$tmp/active"
chmod +x "$tmp/inactive" "$tmp/active"

# waitnet URLS R4 R6 SYSTEMCTL [CMDLINE]: run the script (budget 2 s, polling;
# CVMBOOT_IP=ip to sleep on ip monitor instead); prints its line
waitnet() {
    printf '[kbs]\n' > "$tmp/w.conf"
    for u in $1; do printf 'url = %s\n' "$u" >> "$tmp/w.conf"; done
    printf '[retry]\nbudget = 2s\n' >> "$tmp/w.conf"
    printf '%s\n' "${5:-quiet}" > "$tmp/cmdline"
    CVMBOOT_CONF=$tmp/w.conf CVMBOOT_CMDLINE=$tmp/cmdline \
        CVMBOOT_CONF_SH=$src/dracut-module/cvmboot-conf.sh CVMBOOT_ROUTE4=$tmp/$2 \
        CVMBOOT_ROUTE6=$tmp/$3 CVMBOOT_SYSTEMCTL=$tmp/$4 CVMBOOT_IP=${CVMBOOT_IP:-} \
        bash "$src/dracut-module/cvmboot-wait-network.sh"
    echo "exit=$?"
}
# outcome OUTPUT: route / online / gave-up, and the exit status
outcome() {
    case $1 in
        *"no route to the KBS after"*) r=gave-up ;;
        *"route to the KBS after"*) r=route ;;
        *"network-online.target reached"*) r=online ;;
        *) r="?$1" ;;
    esac
    echo "$r ${1##*exit=}"
}

v4=https://10.0.2.100 v6='https://[fd00::1]:8443' host=https://kbs.example:8080
expect "IPv4 KBS, IPv4 default route: go" "$(outcome "$(waitnet $v4 r4.default r6.lo inactive)")" "route 0"
expect "IPv4 KBS, down route: no" "$(outcome "$(waitnet $v4 r4.down r6.lo inactive)")" "gave-up 0"
expect "IPv4 KBS on the local link, its subnet's route: go" \
    "$(outcome "$(waitnet $v4 r4.subnet r6.lo inactive)")" "route 0"
expect "IPv4 KBS, another subnet's route only: wait" \
    "$(outcome "$(waitnet $v4 r4.other r6.lo inactive)")" "gave-up 0"
expect "IPv4 KBS, the same route down: wait" \
    "$(outcome "$(waitnet https://192.168.1.7 r4.down r6.lo inactive)")" "gave-up 0"
expect "IPv4 KBS elsewhere, a subnet route is not enough" \
    "$(outcome "$(waitnet https://192.0.2.1:8080/x r4.subnet r6.lo inactive)")" "gave-up 0"
expect "host name, a subnet route is not enough" \
    "$(outcome "$(waitnet $host r4.subnet r6.lo inactive)")" "gave-up 0"
expect "not a dotted quad (leading zero) is a host name" \
    "$(outcome "$(waitnet https://10.0.2.010 r4.subnet r6.lo inactive)")" "gave-up 0"
expect "IPv4 KBS, IPv6 default route only: wait" \
    "$(outcome "$(waitnet $v4 r4.none r6.default inactive)")" "gave-up 0"
expect "IPv6 KBS, IPv6 default route: go" "$(outcome "$(waitnet "$v6" r4.none r6.default inactive)")" "route 0"
expect "IPv6 KBS, IPv4 default route only: wait" \
    "$(outcome "$(waitnet "$v6" r4.default r6.lo inactive)")" "gave-up 0"
expect "IPv6 unreachable route on lo: ignored" "$(outcome "$(waitnet $host r4.none r6.lo inactive)")" "gave-up 0"
expect "host name, IPv6 default route: go" "$(outcome "$(waitnet $host r4.none r6.default inactive)")" "route 0"
expect "host name, IPv4 default route: go" "$(outcome "$(waitnet $host r4.default r6.lo inactive)")" "route 0"
expect "IPv4 and IPv6 KBS, IPv6 route: go" \
    "$(outcome "$(waitnet "$v4 $v6" r4.none r6.default inactive)")" "route 0"
expect "command line URLs replace the file's" \
    "$(outcome "$(waitnet $v4 r4.none r6.default inactive "rd.cvmboot.url=$v6")")" "route 0"
expect "no route, network-online reached: go" \
    "$(outcome "$(waitnet $v4 r4.other r6.lo active)")" "online 0"

# the budget bounds the wait (2 s here), and a route that appears ends it;
# polling, then asleep on ip monitor (no netlink event here: the fake route
# table is seen at the once-a-second wake-up)
for mode in poll monitor; do
    m=
    [ "$mode" = monitor ] && m=ip
    monitors() { pgrep -c -f "ip -o monitor route address" 2> /dev/null || true; }
    before=$(monitors)
    t0=$(date +%s)
    CVMBOOT_IP=$m waitnet $v4 r4.none r6.lo inactive > /dev/null
    t=$(($(date +%s) - t0))
    if [ "$t" -ge 1 ] && [ "$t" -le 6 ]; then ok "$mode: gives up after the budget ($t s)"; else bad "$mode: gives up after the budget ($t s)"; fi
    expect "$mode: leaves no ip monitor behind" "$(monitors)" "$before"
    cp "$tmp/r4.none" "$tmp/r4.late"
    (sleep 0.5 && cp "$tmp/r4.default" "$tmp/r4.late") &
    out=$(CVMBOOT_IP=$m waitnet $v4 r4.late r6.lo inactive)
    wait
    expect "$mode: a route that appears ends the wait" "$(outcome "$out")" "route 0"
    ms=$(echo "$out" | sed -n 's/.*route to the KBS after \([0-9]*\) ms.*/\1/p')
    if [ -n "$ms" ] && [ "$ms" -ge 100 ] && [ "$ms" -le 3000 ]; then
        ok "$mode: ... and says after how long ($ms ms)"
    else
        bad "$mode: ... and says after how long ('$out')"
    fi
done

# A real route change in a private network namespace (root; skipped
# elsewhere) wakes the monitor at once: with the once-a-tick wake-up set to
# 5 s, only the netlink event can end the wait within a second.
if unshare -n true 2> /dev/null; then
    printf '[kbs]\nurl = https://10.0.2.100\n[retry]\nbudget = 8s\n' > "$tmp/ns.conf"
    out=$(unshare -n bash -c '
        ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up || exit 1
        CVMBOOT_CONF=$1/ns.conf CVMBOOT_CMDLINE=/dev/null CVMBOOT_CONF_SH=$2 \
            CVMBOOT_SYSTEMCTL=false CVMBOOT_NET_TICK_S=5 bash "$3" > "$1/ns.out" &
        sleep 1.5
        ip addr add 10.0.2.15/24 dev v0
        t0=$(date +%s%N); wait; t1=$(date +%s%N)
        echo "$(( (t1 - t0) / 1000000 )) $(cat "$1/ns.out")"' _ "$tmp" \
        "$src/dracut-module/cvmboot-conf.sh" "$src/dracut-module/cvmboot-wait-network.sh")
    expect "netns: the new subnet route ends the wait" "$(outcome "${out#* }exit=0")" "route 0"
    if [ "${out%% *}" -lt 1000 ] 2> /dev/null; then
        ok "netns: woken by the event (${out%% *} ms after the address)"
    else
        bad "netns: woken by the event ('$out')"
    fi
else
    echo "skip netns: unshare -n not permitted here"
fi

report wait-network
