"""The synthetic data set: counts, numbering, field shapes and role rules, at a small size.

The benchmark trusts these data to look like what the API writes; these tests hold the
generator to the models (same fields as documents Beanie itself stores, copies of each
user's facts equal to what the API rebuilds from the record) and to the invariants the API
keeps (sequential numbers, assignees are staff who may handle the ticket, shares within a
tenant, group members are agents of the group's company).
"""

import itertools
from collections import Counter, defaultdict
from typing import Any

import httpx
from bson import ObjectId
from fastapi import FastAPI

from app.config import Settings
from app.security import create_access_token
from app.services.user_facts import rebuild
from authz.engine import default_engine
from authz.facts import load_principal
from models import Company, Group, Membership, Ticket, User
from models.user import MembershipFact, ResourceRoleFact
from scripts.synthetic import seed_synthetic
from tests.utils.factories import World

TENANTS, TICKETS, USERS = 3, 120, 12


def _db(app: FastAPI, settings: Settings) -> Any:
    return app.state.db.client[settings.mongodb_db]


async def _all(app: FastAPI, settings: Settings, collection: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = await _db(app, settings)[collection].find({}).to_list()
    return docs


async def test_counts_and_numbering(app: FastAPI, settings: Settings) -> None:
    result = await seed_synthetic(_db(app, settings), TENANTS, TICKETS, USERS, progress=False)

    companies = await _all(app, settings, "companies")
    tickets = await _all(app, settings, "tickets")
    users = await _all(app, settings, "users")
    memberships = await _all(app, settings, "memberships")
    groups = await _all(app, settings, "groups")
    assert len(companies) == TENANTS == result["tenants"]
    assert len(groups) == result["groups"] >= 3 * TENANTS
    assert len(tickets) == TENANTS * TICKETS == result["tickets"]
    assert len(users) == TENANTS * USERS == result["users"]
    assert len(memberships) == result["memberships"] > len(users)
    assert sum(len(t["viewers"]) for t in tickets) == result["shares"] >= TENANTS
    assert sorted(result["companies"]) == sorted(c["_id"] for c in companies)

    by_company: dict[ObjectId, list[dict[str, Any]]] = defaultdict(list)
    for t in tickets:
        by_company[t["company"]].append(t)
    for company in companies:
        own = by_company[company["_id"]]
        assert company["ticket_seq"] == len(own) == TICKETS
        assert sorted(t["number"] for t in own) == list(range(1, TICKETS + 1))
        # Newest first by _id is newest first by number and by creation time.
        by_id = sorted(own, key=lambda t: t["_id"])
        assert [t["number"] for t in by_id] == list(range(1, TICKETS + 1))
        assert all(a["created_at"] <= b["created_at"] for a, b in itertools.pairwise(by_id))


async def test_roles_and_relations(app: FastAPI, settings: Settings) -> None:
    await seed_synthetic(_db(app, settings), TENANTS, TICKETS, USERS, progress=False)
    memberships = await _all(app, settings, "memberships")
    tickets = await _all(app, settings, "tickets")

    role = {(m["user"], m["company"]): m["role"] for m in memberships}
    assert len(role) == len(memberships)  # unique (user, company)
    per_company: defaultdict[ObjectId, Counter[str]] = defaultdict(Counter)
    for (_, company), r in role.items():
        per_company[company][r] += 1
    for counts in per_company.values():
        assert counts["admin"] >= 1 and counts["agent"] >= 1
        assert counts["customer"] > counts["admin"] + counts["agent"]
    roles_of: defaultdict[ObjectId, set[str]] = defaultdict(set)
    for (user, _), r in role.items():
        roles_of[user].add(r)
    assert any(len(rs) >= 2 for rs in roles_of.values())  # one person, several roles

    statuses = Counter(t["status"] for t in tickets)
    assert set(statuses) == {"open", "in-progress", "resolved"}
    assert set(Counter(t["priority"] for t in tickets)) <= {"low", "normal", "high", "urgent"}
    creators = Counter(t["created_by"] for t in tickets)
    assert len(creators) > USERS // 2  # spread over the customers
    for t in tickets:
        assert role[(t["created_by"], t["company"])] == "customer"
        if t["assigned_to"] is not None:
            assert role[(t["assigned_to"], t["company"])] in {"admin", "agent"}
        for reply in t["replies"]:
            author_role = role[(reply["author"], t["company"])]
            assert reply["created_at"] >= t["created_at"]
            if reply["internal"]:
                assert author_role in {"admin", "agent"}
    assert any(t["assigned_to"] for t in tickets)
    assert any(r["internal"] for t in tickets for r in t["replies"])
    assert any(not r["internal"] for t in tickets for r in t["replies"])

    shared = [t for t in tickets if t["viewers"]]
    assert shared
    for t in shared:
        assert len(set(t["viewers"])) == len(t["viewers"])
        for viewer in t["viewers"]:
            assert role[(viewer, t["company"])] == "customer"
            assert viewer != t["created_by"]


async def test_groups_and_access_levels(app: FastAPI, settings: Settings) -> None:
    """Groups per tenant, agents in one or two of their company's, agents at each access
    level, most tickets in a group; and every assignee, reply author and sharer may do
    what they did, as the API would have let them."""
    await seed_synthetic(_db(app, settings), TENANTS, TICKETS, USERS, progress=False)
    memberships = await _all(app, settings, "memberships")
    tickets = await _all(app, settings, "tickets")
    groups = await _all(app, settings, "groups")
    group_company = {g["_id"]: g["company"] for g in groups}

    role = {(m["user"], m["company"]): m["role"] for m in memberships}
    in_groups: defaultdict[tuple[ObjectId, ObjectId], set[ObjectId]] = defaultdict(set)
    for g in groups:
        for member in g["members"]:
            in_groups[(member, g["company"])].add(g["_id"])
    agents = {key for key, r in role.items() if r == "agent"}
    assert set(in_groups) == agents
    assert all(1 <= len(in_groups[key]) <= 2 for key in agents)
    assert any(len(in_groups[key]) == 2 for key in agents)
    levels = Counter(m["ticket_access"] for m in memberships if m["role"] == "agent")
    assert set(levels) == {None, "groups", "assigned"}
    assert levels["groups"] > levels["assigned"]
    assert all(m["ticket_access"] is None for m in memberships if m["role"] != "agent")
    for company in set(group_company.values()):
        assert sum(1 for c in group_company.values() if c == company) >= 3

    grouped = [t for t in tickets if t["group"] is not None]
    assert len(tickets) // 2 < len(grouped) < len(tickets)
    assert all(group_company[t["group"]] == t["company"] for t in grouped)

    engine = default_engine()
    principals = {user: await load_principal(user) for user, _ in role}
    for t in tickets:
        resource = engine.resource_of("ticket", t)
        if t["assigned_to"] is not None:
            # The API's rule (`assigned_within`): a ticket in a group goes to a member of
            # it, unless the assignee's ticket access is not limited.
            assert engine.may_be_assigned(principals[t["assigned_to"]], resource), t
        for reply in t["replies"]:
            did = "ticket:note" if reply["internal"] else "ticket:reply"
            assert engine.check(principals[reply["author"]], did, resource), (t, reply)
        for viewer in t["viewers"]:
            assert engine.check(principals[viewer], "ticket:read", resource)
    scoped = {m["user"] for m in memberships if m["ticket_access"] == "groups"}
    assert any(t["assigned_to"] in scoped for t in tickets)
    assert 0 < sum(t["confidential"] for t in tickets) < len(tickets) // 10


async def test_same_fields_as_the_models_write(
    app: FastAPI, settings: Settings, world: World
) -> None:
    await seed_synthetic(_db(app, settings), 2, 40, 10, progress=False)
    # Documents written by Beanie and the API's services, for comparison.
    owner = await world.user("owner")
    company = await world.company("Reference", admin=owner)
    reference = await world.ticket(company, owner)
    await world.share(reference, owner)
    await world.group(company, "Reference group", owner)
    written: dict[str, dict[str, Any]] = {
        "users": {"_id": owner.id},
        "companies": {"_id": company.id},
        "tickets": {"_id": reference.id},
        "memberships": {"company": company.id},
        "groups": {"company": company.id},
    }
    models: dict[str, Any] = {
        "users": User,
        "companies": Company,
        "tickets": Ticket,
        "memberships": Membership,
        "groups": Group,
    }
    for collection, model in models.items():
        refs = await model.get_pymongo_collection().find(written[collection]).to_list()
        assert refs, collection
        synthetic = [d for d in await _all(app, settings, collection) if d not in refs]
        assert synthetic, collection
        for doc in synthetic:
            for ref in refs:
                assert set(doc) == set(ref), collection
            model.model_validate(doc)  # types and enums as the models declare them
    replies = [r for t in await _all(app, settings, "tickets") for r in t["replies"]]
    assert replies
    assert all(set(r) == {"id", "author", "body", "internal", "created_at"} for r in replies)
    facts = [u["access"] for u in await _all(app, settings, "users")]
    assert all(set(a) == {"memberships", "resource_roles"} for a in facts)
    memberships = [m for a in facts for m in a["memberships"]]
    held = [r for a in facts for r in a["resource_roles"]]
    assert {r["resource_type"] for r in held} == {"group"}
    assert all(list(m) == list(MembershipFact.model_fields) for m in memberships)
    assert all(list(r) == list(ResourceRoleFact.model_fields) for r in held)


async def test_copies_of_facts_say_what_the_record_says(app: FastAPI, settings: Settings) -> None:
    """Each user's `access` lists exactly their memberships and the groups they are in,
    and nothing about the tickets shared with them (those name them instead)."""
    await seed_synthetic(_db(app, settings), TENANTS, TICKETS, USERS, progress=False)
    memberships = await _all(app, settings, "memberships")
    groups = await _all(app, settings, "groups")
    users = await _all(app, settings, "users")
    for user in users:
        access = user["access"]
        assert sorted(
            (m["company"], m["role"], m["level"]) for m in access["memberships"]
        ) == sorted(
            (m["company"], m["role"], m["ticket_access"])
            for m in memberships
            if m["user"] == user["_id"]
        )
        assert sorted((r["company"], r["resource_id"]) for r in access["resource_roles"]) == sorted(
            (g["company"], g["_id"]) for g in groups if user["_id"] in g["members"]
        )
    assert any(u["access"]["resource_roles"] for u in users)
    await rebuild([u["_id"] for u in users])  # the API's repair: nothing to repair
    assert [u["access"] for u in await _all(app, settings, "users")] == [u["access"] for u in users]


async def test_seeding_twice_adds_tenants(app: FastAPI, settings: Settings) -> None:
    db = _db(app, settings)
    await seed_synthetic(db, 1, 10, 5, progress=False)
    await seed_synthetic(db, 2, 10, 5, progress=False)
    names = sorted(c["name"] for c in await _all(app, settings, "companies"))
    assert names == ["Synthetic 0000", "Synthetic 0001", "Synthetic 0002"]
    assert len(await _all(app, settings, "users")) == 15


async def test_a_seeded_customer_sees_their_own_and_shared_tickets(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    await seed_synthetic(_db(app, settings), TENANTS, TICKETS, USERS, progress=False)
    tickets = {t["_id"]: t for t in await _all(app, settings, "tickets")}
    first = next(t for t in tickets.values() if t["viewers"])
    viewer, company = first["viewers"][0], first["company"]
    expected = {
        str(t["_id"])
        for t in tickets.values()
        if t["company"] == company and (t["created_by"] == viewer or viewer in t["viewers"])
    }
    token = create_access_token(str(viewer), settings).access_token
    r = await client.get(
        "/tickets",
        params={"company_id": str(company), "limit": 200},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["next_cursor"] is None
    assert {t["id"] for t in page["items"]} == expected
    for item in page["items"]:
        if tickets[ObjectId(item["id"])]["created_by"] != viewer:
            assert all(not reply["internal"] for reply in item["replies"])


async def test_seeded_agents_see_what_their_access_level_reaches(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    """Over HTTP, an agent of each access level lists exactly the tickets the level
    reaches: the whole company, their groups' and those assigned to them, or only those;
    a confidential ticket only while it is assigned to them."""
    await seed_synthetic(_db(app, settings), TENANTS, TICKETS, USERS, progress=False)
    memberships = await _all(app, settings, "memberships")
    all_groups = await _all(app, settings, "groups")
    tickets = await _all(app, settings, "tickets")
    company = tickets[0]["company"]
    agents = {
        m["ticket_access"]: m["user"]
        for m in memberships
        if m["company"] == company and m["role"] == "agent"
    }
    assert set(agents) == {None, "groups", "assigned"}
    for level, agent in agents.items():
        groups = {g["_id"] for g in all_groups if g["company"] == company and agent in g["members"]}
        expected = {
            str(t["_id"])
            for t in tickets
            if t["company"] == company
            and (
                t["assigned_to"] == agent
                or (
                    (not t["confidential"] and (level is None or t["group"] in groups))
                    and level != "assigned"
                )
            )
        }
        assert expected, level
        token = create_access_token(str(agent), settings).access_token
        r = await client.get(
            "/tickets",
            params={"company_id": str(company), "limit": 200},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        assert {t["id"] for t in r.json()["items"]} == expected, level
