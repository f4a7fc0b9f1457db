"""A stand-in identity provider for the tests: a JWKS on loopback, its keys, its tokens and
its webhooks, shaped like Logto's.

The key set is served by the test itself (`http.server` in a thread, on a free port), so
the API fetches it over real HTTP exactly as it would fetch Logto's. Keys are generated
with `cryptography`.
"""

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "https://api.ticketing.example"
WEBHOOK_KEY = "whsec-test-0123456789abcdefghijklmnop"
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass
class SigningKey:
    """A private key the stand-in provider signs access tokens with."""

    kid: str
    private: PrivateKey
    algorithm: str

    @classmethod
    def es384(cls, kid: str = "es384-1") -> "SigningKey":
        """A P-384 key, Logto's default."""
        return cls(kid, ec.generate_private_key(ec.SECP384R1()), "ES384")

    @classmethod
    def es256(cls, kid: str = "es256-1") -> "SigningKey":
        """A P-256 key."""
        return cls(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")

    @classmethod
    def rs256(cls, kid: str = "rs256-1", bits: int = 2048) -> "SigningKey":
        """An RSA key, as after a rotation to RSA in the Logto console."""
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=bits), "RS256")

    def jwk(self) -> dict[str, Any]:
        """The public half as a JWK, as the provider publishes it."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            entry = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            entry = ECAlgorithm.to_jwk(public, as_dict=True)
        return entry | {"kid": self.kid, "use": "sig"}

    def sign(self, payload: dict[str, Any], **headers: Any) -> str:
        """A token over `payload`, with Logto's header (`kid`, `typ: at+jwt`) unless
        overridden."""
        header = {"kid": self.kid, "typ": "at+jwt"} | headers
        return jwt.encode(payload, self.private, algorithm=self.algorithm, headers=header)


def access_claims(issuer: str, sub: str, **overrides: Any) -> dict[str, Any]:
    """The claims of a Logto access token (node-oidc-provider's JWT format: no `nbf`)."""
    now = int(time.time())
    return {
        "jti": uuid.uuid4().hex,
        "sub": sub,
        "iat": now,
        "exp": now + 3600,
        "scope": "",
        "client_id": "spa-client-id",
        "iss": issuer,
        "aud": AUDIENCE,
    } | overrides


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_GET(self) -> None:
        jwks = self.server.jwks
        with jwks.lock:
            jwks.fetches += 1
            status, delay = jwks.status, jwks.delay
            body = json.dumps({"keys": [k.jwk() for k in jwks.keys]}).encode()
        time.sleep(delay)
        if self.path != "/oidc/jwks":
            status = 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        """Quiet: the tests assert on the counters instead."""


class _Server(ThreadingHTTPServer):
    jwks: "Jwks"


@dataclass
class Jwks:
    """The key set the stand-in provider serves, and what was asked of it."""

    issuer: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    fetches: int = 0
    status: int = 200
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, *keys: SigningKey) -> None:
        """Serve exactly `keys` from now on."""
        with self.lock:
            self.keys = list(keys)


@contextmanager
def serve_jwks() -> Iterator[Jwks]:
    """A JWKS at `<issuer>/jwks` on a free loopback port, for the block's duration."""
    server = _Server(("127.0.0.1", 0), _Handler)
    jwks = Jwks(issuer=f"http://127.0.0.1:{server.server_address[1]}/oidc")
    server.jwks = jwks
    thread = threading.Thread(target=server.serve_forever, name="jwks", daemon=True)
    thread.start()
    try:
        yield jwks
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- webhooks --------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """A time as Logto writes it (`toISOString()`: milliseconds, `Z`)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def post_register(
    user_id: str,
    *,
    username: str | None = None,
    email: str | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A `PostRegister` payload, as Logto sends it after a sign-up in its UI."""
    now = created_at or datetime.now(UTC)
    return {
        "hookId": "hook-test-1",
        "event": "PostRegister",
        "createdAt": iso(now),
        "sessionId": "session-1",
        "userAgent": "Mozilla/5.0",
        "interactionEvent": "Register",
        "userId": user_id,
        "user": {
            "id": user_id,
            "username": username,
            "primaryEmail": email,
            "primaryPhone": None,
            "name": None,
            "avatar": None,
            "customData": {},
            "identities": {},
            "profile": {},
            "applicationId": "spa-client-id",
            "isSuspended": False,
            "lastSignInAt": int(now.timestamp() * 1000),
            "createdAt": int(now.timestamp() * 1000),  # epoch milliseconds here
            "updatedAt": int(now.timestamp() * 1000),
        },
        "application": {"id": "spa-client-id", "type": "SPA", "name": "Console"},
    }


def user_created(
    user_id: str,
    *,
    username: str | None = None,
    email: str | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A `User.Created` payload (data-mutation hook), as Logto sends it."""
    now = created_at or datetime.now(UTC)
    return {
        "hookId": "hook-test-1",
        "event": "User.Created",
        "createdAt": iso(now),
        "userAgent": "Mozilla/5.0",
        "ip": "203.0.113.7",
        "path": "/experience/submit",
        "method": "POST",
        "status": 200,
        "params": {},
        "data": {
            "id": user_id,
            "username": username,
            "primaryEmail": email,
            "primaryPhone": None,
            "name": None,
            "avatar": None,
            "customData": {},
            "identities": {},
            "profile": {},
            "applicationId": "spa-client-id",
            "isSuspended": False,
            "createdAt": iso(now),  # an ISO string here
            "updatedAt": iso(now),
        },
    }


def sign_body(body: bytes, key: str = WEBHOOK_KEY) -> str:
    """Logto's `logto-signature-sha-256`: lowercase hex HMAC-SHA256 of the raw body."""
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    """Bytes as Logto sends them (compact JSON)."""
    return json.dumps(payload, separators=(",", ":")).encode()
