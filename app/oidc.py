"""Access tokens of an OpenID Connect identity provider (Logto), beside the API's own.

A bearer token is routed by its `iss`, read before any verification: the API's own issuer
goes to the HS256 path of `app/security.py`, unchanged; the identity provider's issuer
comes here, where only asymmetric signatures (ES256, ES384, RS256) by a key the provider
publishes in its JWKS are accepted, never HS* or `none`. Reading `iss` unverified is safe
because it only chooses which verification runs, and each verification accepts only its
own keys and algorithms: a token cannot pass one path by pretending to belong to the other.

The key set is cached. An unknown `kid` (the provider rotated its key) refetches it at
most once per cool-down, so a stream of forged `kid`s cannot turn the API into a
hammer against the provider; fetches run on the event loop with an async client and a
timeout, one at a time, with waiting requests reusing their result.
"""

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from app.config import CLOCK_SKEW_SECONDS, Settings
from app.errors import IdentityProviderUnavailable, Unauthorized

log = logging.getLogger("app.oidc")

ALGORITHMS = ("ES256", "ES384", "RS256")
# RFC 9068: a JWT access token says so in its header. An ID token (`typ: JWT`) is about
# signing in to a client, not permission to call this API, and is refused.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]

REFETCH_COOLDOWN_SECONDS = 30.0
# A key the provider stops publishing is refused at the latest this long afterwards.
MAX_AGE_SECONDS = 3600.0
FETCH_TIMEOUT_SECONDS = 5.0
MAX_KEY_SET_BYTES = 256 * 1024

UNKNOWN_KEY = "token signed with a key the identity provider does not publish"


def unverified_issuer(token: str) -> str | None:
    """The `iss` a token claims, without verifying anything: only to route it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, TypeError, ValueError):
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


def parse_key_set(document: object) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by `kid`.

    Keys this API would never accept (encryption keys, other algorithms or curves, keys
    without a `kid`, malformed ones) are skipped, as RFC 7517 asks of a reader; a set with
    no usable key at all is an error.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no `keys` list)")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("kty") not in ("EC", "RSA"):
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWTError, TypeError, ValueError):
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[kid] = key
    if not keys:
        raise ValueError(f"no usable signing key ({', '.join(ALGORITHMS)}) in the key set")
    return keys


class KeySet:
    """The identity provider's signing keys, fetched from its JWKS URL and cached."""

    def __init__(
        self,
        url: str,
        *,
        cooldown: float = REFETCH_COOLDOWN_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        timeout: float = FETCH_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._cooldown = cooldown
        self._max_age = max_age
        self._timeout = timeout
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -math.inf
        self._retry_at = -math.inf  # after a failed fetch, no new attempt before this
        self._unknown_kid_refetch_at = -math.inf
        self._generation = 0  # successful fetches so far
        self._lock = asyncio.Lock()
        self.fetches = 0  # attempts, for operators and tests

    async def key(self, kid: str) -> jwt.PyJWK:
        """The published key named `kid`; `Unauthorized` if the provider has none such,
        `IdentityProviderUnavailable` if no key set could be fetched at all."""
        # One generation for both steps: a set fetched during this call is never refetched
        # for it (the first fetch after start-up would otherwise run twice for a bad kid).
        seen = self._generation
        if self._clock() - self._fetched_at >= self._max_age:
            await self._refresh(seen, stale_only=True)
        key = self._keys.get(kid)
        if key is None:
            await self._refresh(seen, stale_only=False)
            key = self._keys.get(kid)
        if key is None:
            raise Unauthorized(UNKNOWN_KEY)
        return key

    async def _refresh(self, seen: int, *, stale_only: bool) -> None:
        async with self._lock:
            if self._generation != seen:
                return  # fetched while this request waited for the lock: use that
            now = self._clock()
            if stale_only:
                if now - self._fetched_at < self._max_age:
                    return
            elif now < self._unknown_kid_refetch_at:
                return  # an unknown kid refetched recently: do not let forged ones hammer
            else:
                self._unknown_kid_refetch_at = now + self._cooldown
            if now < self._retry_at:
                self._raise_if_empty()
                return
            self.fetches += 1
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, RecursionError) as exc:
                self._retry_at = self._clock() + self._cooldown
                log.warning("could not fetch the identity provider's keys (%s): %s", self.url, exc)
                self._raise_if_empty()
                return
            self._keys = keys
            self._fetched_at = self._clock()
            self._generation += 1

    def _raise_if_empty(self) -> None:
        if not self._keys:
            raise IdentityProviderUnavailable(
                "the identity provider's signing keys cannot be fetched; retry shortly",
                retry_after=max(1, math.ceil(self._cooldown)),
            )

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        body = bytearray()
        async with (
            httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client,
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_KEY_SET_BYTES:
                    raise ValueError(f"key set larger than {MAX_KEY_SET_BYTES} bytes")
        return parse_key_set(json.loads(body))


class IdentityProvider:
    """Verifies the provider's access tokens and names their subject."""

    def __init__(self, settings: Settings, keys: KeySet | None = None) -> None:
        if settings.oidc_issuer is None or settings.oidc_audience is None:
            raise ValueError("an identity provider needs OIDC_ISSUER and OIDC_AUDIENCE")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.keys = keys or KeySet(settings.jwks_url)

    async def subject(self, token: str) -> str:
        """Verify `token` and return its `sub` (the provider's user id); else `Unauthorized`."""
        header = _header(token)
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized(
                "identity provider tokens must be signed with " + ", ".join(ALGORITHMS)
            )
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise Unauthorized("not an access token (its typ must be at+jwt)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token names no signing key (kid)")
        key = await self.keys.key(kid)
        if header["alg"] != key.algorithm_name:
            # The key decides its algorithm, never the token (PyJWT checks it too).
            raise Unauthorized(f"token algorithm does not match its key's ({key.algorithm_name})")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise Unauthorized("invalid or expired token") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("invalid token")
        return subject


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise Unauthorized("invalid token") from exc
