"""Random worlds for the property tests: drawn by hypothesis, written to the real database.

Users in none, one or several companies with random roles (agents with random access
levels), groups and who is in them, tickets (some in a group, some assigned, some in a
group of another company; any status and priority, some confidential), shares (some left
over from a lost membership), and moves of tickets to another group. `write` stores one
the way the API would have, copies of each user's facts included.
"""

from typing import Any

from bson import ObjectId
from hypothesis import strategies as st

from app.services.user_facts import rebuild
from models import Company, Group, Membership, Ticket, User, utcnow

ROLE_CHOICES = (None, None, "admin", "agent", "customer", "customer")
STATUSES = ("open", "in-progress", "resolved")
PRIORITIES = ("low", "normal", "high", "urgent")
LEVEL_CHOICES = (None, "all", "groups", "assigned")


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    """Users, companies, memberships (some users in none), tickets and shares."""
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
                st.sampled_from(STATUSES),
                st.booleans(),  # confidential
                st.sampled_from(PRIORITIES),
            ),
            max_size=10,
        )
    )
    moves = (
        draw(st.lists(st.tuples(st.integers(0, len(tickets) - 1), maybe_group), max_size=4))
        if tickets
        else []
    )
    shares = (
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
        "shares": shares,
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
            "status": status,
            "priority": priority,
            "confidential": confidential,
            "created_by": users[u],
            "assigned_to": users[a] if a is not None else None,
            "group": groups[g][0] if g is not None else None,
            # Shares are written even for users who are not (or no longer) members of
            # the ticket's company: the engine must ignore those.
            "viewers": sorted({users[u] for u, shared in world["shares"] if shared == n - 1}),
            "replies": [],
            "created_at": now,
            "updated_at": now,
        }
        for n, (c, u, g, a, status, confidential, priority) in enumerate(_tickets(world), 1)
    ]
    if tickets:
        await Ticket.get_pymongo_collection().insert_many(tickets)
    if groups:
        members = world.get("in_groups", [])
        await Group.get_pymongo_collection().insert_many(
            [
                {
                    "_id": gid,
                    "company": company,
                    "name": f"g{i}",
                    "created_by": users[0],
                    "members": sorted({users[u] for u, g in members if g == i}),
                    "created_at": now,
                    "updated_at": now,
                }
                for i, (gid, company) in enumerate(groups)
            ]
        )
    world["group_ids"] = [g for g, _ in groups]
    await rebuild(users)  # the copy of each user's facts, as the API keeps it
    return users, tickets


Drawn = tuple[int, int, int | None, int | None, str, bool, str]


def _tickets(world: dict[str, Any]) -> list[Drawn]:
    """(company, creator, group, assignee, status, confidential, priority) of each ticket;
    a world written by hand may name only the first two."""
    defaults = (None, None, "open", False, "normal")
    return [(*t, *defaults[len(t) - 2 :])[:7] for t in world["tickets"]]


async def move(world: dict[str, Any], tickets: list[dict[str, Any]]) -> None:
    """Move tickets to another group (or out of any), as `moves` says, in place."""
    for t, g in world.get("moves", []):
        group = world["group_ids"][g] if g is not None else None
        tickets[t]["group"] = group
        await Ticket.get_pymongo_collection().update_one(
            {"_id": tickets[t]["_id"]}, {"$set": {"group": group}}
        )


async def clear() -> None:
    for model in (User, Company, Membership, Ticket, Group):
        await model.get_pymongo_collection().delete_many({})
