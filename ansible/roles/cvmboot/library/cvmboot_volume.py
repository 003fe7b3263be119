#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0
"""Enrol a LUKS2 volume for cvmboot (key to the KBS, then keyslot and token),
or remove the cvmboot keyslot and token again. Internal to the cvmboot role."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cvmboot_volume
short_description: Enrol a LUKS2 volume for cvmboot, or remove its cvmboot keyslot
description:
  - "WARNING: internal to the cvmboot role; do not use it directly."
  - With I(state=present), a volume without a cvmboot token gets one. The key
    (given, or generated here in memory) is uploaded to the KBS admin API
    first, then C(cvmboot enroll) adds the keyslot and token, reading the key
    and the existing passphrase from pipes, so neither touches a file. A failed
    upload changes nothing; a failed enrolment deletes the uploaded resource
    again (or says exactly what to delete).
  - A volume whose cvmboot token already names I(resource) is left alone.
  - With I(state=absent), C(cvmboot disenroll) removes the cvmboot token and
    its keyslot; other keyslots (the recovery passphrase) are never touched.
options:
  device:
    description: The LUKS2 volume, a path or C(UUID=...).
    type: str
    required: true
  resource:
    description: The KBS resource path C(REPOSITORY/TYPE/TAG) of the key.
    type: str
    required: true
  state:
    description: Whether the cvmboot keyslot and token should exist.
    type: str
    choices: [present, absent]
    default: present
  key:
    description: An existing key, base64; default a new random key.
    type: str
  key_size:
    description: Bytes of a generated key.
    type: int
    default: 64
  passphrase:
    description: An existing passphrase of the volume, base64 of its exact bytes.
    type: str
  admin_url:
    description: Base URL of the KBS admin API (https).
    type: str
  admin_token:
    description: Bearer token for the admin API.
    type: str
  ca_content:
    description: PEM CA bundle that verifies the admin API; empty for the system store.
    type: str
    default: ""
  config:
    description: The cvmboot configuration whose KBS URLs the token records.
    type: path
    default: /etc/cvmboot/cvmboot.conf
  cvmboot:
    description: The cvmboot command (a name on PATH or a path).
    type: str
    default: cvmboot
  timeout:
    description: Seconds for each admin API request.
    type: int
    default: 30
author:
  - cvmboot developers
"""

EXAMPLES = r"""
- name: Enrol the root volume
  cvmboot_volume:
    device: UUID=0b5c7a8e-0000-4000-8000-000000000001
    resource: default/luks/root
    passphrase: "{{ 'initial passphrase' | b64encode }}"
    admin_url: https://kbs.example.com:8080
    admin_token: "{{ token }}"
  no_log: true
"""

RETURN = r"""
outcome:
  description: enrolled, already-enrolled, removed, absent, would-enrol, would-remove, failed.
  type: str
  returned: always
keyslot:
  description: The cvmboot keyslot (present volumes).
  type: int
  returned: when enrolled
uploaded:
  description: Whether this run uploaded the key to the KBS.
  type: bool
  returned: always
keyslots_before:
  description: The volume's active keyslots before this run.
  type: list
  elements: int
  returned: when the volume could be read
"""

import base64
import binascii
import json
import os
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvmboot_kbs import (
    KbsAdminError, delete_resource, resource_path_valid, upload_resource)

PASSPHRASE_MAX = 4096
KEY_MIN, KEY_MAX = 16, 512


def wipe(buf):
    if isinstance(buf, bytearray):
        for i in range(len(buf)):
            buf[i] = 0


class Volume(object):
    def __init__(self, module):
        self.m = module
        self.p = module.params
        self.result = {"changed": False, "outcome": "failed", "uploaded": False,
                       "device": self.p["device"], "resource": self.p["resource"]}
        path = self.p["cvmboot"]
        self.bin = path if "/" in path else module.get_bin_path(path, required=False)
        if not self.bin:
            self.fail("the cvmboot command %r is not on the PATH of the managed node "
                      "(cvmboot_manage_packages: true installs it)" % path)

    def fail(self, msg):
        self.result["outcome"] = "failed"
        self.m.fail_json(msg="%s: %s" % (self.p["device"], msg), **self.result)

    def run(self, args, pass_fds=()):
        """cvmboot with the role's configuration once it is written (before, as
        in check mode, the built-in defaults), never the kernel command line."""
        config = self.p["config"]
        cmd = [self.bin] + (["--config", config] if os.path.exists(config) else [])
        cmd += ["--cmdline", "/dev/null"] + args
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, pass_fds=pass_fds, close_fds=True)
        out, err = proc.communicate(timeout=300)
        return (proc.returncode, out.decode("utf-8", "replace"),
                err.decode("utf-8", "replace").replace("<3>", "").strip())

    def tokens(self):
        rc, out, err = self.run(["tokens", self.p["device"], "--json"])
        if rc != 0:
            self.fail("cannot read its LUKS2 header: %s" % (err or "exit %d" % rc))
        try:
            info = json.loads(out)
        except ValueError:
            self.fail("cvmboot tokens printed no JSON: %r" % out[:200])
        self.result["keyslots_before"] = info.get("keyslots", [])
        bad = [t for t in info.get("tokens", []) if "error" in t]
        if bad:
            self.fail("its cvmboot token %d is invalid (%s): inspect it with cryptsetup "
                      "luksDump and remove it by hand" % (bad[0]["token"], bad[0]["error"]))
        return info

    # -- state: absent
    def absent(self, info):
        mine = info["tokens"]
        if not mine:
            self.result["outcome"] = "absent"
            return
        if mine[0]["resource"] != self.p["resource"]:
            self.fail("its cvmboot token names resource %s, not %s: nothing removed"
                      % (mine[0]["resource"], self.p["resource"]))
        self.result["changed"] = True
        if self.m.check_mode:
            self.result["outcome"] = "would-remove"
            return
        rc, out, err = self.run(["disenroll", self.p["device"], "--resource",
                                 self.p["resource"]])
        if rc != 0:
            self.result["changed"] = False
            self.fail(err or "cvmboot disenroll exited %d" % rc)
        self.result["outcome"] = "removed"
        self.result["keyslot"] = mine[0]["keyslot"]

    # -- state: present
    def present(self, info):
        mine = info["tokens"]
        if mine:
            if mine[0]["resource"] != self.p["resource"]:
                self.fail("it is already enrolled for resource %s (token %d, keyslot %d), not "
                          "%s: remove it first (state: absent with that resource)"
                          % (mine[0]["resource"], mine[0]["token"], mine[0]["keyslot"],
                             self.p["resource"]))
            self.result["outcome"] = "already-enrolled"
            self.result["keyslot"] = mine[0]["keyslot"]
            return
        passphrase = self.decode("passphrase", 1, PASSPHRASE_MAX)
        if passphrase is None:
            self.fail("an existing passphrase (password or password_src) is needed to add "
                      "the cvmboot keyslot; nothing changed")
        given = self.decode("key", KEY_MIN, KEY_MAX)
        can_upload = bool(self.p["admin_url"] and self.p["admin_token"])
        if given is None and not can_upload:
            self.fail("a generated key needs KBS admin credentials to be uploaded; nothing "
                      "changed")
        self.result["changed"] = True
        if self.m.check_mode:
            self.result["outcome"] = "would-enrol"
            return
        try:
            self.check_passphrase(passphrase)
            key = given if given is not None else self.generate()
            try:
                self.enrol(key, passphrase, can_upload)
            finally:
                wipe(key)
        finally:
            wipe(passphrase)

    def decode(self, name, low, high):
        value = self.p[name]
        if not value:
            return None
        try:
            data = bytearray(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            self.fail("%s is not base64" % name)
        if not low <= len(data) <= high:
            self.fail("%s must be %d to %d bytes long, not %d" % (name, low, high, len(data)))
        return data

    def generate(self):
        size = self.p["key_size"]
        if not KEY_MIN <= size <= KEY_MAX:
            self.fail("key_size must be %d to %d" % (KEY_MIN, KEY_MAX))
        key = bytearray(size)
        with open("/dev/urandom", "rb", buffering=0) as f:
            if f.readinto(key) != size:
                self.fail("short read from /dev/urandom")
        return key

    def check_passphrase(self, passphrase):
        """Refuse a wrong passphrase before the key leaves this process."""
        cryptsetup = self.m.get_bin_path("cryptsetup", required=False)
        if not cryptsetup:
            return
        device = self.p["device"]
        if device.startswith("UUID="):
            blkid = self.m.get_bin_path("blkid", required=False)
            rc, out, _ = self.m.run_command([blkid, "-U", device[5:]]) if blkid else (1, "", "")
            if rc != 0 or not out.strip():
                return  # cvmboot enroll finds it or says why
            device = out.strip()
        r, w = os.pipe()
        try:
            os.write(w, passphrase)
        finally:
            os.close(w)
        try:
            rc = subprocess.call([cryptsetup, "open", "--test-passphrase", "--key-file",
                                  "/dev/fd/%d" % r, device], pass_fds=(r,),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        finally:
            os.close(r)
        if rc == 2:  # cryptsetup: "no key available with this passphrase"
            self.result["changed"] = False
            self.fail("the given passphrase opens no keyslot of the volume; nothing changed")

    def enrol(self, key, passphrase, can_upload):
        p = self.p
        if can_upload:
            try:
                upload_resource(p["admin_url"], p["resource"], key, p["admin_token"],
                                p["ca_content"], p["timeout"])
            except KbsAdminError as exc:
                self.result["changed"] = False
                self.fail("uploading the key to %s/kbs/v0/resource/%s failed (%s); the volume "
                          "was not changed" % (p["admin_url"].rstrip("/"), p["resource"], exc))
            self.result["uploaded"] = True
        rc, err = self.run_enroll(key, passphrase)
        if rc != 0:
            self.result["changed"] = self.result["uploaded"]
            self.fail("cvmboot enroll failed (%s)%s" % (err or "exit %d" % rc,
                                                         self.undo_upload()))
        info = self.tokens_after()
        self.result["outcome"] = "enrolled"
        self.result["keyslot"] = info["tokens"][0]["keyslot"]

    def run_enroll(self, key, passphrase):
        """cvmboot enroll reading the key and the passphrase from two pipes."""
        fds = []
        try:
            for data in (key, passphrase):
                r, w = os.pipe()
                fds.append(r)
                try:
                    os.write(w, data)  # both fit in a pipe buffer (at most 4 KiB)
                finally:
                    os.close(w)
            rc, out, err = self.run(["enroll", self.p["device"], "--resource",
                                     self.p["resource"], "--key-file", "/dev/fd/%d" % fds[0],
                                     "--passphrase-file", "/dev/fd/%d" % fds[1]],
                                    pass_fds=tuple(fds))
            return rc, err
        finally:
            for fd in fds:
                os.close(fd)

    def undo_upload(self):
        p = self.p
        if not self.result["uploaded"]:
            return "; nothing was uploaded"
        try:
            delete_resource(p["admin_url"], p["resource"], p["admin_token"], p["ca_content"],
                            p["timeout"])
        except KbsAdminError as exc:
            return ("; the key uploaded to the KBS could NOT be deleted again (%s): delete "
                    "the resource %s on %s by hand (DELETE /kbs/v0/resource/%s)"
                    % (exc, p["resource"], p["admin_url"], p["resource"]))
        self.result["uploaded"] = False
        self.result["changed"] = False
        return "; the key uploaded to the KBS was deleted again"

    def tokens_after(self):
        before = set(self.result["keyslots_before"])
        info = self.tokens()
        self.result["keyslots_before"] = sorted(before)
        if not info["tokens"] or info["tokens"][0]["resource"] != self.p["resource"]:
            self.fail("cvmboot enroll succeeded but the token is not there")
        if not before <= set(info["keyslots"]):
            self.fail("keyslots %s disappeared during enrolment" % sorted(before -
                                                                      set(info["keyslots"])))
        return info


def main():
    module = AnsibleModule(
        argument_spec=dict(
            device=dict(type="str", required=True),
            resource=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            key=dict(type="str", no_log=True),
            key_size=dict(type="int", default=64),
            passphrase=dict(type="str", no_log=True),
            admin_url=dict(type="str"),
            admin_token=dict(type="str", no_log=True),
            ca_content=dict(type="str", default=""),
            config=dict(type="path", default="/etc/cvmboot/cvmboot.conf"),
            cvmboot=dict(type="str", default="cvmboot"),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    if not resource_path_valid(module.params["resource"]):
        module.fail_json(msg="invalid resource path %r: expected REPOSITORY/TYPE/TAG"
                         % module.params["resource"][:200], outcome="failed")
    vol = Volume(module)
    info = vol.tokens()
    if module.params["state"] == "absent":
        vol.absent(info)
    else:
        vol.present(info)
    module.exit_json(**vol.result)


if __name__ == "__main__":
    main()
