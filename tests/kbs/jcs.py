# RFC 8785 JSON Canonicalization Scheme for the test KBS, written independently of
# the agent's C code so a shared bug cannot make both sides agree on a wrong digest.
"""canonicalize(value) -> bytes: the RFC 8785 form of a parsed JSON value."""

import math

_ESCAPES = {
    0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r",
    0x22: '\\"', 0x5C: "\\\\",
}


class JcsError(ValueError):
    """The value cannot be canonicalized (NaN, infinity, lone surrogate, bad type)."""


def _string(text):
    out = ['"']
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise JcsError("lone surrogate in string")
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
        elif code < 0x20:
            out.append("\\u%04x" % code)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _shortest_digits(value):
    """Shortest round-trip decimal digits and exponent n with value = 0.d1d2.. * 10^n."""
    text = repr(value)  # Python's repr is the shortest string that round-trips
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mantissa.partition(".")
    if frac_part == "0":
        frac_part = ""
    digits = (int_part + frac_part).lstrip("0")
    # position of the decimal point relative to the start of int_part
    point = len(int_part) + exponent
    leading_zeros = len(int_part + frac_part) - len((int_part + frac_part).lstrip("0"))
    point -= leading_zeros
    digits = digits.rstrip("0")
    return digits, point


def _number(value):
    """ECMAScript Number.prototype.toString for an IEEE 754 double (RFC 8785 3.2.2.3)."""
    if isinstance(value, bool):
        raise JcsError("bool is not a number")
    if isinstance(value, int):
        if abs(value) < 2 ** 53:
            return str(value)
        value = float(value)
    if not math.isfinite(value):
        raise JcsError("NaN and infinities are not JSON")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits, n = _shortest_digits(abs(value))
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp = ("+" if e >= 0 else "-") + str(abs(e))
        body = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + exp
    return sign + body


def _utf16_key(text):
    """Sort key: UTF-16 code units (big-endian bytes compare the same way)."""
    return text.encode("utf-16-be", "surrogatepass")


def _serialize(value, out):
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, (int, float)):
        out.append(_number(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _serialize(item, out)
        out.append("]")
    elif isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise JcsError("object key is not a string")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _serialize(value[key], out)
        out.append("}")
    else:
        raise JcsError("cannot canonicalize %s" % type(value).__name__)


def canonicalize(value):
    """Return the canonical UTF-8 bytes of value (a parsed JSON value)."""
    out = []
    _serialize(value, out)
    return "".join(out).encode("utf-8")
