"""The central property, on random worlds written to the real database.

For every user and permission, the tickets matched by the compiled `query_filter` are
exactly those `check` allows; and the three list strategies, paged to the end, return that
same set, in the same order. Worlds have groups, agents in them, agents' access levels
(`all`, `groups`, `assigned`), tickets in groups (also a foreign company's) and assigned
to anyone, and tickets moved to another group afterwards.
"""

from typing import Any

import pytest
from bson import ObjectId
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authz.engine import default_engine
from authz.facts import load_principal
from authz.listing import STRATEGIES, ListRequest
from models import Ticket
from tests.utils.worlds import clear, move, worlds, write

# The representation of rights, on both topologies (`make test` runs it standalone too).
pytestmark = pytest.mark.topologies

PERMISSIONS = ("ticket:read", "ticket:reply", "ticket:update", "ticket:note", "ticket:delete")


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
    """The property itself, for every user and permission of a stored world."""
    engine = default_engine()
    coll = Ticket.get_pymongo_collection()
    for user in users:
        principal = await load_principal(user)
        for permission in PERMISSIONS:
            allowed = [
                t["_id"]
                for t in tickets
                if engine.check(principal, permission, engine.resource_of("ticket", t)).allowed
            ]
            flt = engine.query_filter(principal, permission, "ticket")
            matched = [d["_id"] for d in await coll.find(flt, {"_id": 1}).to_list()]
            assert sorted(matched) == sorted(allowed), (permission, flt)

            expected_order = sorted(allowed, reverse=True)
            for name, lister in STRATEGIES.items():
                seen: list[ObjectId] = []
                after = None
                for _ in range(len(tickets) + 2):
                    page = await lister(
                        coll,
                        engine,
                        principal,
                        ListRequest(permission, "ticket", {}, page_size, after),
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
    for permission in PERMISSIONS:
        flt = engine.query_filter(lonely, permission, "ticket")
        assert flt == {"company": {"$in": []}}
        assert await Ticket.get_pymongo_collection().count_documents(flt) == 0
    assert len(tickets) == 3
    await clear()
