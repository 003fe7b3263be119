# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0
"""One request to a Trustee KBS's admin API for the cvmboot role's modules:
bearer token, TLS verified against the given CA bundle (else the system's),
no redirects, bounded answers, errors that carry the KBS's problem type."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import ssl

try:  # Python 3
    import urllib.error as urlerror
    import urllib.request as urlrequest
except ImportError:  # pragma: no cover
    urlerror = urlrequest = None

MAX_ANSWER = 64 * 1024
SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


class KbsAdminError(Exception):
    """status 0 means no HTTP answer at all (TLS, DNS, connection)."""

    def __init__(self, status, problem, detail):
        self.status, self.problem, self.detail = status, problem, detail
        if status:
            text = "HTTP %d %s: %s" % (status, problem or "(no problem type)", detail)
        else:
            text = "no answer: %s" % detail
        super(KbsAdminError, self).__init__(text)


def resource_path_valid(path):
    parts = path.split("/")
    return len(parts) == 3 and all(SEGMENT.match(p) and p not in (".", "..") for p in parts)


class _NoRedirect(urlrequest.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise KbsAdminError(code, None, "redirected to %s: refused (the bearer token and "
                                        "the key go to the configured URL only)" % newurl[:200])


def _problem(status, body):
    """The Trustee problem type name and detail of an error answer, if any."""
    try:
        obj = json.loads(body.decode("utf-8"))
        kind = str(obj.get("type", "")).rsplit("/", 1)[-1] or None
        return kind, str(obj.get("detail", ""))[:500]
    except (ValueError, AttributeError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip().replace("\n", " ")
        return None, text[:300] or "(empty answer)"


def admin_request(base_url, method, path, token, body=None, content_type=None,
                  ca_content=None, timeout=30):
    """(status, answer bytes) of a 2xx answer; KbsAdminError otherwise."""
    if not base_url.startswith("https://"):
        raise KbsAdminError(0, None, "the admin URL must be https:// (keys and tokens "
                                     "never travel in clear text): %s" % base_url[:200])
    ctx = ssl.create_default_context(cadata=ca_content or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    headers = {"Authorization": "Bearer " + token}
    if content_type:
        headers["Content-Type"] = content_type
    req = urlrequest.Request(base_url.rstrip("/") + path, data=body, headers=headers,
                             method=method)
    opener = urlrequest.build_opener(urlrequest.HTTPSHandler(context=ctx), _NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as resp:
            data = resp.read(MAX_ANSWER + 1)
            if len(data) > MAX_ANSWER:
                raise KbsAdminError(resp.status, None, "answer larger than %d bytes"
                                    % MAX_ANSWER)
            return resp.status, data
    except urlerror.HTTPError as exc:
        kind, detail = _problem(exc.code, exc.read(MAX_ANSWER))
        raise KbsAdminError(exc.code, kind, detail)
    except urlerror.URLError as exc:
        raise KbsAdminError(0, None, "%s: %s" % (base_url[:200], exc.reason))
    except (OSError, ssl.SSLError) as exc:
        raise KbsAdminError(0, None, "%s: %s" % (base_url[:200], exc))


def upload_resource(base_url, resource, data, token, ca_content=None, timeout=30):
    admin_request(base_url, "POST", "/kbs/v0/resource/" + resource, token, body=data,
                  content_type="application/octet-stream", ca_content=ca_content,
                  timeout=timeout)


def delete_resource(base_url, resource, token, ca_content=None, timeout=30):
    admin_request(base_url, "DELETE", "/kbs/v0/resource/" + resource, token,
                  ca_content=ca_content, timeout=timeout)
