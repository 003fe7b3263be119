#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0
"""Sign a short-lived admin JWT (EdDSA) for a Trustee KBS from an Ed25519
private key, as Trustee's kbs-client did. Internal to the cvmboot role; runs
on the controller (delegate_to: localhost), where the key lives."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cvmboot_admin_token
short_description: Sign a short-lived EdDSA admin JWT for a Trustee KBS
description:
  - "WARNING: internal to the cvmboot role; do not use it directly."
  - Reads an Ed25519 private key (PEM, PKCS#8, unencrypted) and returns a JWT
    with header C({"alg":"EdDSA","typ":"JWT"}) and claims C(iat), C(exp) and,
    when given, C(role). Nothing is written anywhere; the task that calls it
    must set C(no_log).
options:
  private_key_src:
    description: Path of the Ed25519 private key (where the module runs).
    type: path
    required: true
  lifetime:
    description: Seconds until the token expires (10 to 86400).
    type: int
    default: 300
  role:
    description: Value of the C(role) claim (Trustee's regex_acl); empty for none.
    type: str
    default: ""
requirements:
  - python3-cryptography
author:
  - cvmboot developers
"""

EXAMPLES = r"""
- name: Sign an admin token
  cvmboot_admin_token:
    private_key_src: /etc/kbs/admin-private.pem
  delegate_to: localhost
  register: admin
  no_log: true
"""

RETURN = r"""
token:
  description: The compact JWT.
  type: str
  returned: success
expires:
  description: Its C(exp) claim (seconds since the epoch).
  type: int
  returned: success
"""

import base64
import json
import time

from ansible.module_utils.basic import AnsibleModule

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

KEY_FILE_MAX = 16384


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_key(module, path):
    try:
        with open(path, "rb") as f:
            pem = f.read(KEY_FILE_MAX + 1)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read the KBS admin key %s: %s" % (path, exc))
    if len(pem) > KEY_FILE_MAX:
        module.fail_json(msg="%s is larger than %d bytes: not a PEM private key"
                         % (path, KEY_FILE_MAX))
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        module.fail_json(msg="%s is not an unencrypted PEM private key (%s)"
                         % (path, str(exc).split("\n")[0][:200]))
    if not isinstance(key, Ed25519PrivateKey):
        module.fail_json(msg="%s is not an Ed25519 key (Trustee's admin key is made with "
                             "openssl genpkey -algorithm ed25519)" % path)
    return key


def main():
    module = AnsibleModule(
        argument_spec=dict(
            private_key_src=dict(type="path", required=True),
            lifetime=dict(type="int", default=300),
            role=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg="signing the KBS admin token needs the Python cryptography "
                             "package on the controller (python3-cryptography)")
    lifetime = module.params["lifetime"]
    if not 10 <= lifetime <= 86400:
        module.fail_json(msg="lifetime must be 10 to 86400 seconds, not %d" % lifetime)
    key = load_key(module, module.params["private_key_src"])
    now = int(time.time())
    claims = {"iat": now, "exp": now + lifetime}
    if module.params["role"]:
        claims["role"] = module.params["role"]
    signing_input = "%s.%s" % (
        b64url(json.dumps({"alg": "EdDSA", "typ": "JWT"}, separators=(",", ":")).encode()),
        b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()))
    token = signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))
    # Signing changes nothing anywhere, in check mode or not.
    module.exit_json(changed=False, token=token, expires=claims["exp"])


if __name__ == "__main__":
    main()
