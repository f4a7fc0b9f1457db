"""Passwords (pwdlib, argon2) and the API's own access tokens (PyJWT, HS256 pinned).

Tokens of the identity provider are verified in `app/oidc.py`, with the same library.
"""

import functools
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import anyio.to_thread
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.config import Settings
from app.errors import Unauthorized

ALGORITHM = "HS256"
VERIFIED_TOKENS = 4096
"""Tokens whose verification each worker remembers, at most (the most recently used)."""

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the account does not exist, so a failed login costs the same
# whether or not the email is known.
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-for-timing")


def hash_password(password: str) -> str:
    """Hash a password with a fresh salt."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password; return (valid, upgraded hash to store if the old one is outdated)."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False, None
    return _hasher.verify_and_update(password, password_hash)


# argon2 holds a core and 64 MiB for a good fraction of a second, on purpose. On the event
# loop that would stall every other request of the worker for as long; in threads without
# a bound a flood of sign-ins would exhaust memory. So: threads, a few at a time.
_HASHING = anyio.CapacityLimiter(max(2, os.cpu_count() or 2))


async def hash_password_async(password: str) -> str:
    """`hash_password` off the event loop."""
    return await anyio.to_thread.run_sync(hash_password, password, limiter=_HASHING)


async def verify_password_async(
    password: str, password_hash: str | None
) -> tuple[bool, str | None]:
    """`verify_password` off the event loop."""
    return await anyio.to_thread.run_sync(
        verify_password, password, password_hash, limiter=_HASHING
    )


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed access token and its lifetime in seconds."""

    access_token: str
    expires_in: int


def create_access_token(user_id: str, settings: Settings) -> IssuedToken:
    """Sign a token for `user_id`. Roles are deliberately absent: they are read per request."""
    now = datetime.now(UTC)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": user_id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)
    return IssuedToken(token, int(lifetime.total_seconds()))


def decode_access_token(token: str, settings: Settings) -> str:
    """Verify a token and return its subject; any defect raises `Unauthorized`.

    A client sends the same token on every request until it expires, so the signature and
    claims of a token are verified once and remembered (a bounded number of tokens, per
    key, audience and issuer); its time window is checked on every use.
    """
    subject, not_before, expires = _verified(
        token, settings.secret_key, settings.jwt_audience, settings.jwt_issuer
    )
    if not not_before <= time.time() < expires:
        raise Unauthorized("invalid or expired token")
    return subject


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(token: str, key: str, audience: str, issuer: str) -> tuple[str, float, float]:
    """(subject, not before, expires) of a token whose signature and claims are valid."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("invalid token")
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
        )
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        # Whatever a malformed token trips over is still a bad token, never a 500.
        raise Unauthorized("invalid or expired token") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str):
        raise Unauthorized("invalid token")
    not_before = claims.get("nbf", claims["iat"])
    return subject, float(not_before), float(claims["exp"])
