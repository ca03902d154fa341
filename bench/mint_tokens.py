"""Mint many distinct ES256 test tokens quickly (fresh-token mode of load.sh).

Same shape as `hsgate token --alg ES256 --kid KID` (header typ/alg/kid;
claims iss, aud, sub, iat, exp, jti), signed with the same PKCS#8 key. One
`hsgate token` process per token costs tens of ms here, far too slow for the
tens of thousands of tokens a fresh-token run consumes.

usage: mint_tokens.py KEY.pem COUNT ISS AUD SUB KID TTL_SECONDS OUT
"""

import base64
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    key_file, count, iss, aud, sub, kid, ttl, out = sys.argv[1:]
    with open(key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    header = b64(json.dumps({"typ": "JWT", "alg": "ES256", "kid": kid}, separators=(",", ":")).encode())
    now = int(time.time())
    algo = ec.ECDSA(hashes.SHA256())
    with open(out, "w") as f:
        for _ in range(int(count)):
            claims = {"iss": iss, "aud": aud, "sub": sub, "iat": now, "exp": now + int(ttl), "jti": os.urandom(12).hex()}
            signing_input = header + "." + b64(json.dumps(claims, separators=(",", ":")).encode())
            r, s = decode_dss_signature(key.sign(signing_input.encode(), algo))
            f.write(signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")) + "\n")


if __name__ == "__main__":
    main()
