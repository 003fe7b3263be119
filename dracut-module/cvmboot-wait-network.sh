#!/bin/bash
# ExecStartPre of cvmboot.service: wait until the initrd network can carry
# a connection to a KBS: a route to a KBS URL's IPv4 address (its subnet,
# when the KBS is on the local link, or a default route), a default IPv6
# route for an [IPv6] address, a default route of either family for a host
# name; or until network-online.target is reached, whichever comes first.
# The agent so starts once the first link is configured, not when the
# network stack's wait-online (systemd-networkd-wait-online, NetworkManager's
# nm-online -s) is satisfied. Gives up after the retry budget and always
# exits 0: from then on the agent's own retries and budget decide.
# Cheap on a busy boot CPU: it sleeps on `ip monitor` (wakes on route and
# address changes, and once a second to ask systemctl about
# network-online.target); without ip, it polls every 100 ms. bash: read -t.
set -u -f # -f: URLs from the command line are never file name patterns

conf=${CVMBOOT_CONF:-/etc/cvmboot/cvmboot.conf}
cmdline_file=${CVMBOOT_CMDLINE:-/proc/cmdline}
helpers=${CVMBOOT_CONF_SH:-/usr/lib/cvmboot/cvmboot-conf.sh}
route4=${CVMBOOT_ROUTE4:-/proc/net/route}
route6=${CVMBOOT_ROUTE6:-/proc/net/ipv6_route}
systemctl=${CVMBOOT_SYSTEMCTL:-systemctl}
ip=${CVMBOOT_IP-ip} # empty: poll instead of ip monitor
tick=${CVMBOOT_NET_TICK_S:-1} # s between the systemctl questions (tests)

# shellcheck source=cvmboot-conf.sh
. "$helpers" || exit 0

# kbs_urls: the command line's rd.cvmboot.url= list, else the file's urls
# (as the agent reads them).
kbs_urls() {
    _urls=$(cvmboot_cmdline_get "$cmdline" rd.cvmboot.url all)
    [ -n "$_urls" ] || _urls=$(cvmboot_ini_get "$conf" kbs url all)
    printf '%s\n' "$_urls"
}

# ipv4_le A.B.C.D: sets ipv4 to the address as /proc/net/route prints
# addresses (the 32-bit value in host byte order: little-endian on x86 and
# arm64); fails for anything but a dotted quad.
ipv4_le() {
    _rest=$1. _n=0 _shift=0
    while [ -n "$_rest" ]; do
        _o=${_rest%%.*}
        _rest=${_rest#*.}
        case $_o in '' | *[!0-9]* | 0?*) return 1 ;; esac
        [ ${#_o} -le 3 ] && [ "$_o" -le 255 ] && [ "$_shift" -le 24 ] || return 1
        _n=$((_n | (_o << _shift)))
        _shift=$((_shift + 8))
    done
    [ "$_shift" = 32 ] || return 1
    ipv4=$_n
}

# route4_to ADDRESS: an up IPv4 route (not on lo) whose destination and mask
# cover ADDRESS (ipv4_le's number); a default route covers every address.
route4_to() {
    [ -r "$route4" ] || return 1
    while read -r _if _dst _gw _flags _ref _use _metric _mask _rest; do
        [ "$_if" != lo ] || continue
        case $_flags in *[13579bBdDfF]) ;; *) continue ;; esac
        case $_dst$_mask in *[!0-9a-fA-F]*) continue ;; esac
        [ $(($1 & 0x$_mask)) = $((0x$_dst)) ] && return 0
    done < "$route4"
    return 1
}

# default_route6: an up IPv6 default route (::/0) on another interface than lo
default_route6() {
    [ -r "$route6" ] || return 1
    # dest plen src plen nexthop metric refcnt use flags iface
    while read -r _dst _plen _s _sp _nh _m _r _u _flags _if; do
        [ "$_dst" = 00000000000000000000000000000000 ] && [ "$_plen" = 00 ] &&
            [ "$_if" != lo ] || continue
        case $_flags in *[13579bBdDfF]) return 0 ;; esac
    done < "$route6"
    return 1
}

# reachable URL: the route the connection to URL's host needs is there
reachable() {
    _h=${1#*://}
    case $_h in
        '['*) default_route6; return ;;
    esac
    _h=${_h%%[:/?#]*}
    if ipv4_le "$_h"; then
        route4_to "$ipv4"
    else
        route4_to 0 || default_route6
    fi
}

# any_reachable: one of the KBS URLs is (the agent fails over between them)
any_reachable() {
    for _u in $urls; do
        reachable "$_u" && return 0
    done
    return 1
}

cmdline=
[ -r "$cmdline_file" ] && read -r cmdline < "$cmdline_file"
urls=$(kbs_urls)
[ -n "$urls" ] || urls=https://kbs.invalid

# now_ms: sets now_ms from /proc/uptime (10 ms resolution), no subshell
now_ms() {
    read -r _up _idle < /proc/uptime
    _cs=${_up%.*}${_up#*.}      # "123.45" -> "12345" (centiseconds)
    _cs=${_cs#"${_cs%%[1-9]*}"} # no leading zero (octal in $(( )))
    now_ms=$((${_cs:-0} * 10))
}

budget=$(cvmboot_seconds "$(cvmboot_ini_get "$conf" retry budget)" 120)

# Route and address changes wake the loop; started before the first check,
# so no change can fall between a check and the wait.
monitor=
if [ -n "$ip" ] && command -v "$ip" > /dev/null 2>&1; then
    exec 3< <(exec "$ip" -o monitor route address 2> /dev/null)
    monitor=$!
    trap 'kill "$monitor" 2> /dev/null' EXIT
fi
# pause: until the next change (at most a tick), or 100 ms without a monitor
pause() {
    if [ -n "$monitor" ]; then
        read -r -t "$tick" -u 3 _event && return 0
        [ $? -gt 128 ] && return 0 # timeout
        monitor=                   # the monitor ended: poll
    fi
    sleep 0.1
}

now_ms
start_ms=$now_ms
asked_ms=$now_ms
while :; do
    now_ms
    waited=$((now_ms - start_ms))
    if any_reachable; then
        echo "cvmboot: network: route to the KBS after ${waited} ms"
        exit 0
    fi
    if [ $((now_ms - asked_ms)) -ge $((tick * 1000)) ]; then
        asked_ms=$now_ms
        if "$systemctl" -q is-active network-online.target 2> /dev/null; then
            echo "cvmboot: network: network-online.target reached after ${waited} ms"
            exit 0
        fi
    fi
    if [ "$waited" -ge $((budget * 1000)) ]; then
        echo "cvmboot: network: no route to the KBS after ${waited} ms; trying anyway"
        exit 0
    fi
    pause
done
