"""The central property, on random worlds written to the real database.

For every user, every resource type the world holds and every permission of it, the
documents matched by the compiled `query_filter` are exactly those `check` allows; a
permission the graph (`/me/permissions`) says holds on every resource of a company is
`check_every`'s answer, and `check` allows it on each of them; and for tickets, the three
list strategies, paged to the end, return that same set, in the same order. Worlds have
groups, agents in them, every access level (`all`, `groups`, `assigned`), tickets in groups
(also a foreign company's) and assigned to anyone, at every status and priority, some
confidential and some shared, and tickets moved to another group afterwards: every shipped
condition is drawn.
"""

from typing import Any

import pytest
from bson import ObjectId
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authz.engine import Engine, Principal, default_engine
from authz.facts import load_principal
from authz.listing import STRATEGIES, ListRequest
from authz.scope import shipped_classes
from models import Ticket
from tests.utils.worlds import clear, move, worlds, write

# The representation of rights, on both topologies (`make test` runs it standalone too).
pytestmark = pytest.mark.topologies

TYPES = ("company", "members", "ticket", "group")  # every type whose documents a world holds


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(world=worlds(), page_size=st.integers(1, 4))
async def test_filter_equals_check_and_strategies_agree(
    app: FastAPI, world: dict[str, Any], page_size: int
) -> None:
    try:
        users, tickets = await write(world)
        await filters_equal_checks(users, tickets, page_size)
        if world["moves"]:
            await move(world, tickets)
            await filters_equal_checks(users, tickets, page_size)
    finally:
        await clear()


async def filters_equal_checks(
    users: list[ObjectId], tickets: list[dict[str, Any]], page_size: int
) -> None:
    """The property itself, for every user, type and permission of a stored world."""
    engine = default_engine()
    classes = shipped_classes(engine)
    for user in users:
        principal = await load_principal(user)
        graph = engine.permissions(principal)
        for rtype in TYPES:
            coll = classes[rtype].get_pymongo_collection()
            docs = await coll.find({}).to_list()
            for permission in permissions_of(engine, rtype):
                allowed = [
                    d["_id"]
                    for d in docs
                    if engine.check(principal, permission, engine.resource_of(rtype, d)).allowed
                ]
                flt = engine.query_filter(principal, permission, rtype)
                matched = [d["_id"] for d in await coll.find(flt, {"_id": 1}).to_list()]
                assert sorted(matched) == sorted(allowed), (permission, flt)
                every_resource(engine, principal, graph, permission, rtype, docs, allowed)
                if rtype == "ticket":
                    await strategies_agree(principal, permission, tickets, allowed, page_size)


def permissions_of(engine: Engine, rtype: str) -> list[str]:
    """The permissions decided on resources of `rtype` (creating one is decided on its
    company, where no document of the type exists yet)."""
    create = engine.resource_type(rtype).create
    return sorted(
        p for p in engine.policy.permissions if p.partition(":")[0] == rtype and p != create
    )


def every_resource(
    engine: Engine,
    principal: Principal,
    graph: dict[str, Any],
    permission: str,
    rtype: str,
    docs: list[dict[str, Any]],
    allowed: list[ObjectId],
) -> None:
    """The type-level answer is the graph's, and it holds on each resource of the company."""
    tenant = engine.resource_type(rtype).tenant
    for company in principal.roles:
        every = engine.check_every(principal, permission, company).allowed
        assert every is (permission in graph["companies"][str(company)]["permissions"])
        if every:
            assert all(d["_id"] in allowed for d in docs if d[tenant] == company), permission


async def strategies_agree(
    principal: Principal,
    permission: str,
    tickets: list[dict[str, Any]],
    allowed: list[ObjectId],
    page_size: int,
) -> None:
    """`pushdown`, `bulk` and `post`, paged to the end: the allowed tickets, newest first."""
    engine, coll = default_engine(), Ticket.get_pymongo_collection()
    expected_order = sorted(allowed, reverse=True)
    for name, lister in STRATEGIES.items():
        seen: list[ObjectId] = []
        after = None
        for _ in range(len(tickets) + 2):
            page = await lister(
                coll, engine, principal, ListRequest(permission, "ticket", {}, page_size, after)
            )
            seen += [d["_id"] for d in page.items]
            after = page.next_cursor
            if after is None:
                break
        assert seen == expected_order, (name, permission)


async def test_no_memberships_sees_nothing(app: FastAPI) -> None:
    """Fail closed: a user with no memberships matches no ticket, whatever exists."""
    users, tickets = await write(
        {
            "users": 2,
            "companies": 2,
            "roles": {(0, 0): "admin"},
            "tickets": [(0, 0), (1, 1), (0, 1)],
            "shares": [(1, 0)],
        }
    )
    engine = default_engine()
    lonely = await load_principal(users[1])
    assert lonely.roles == {} and lonely.resource_roles == {}
    for permission in permissions_of(engine, "ticket"):
        flt = engine.query_filter(lonely, permission, "ticket")
        assert flt == {"company": {"$in": []}}
        assert await Ticket.get_pymongo_collection().count_documents(flt) == 0
    assert len(tickets) == 3
    await clear()
