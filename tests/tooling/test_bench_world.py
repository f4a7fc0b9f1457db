"""The benchmark's callers: picked from the synthetic data, each the kind of caller its name
says, and the tickets counted as visible to each are what the engine's filter selects."""

from typing import Any

from fastapi import FastAPI

from app.config import Settings
from authz.engine import default_engine
from authz.facts import load_principal
from scripts.bench.world import _personas
from scripts.synthetic import seed_synthetic


async def test_personas_are_the_callers_they_are_named_after(
    app: FastAPI, settings: Settings
) -> None:
    db: Any = app.state.db.client[settings.mongodb_db]
    result = await seed_synthetic(db, 2, 200, 20, progress=False)
    company = result["companies"][0]
    memberships = await db["memberships"].find({}).to_list()
    users, visible = await _personas(db, company, memberships)

    mine = {m["user"]: m for m in memberships if m["company"] == company}
    assert (mine[users["customer"]]["role"], mine[users["customer"]]["ticket_access"]) == (
        "customer",
        None,
    )
    assert (mine[users["agent"]]["role"], mine[users["agent"]]["ticket_access"]) == ("agent", None)
    scoped = users["agent (groups)"]
    assert (mine[scoped]["role"], mine[scoped]["ticket_access"]) == ("agent", "groups")
    callers = ("customer", "agent", "agent (groups)")
    assert all(sum(m["user"] == users[c] for m in memberships) == 1 for c in callers)
    assert sum(m["user"] == users["multi"] for m in memberships) >= 2

    engine = default_engine()
    for persona in callers:
        principal = await load_principal(users[persona])
        query = engine.query_filter(principal, "ticket:read", "ticket")
        assert await db["tickets"].count_documents(query) == visible[persona], persona
    confidential = await db["tickets"].count_documents({"company": company, "confidential": True})
    assert 0 < visible["customer"] < visible["agent (groups)"] < visible["agent"] <= 200
    assert visible["agent"] >= 200 - confidential, "an agent misses only confidential tickets"
