"""The synthetic data set: counts, numbering, field shapes and role rules, at a small size.

The benchmark trusts these data to look like what the API writes; these tests hold the
generator to the models (same fields as documents Beanie itself stores, copies of each
user's facts equal to what the API rebuilds from the record) and to the invariants the API
keeps (sequential numbers, assignees are staff who may handle the ticket, grants within a
tenant, group members are agents of the group's company).
"""

import itertools
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

import httpx
from bson import ObjectId
from fastapi import FastAPI

from app.config import Settings
from app.security import create_access_token
from app.services.access import rebuild
from authz.engine import default_engine
from authz.facts import load_principal
from models import Company, Grant, Group, Membership, Ticket, User
from models.user import GrantFact, MembershipFact
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
    grants = await _all(app, settings, "grants")
    groups = await _all(app, settings, "groups")
    assert len(companies) == TENANTS == result["tenants"]
    assert len(groups) == result["groups"] >= 3 * TENANTS
    assert len(tickets) == TENANTS * TICKETS == result["tickets"]
    assert len(users) == TENANTS * USERS == result["users"]
    assert len(memberships) == result["memberships"] > len(users)
    assert len(grants) == result["grants"] >= TENANTS
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
    grants = await _all(app, settings, "grants")

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

    ticket = {t["_id"]: t for t in tickets}
    assert len({(g["user"], g["resource_id"]) for g in grants}) == len(grants)
    shares = [g for g in grants if g["resource_type"] == "ticket"]
    assert shares
    for g in shares:
        shared = ticket[g["resource_id"]]
        assert (g["role"], g["company"]) == ("viewer", shared["company"])
        assert role[(g["user"], g["company"])] == "customer"
        assert g["user"] != shared["created_by"]


async def test_groups_and_access_levels(app: FastAPI, settings: Settings) -> None:
    """Groups per tenant, agents in one or two of their company's, agents at each access
    level, most tickets in a group; and every assignee, reply author and sharer may do
    what they did, as the API would have let them."""
    await seed_synthetic(_db(app, settings), TENANTS, TICKETS, USERS, progress=False)
    memberships = await _all(app, settings, "memberships")
    tickets = await _all(app, settings, "tickets")
    grants = await _all(app, settings, "grants")
    group_company = {g["_id"]: g["company"] for g in await _all(app, settings, "groups")}

    role = {(m["user"], m["company"]): m["role"] for m in memberships}
    in_groups: defaultdict[tuple[ObjectId, ObjectId], set[ObjectId]] = defaultdict(set)
    for g in grants:
        if g["resource_type"] == "group":
            assert g["role"] == "member"
            assert group_company[g["resource_id"]] == g["company"]
            in_groups[(g["user"], g["company"])].add(g["resource_id"])
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
    shared_by = {g["resource_id"]: g["created_by"] for g in grants if g["role"] == "viewer"}
    for t in tickets:
        resource = engine.resource_of("ticket", t)
        if t["assigned_to"] is not None:
            # The API's rule: the assignee reaches the ticket without the assignment,
            # unless their access is limited to what is assigned to them.
            unassigned = replace(resource, relations={**resource.relations, "assignee": None})
            assert engine.parent_scoped(principals[t["assigned_to"]], unassigned) is not False
        for reply in t["replies"]:
            did = "ticket:note" if reply["internal"] else "ticket:reply"
            assert engine.check(principals[reply["author"]], did, resource), (t, reply)
        if t["_id"] in shared_by:
            assert engine.check(principals[shared_by[t["_id"]]], "ticket:share", resource)
    scoped = {m["user"] for m in memberships if m["ticket_access"] == "groups"}
    assert any(t["assigned_to"] in scoped for t in tickets)


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
        "grants": {"company": company.id},
        "memberships": {"company": company.id},
        "groups": {"company": company.id},
    }
    models: dict[str, Any] = {
        "users": User,
        "companies": Company,
        "tickets": Ticket,
        "grants": Grant,
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
    assert all(set(a) == {"memberships", "grants"} for a in facts)
    memberships = [m for a in facts for m in a["memberships"]]
    grants = [g for a in facts for g in a["grants"]]
    assert {g["resource_type"] for g in grants} == {"ticket", "group"}
    assert all(list(m) == list(MembershipFact.model_fields) for m in memberships)
    assert all(list(g) == list(GrantFact.model_fields) for g in grants)


async def test_copies_of_facts_are_what_the_api_rebuilds(app: FastAPI, settings: Settings) -> None:
    """Each user's `access` is what `app.services.access.rebuild` computes from the
    memberships and grants the generator wrote: the API would keep the same copy."""
    await seed_synthetic(_db(app, settings), TENANTS, TICKETS, USERS, progress=False)

    def canonical(access: dict[str, Any]) -> dict[str, list[str]]:
        return {key: sorted(map(str, access[key])) for key in ("memberships", "grants")}

    written = {u["_id"]: canonical(u["access"]) for u in await _all(app, settings, "users")}
    await rebuild(list(written))
    rebuilt = {u["_id"]: canonical(u["access"]) for u in await _all(app, settings, "users")}
    assert rebuilt == written
    assert any(a["grants"] for a in written.values())


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
    grants = [g for g in await _all(app, settings, "grants") if g["role"] == "viewer"]
    tickets = {t["_id"]: t for t in await _all(app, settings, "tickets")}
    viewer = grants[0]["user"]
    company = grants[0]["company"]
    expected = {
        str(t["_id"])
        for t in tickets.values()
        if t["company"] == company and t["created_by"] == viewer
    } | {str(g["resource_id"]) for g in grants if g["user"] == viewer}
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
    reaches: the whole company, their groups' and those assigned to them, or only those."""
    await seed_synthetic(_db(app, settings), TENANTS, TICKETS, USERS, progress=False)
    memberships = await _all(app, settings, "memberships")
    grants = await _all(app, settings, "grants")
    tickets = await _all(app, settings, "tickets")
    company = tickets[0]["company"]
    agents = {
        m["ticket_access"]: m["user"]
        for m in memberships
        if m["company"] == company and m["role"] == "agent"
    }
    assert set(agents) == {None, "groups", "assigned"}
    for level, agent in agents.items():
        groups = {
            g["resource_id"]
            for g in grants
            if g["user"] == agent and g["company"] == company and g["resource_type"] == "group"
        }
        expected = {
            str(t["_id"])
            for t in tickets
            if t["company"] == company
            and (
                level is None
                or t["assigned_to"] == agent
                or (level == "groups" and t["group"] in groups)
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
