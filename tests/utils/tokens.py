"""Hand-made token claims, for tests that forge or bend tokens."""

import time
import uuid

from app.config import Settings


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
