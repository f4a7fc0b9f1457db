"""Account enumeration: who may learn that an email has an account, and how often.

Sign-in never tells (`test_auth.py`). Registering a taken email must (the person needs to
know to sign in instead), and so must adding a member by an email that has no account (the
admin needs to know to ask them to register): these answers go only to callers who need
them, and are throttled per client address and per caller, so nobody can collect them in
bulk. Anyone who may not add members gets the same answer whether the account exists or not.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from bson import ObjectId
from fastapi import FastAPI

from app.config import Settings
from models import Company, Membership, User
from tests.utils.factories import Acme, World
from tests.utils.instances import client_for, instance

PASSWORD = "long-enough-password"


@dataclass
class Strict:
    """An app instance with small look-up limits, and its settings."""

    app: FastAPI
    settings: Settings


@pytest.fixture
async def strict(app: FastAPI, settings: Settings) -> AsyncIterator[Strict]:
    small = settings.model_copy(update={"account_lookups_per_ip": 4, "account_lookups_per_user": 3})
    async with instance(small, app) as other:
        yield Strict(other, small)


async def register(c: httpx.AsyncClient, name: str, email: str | None = None) -> httpx.Response:
    body = {"username": name, "email": email or f"{name}@example.com", "password": PASSWORD}
    return await c.post("/auth/register", json=body)


def assert_throttled(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "rate_limited" and "look-ups of accounts" in r.json()["detail"]
    assert int(r.headers["retry-after"]) >= 1


# -- registering -------------------------------------------------------------------------------


async def test_a_taken_email_says_so_and_counts_against_the_address(
    strict: Strict, world: World
) -> None:
    taken = await world.user("lisa")
    limit = strict.settings.account_lookups_per_ip
    async with client_for(strict.app, "198.51.100.20") as c:
        r = await register(c, "lisa2", taken.email)
        assert r.status_code == 409
        assert r.json()["field"] == "email" and "sign in instead" in r.json()["detail"]
        for i in range(limit - 1):
            assert (await register(c, f"probe{i}", taken.email)).status_code == 409
        # The address has used its revealing answers: every registration from it waits,
        # a new email included (answering 201 there and 429 for taken ones would tell).
        assert_throttled(await register(c, "probe9", taken.email))
        assert_throttled(await register(c, "newcomer", "newcomer@example.com"))
    async with client_for(strict.app, "198.51.100.21") as c:
        assert (await register(c, "newcomer")).status_code == 201, "other addresses go on"
    assert await User.find(User.email == "newcomer@example.com").count() == 1


async def test_registrations_that_succeed_do_not_count(strict: Strict) -> None:
    """An office behind one address signs its people up all day."""
    async with client_for(strict.app, "198.51.100.22") as c:
        for i in range(3 * strict.settings.account_lookups_per_ip):
            assert (await register(c, f"colleague{i}")).status_code == 201


async def test_parallel_probes_cannot_outrun_the_limit(strict: Strict, world: World) -> None:
    taken = await world.user("lisa")
    limit = strict.settings.account_lookups_per_ip
    async with client_for(strict.app, "198.51.100.23") as c:
        rs = await asyncio.gather(*(register(c, f"racer{i}", taken.email) for i in range(12)))
    statuses = [r.status_code for r in rs]
    assert statuses.count(409) <= limit and set(statuses) <= {409, 429}, statuses


# -- adding members ----------------------------------------------------------------------------


@pytest.fixture
async def acme(world: World) -> Acme:
    """Admin Sara, agent Mark, customer Lisa; an outsider, and Nina (an account, in no
    company)."""
    return await world.acme(outsiders=("outsider", "nina"))


async def add(
    c: httpx.AsyncClient, company: Company, headers: dict[str, str], **who: str
) -> httpx.Response:
    return await c.post(
        f"/companies/{company.id}/members", json={**who, "role": "customer"}, headers=headers
    )


async def test_only_those_who_may_add_learn_whether_an_account_exists(
    strict: Strict, world: World, acme: Acme
) -> None:
    unknown_id = str(ObjectId())
    async with client_for(strict.app, "198.51.100.30") as c:
        for caller in (acme.mark, acme.lisa, acme.outsider):
            answers = [
                await add(c, acme.company, world.auth(caller), email=acme.nina.email),
                await add(c, acme.company, world.auth(caller), email="nobody@example.com"),
                await add(c, acme.company, world.auth(caller), user_id=str(acme.nina.id)),
                await add(c, acme.company, world.auth(caller), user_id=unknown_id),
            ]
            bodies = {(r.status_code, r.text) for r in answers}
            assert len(bodies) == 1, (caller.username, bodies)
            assert next(iter(bodies))[0] in (403, 404)
        # None of those used the address's budget: the admin still has all of hers.
        for i in range(strict.settings.account_lookups_per_user):
            r = await add(c, acme.company, world.auth(acme.sara), email=f"nobody{i}@example.com")
            assert r.status_code == 404, r.text
    assert await Membership.find(Membership.user == acme.nina.id).count() == 0


async def test_an_admin_gets_a_usable_answer(strict: Strict, world: World, acme: Acme) -> None:
    async with client_for(strict.app, "198.51.100.31") as c:
        r = await add(c, acme.company, world.auth(acme.sara), email="nobody@example.com")
        assert r.status_code == 404
        assert r.json()["detail"] == (
            "no account with that email: they register first, then you add them"
        )
        r = await add(c, acme.company, world.auth(acme.sara), email=acme.nina.email)
        assert r.status_code == 201 and r.json()["username"] == "nina"


async def test_misses_are_limited_per_caller(strict: Strict, world: World, acme: Acme) -> None:
    """Walking ids or guessing emails from several addresses: the caller's own budget ends it,
    and then even an account that exists gets the same 429."""
    limit = strict.settings.account_lookups_per_user
    h = world.auth(acme.sara)
    for i in range(limit):
        async with client_for(strict.app, f"198.51.100.{40 + i}") as c:
            r = await add(c, acme.company, h, user_id=str(ObjectId()))
            assert r.status_code == 404
    async with client_for(strict.app, "198.51.100.60") as c:
        assert_throttled(await add(c, acme.company, h, email=acme.nina.email))
        assert_throttled(await add(c, acme.company, h, email="nobody@example.com"))
        # Another admin, elsewhere, is not affected.
        other_admin = await world.user("john")
        globex = await world.company("Globex", admin=other_admin)
        r = await add(c, globex, world.auth(other_admin), email=acme.nina.email)
        assert r.status_code == 201


async def test_hits_and_conflicts_do_not_count(strict: Strict, world: World, acme: Acme) -> None:
    limit = strict.settings.account_lookups_per_user
    h = world.auth(acme.sara)
    async with client_for(strict.app, "198.51.100.61") as c:
        for _ in range(limit + 1):
            r = await add(c, acme.company, h, email=acme.lisa.email)
            assert r.status_code == 409, r.text
        assert (await add(c, acme.company, h, email=acme.nina.email)).status_code == 201
