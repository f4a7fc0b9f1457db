"""`scripts.verify`: every invariant authorization relies on, found broken when it is, left
alone when reading, and repaired from the records when asked (idempotently)."""

import asyncio
import os
import sys
from collections import Counter
from typing import Any

import pytest
from bson import ObjectId
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from app.config import Settings
from authz.engine import Engine
from models import Company, Group, Membership, Ticket, User
from scripts import verify
from scripts.devdb.process import ROOT
from tests.utils.factories import World

Doc = dict[str, Any]


@pytest.fixture
def db(app: FastAPI) -> AsyncDatabase[Doc]:
    database: AsyncDatabase[Doc] = User.get_pymongo_collection().database
    return database


@pytest.fixture
def engine(app: FastAPI) -> Engine:
    found: Engine = app.state.engine
    return found


async def _tenant(world: World) -> tuple[Company, dict[str, User], Group, Ticket]:
    """A company with every kind of holder: an agent in a group, a customer a ticket is
    shared with, the ticket in the group and assigned to the agent."""
    users = {name: await world.user(name) for name in ("sara", "mark", "lisa", "nina")}
    acme = await world.company(admin=users["sara"])
    await world.member(acme, users["mark"], "agent")
    await world.member(acme, users["lisa"], "customer")
    await world.member(acme, users["nina"], "customer")
    billing = await world.group(acme, "Billing", users["mark"])
    ticket = await world.ticket(acme, users["lisa"], group=billing.id, assigned_to=users["mark"].id)
    await world.share(ticket, users["nina"])
    return acme, users, billing, ticket


def _has(found: list[verify.Violation], invariant: str, **ids: ObjectId) -> bool:
    return any(v.invariant == invariant and v.ids == ids for v in found)


async def _everything(db: AsyncDatabase[Doc]) -> dict[str, list[Doc]]:
    names = sorted(await db.list_collection_names())
    return {n: await db[n].find({}).sort("_id", 1).to_list() for n in names}


async def test_a_consistent_database_has_no_violation(
    db: AsyncDatabase[Doc], engine: Engine, world: World
) -> None:
    await _tenant(world)
    assert await verify.check(db, engine) == []


async def test_each_drift_is_found_then_repaired_from_the_records_once(
    db: AsyncDatabase[Doc], engine: Engine, world: World
) -> None:
    acme, users, billing, ticket = await _tenant(world)
    other = await world.company("Globex", admin=await world.user("gus"))
    # Each write below is one of the drifts a crash or a double fault can leave behind.
    await db["users"].update_one(  # a copy saying more than the record
        {"_id": users["lisa"].id},
        {"$push": {"access.memberships": {"company": other.id, "role": "admin", "level": None}}},
    )
    await db["memberships"].delete_one({"user": users["nina"].id})  # gone, still a viewer
    await db["groups"].update_one({"_id": billing.id}, {"$push": {"members": users["nina"].id}})
    await db["memberships"].update_one(  # demoted by hand: may no longer be assigned
        {"user": users["mark"].id, "company": acme.id}, {"$set": {"role": "customer"}}
    )
    moved = await world.ticket(acme, users["lisa"], group=billing.id)
    await db["groups"].insert_one({"company": acme.id, "name": "Sales", "members": []})
    await db["tickets"].update_one(
        {"_id": moved.id}, {"$set": {"group": Group().id if False else other.id}}
    )
    await db["companies"].update_one({"_id": acme.id}, {"$set": {"ticket_seq": 1}})
    await db["memberships"].insert_one(
        {"user": users["sara"].id, "company": users["sara"].id, "role": "agent"}
    )  # a membership of a company that does not exist
    await db["memberships"].delete_one({"user": other.created_by, "company": other.id})
    doomed = await world.company("Initech", admin=await world.user("bill"))
    await world.ticket(doomed, await world.user("peter"))
    await db["companies"].update_one({"_id": doomed.id}, {"$set": {"deleting": True}})

    before = await _everything(db)
    found = await verify.check(db, engine)
    assert await _everything(db) == before  # a check writes nothing
    counts = Counter(v.invariant for v in found)
    assert set(counts) == set(verify.INVARIANTS) - {"numbers"} | {"numbers"}, found
    by = {(v.invariant, frozenset(v.ids.items())) for v in found}
    assert (
        "viewers",
        frozenset({"ticket": ticket.id, "company": acme.id, "user": users["nina"].id}.items()),
    ) in by
    assert any(v.invariant == "facts" and v.ids == {"user": users["lisa"].id} for v in found)
    assert any(v.invariant == "owner" and v.ids == {"company": other.id} for v in found)
    assert any(v.invariant == "deletions" and v.ids == {"company": doomed.id} for v in found)

    await verify.repair(db, engine, found)
    left = await verify.check(db, engine)
    # Only what a person must decide is left: which member of Globex becomes its owner.
    assert [(v.invariant, v.ids) for v in left] == [("owner", {"company": other.id})]
    after = await _everything(db)
    await verify.repair(db, engine, left)  # idempotent: nothing more to do
    assert await _everything(db) == after
    stored = await Ticket.get(ticket.id)
    assert stored is not None and stored.viewers == [] and stored.assigned_to is None
    assert await Company.get(doomed.id) is None
    lisa = await User.get(users["lisa"].id)
    assert lisa is not None and [m.company for m in lisa.access.memberships] == [acme.id]
    assert await Membership.find(Membership.company == users["sara"].id).count() == 0


async def test_the_command_exits_1_on_a_violation_and_0_once_repaired(
    db: AsyncDatabase[Doc], settings: Settings, world: World
) -> None:
    _, users, _, _ = await _tenant(world)
    await db["memberships"].delete_one({"user": users["nina"].id})
    env = os.environ | {"MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db}

    async def run(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scripts.verify", *args, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    code, out = await run()
    assert code == 1, out
    assert "viewers: shared with a non-member" in out and str(users["nina"].id) in out
    assert "1 violation(s)" in out or "violation(s)" in out
    code, out = await run("--repair")
    assert code == 0, out
    assert "repair: taking 1 non-member(s) out of ticket" in out
    assert (await run())[0] == 0
