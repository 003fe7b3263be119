#!/usr/bin/python3
# Self-tests of the test KBS's own crypto: JCS (Trustee + RFC 8785 vectors), JWE
# (RFC 7516 A.1, RFC 7518 C, RFC 3394 4.6), strict JWK parsing, ES256 tokens.
"""Run: /usr/bin/python3 tests/kbs/test_vectors.py"""

import hashlib
import json
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap  # noqa: E402

import jcs  # noqa: E402
import jose  # noqa: E402
import jwe  # noqa: E402
import rcar_client  # noqa: E402


def _f64(hexbits):
    return struct.unpack(">d", bytes.fromhex(hexbits))[0]


class JcsTest(unittest.TestCase):
    def test_trustee_vector(self):
        out = jcs.canonicalize(json.loads('{"b":1,"a":"test","c":{"d":"e"}}'))
        self.assertEqual(out, b'{"a":"test","b":1,"c":{"d":"e"}}')
        self.assertEqual(hashlib.sha384(out).hexdigest(),
                         "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c"
                         "4597480a186427c813ca941da78870c3")

    def test_rfc8785_main_example(self):
        text = ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
                ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
                ' "literals": [null, true, false]}')
        expected = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,'
                    '1e-27],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
        self.assertEqual(jcs.canonicalize(json.loads(text)), expected.encode("utf-8"))

    def test_rfc8785_sorting(self):
        obj = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet",
               "1": "One", "\U0001F600": "Emoji: Grinning Face", "\u0080": "Control",
               "\u00f6": "Latin Small Letter O With Diaeresis"}
        order = [k for k in json.loads(jcs.canonicalize(obj))]
        self.assertEqual(order, ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001F600", "\ufb33"])

    def test_numbers(self):
        cases = {
            "0000000000000000": "0", "8000000000000000": "0",
            "0000000000000001": "5e-324", "8000000000000001": "-5e-324",
            "7fefffffffffffff": "1.7976931348623157e+308",
            "ffefffffffffffff": "-1.7976931348623157e+308",
            "4340000000000000": "9007199254740992", "c340000000000000": "-9007199254740992",
            "4430000000000000": "295147905179352830000",
            "44b52d02c7e14af5": "9.999999999999997e+22",
            "44b52d02c7e14af6": "1e+23", "44b52d02c7e14af7": "1.0000000000000001e+23",
            "444b1ae4d6e2ef4e": "999999999999999700000",
            "444b1ae4d6e2ef4f": "999999999999999900000",
            "444b1ae4d6e2ef50": "1e+21",
            "3eb0c6f7a0b5ed8c": "9.999999999999997e-7",
            "3eb0c6f7a0b5ed8d": "0.000001",
            "41b3de4355555553": "333333333.3333332",
            "41b3de4355555554": "333333333.33333325",
            "41b3de4355555555": "333333333.3333333",
            "41b3de4355555556": "333333333.3333334",
            "41b3de4355555557": "333333333.33333343",
            "becbf647612f3696": "-0.0000033333333333333333",
            "43143ff3c1cb0959": "1424953923781206.2",
        }
        for bits, want in cases.items():
            self.assertEqual(jcs.canonicalize(_f64(bits)).decode(), want, bits)
        self.assertEqual(jcs.canonicalize([1, -7, 100, 1e21, 1e20, 1.5e-7, 0.5]),
                         b"[1,-7,100,1e+21,100000000000000000000,1.5e-7,0.5]")

    def test_rejects(self):
        for bad in (float("nan"), float("inf"), {"a": "\ud800"}, {1: 2}, b"x"):
            with self.assertRaises(jcs.JcsError):
                jcs.canonicalize(bad)

    def test_escapes(self):
        self.assertEqual(jcs.canonicalize("\x00\x1f\x7f/\u2028"),
                         '"\\u0000\\u001f\x7f/\u2028"'.encode("utf-8"))


# RFC 7516 Appendix A.1 (public test vector data).
A1_KEY = {
    "n": "oahUIoWw0K0usKNuOR6H4wkf4oBUXHTxRvgb48E-BVvxkeDNjbC4he8rUWcJoZmds2h7M70imEVhRU5djINXt"
         "qllXI4DFqcI1DgjT9LewND8MW2Krf3Spsk_ZkoFnilakGygTwpZ3uesH-PFABNIUYpOiN15dsQRkgr0vEhxN9"
         "2i2asbOenSZeyaxziK72UwxrrKoExv6kc5twXTq4h-QChLOln0_mtUZwfsRaMStPs6mS6XrgxnxbWhojf663t"
         "uEQueGC-FCMfra36C9knDFGzKsNa7LZK2djYgyD3JR_MB_4NUJW_TqOQtwHYbxevoJArm-L5StowjzGy-_bq6Gw",
    "e": "AQAB",
    "d": "kLdtIj6GbDks_ApCSTYQtelcNttlKiOyPzMrXHeI-yk1F7-kpDxY4-WY5NWV5KntaEeXS1j82E375xxhWMHXy"
         "vjYecPT9fpwR_M9gV8n9Hrh2anTpTD93Dt62ypW3yDsJzBnTnrYu1iwWRgBKrEYY46qAZIrA2xAwnm2X7uGR1"
         "hghkqDp0Vqj3kbSCz1XyfCs6_LehBwtxHIyh8Ripy40p24moOAbgxVw3rxT_vlt3UVe4WO3JkJOzlpUf-KTVI"
         "2Ptgm-dARxTEtE-id-4OJr0h-K-VFs3VSndVTIznSxfyrj8ILL6MG_Uv8YAu7VILSB3lOW085-4qE3DzgrTjgyQ",
    "p": "1r52Xk46c-LsfB5P442p7atdPUrxQSy4mti_tZI3Mgf2EuFVbUoDBvaRQ-SWxkbkmoEzL7JXroSBjSrK3YIQg"
         "YdMgyAEPTPjXv_hI2_1eTSPVZfzL0lffNn03IXqWF5MDFuoUYE0hzb2vhrlN_rKrbfDIwUbTrjjgieRbwC6Cl0",
    "q": "wLb35x7hmQWZsWJmB_vle87ihgZ19S8lBEROLIsZG4ayZVe9Hi9gDVCOBmUDdaDYVTSNx_8Fyw1YYa9XGrGnD"
         "ew00J28cRUoeBB_jKI1oma0Orv1T9aXIWxKwd4gvxFImOWr3QRL9KEBRzk2RatUBnmDZJTIAfwTs0g68UZHvtc",
    "dp": "ZK-YwE7diUh0qR1tR7w8WHtolDx3MZ_OTowiFvgfeQ3SiresXjm9gZ5KLhMXvo-uz-KUJWDxS5pFQ_M0evdo"
          "1dKiRTjVw_x4NyqyXPM5nULPkcpU827rnpZzAJKpdhWAgqrXGKAECQH0Xt4taznjnd_zVpAmZZq60WPMBMfKcuE",
    "dq": "Dq0gfgJ1DdFGXiLvQEZnuKEN0UUmsJBxkjydc3j4ZYdBiMRAy86x0vHCjywcMlYYg4yoC4YZa9hNVcsjqA3F"
          "eiL19rk8g6Qn29Tt0cj8qqyFpz9vNDBUfCAiJVeESOjJDZPYHdHY8v1b-o-Z2X5tvLx-TCekf7oxyeKDUqKWjis",
    "qi": "VIMpMYbPf47dT1w_zDUXfPimsSegnMOA1zTaX7aGk_8urY6R8-ZW1FxU7AlWAyLWybqq6t16VFd7hQd0y6fl"
          "UK4SlOydB61gwanOsXGOAOv82cHq0E3eL4HrtZkUuKvnPrMnsUUFlfUdybVzxyjz9JF_XyaY14ardLSjf4L_FNY",
}
A1_JWE = (
    "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ."
    "OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr"
    "4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb7"
    "6FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbY"
    "aBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg."
    "48V1_ALb6US04U3b."
    "5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A."
    "XFBoMYUZodetZdvTiFvSkQ")


def _int(b64):
    return int.from_bytes(jose.b64url_decode(b64), "big")


def a1_private_key():
    k = {name: _int(value) for name, value in A1_KEY.items()}
    pub = rsa.RSAPublicNumbers(k["e"], k["n"])
    return rsa.RSAPrivateNumbers(k["p"], k["q"], k["d"], k["dp"], k["dq"], k["qi"],
                                 pub).private_key()


def ec_key_from_jwk(d, x, y, crv="P-256"):
    curve_cls, _ = jose.CURVES[crv]
    pub = ec.EllipticCurvePublicNumbers(_int(x), _int(y), curve_cls())
    return ec.EllipticCurvePrivateNumbers(_int(d), pub).private_key()


class JweTest(unittest.TestCase):
    def test_rfc7516_a1_decrypt(self):
        plain = jwe.decrypt(A1_JWE, a1_private_key())
        self.assertEqual(plain, b"The true sign of intelligence is not knowledge but imagination.")

    def test_rfc7516_a1_tampered_protected_fails(self):
        parts = A1_JWE.split(".")
        flat = dict(zip(("protected", "encrypted_key", "iv", "ciphertext", "tag"), parts))
        flat["aad"] = "eHg"  # an aad member changes the GCM AAD: must fail
        with self.assertRaises(jwe.JweError):
            jwe.decrypt(flat, a1_private_key())

    def test_rfc7518_appendix_c_concat_kdf(self):
        alice = ec_key_from_jwk("0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo",
                                "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
                                "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps")
        bob = ec_key_from_jwk("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw",
                              "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
                              "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck")
        z = alice.exchange(ec.ECDH(), bob.public_key())
        self.assertEqual(list(z[:4]), [158, 86, 217, 29])
        self.assertEqual(z, bob.exchange(ec.ECDH(), alice.public_key()))
        key = jwe.concat_kdf(z, 128, b"A128GCM", b"Alice", b"Bob")
        self.assertEqual(jose.b64url_encode(key), "VqqN6vgjbSBcIijNcacQGg")

    def test_rfc3394_4_6_key_wrap(self):
        kek = bytes(range(32))
        data = bytes.fromhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
        wrapped = bytes.fromhex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43B"
                                "FB988B9B7A02DD21")
        self.assertEqual(aes_key_wrap(kek, data), wrapped)
        self.assertEqual(aes_key_unwrap(kek, wrapped), data)

    def test_round_trips(self):
        for alg in ("ec-p256", "ec-p521", "rsa-oaep-256"):
            key, jwk = rcar_client.make_tee_key(alg)
            public = jose.parse_tee_pubkey(jwk)
            obj = jwe.encrypt(public, b"payload " + alg.encode())
            self.assertEqual(set(obj), {"protected", "encrypted_key", "iv", "ciphertext", "tag"})
            header = json.loads(jose.b64url_decode(obj["protected"]))
            self.assertEqual(header["enc"], "A256GCM")
            if alg.startswith("ec"):
                self.assertEqual(header["alg"], "ECDH-ES+A256KW")
                self.assertEqual(set(header["epk"]), {"crv", "kty", "x", "y"})
                self.assertEqual(header["epk"]["crv"], jwk["crv"])
                self.assertEqual(len(jose.b64url_decode(obj["encrypted_key"])), 40)
            else:
                self.assertEqual(header["alg"], "RSA-OAEP-256")
            self.assertEqual(len(jose.b64url_decode(obj["iv"])), 12)
            self.assertEqual(jwe.decrypt(obj, key), b"payload " + alg.encode())
            bad = dict(obj)
            tag = bytearray(jose.b64url_decode(bad["tag"]))
            tag[5] ^= 0x80
            bad["tag"] = jose.b64url_encode(bytes(tag))
            with self.assertRaises(jwe.JweError):
                jwe.decrypt(bad, key)


class JwkTest(unittest.TestCase):
    def test_accepts_exact_members(self):
        for alg in ("ec-p256", "ec-p521", "rsa-oaep-256"):
            _, jwk = rcar_client.make_tee_key(alg)
            jose.parse_tee_pubkey(jwk)

    def test_rejects(self):
        _, jwk = rcar_client.make_tee_key("ec-p256")
        _, rjwk = rcar_client.make_tee_key("rsa-oaep-256")
        short = jose.b64url_encode(jose.b64url_decode(jwk["x"])[1:])
        bad_point = jose.b64url_encode((1).to_bytes(32, "big"))
        cases = [dict(jwk, kid="1"), dict(jwk, use="enc"), dict(jwk, x=short),
                 dict(jwk, alg="ECDH-ES"), dict(jwk, crv="P-384"), dict(jwk, y=bad_point),
                 dict(jwk, x=jwk["x"] + "="), dict(rjwk, alg="RSA1_5"), dict(rjwk, kid="k"),
                 {k: v for k, v in jwk.items() if k != "alg"}, dict(jwk, kty="OKP"), "str"]
        for case in cases:
            with self.assertRaises(jose.JoseError, msg=repr(case)):
                jose.parse_tee_pubkey(case)

    def test_base64_strict(self):
        self.assertEqual(jose.b64std_decode("AAEC"), b"\x00\x01\x02")
        for bad in ("AAE", "AA-C", "AAF=", "A==="):
            with self.assertRaises(jose.JoseError):
                jose.b64std_decode(bad)
        with self.assertRaises(jose.JoseError):
            jose.b64url_decode("AAF")  # stray low bits


class TokenTest(unittest.TestCase):
    def test_sign_verify(self):
        key = ec.generate_private_key(ec.SECP256R1())
        token = jose.jwt_sign_es256({"exp": 5, "tee": "sample"}, key)
        self.assertEqual(jose.jwt_verify_es256(token, key.public_key())["tee"], "sample")
        head, body, sig = token.split(".")
        forged = jose.b64url_encode(json.dumps({"exp": 6, "tee": "sample"}).encode())
        with self.assertRaises(jose.JoseError):
            jose.jwt_verify_es256(head + "." + forged + "." + sig, key.public_key())
        other = ec.generate_private_key(ec.SECP256R1())
        with self.assertRaises(jose.JoseError):
            jose.jwt_verify_es256(token, other.public_key())


if __name__ == "__main__":
    unittest.main(verbosity=2)
