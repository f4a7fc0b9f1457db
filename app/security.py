"""Passwords (pwdlib, argon2) and access tokens (python-jose, HS256 pinned)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jose import JWTError, jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.config import Settings
from app.errors import Unauthorized

ALGORITHM = "HS256"

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
    """Verify a token and return its subject; any defect raises `Unauthorized`."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("invalid token")
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "require_exp": True,
                "require_iat": True,
                "require_sub": True,
                "require_jti": True,
                "require_iss": True,
                "require_aud": True,
            },
        )
    except JWTError as exc:
        raise Unauthorized("invalid or expired token") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str):
        raise Unauthorized("invalid token")
    return subject
