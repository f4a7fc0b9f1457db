"""The PDP on random worlds: its answers are the REST API's, and the engine's.

Worlds are drawn as for tests/authz/test_authz_property.py (tests/utils/worlds.py: users in
none, one or several companies, groups and access levels, tickets, shares, some of them
left over from a lost membership). For every user of a world:

- every ticket and action through `/pdp/allowed/bulk` equals `Engine.check`, and the REST
  API: `/authz/check` for every action, `GET /tickets` for read, an empty `PATCH` for update;
- every company and action without a key equals `/authz/check`'s company-level answer;
- the tickets readable from `/pdp/user-permissions` are exactly `GET /tickets`, and for
  every ticket and action, the graph (its `__tenant` entry or the ticket's own) holds the
  permission exactly when `Engine.check` allows it: the plans rendered.
"""

from typing import Any

import httpx
from bson import ObjectId
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import Settings
from app.security import create_access_token
from authz.engine import default_engine
from authz.facts import load_principal
from models import AuditEvent, Company, User
from tests.conftest import TEST_PDP_KEY
from tests.utils.worlds import clear, worlds, write

KEY = {"Authorization": f"Bearer {TEST_PDP_KEY}"}
ACTIONS = ("read", "update", "delete", "reply", "note", "share", "create")


async def rest_list(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    r = await client.get("/tickets", params={"limit": "200"}, headers=headers)
    assert r.status_code == 200
    assert r.json()["next_cursor"] is None
    return {t["id"] for t in r.json()["items"]}


async def rest_check(
    client: httpx.AsyncClient, headers: dict[str, str], checks: list[dict[str, str]]
) -> list[bool]:
    r = await client.post("/authz/check", json={"checks": checks}, headers=headers)
    assert r.status_code == 200, r.text
    results: list[bool] = r.json()["results"]
    return results


async def pdp_bulk(client: httpx.AsyncClient, queries: list[dict[str, Any]]) -> list[bool]:
    r = await client.post("/pdp/allowed/bulk", json=queries, headers=KEY)
    assert r.status_code == 200, r.text
    return [a["allow"] for a in r.json()["allow"]]


def ask(user: str, action: str, **resource: str) -> dict[str, Any]:
    return {"user": {"key": user}, "action": action, "resource": {"type": "Ticket", **resource}}


async def graph_is_the_plans(
    client: httpx.AsyncClient, key: str, principal: Any, tickets: list[dict[str, Any]]
) -> None:
    """Every ticket's permissions in the Permit graph are the engine's."""
    engine = default_engine()
    r = await client.post("/pdp/user-permissions", json={"user": {"key": key}}, headers=KEY)
    graph = r.json()

    def granted(entry: str, permission: str) -> bool:
        return permission in graph.get(entry, {}).get("permissions", [])

    for t in tickets:
        resource = engine.resource_of("ticket", t)
        for action in ACTIONS[:-1]:
            permission = f"ticket:{action}"
            shown = granted(f"__tenant:{t['company']}", permission) or granted(
                f"ticket:{t['_id']}", permission
            )
            assert shown is engine.check(principal, permission, resource).allowed, permission


async def pdp_readable(
    client: httpx.AsyncClient, key: str, tickets: list[dict[str, Any]]
) -> set[str]:
    """The tickets the user's Permit graph lets them read, read as the tutorial reads it."""
    r = await client.post("/pdp/user-permissions", json={"user": {"key": key}}, headers=KEY)
    assert r.status_code == 200
    graph = r.json()

    def grants_read(entry: str) -> bool:
        return "ticket:read" in graph.get(entry, {}).get("permissions", [])

    return {
        str(t["_id"])
        for t in tickets
        if grants_read(f"__tenant:{t['company']}") or grants_read(f"ticket:{t['_id']}")
    }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(world=worlds(), by_email=st.booleans())
async def test_pdp_answers_are_the_rest_apis(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    world: dict[str, Any],
    by_email: bool,
) -> None:
    engine = default_engine()
    try:
        users, tickets = await write(world)
        # The world's companies, and one that does not exist.
        companies = [*await Company.get_pymongo_collection().distinct("_id"), ObjectId()]
        for user in users:
            key = f"u{user}@example.com" if by_email else str(user)  # as `write` names them
            token = create_access_token(str(user), settings).access_token
            headers = {"Authorization": f"Bearer {token}"}
            principal = await load_principal(user)
            listed = await rest_list(client, headers)

            # One ticket, one action: the engine, /authz/check, and what the API does.
            pairs = [(t, a) for t in tickets for a in ACTIONS if a != "create"]
            pdp = await pdp_bulk(client, [ask(key, a, key=str(t["_id"])) for t, a in pairs])
            assert pdp == [
                engine.check(principal, f"ticket:{a}", engine.resource_of("ticket", t)).allowed
                for t, a in pairs
            ]
            if pairs:
                checks = [
                    {"action": a, "resource_type": "ticket", "resource_id": str(t["_id"])}
                    for t, a in pairs
                ]
                assert pdp == await rest_check(client, headers, checks)
            for (t, a), allowed in zip(pairs, pdp, strict=True):
                if a == "read":
                    assert allowed is (str(t["_id"]) in listed)
                elif a == "update":
                    r = await client.patch(f"/tickets/{t['_id']}", json={}, headers=headers)
                    assert allowed is (r.status_code == 422), r.text

            # Every ticket of a company: the type-level question.
            type_pairs = [(c, a) for c in companies for a in ACTIONS]
            checks = [
                {"action": a, "resource_type": "ticket", "company_id": str(c)}
                for c, a in type_pairs
            ]
            assert await pdp_bulk(
                client, [ask(key, a, tenant=str(c)) for c, a in type_pairs]
            ) == await rest_check(client, headers, checks)

            # The graph.
            assert await pdp_readable(client, key, tickets) == listed
            await graph_is_the_plans(client, key, principal, tickets)
    finally:
        await clear()
        await User.get_pymongo_collection().delete_many({})
        await app.state.audit.flush()
        await AuditEvent.get_pymongo_collection().delete_many({})
