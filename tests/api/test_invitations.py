"""Invitations: an admin offers a role, whoever holds the token accepts it, once.

Creation, listing and revocation by admins only; acceptance by any signed-in user, with
every refusal (unknown, expired, revoked, used: 404; already a member: 409); the invited
address proves nothing; two users racing for one token; the inviter losing their rights;
the company being deleted; a failure between marking the invitation used and inserting
the membership.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.errors import AutoReconnect

from app.services.invitations import token_hash
from models import AuditEvent, Company, Invitation, Membership, User, utcnow
from tests.utils.factories import Acme, World
from tests.utils.instances import client_for, instance


@pytest.fixture
async def acme(world: World) -> Acme:
    """Admin Sara, agent Mark, customer Lisa; an outsider, Olga."""
    return await world.acme(outsiders=("olga",))


async def invite(
    client: httpx.AsyncClient,
    world: World,
    acme: Acme,
    email: str = "nina@initech.example",
    role: str = "agent",
) -> dict[str, Any]:
    r = await client.post(
        f"/companies/{acme.company.id}/invitations",
        json={"email": email, "role": role},
        headers=world.auth(acme.sara),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def accept(client: httpx.AsyncClient, world: World, user: User, token: str) -> httpx.Response:
    return await client.post("/invitations/accept", json={"token": token}, headers=world.auth(user))


async def role_of(user: User, company: Company) -> str | None:
    m = await Membership.find_one(Membership.user == user.id, Membership.company == company.id)
    return m.role if m else None


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_invite_then_accept(
    app: FastAPI, client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    created = await invite(client, world, acme, email="Nina@Initech.example")
    assert created["status"] == "pending" and created["email"] == "nina@initech.example"
    assert created["role"] == "agent" and created["created_by"] == str(acme.sara.id)
    lifetime = _at(created["expires_at"]) - _at(created["created_at"])
    assert lifetime == timedelta(days=7)  # INVITATION_DAYS' default
    token = created["token"]
    assert len(token) >= 40

    # Only a hash is stored; the list never shows the token.
    stored = await Invitation.get_pymongo_collection().find_one({})
    assert stored is not None and stored["token_hash"] == token_hash(token)
    assert token not in str(stored)
    listed = await client.get(
        f"/companies/{acme.company.id}/invitations", headers=world.auth(acme.sara)
    )
    assert listed.status_code == 200
    [row] = listed.json()
    assert "token" not in row and row["id"] == created["id"] and row["status"] == "pending"

    nina = await world.user("nina")
    r = await accept(client, world, nina, token)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "company_id": str(acme.company.id),
        "company_name": "Acme",
        "role": "agent",
        "ticket_access": "all",
    }
    assert await role_of(nina, acme.company) == "agent"
    me = (await client.get("/auth/me", headers=world.auth(nina))).json()
    assert [m["role"] for m in me["memberships"]] == ["agent"]
    [row] = (
        await client.get(f"/companies/{acme.company.id}/invitations", headers=world.auth(acme.sara))
    ).json()
    assert row["status"] == "accepted" and row["accepted_by"] == str(nina.id)

    # Audited: the invitation and its acceptance, by whom.
    await app.state.audit.flush()
    events = await AuditEvent.find(AuditEvent.resource_type == "invitation").to_list()
    assert sorted((str(e.user), e.action) for e in events) == sorted(
        [(str(acme.sara.id), "members:add"), (str(nina.id), "members:add")]
    )
    assert any("accepted with its token" in e.reason for e in events)


async def test_a_token_works_once(client: httpx.AsyncClient, world: World, acme: Acme) -> None:
    token = (await invite(client, world, acme))["token"]
    nina, paul = await world.user("nina"), await world.user("paul")
    assert (await accept(client, world, nina, token)).status_code == 201
    for user in (nina, paul):
        r = await accept(client, world, user, token)
        assert r.status_code == 404, r.text
        assert "already used" in r.json()["detail"]
    assert await role_of(paul, acme.company) is None


async def test_unknown_expired_and_revoked_tokens_are_404(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    nina = await world.user("nina")
    expired = await invite(client, world, acme)
    await Invitation.get_pymongo_collection().update_one(
        {"token_hash": token_hash(expired["token"])},
        {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}},
    )
    revoked = await invite(client, world, acme)
    r = await client.delete(
        f"/companies/{acme.company.id}/invitations/{revoked['id']}", headers=world.auth(acme.sara)
    )
    assert r.status_code == 204
    for name, token in {
        "unknown": "not-a-token-anyone-issued",
        "expired": expired["token"],
        "revoked": revoked["token"],
        "a hash of a real one": token_hash(revoked["token"]),
    }.items():
        r = await accept(client, world, nina, token)
        assert r.status_code == 404, name
        assert r.json()["code"] == "not_found", name
    assert await role_of(nina, acme.company) is None
    statuses = {
        i["id"]: i["status"]
        for i in (
            await client.get(
                f"/companies/{acme.company.id}/invitations", headers=world.auth(acme.sara)
            )
        ).json()
    }
    assert statuses == {expired["id"]: "expired", revoked["id"]: "revoked"}


async def test_a_member_already_gets_409_and_the_invitation_stays_usable(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    token = (await invite(client, world, acme, role="admin"))["token"]
    r = await accept(client, world, acme.lisa, token)
    assert r.status_code == 409, r.text
    assert await role_of(acme.lisa, acme.company) == "customer"  # not promoted
    nina = await world.user("nina")
    assert (await accept(client, world, nina, token)).status_code == 201
    assert await role_of(nina, acme.company) == "admin"


async def test_the_invited_address_proves_nothing(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    """Someone registers the invited address: no membership appears, and without the token
    they cannot take the invitation, which stays pending for whoever holds the token."""
    created = await invite(client, world, acme, email="nina@initech.example")
    r = await client.post(
        "/auth/register",
        json={"username": "mallory", "email": "nina@initech.example", "password": "p4ssw0rd-long"},
    )
    assert r.status_code == 201
    mallory = await User.find_one(User.email == "nina@initech.example")
    assert mallory is not None
    me = (await client.get("/auth/me", headers=world.auth(mallory))).json()
    assert me["memberships"] == []
    assert (await accept(client, world, mallory, "guess")).status_code == 404
    stored = await Invitation.get_pymongo_collection().find_one({})
    assert stored is not None and stored["accepted_at"] is None
    # Anyone holding the token (not the address) accepts it.
    someone = await world.user("someone")
    assert (await accept(client, world, someone, created["token"])).status_code == 201


async def test_only_admins_manage_invitations(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    cid = acme.company.id
    invitation = await invite(client, world, acme)
    path = f"/companies/{cid}/invitations"
    body = {"email": "x@initech.example", "role": "customer"}
    for user, expected in ((acme.mark, 403), (acme.lisa, 403), (acme.olga, 404)):
        h = world.auth(user)
        responses = [
            await client.post(path, json=body, headers=h),
            await client.get(path, headers=h),
            await client.delete(f"{path}/{invitation['id']}", headers=h),
        ]
        for r in responses:
            assert r.status_code == expected, (user.username, r.request.method, r.text)
            if expected == 403:
                assert r.json()["permission"] == "members:add"
    assert (await client.get(path)).status_code == 401
    assert (await client.post("/invitations/accept", json={"token": "x"})).status_code == 401
    assert await Invitation.find_all().count() == 1


async def test_revocation_rules(client: httpx.AsyncClient, world: World, acme: Acme) -> None:
    cid, h = acme.company.id, world.auth(acme.sara)
    first = await invite(client, world, acme)
    path = f"/companies/{cid}/invitations/{first['id']}"
    assert (await client.delete(path, headers=h)).status_code == 204
    assert (await client.delete(path, headers=h)).status_code == 204  # idempotent
    used = await invite(client, world, acme)
    assert (await accept(client, world, await world.user("nina"), used["token"])).status_code == 201
    r = await client.delete(f"/companies/{cid}/invitations/{used['id']}", headers=h)
    assert r.status_code == 409 and "remove the member" in r.json()["detail"]
    assert (
        await client.delete(f"/companies/{cid}/invitations/{'0' * 24}", headers=h)
    ).status_code == 404
    assert (await client.delete(f"/companies/{cid}/invitations/xyz", headers=h)).status_code == 404
    # Another company's admin cannot reach this company's invitation through their own.
    globex = await world.company("Globex", admin=acme.olga)
    other = f"/companies/{globex.id}/invitations/{used['id']}"
    assert (await client.delete(other, headers=world.auth(acme.olga))).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-address", "role": "agent"},
        {"email": "nina@initech.example", "role": "owner"},
        {"email": "nina@initech.example"},
        {"email": "nina@initech.example", "role": "agent", "company_id": "0" * 24},
        {"email": {"$ne": None}, "role": "agent"},
    ],
    ids=["address", "role", "no role", "extra field", "operator"],
)
async def test_bad_invitations_are_422(
    client: httpx.AsyncClient, world: World, acme: Acme, body: dict[str, Any]
) -> None:
    r = await client.post(
        f"/companies/{acme.company.id}/invitations", json=body, headers=world.auth(acme.sara)
    )
    assert r.status_code == 422
    assert await Invitation.find_all().count() == 0


@pytest.mark.parametrize("token", ["", "x" * 201, None, 12, {"$ne": None}, ["t"]])
async def test_bad_accept_bodies_are_422(
    client: httpx.AsyncClient, world: World, acme: Acme, token: object
) -> None:
    r = await client.post(
        "/invitations/accept", json={"token": token}, headers=world.auth(acme.olga)
    )
    assert r.status_code == 422


async def test_an_invitation_lapses_with_its_inviters_rights(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    """Sara invites, then is demoted: what she offered with her authority ends with it."""
    token = (await invite(client, world, acme))["token"]
    ada = await world.user("ada")
    await world.member(acme.company, ada, "admin")
    r = await client.patch(
        f"/companies/{acme.company.id}/members/{acme.sara.id}",
        json={"role": "customer"},
        headers=world.auth(ada),
    )
    assert r.status_code == 200
    nina = await world.user("nina")
    assert (await accept(client, world, nina, token)).status_code == 404
    assert await role_of(nina, acme.company) is None


async def test_an_invitation_to_a_deleted_company_is_404(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    token = (await invite(client, world, acme))["token"]
    r = await client.delete(f"/companies/{acme.company.id}", headers=world.auth(acme.sara))
    assert r.status_code == 204
    nina = await world.user("nina")
    assert (await accept(client, world, nina, token)).status_code == 404
    assert await Membership.find(Membership.user == nina.id).count() == 0


@pytest.mark.topologies
async def test_racing_acceptances_make_one_member(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    token = (await invite(client, world, acme))["token"]
    racers = [await world.user(f"racer{i}") for i in range(12)]
    responses = await asyncio.gather(*(accept(client, world, u, token) for u in racers))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [404] * 11, [r.text for r in responses]
    members = await Membership.find(Membership.company == acme.company.id).to_list()
    assert len(members) == 4  # sara, mark, lisa and the one winner
    stored = await Invitation.get_pymongo_collection().find_one({})
    winner = next(u for u, r in zip(racers, responses, strict=True) if r.status_code == 201)
    assert stored is not None and stored["accepted_by"] == winner.id


@pytest.mark.topologies
async def test_a_failed_membership_insert_leaves_the_invitation_pending(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    acme: Acme,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The invitation is marked used, then the membership insert fails (the connection
    drops): 503, not a member, the invitation pending again; the retry succeeds."""
    token = (await invite(client, world, acme))["token"]
    memberships = Membership.get_pymongo_collection()
    original = memberships.insert_one
    failures = 0

    async def dropping(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if not failures:
            failures += 1
            raise AutoReconnect("injected: connection dropped")
        return await original(*args, **kwargs)

    monkeypatch.setattr(memberships, "insert_one", dropping)
    nina = await world.user("nina")
    r = await accept(client, world, nina, token)
    assert r.status_code == 503, r.text
    assert await role_of(nina, acme.company) is None
    stored = await Invitation.get_pymongo_collection().find_one({})
    assert stored is not None and stored["accepted_at"] is None and stored["accepted_by"] is None
    assert (await accept(client, world, nina, token)).status_code == 201
    assert await role_of(nina, acme.company) == "agent"


async def test_invitation_lifetime_is_a_setting(app: FastAPI, world: World, acme: Acme) -> None:
    short = app.state.settings.model_copy(update={"invitation_days": 2})
    async with instance(short, app) as other, client_for(other) as c:
        created = await invite(c, world, acme)
    assert _at(created["expires_at"]) - _at(created["created_at"]) == timedelta(days=2)
