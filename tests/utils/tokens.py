"""Hand-made token claims, for tests that forge or bend tokens."""

import base64
import hashlib
import hmac
import json
import time
import uuid

from app.config import Settings

_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def claims(settings: Settings, sub: object = "0" * 24, **overrides: object) -> dict[str, object]:
    """A complete, currently valid set of claims for `sub`, with `overrides` applied."""
    now = int(time.time())
    return {
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
    } | overrides


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs encode their parts."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_signed(
    payload: dict[str, object],
    key: str,
    algorithm: str = "HS256",
    headers: dict[str, object] | None = None,
) -> str:
    """An HMAC-signed JWT built by hand, as an attacker would: no library between the test
    and the bytes, so no library refuses a short, empty or public key on the test's behalf."""
    header = {"alg": algorithm, "typ": "JWT"} | (headers or {})
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, payload))
    mac = hmac.new(key.encode(), signing_input.encode(), _HASHES[algorithm]).digest()
    return f"{signing_input}.{b64url(mac)}"
