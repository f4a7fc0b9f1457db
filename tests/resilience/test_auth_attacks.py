"""Attacks on authentication: forged tokens and password guessing.

tests/api/test_auth.py covers the ordinary bad tokens (tampered, `alg: none`, expired, wrong
issuer or audience, unknown user). Here: algorithm confusion (a token signed with an
asymmetric key, or an HS256 token keyed with a public key), keys smuggled in the header,
malformed claims; then the login throttle, which is kept in the database so that every worker
enforces the same counters: per account, per client address, against a correct password
while locked, against a burst of parallel guesses, and across two app instances and two
processes.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from app.config import Settings
from app.security import verify_password
from models import LoginThrottle, User, utcnow
from tests.utils.factories import PASSWORD, World
from tests.utils.instances import client_for, instance, worker
from tests.utils.tokens import b64url, claims, hmac_signed

WRONG = "wrong-password-1"


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


# -- forged tokens ---------------------------------------------------------------------------


async def test_algorithm_confusion_is_401(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    user = await world.user("mark")
    forged = claims(settings, str(user.id))
    rsa_private, rsa_public = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_private, ec_public = _pem(ec.generate_private_key(ec.SECP256R1()))
    header, payload, signature = world.token(user).split(".")
    none_upper = b64url(json.dumps({"alg": "NONE", "typ": "JWT"}).encode())
    hs_lower = b64url(json.dumps({"alg": "hs256", "typ": "JWT"}).encode())
    forged = {
        "RS256 with the attacker's key": jwt.encode(forged, rsa_private, algorithm="RS256"),
        "ES256 with the attacker's key": jwt.encode(forged, ec_private, algorithm="ES256"),
        "HS256 keyed with an RSA public key": hmac_signed(forged, rsa_public),
        "HS256 keyed with an EC public key": hmac_signed(forged, ec_public),
        "HS256 keyed with the empty string": hmac_signed(forged, ""),
        "HS256 with an embedded jwk": hmac_signed(
            forged, "attacker", headers={"jwk": {"kty": "oct", "k": b64url(b"attacker")}}
        ),
        "HS256 with a kid pointing at a file": hmac_signed(
            forged, "", headers={"kid": "../../../../dev/null"}
        ),
        "HS256 with a jku": hmac_signed(
            forged, "attacker", headers={"jku": "https://evil.example/k"}
        ),
        "alg NONE in capitals": f"{none_upper}.{payload}.",
        "alg hs256 in lower case": f"{hs_lower}.{payload}.{signature}",
        "header is not JSON": f"{b64url(b'not json')}.{payload}.{signature}",
        "header is a list": f"{b64url(b'[1]')}.{payload}.{signature}",
        "two tokens glued": f"{header}.{payload}.{signature}.{header}",
        "huge token": "a" * 20_000,
    }
    for name, token in forged.items():
        r = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, name
        assert "Traceback" not in r.text


@pytest.mark.parametrize(
    "claim",
    [
        {"exp": "never"},
        {"nbf": "now"},
        {"iat": None},
        {"sub": 12345},
        {"sub": {"$ne": None}},
        {"sub": ["0" * 24]},
        {"aud": ["someone-else"]},
        {"iss": None},
        {"jti": None},
    ],
    ids=json.dumps,
)
async def test_malformed_claims_are_401(
    client: httpx.AsyncClient, world: World, settings: Settings, claim: dict[str, Any]
) -> None:
    user = await world.user()
    # Signed by hand: PyJWT refuses to sign some of these (a null `iss`), as it should.
    token = hmac_signed(claims(settings, str(user.id)) | claim, settings.secret_key)
    r = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text


async def test_token_only_counts_in_the_authorization_header(
    client: httpx.AsyncClient, world: World
) -> None:
    user = await world.user()
    token = world.token(user)
    assert (await client.get(f"/auth/me?access_token={token}")).status_code == 401
    client.cookies.set("access_token", token)
    assert (await client.get("/auth/me")).status_code == 401
    for scheme in ("Basic", "Token", "Bearer  "):
        r = await client.get("/auth/me", headers={"Authorization": f"{scheme} {token}x"})
        assert r.status_code == 401


# -- throttling ------------------------------------------------------------------------------


async def login(c: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await c.post("/auth/login", json={"email": email, "password": password})


def assert_throttled(r: httpx.Response, settings: Settings) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= settings.login_lock_seconds + 1
    assert "access_token" not in r.text


@dataclass
class Guarded:
    """An app instance and the settings it was built with."""

    app: FastAPI
    settings: Settings


@pytest.fixture
async def guarded(app: FastAPI, settings: Settings) -> AsyncIterator[Guarded]:
    """An instance with small limits: argon2 makes each sign-in slow on purpose, and the
    behaviour does not depend on the numbers. (The defaults are exercised by the two-instance
    and two-process tests.)"""
    small = settings.model_copy(update={"login_max_failures": 3, "login_max_failures_per_ip": 8})
    async with instance(small, app) as other:
        yield Guarded(other, small)


async def test_account_locks_after_repeated_failures(guarded: Guarded, world: World) -> None:
    """The account's counter ignores the address: guesses spread over many still lock it."""
    app, settings = guarded.app, guarded.settings
    user = await world.user("lisa")
    for i in range(settings.login_max_failures):
        async with client_for(app, f"198.51.100.{i}") as c:
            assert (await login(c, user.email, WRONG)).status_code == 401
    async with client_for(app, "198.51.100.200") as c:
        assert_throttled(await login(c, user.email, WRONG), settings)
        # A lock in force holds against the right password too, on both sign-in routes.
        assert_throttled(await login(c, user.email, PASSWORD), settings)
        r = await c.post("/auth/token", data={"username": user.email, "password": PASSWORD})
        assert_throttled(r, settings)
        # Case is not a way around it: emails are compared lower-cased.
        assert_throttled(await login(c, user.email.upper(), PASSWORD), settings)
    # Other accounts are not affected.
    other = await world.user("mark")
    async with client_for(app, "198.51.100.201") as c:
        assert (await login(c, other.email, PASSWORD)).status_code == 200


async def test_lock_expires_and_success_resets_the_count(guarded: Guarded, world: World) -> None:
    app, settings = guarded.app, guarded.settings
    user = await world.user("lisa")
    async with client_for(app, "198.51.100.7") as c:
        for _ in range(settings.login_max_failures - 1):
            assert (await login(c, user.email, WRONG)).status_code == 401
        assert (await login(c, user.email, PASSWORD)).status_code == 200
        for _ in range(settings.login_max_failures - 1):
            assert (await login(c, user.email, WRONG)).status_code == 401
        assert (await login(c, user.email, WRONG)).status_code == 401
        assert_throttled(await login(c, user.email, PASSWORD), settings)
        # Time passes (the lock is data, so move it instead of sleeping for minutes).
        past = utcnow() - timedelta(seconds=1)
        await LoginThrottle.get_pymongo_collection().update_many(
            {}, {"$set": {"locked_until": past}}
        )
        assert (await login(c, user.email, PASSWORD)).status_code == 200


async def test_unknown_accounts_are_throttled_alike(guarded: Guarded) -> None:
    """Locking only real accounts would tell an attacker which emails exist."""
    app, settings = guarded.app, guarded.settings
    async with client_for(app, "198.51.100.8") as c:
        for _ in range(settings.login_max_failures):
            assert (await login(c, "nobody@nowhere.example", WRONG)).status_code == 401
        assert_throttled(await login(c, "nobody@nowhere.example", WRONG), settings)


async def test_failures_outside_the_window_are_forgotten(guarded: Guarded, world: World) -> None:
    app, settings = guarded.app, guarded.settings
    user = await world.user("lisa")
    async with client_for(app, "198.51.100.9") as c:
        for _ in range(settings.login_max_failures - 1):
            assert (await login(c, user.email, WRONG)).status_code == 401
        old = utcnow() - timedelta(seconds=settings.login_window_seconds + 1)
        await LoginThrottle.get_pymongo_collection().update_many(
            {}, {"$set": {"window_start": old}}
        )
        for _ in range(settings.login_max_failures - 1):
            assert (await login(c, user.email, WRONG)).status_code == 401
        assert (await login(c, user.email, PASSWORD)).status_code == 200


async def test_client_address_locks_after_repeated_failures(
    app: FastAPI, world: World, settings: Settings
) -> None:
    """One address guessing across many accounts is stopped, whatever account it tries."""
    strict = settings.model_copy(update={"login_max_failures_per_ip": 4})
    victim = await world.user("victim")
    async with instance(strict, app) as inst:
        async with client_for(inst, "203.0.113.5") as c:
            for i in range(4):
                assert (await login(c, f"guess{i}@example.com", WRONG)).status_code == 401
            assert_throttled(await login(c, "guess9@example.com", WRONG), strict)
            assert_throttled(await login(c, victim.email, PASSWORD), strict)
        async with client_for(inst, "203.0.113.6") as c:
            assert (await login(c, victim.email, PASSWORD)).status_code == 200


async def test_parallel_guesses_cannot_outrun_the_lock(guarded: Guarded, world: World) -> None:
    """A burst of simultaneous guesses gets no more password checks than the limit."""
    app, settings = guarded.app, guarded.settings
    user = await world.user("lisa")
    burst = 4 * settings.login_max_failures

    async def guess(i: int) -> int:
        async with client_for(app, f"192.0.2.{i}") as c:
            return (await login(c, user.email, WRONG)).status_code

    statuses = await asyncio.gather(*(guess(i) for i in range(burst)))
    assert statuses.count(401) <= settings.login_max_failures, statuses
    assert statuses.count(429) >= burst - settings.login_max_failures
    assert set(statuses) <= {401, 429}


async def test_a_successful_login_does_not_feed_the_address_counter(
    app: FastAPI, world: World, settings: Settings
) -> None:
    """Offices behind one address sign in all day: only failures may count against it."""
    strict = settings.model_copy(update={"login_max_failures_per_ip": 3})
    user = await world.user("lisa")
    async with instance(strict, app) as inst, client_for(inst, "203.0.113.9") as c:
        for _ in range(6):
            assert (await login(c, user.email, PASSWORD)).status_code == 200


async def test_two_instances_share_the_counters(
    app: FastAPI, world: World, settings: Settings
) -> None:
    """Failures against one instance lock the account on another: the state is the database's."""
    user = await world.user("lisa")
    async with instance(settings, app) as a, instance(settings, app) as b:
        for i in range(settings.login_max_failures):
            target = (a, b)[i % 2]
            async with client_for(target, f"198.51.100.{i}") as c:
                assert (await login(c, user.email, WRONG)).status_code == 401
        for target in (a, b, app):
            async with client_for(target, "198.51.100.99") as c:
                assert_throttled(await login(c, user.email, PASSWORD), settings)


@pytest.fixture
async def worker_process(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """The API in its own process, on the test database: a real second worker."""
    async with worker(settings, tmp_path / "worker.log") as url:
        yield url


async def test_another_process_sees_the_same_lock(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    settings: Settings,
    worker_process: str,
) -> None:
    """Guesses against a separate worker process lock the account here, and back."""
    user = await world.user("lisa")
    other = await world.user("mark")
    async with httpx.AsyncClient(base_url=worker_process) as remote:
        for _ in range(settings.login_max_failures):
            assert (await login(remote, user.email, WRONG)).status_code == 401
        assert_throttled(await login(client, user.email, PASSWORD), settings)
        for _ in range(settings.login_max_failures):
            assert (await login(client, other.email, WRONG)).status_code == 401
        assert_throttled(await login(remote, other.email, PASSWORD), settings)


async def test_password_hashing_does_not_stall_other_requests(
    client: httpx.AsyncClient,
) -> None:
    """argon2 is slow on purpose; done on the event loop, every sign-in would freeze the
    worker for its duration, and a stream of failed logins would freeze it for good."""
    started = time.perf_counter()
    verify_password(WRONG, None)
    one_hash = time.perf_counter() - started
    tick = 0.005
    stalled = 0.0  # time the loop could not run a ready callback, beyond scheduling noise
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal stalled
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(tick)
            late = time.perf_counter() - before - tick
            stalled += late if late > 0.02 else 0.0

    async def guesses() -> None:
        await asyncio.gather(*(login(client, f"g{i}@example.com", WRONG) for i in range(4)))
        done.set()

    await asyncio.gather(ticker(), guesses())
    # On the loop, four checks would stall it for about four hashes' time.
    assert stalled < one_hash, (stalled, one_hash)


async def test_throttle_never_stores_passwords(app: FastAPI, world: World) -> None:
    user = await world.user("lisa")
    async with client_for(app, "198.51.100.50") as c:
        await login(c, user.email, WRONG)
    docs = await LoginThrottle.get_pymongo_collection().find({}).to_list()
    assert docs and WRONG not in json.dumps(docs, default=str)
    stored = await User.get(user.id)
    assert stored is not None and stored.password_hash is not None
    assert WRONG not in stored.password_hash
