#!/bin/bash
# dracut module 90cvmboot: puts the cvmboot agent, its configuration, the KBS
# CA bundle, cvmboot.service and its generator into the initramfs.
# Environment overrides (for image builders and tests):
#   CVMBOOT_BIN      agent binary to install (default: cvmboot on PATH)
#   CVMBOOT_CONF     configuration to install as /etc/cvmboot/cvmboot.conf
#   CVMBOOT_CA_FILE  file to install at the path named by [kbs] ca_file
#   CVMBOOT_INIT_DATA  file to install at the path named by [tee] init_data

cvmboot_conf_src() {
    echo "${CVMBOOT_CONF:-$dracutsysrootdir/etc/cvmboot/cvmboot.conf}"
}

cvmboot_bin_src() {
    local b
    if [[ -n ${CVMBOOT_BIN:-} ]]; then
        echo "$CVMBOOT_BIN"
        return 0
    fi
    for b in "$dracutsysrootdir"/usr/bin/cvmboot "$dracutsysrootdir"/usr/local/bin/cvmboot \
        "$dracutsysrootdir"/usr/sbin/cvmboot; do
        [[ -x $b ]] && { echo "$b"; return 0; }
    done
    command -v cvmboot
}

# shellcheck source=cvmboot-conf.sh
. "$(dirname "${BASH_SOURCE[0]}")/cvmboot-conf.sh"

# called by dracut
check() {
    [[ -x $(cvmboot_bin_src) ]] || return 1
    # include by default only when this system is configured for cvmboot
    [[ -f $(cvmboot_conf_src) ]] && return 0
    return 255
}

# Whether the configured TEE may need tpm2-tss: tpm, az-* or auto (the
# default; it may pick a TPM-based TEE), and the binary has one built in
# (the second line of --version; if the binary cannot run here, assume so).
# The agent loads tpm2-tss with dlopen, so dracut does not see it in ldd.
cvmboot_needs_tss2() {
    local tee built
    tee=$(cvmboot_ini_get "$(cvmboot_conf_src)" tee type)
    case ${tee:-auto} in
        tpm | az-* | auto) ;;
        *) return 1 ;;
    esac
    built=$("$(cvmboot_bin_src)" --version 2> /dev/null | sed -n 's/^tee: //p') || built=
    [[ -z $built ]] && return 0
    [[ " $built " == *" ${tee:-auto} "* || ( ${tee:-auto} == auto && " $built " == *" tpm "* ) ]]
}

# Whether [boot] break_glass = passphrase: the recovery prompt then needs
# systemd-ask-password and its console (or plymouth) agent in the initramfs.
cvmboot_break_glass() {
    [[ $(cvmboot_ini_get "$(cvmboot_conf_src)" boot break_glass) == passphrase ]]
}

# called by dracut
depends() {
    local deps="systemd network crypt"
    cvmboot_needs_tss2 && deps+=" tpm2-tss"
    # dracut 058+ has the agents in a module of their own; older ones in systemd
    if cvmboot_break_glass && [[ -d $dracutbasedir/modules.d/01systemd-ask-password ]]; then
        deps+=" systemd-ask-password"
    fi
    echo "$deps"
    return 0
}

# called by dracut
installkernel() {
    local m
    # the TEE guest drivers, vTPM and virtio; each one may be missing from
    # this kernel (older kernels have no tdx-guest, for example)
    for m in dm_crypt sev-guest tdx-guest tsm tpm_tis tpm_crb virtio_net virtio_blk \
        virtio_pci virtio_scsi virtio_console; do
        hostonly='' instmods "$m" 2> /dev/null || :
    done
    return 0
}

# The init-data document named by [tee] init_data, when the image has it; a
# document that comes on a configuration disk at boot is not in the image.
cvmboot_install_init_data() {
    local doc=$1
    [[ -n $doc ]] || return 0
    if [[ -n ${CVMBOOT_INIT_DATA:-} ]]; then
        inst_simple "$CVMBOOT_INIT_DATA" "$doc"
    elif [[ -f $dracutsysrootdir$doc ]]; then
        inst_simple "$dracutsysrootdir$doc" "$doc"
    else
        dwarn "cvmboot: [tee] init_data $doc is not on this system: it must be on a" \
            "configuration disk mounted before cvmboot.service"
    fi
}

# called by dracut
install() {
    local bin conf ca
    bin=$(cvmboot_bin_src)
    conf=$(cvmboot_conf_src)

    inst_binary "$bin" /usr/bin/cvmboot || return 1
    if [[ -f $conf ]]; then
        inst_simple "$conf" /etc/cvmboot/cvmboot.conf
        ca=$(cvmboot_ini_get "$conf" kbs ca_file)
        if [[ -n $ca ]]; then
            if [[ -n ${CVMBOOT_CA_FILE:-} ]]; then
                inst_simple "$CVMBOOT_CA_FILE" "$ca"
            elif [[ -f $dracutsysrootdir$ca ]]; then
                inst_simple "$dracutsysrootdir$ca" "$ca"
            else
                derror "cvmboot: [kbs] ca_file $ca not found: TLS to the KBS will fail"
                return 1
            fi
        fi
        cvmboot_install_init_data "$(cvmboot_ini_get "$conf" tee init_data)"
    else
        dwarn "cvmboot: no $conf; the agent needs rd.cvmboot.* on the kernel command line"
    fi

    inst_simple "$moddir/cvmboot-conf.sh" /usr/lib/cvmboot/cvmboot-conf.sh
    inst_script "$moddir/cvmboot-generator" "$systemdutildir/system-generators/cvmboot-generator"
    inst_script "$moddir/cvmboot-wait-network.sh" /usr/lib/cvmboot/cvmboot-wait-network
    inst_simple "$moddir/cvmboot.service" "$systemdsystemunitdir/cvmboot.service"
    inst_hook cmdline 90 "$moddir/cvmboot-cmdline.sh"
    if dracut_module_included "systemd-networkd"; then
        inst_simple "$moddir/99-cvmboot-default.network" \
            /etc/systemd/network/99-cvmboot-default.network
    fi
    # libcurl's CA store fallback and name resolution
    inst_multiple -o /etc/ssl/certs/ca-certificates.crt /etc/nsswitch.conf \
        /etc/host.conf /etc/hosts
    inst_libdir_file "libnss_files.so.*" "libnss_dns.so.*"
    # tpm2-tss, loaded with dlopen by the TPM-based TEEs (the tpm2-tss module
    # brings the TCTIs); not installed for an SNP or TDX configuration
    if cvmboot_needs_tss2; then
        inst_libdir_file "libtss2-esys.so.0*" "libtss2-mu.so.0*" "libtss2-rc.so.0*" \
            "libtss2-tctildr.so.0*" "libtss2-tcti-device.so.0*"
    fi

    # break-glass: the prompt and the console agent that answers it (plymouth's
    # comes with the plymouth module when that is included)
    if cvmboot_break_glass; then
        inst_multiple systemd-ask-password systemd-tty-ask-password-agent || return 1
        inst_multiple -o "$systemdsystemunitdir"/systemd-ask-password-console.path \
            "$systemdsystemunitdir"/systemd-ask-password-console.service \
            "$systemdsystemunitdir"/sysinit.target.wants/systemd-ask-password-console.path
    fi

    $SYSTEMCTL -q --root "$initdir" enable cvmboot.service
    return 0
}
