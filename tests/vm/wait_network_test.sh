#!/bin/sh
# Host-side tests (no VM) of cvmboot-wait-network, cvmboot.service's
# ExecStartPre: which routes end the wait for which KBS URLs, the
# network-online.target fallback, the budget cap; and the helpers' "all"
# mode it reads the URLs with. Fake route tables and a fake systemctl.
# Usage: tests/vm/wait_network_test.sh [SRC]   (prints "wait-network: N passed, M failed")
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

# waitnet URLS R4 R6 SYSTEMCTL [CMDLINE]: run the script (budget 2 s); prints its line
waitnet() {
    printf '[kbs]\n' > "$tmp/w.conf"
    for u in $1; do printf 'url = %s\n' "$u" >> "$tmp/w.conf"; done
    printf '[retry]\nbudget = 2s\n' >> "$tmp/w.conf"
    printf '%s\n' "${5:-quiet}" > "$tmp/cmdline"
    CVMBOOT_CONF=$tmp/w.conf CVMBOOT_CMDLINE=$tmp/cmdline \
        CVMBOOT_CONF_SH=$src/dracut-module/cvmboot-conf.sh CVMBOOT_ROUTE4=$tmp/$2 \
        CVMBOOT_ROUTE6=$tmp/$3 CVMBOOT_SYSTEMCTL=$tmp/$4 \
        sh "$src/dracut-module/cvmboot-wait-network.sh"
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

# the budget bounds the wait (2 s here), and a route that appears ends it
t0=$(date +%s)
waitnet $v4 r4.none r6.lo inactive > /dev/null
t=$(($(date +%s) - t0))
if [ "$t" -ge 1 ] && [ "$t" -le 6 ]; then ok "gives up after the budget ($t s)"; else bad "gives up after the budget ($t s)"; fi
cp "$tmp/r4.none" "$tmp/r4.late"
(sleep 0.5 && cp "$tmp/r4.default" "$tmp/r4.late") &
out=$(waitnet $v4 r4.late r6.lo inactive)
wait
expect "a route that appears ends the wait" "$(outcome "$out")" "route 0"
ms=$(echo "$out" | sed -n 's/.*route to the KBS after \([0-9]*\) ms.*/\1/p')
if [ -n "$ms" ] && [ "$ms" -ge 100 ] && [ "$ms" -le 3000 ]; then
    ok "... and says after how long ($ms ms)"
else
    bad "... and says after how long ('$out')"
fi

report wait-network
