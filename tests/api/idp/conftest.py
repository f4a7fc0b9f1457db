"""Fixtures of the identity-provider tests: a stand-in provider on loopback and an app
instance configured for it (`OIDC_ISSUER`, `OIDC_AUDIENCE`, `LOGTO_WEBHOOK_SIGNING_KEY`).

Each test gets a fresh instance, so a fresh key-set cache; the JWKS server lives for the
module, its keys and counters reset per test.
"""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.logto import SIGNATURE_HEADER
from tests.utils.idp import (
    AUDIENCE,
    WEBHOOK_KEY,
    Jwks,
    SigningKey,
    access_claims,
    encode,
    serve_jwks,
    sign_body,
)
from tests.utils.instances import client_for, instance

ES384_KEY = SigningKey.es384()


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[Jwks]:
    """The stand-in provider's JWKS endpoint, for the module."""
    with serve_jwks() as jwks:
        yield jwks


@pytest.fixture
def jwks(jwks_server: Jwks) -> Jwks:
    """The JWKS, publishing the default ES384 key, counters at zero."""
    jwks_server.publish(ES384_KEY)
    jwks_server.fetches, jwks_server.status, jwks_server.delay = 0, 200, 0.0
    return jwks_server


@pytest.fixture
def idp_settings(settings: Settings, jwks: Jwks) -> Settings:
    """The session's settings plus the identity provider's (built, so validated)."""
    return Settings(
        **settings.model_dump()
        | {
            "oidc_issuer": jwks.issuer,
            "oidc_audience": AUDIENCE,
            "logto_webhook_signing_key": WEBHOOK_KEY,
        }
    )


@dataclass
class Idp:
    """The app under test with an identity provider, and the provider's side of things."""

    app: FastAPI
    client: httpx.AsyncClient
    jwks: Jwks
    key: SigningKey

    async def deliver(
        self, payload: dict[str, Any] | bytes, signature: str | None = None
    ) -> httpx.Response:
        """POST a webhook body as Logto does, signed with the webhook's key unless given."""
        body = payload if isinstance(payload, bytes) else encode(payload)
        headers = {"Content-Type": "application/json"}
        headers[SIGNATURE_HEADER] = sign_body(body) if signature is None else signature
        if not headers[SIGNATURE_HEADER]:
            del headers[SIGNATURE_HEADER]
        return await self.client.post("/webhooks/logto", content=body, headers=headers)

    def token(self, sub: str, key: SigningKey | None = None, **claims: Any) -> str:
        """An access token of the provider for `sub`, Logto-shaped."""
        return (key or self.key).sign(access_claims(self.jwks.issuer, sub, **claims))

    def auth(self, token: str) -> dict[str, str]:
        """Authorization headers carrying `token`."""
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def idp(app: FastAPI, idp_settings: Settings, jwks: Jwks) -> AsyncIterator[Idp]:
    """An app instance with the identity provider configured, and a client for it."""
    async with instance(idp_settings, app) as other, client_for(other) as client:
        yield Idp(other, client, jwks, ES384_KEY)
