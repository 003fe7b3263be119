#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0
"""Set a Trustee KBS's resource policy (Rego) through its admin API, only when
the KBS does not already hold that text. Internal to the cvmboot role."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cvmboot_kbs_policy
short_description: Set the resource policy of a Trustee KBS
description:
  - "WARNING: internal to the cvmboot role; do not use it directly."
  - Reads the policy with C(GET /kbs/v0/resource-policy); when the answer is
    not the given text, posts it to C(/kbs/v0/resource-policy) as
    C({"policy": base64url(text)}). Trustee releases whose GET lists policy
    names instead of returning the text are posted to on every run.
options:
  admin_url:
    description: Base URL of the KBS admin API (https).
    type: str
    required: true
  admin_token:
    description: Bearer token for the admin API.
    type: str
    required: true
  ca_content:
    description: PEM CA bundle that verifies the admin API; empty for the system store.
    type: str
    default: ""
  policy:
    description: The Rego text.
    type: str
    required: true
  timeout:
    description: Seconds for each request.
    type: int
    default: 30
author:
  - cvmboot developers
"""

EXAMPLES = r"""
- name: Allow cvmboot's resources to affirmed nodes only
  cvmboot_kbs_policy:
    admin_url: https://kbs.example.com:8080
    admin_token: "{{ token }}"
    policy: "{{ lookup('file', 'resource-policy.rego') }}"
  no_log: true
"""

RETURN = r"""
outcome:
  description: unchanged, set, would-set or failed.
  type: str
  returned: always
"""

import base64
import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvmboot_kbs import KbsAdminError, admin_request

POLICY_MAX = 256 * 1024


def main():
    module = AnsibleModule(
        argument_spec=dict(
            admin_url=dict(type="str", required=True),
            admin_token=dict(type="str", required=True, no_log=True),
            ca_content=dict(type="str", default=""),
            policy=dict(type="str", required=True),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    p = module.params
    policy = p["policy"].encode("utf-8")
    if not policy.strip() or len(policy) > POLICY_MAX:
        module.fail_json(msg="the resource policy must be 1 to %d bytes of Rego" % POLICY_MAX,
                         outcome="failed")
    try:
        _, current = admin_request(p["admin_url"], "GET", "/kbs/v0/resource-policy",
                                   p["admin_token"], ca_content=p["ca_content"],
                                   timeout=p["timeout"])
    except KbsAdminError as exc:
        module.fail_json(msg="reading the resource policy of %s failed: %s"
                         % (p["admin_url"], exc), outcome="failed")
    if current.strip() == policy.strip():
        module.exit_json(changed=False, outcome="unchanged")
    if module.check_mode:
        module.exit_json(changed=True, outcome="would-set")
    body = json.dumps({"policy": base64.urlsafe_b64encode(policy).rstrip(b"=").decode()})
    try:
        admin_request(p["admin_url"], "POST", "/kbs/v0/resource-policy", p["admin_token"],
                      body=body.encode("ascii"), content_type="application/json",
                      ca_content=p["ca_content"], timeout=p["timeout"])
    except KbsAdminError as exc:
        module.fail_json(msg="setting the resource policy of %s failed: %s"
                         % (p["admin_url"], exc), outcome="failed")
    module.exit_json(changed=True, outcome="set")


if __name__ == "__main__":
    main()
