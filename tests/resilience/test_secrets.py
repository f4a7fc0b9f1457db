"""Secrets and headers: what the API says and logs, and to whom.

No password, password hash, signing key or access token may appear in a response or in a
log line, even at DEBUG (where the database driver would log every command it sends); CORS
answers only the origins configured; an unexpected exception is a bare 500 without its
stack trace.
"""

import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from tests.utils.factories import World
from tests.utils.instances import client_for

PASSWORD = "Sup3r-secret-passphrase"
HASH_PREFIX = "$argon2"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, as an operator chasing a problem would set it."""
    with caplog.at_level(logging.DEBUG):
        yield caplog


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """All captured records, fully rendered (message, arguments and exception text)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    return "\n".join(handler.format(record) for record in caplog.records)


async def test_no_secret_in_responses_or_logs(
    client: httpx.AsyncClient,
    world: World,
    settings: Settings,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """Register, sign in (right and wrong), use the token, fail in several ways."""
    responses: list[httpx.Response] = []

    async def call(method: str, url: str, **kw: object) -> httpx.Response:
        r = await client.request(method, url, **kw)  # type: ignore[arg-type]
        responses.append(r)
        return r

    body = {"username": "vera", "email": "vera@example.com", "password": PASSWORD}
    assert (await call("POST", "/auth/register", json=body)).status_code == 201
    assert (await call("POST", "/auth/register", json=body)).status_code == 409
    assert (await call("POST", "/auth/register", json=body | {"username": "x"})).status_code == 422
    login = {"email": "vera@example.com", "password": PASSWORD}
    r = await call("POST", "/auth/login", json=login)
    token = r.json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    await call("POST", "/auth/login", json=login | {"password": PASSWORD + "-wrong"})
    await call("POST", "/auth/token", data={"username": login["email"], "password": PASSWORD})
    await call("GET", "/auth/me", headers=h)
    cid = (await call("POST", "/companies", json={"name": "Vault"}, headers=h)).json()["id"]
    await call("GET", f"/companies/{cid}/members", headers=h)
    await call(
        "POST",
        f"/companies/{cid}/members",
        json={"email": "vera@example.com", "role": "agent"},
        headers=h,
    )
    await call("GET", "/me/permissions", headers=h)
    await call("GET", "/auth/me", headers={"Authorization": f"Bearer {token}x"})

    secrets = {
        "password": PASSWORD,
        "hash": HASH_PREFIX,
        "signing key": settings.secret_key,
        "access token": token,
    }
    logs = log_text(debug_logs)
    assert debug_logs.records, "nothing was logged: the check would prove nothing"
    for name, secret in secrets.items():
        assert secret not in logs, f"the {name} was logged"
        for r in responses:
            if name == "access token" and r.request.url.path in ("/auth/login", "/auth/token"):
                continue  # handing out the token is those routes' job
            assert secret not in r.text, f"the {name} is in {r.request.method} {r.request.url}"


async def test_settings_never_print_the_signing_key(settings: Settings) -> None:
    assert settings.secret_key not in repr(settings)
    assert settings.secret_key not in str(settings.model_dump())


# -- CORS ------------------------------------------------------------------------------------

ALLOWED = "https://app.example.com"


@pytest.fixture
def cors_app(settings: Settings) -> FastAPI:
    """An app with one allowed origin. CORS is answered before any route (and database)."""
    return create_app(settings.model_copy(update={"cors_origins": [ALLOWED]}))


async def test_cors_allows_the_configured_origin(cors_app: FastAPI) -> None:
    async with client_for(cors_app) as c:
        r = await c.options(
            "/tickets",
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in r.headers["access-control-allow-methods"]
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in r.headers
        r = await c.get("/healthz", headers={"Origin": ALLOWED})
        assert r.headers["access-control-allow-origin"] == ALLOWED


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "null",
    ],
)
async def test_cors_refuses_other_origins(cors_app: FastAPI, origin: str) -> None:
    async with client_for(cors_app) as c:
        r = await c.options(
            "/tickets",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers
        r = await c.get("/healthz", headers={"Origin": origin})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers


async def test_cors_refuses_unlisted_methods_and_headers(cors_app: FastAPI) -> None:
    async with client_for(cors_app) as c:
        for extra in (
            {"Access-Control-Request-Method": "TRACE"},
            {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "X-Admin"},
        ):
            r = await c.options("/tickets", headers={"Origin": ALLOWED} | extra)
            assert r.status_code == 400, extra


async def test_no_cors_by_default(client: httpx.AsyncClient, settings: Settings) -> None:
    assert settings.cors_origins == []
    r = await client.get("/healthz", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in r.headers


def test_cors_origins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", f" {ALLOWED} , https://admin.example.com ,")
    loaded = Settings(environment="development", jwt_secret="x" * 40)
    assert loaded.cors_origins == [ALLOWED, "https://admin.example.com"]


# -- unexpected errors -------------------------------------------------------------------------

LEAK = "boom: internal detail /srv/app/secret.py mongodb://admin:hunter2@db"


def _explode(*_: object, **__: object) -> None:
    raise RuntimeError(LEAK)


async def _explode_later(*_: object, **__: object) -> None:
    raise RuntimeError(LEAK)


@pytest.mark.parametrize(
    ("target", "method", "path"),
    [
        ("app.routers.companies.live_companies", "GET", "/companies"),
        ("app.deps.principal_of", "GET", "/tickets"),
        ("app.routers.auth.create_access_token", "POST", "/auth/login"),
    ],
    ids=["in a route", "in a dependency", "after a sign-in"],
)
async def test_unexpected_errors_are_500_without_details(
    app: FastAPI,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
    target: str,
    method: str,
    path: str,
) -> None:
    user = await world.user("vera")
    sync = target.endswith(("create_access_token", "principal_of"))
    monkeypatch.setattr(target, _explode if sync else _explode_later)
    async with client_for(app, raise_app_exceptions=False) as c:
        r = await c.request(
            method,
            path,
            headers=world.auth(user),
            json={"email": user.email, "password": "demo-pass-2026"} if method == "POST" else None,
        )
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error", "code": "internal_error"}
    for fragment in ("Traceback", "RuntimeError", "boom", "hunter2", ".py", "File "):
        assert fragment not in r.text
    # The operator still gets the whole story, in the log.
    assert "Traceback" in log_text(debug_logs) and LEAK in log_text(debug_logs)
