"""The synthetic data set: counts, numbering, field shapes and role rules, at a small size.

The benchmark trusts these data to look like what the API writes; these tests hold the
generator to the models (same fields as documents Beanie itself stores) and to the
invariants the API keeps (sequential numbers, assignees are staff, grants within a tenant).
"""

import itertools
from collections import Counter, defaultdict
from typing import Any

import httpx
from bson import ObjectId
from fastapi import FastAPI

from app.config import Settings
from app.security import create_access_token
from models import Company, Grant, Membership, Ticket, User
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
    assert len(companies) == TENANTS == result["tenants"]
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
    for g in grants:
        shared = ticket[g["resource_id"]]
        assert (g["role"], g["resource_type"], g["company"]) == (
            "viewer",
            "ticket",
            shared["company"],
        )
        assert role[(g["user"], g["company"])] == "customer"
        assert g["user"] != shared["created_by"]


async def test_same_fields_as_the_models_write(
    app: FastAPI, settings: Settings, world: World
) -> None:
    await seed_synthetic(_db(app, settings), 2, 40, 10, progress=False)
    # Documents written by Beanie itself, for comparison.
    owner = await world.user("owner")
    company = await world.company("Reference", admin=owner)
    reference = await world.ticket(company, owner)
    await world.share(reference, owner)
    written = {
        "users": owner.id,
        "companies": company.id,
        "tickets": reference.id,
        "grants": None,
        "memberships": None,
    }
    models: dict[str, Any] = {
        "users": User,
        "companies": Company,
        "tickets": Ticket,
        "grants": Grant,
        "memberships": Membership,
    }
    for collection, model in models.items():
        docs = await _all(app, settings, collection)
        ref_query = {"_id": written[collection]} if written[collection] else {}
        ref = await model.get_pymongo_collection().find_one(
            {**ref_query, "created_by": {"$exists": True}} if collection != "users" else ref_query
        )
        assert ref is not None
        synthetic = [d for d in docs if d["_id"] != ref["_id"]]
        assert synthetic
        for doc in synthetic:
            assert set(doc) == set(ref), collection
            model.model_validate(doc)  # types and enums as the models declare them
    replies = [r for t in await _all(app, settings, "tickets") for r in t["replies"]]
    assert replies
    assert all(set(r) == {"id", "author", "body", "internal", "created_at"} for r in replies)


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
    grants = await _all(app, settings, "grants")
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
