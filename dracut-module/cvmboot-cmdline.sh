#!/bin/sh
# dracut cmdline hook: cvmboot needs the network in the initrd, so ask the
# dracut network modules (network-legacy, network-manager) for it unless
# rd.cvmboot=0. systemd-networkd needs no request (cvmboot.service pulls in
# network-online.target).
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

if getargbool 1 rd.cvmboot; then
    if ! getargbool 0 rd.neednet; then
        mkdir -p /etc/cmdline.d
        echo "rd.neednet=1" > /etc/cmdline.d/90cvmboot-neednet.conf
    fi
else
    info "cvmboot: disabled on the kernel command line (rd.cvmboot=0)"
fi
