"""The central property, on random worlds written to the real database.

For every user and permission, the tickets matched by the compiled `query_filter` are
exactly those `check` allows; and the three list strategies, paged to the end, return that
same set, in the same order. Worlds have groups, agents in them, agents' access levels
(`all`, `groups`, `assigned`), tickets in groups (also a foreign company's) and assigned
to anyone, and tickets moved to another group afterwards.
"""

from typing import Any

from bson import ObjectId
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.access import rebuild
from authz.engine import default_engine
from authz.facts import load_principal
from authz.listing import STRATEGIES, ListRequest
from models import Company, Grant, Membership, Ticket, User, utcnow

PERMISSIONS = ("ticket:read", "ticket:reply", "ticket:update", "ticket:note", "ticket:delete")
ROLE_CHOICES = (None, None, "admin", "agent", "customer", "customer")
LEVEL_CHOICES = (None, "all", "groups", "assigned")


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    """Users, companies, memberships (some users in none), tickets and grants."""
    n_users = draw(st.integers(1, 6))
    n_companies = draw(st.integers(1, 3))
    roles = {
        (u, c): r
        for u in range(n_users)
        for c in range(n_companies)
        if (r := draw(st.sampled_from(ROLE_CHOICES))) is not None
    }
    levels = {
        key: level
        for key, role in roles.items()
        if role == "agent" and (level := draw(st.sampled_from(LEVEL_CHOICES))) is not None
    }
    groups = draw(st.lists(st.integers(0, n_companies - 1), max_size=4))
    in_groups = (
        draw(
            st.lists(
                st.tuples(st.integers(0, n_users - 1), st.integers(0, len(groups) - 1)),
                max_size=6,
                unique=True,
            )
        )
        if groups
        else []
    )
    maybe_group = st.none() | st.integers(0, len(groups) - 1) if groups else st.none()
    tickets = draw(
        st.lists(
            st.tuples(
                st.integers(0, n_companies - 1),
                st.integers(0, n_users - 1),
                maybe_group,
                st.none() | st.integers(0, n_users - 1),
            ),
            max_size=10,
        )
    )
    moves = (
        draw(st.lists(st.tuples(st.integers(0, len(tickets) - 1), maybe_group), max_size=4))
        if tickets
        else []
    )
    grants = (
        draw(
            st.lists(
                st.tuples(st.integers(0, n_users - 1), st.integers(0, max(len(tickets) - 1, 0))),
                max_size=6,
                unique=True,
            )
        )
        if tickets
        else []
    )
    return {
        "users": n_users,
        "companies": n_companies,
        "roles": roles,
        "levels": levels,
        "groups": groups,
        "in_groups": in_groups,
        "tickets": tickets,
        "grants": grants,
        "moves": moves,
    }


async def write(world: dict[str, Any]) -> tuple[list[ObjectId], list[dict[str, Any]]]:
    """Store a drawn world; return the user ids and the stored tickets."""
    users = [ObjectId() for _ in range(world["users"])]
    companies = [ObjectId() for _ in range(world["companies"])]
    groups = [(ObjectId(), companies[c]) for c in world.get("groups", [])]
    now = utcnow()
    await User.get_pymongo_collection().insert_many(
        [
            {
                "_id": u,
                # Named by id: a value a unique index has held is never written twice, as
                # the dev database's index keeps stale entries (README, known limits).
                "username": f"u{u}",
                "email": f"u{u}@example.com",
                "password_hash": "unused",
                "created_at": now,
                "updated_at": now,
            }
            for u in users
        ]
    )
    await Company.get_pymongo_collection().insert_many(
        [
            {
                "_id": c,
                "name": f"c{i}",
                "created_by": users[0],
                "ticket_seq": 0,
                "owners_version": 0,
                "deleting": False,
                "created_at": now,
                "updated_at": now,
            }
            for i, c in enumerate(companies)
        ]
    )
    if world["roles"]:
        await Membership.get_pymongo_collection().insert_many(
            [
                {
                    "user": users[u],
                    "company": companies[c],
                    "role": r,
                    "ticket_access": world.get("levels", {}).get((u, c)),
                    "created_at": now,
                    "updated_at": now,
                }
                for (u, c), r in world["roles"].items()
            ]
        )
    tickets: list[dict[str, Any]] = [
        {
            "_id": ObjectId(),
            "company": companies[c],
            "number": n,
            "subject": "s",
            "description": "d",
            "status": "open",
            "priority": "normal",
            "created_by": users[u],
            "assigned_to": users[a] if a is not None else None,
            "group": groups[g][0] if g is not None else None,
            "replies": [],
            "created_at": now,
            "updated_at": now,
        }
        for n, (c, u, g, a) in enumerate(_tickets(world), start=1)
    ]
    if tickets:
        await Ticket.get_pymongo_collection().insert_many(tickets)
    if world["grants"]:
        # Grants are written even for users who are not (or no longer) members of the
        # ticket's company: the engine must ignore those.
        await Grant.get_pymongo_collection().insert_many(
            [
                {
                    "user": users[u],
                    "role": "viewer",
                    "resource_type": "ticket",
                    "resource_id": tickets[t]["_id"],
                    "company": tickets[t]["company"],
                    "created_at": now,
                }
                for u, t in world["grants"]
            ]
        )
    if world.get("in_groups"):
        await Grant.get_pymongo_collection().insert_many(
            [
                {
                    "user": users[u],
                    "role": "member",
                    "resource_type": "group",
                    "resource_id": groups[g][0],
                    "company": groups[g][1],
                    "created_at": now,
                }
                for u, g in world["in_groups"]
            ]
        )
    world["group_ids"] = [g for g, _ in groups]
    await rebuild(users)  # the copy of each user's facts, as the API keeps it
    return users, tickets


def _tickets(world: dict[str, Any]) -> list[tuple[int, int, int | None, int | None]]:
    """(company, creator, group, assignee) of each ticket; older worlds name only the first
    two."""
    return [(*t, None, None)[:4] for t in world["tickets"]]


async def move(world: dict[str, Any], tickets: list[dict[str, Any]]) -> None:
    """Move tickets to another group (or out of any), as `moves` says, in place."""
    for t, g in world.get("moves", []):
        group = world["group_ids"][g] if g is not None else None
        tickets[t]["group"] = group
        await Ticket.get_pymongo_collection().update_one(
            {"_id": tickets[t]["_id"]}, {"$set": {"group": group}}
        )


async def clear() -> None:
    for model in (User, Company, Membership, Ticket, Grant):
        await model.get_pymongo_collection().delete_many({})


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
            "grants": [(1, 0)],
        }
    )
    engine = default_engine()
    lonely = await load_principal(users[1])
    assert lonely.roles == {}
    assert lonely.grants == {}, "a grant without membership is ignored"
    for permission in PERMISSIONS:
        flt = engine.query_filter(lonely, permission, "ticket")
        assert flt == {"company": {"$in": []}}
        assert await Ticket.get_pymongo_collection().count_documents(flt) == 0
    assert len(tickets) == 3
    await clear()
