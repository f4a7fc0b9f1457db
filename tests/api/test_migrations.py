"""A database the first version wrote (grants in their own collection, copied into every
holder's user document) is brought to the current shape at start-up: once, idempotently,
and finished by the next start when interrupted."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app import migrations
from app.config import Settings
from app.migrations import MIGRATIONS, OLD_COPY_INDEX, OLD_GRANTS, RESOURCES_HOLD_ROLES, migrate
from authz.engine import default_engine
from models import Group, Ticket, User, utcnow
from tests.utils.factories import World
from tests.utils.instances import client_for, instance

# The representation of rights, on both topologies (`make test` runs it standalone too).
pytestmark = pytest.mark.topologies


async def old_database(app: FastAPI, world: World) -> dict[str, Any]:
    """Acme as the first version left it: Lisa's ticket shared with Carl, Mark in Billing,
    each grant in `grants` and in its holder's `access.grants`."""
    db = app.state.db.client[app.state.db.name]
    sara, mark, lisa, carl = [await world.user(n) for n in ("sara", "mark", "lisa", "carl")]
    company = await world.company("Acme", admin=sara)
    await world.member(company, mark, "agent")
    await world.member(company, lisa, "customer")
    await world.member(company, carl, "customer")
    await world.access(company, mark, "groups")
    ticket = await world.ticket(company, lisa)
    billing = await world.ticket(company, lisa, subject="Invoice")
    group = await world.group(company, "Billing")
    await Ticket.get_pymongo_collection().update_one(
        {"_id": billing.id}, {"$set": {"group": group.id}}
    )
    grants: list[dict[str, Any]] = [
        {"user": carl.id, "role": "viewer", "resource_type": "ticket", "resource_id": ticket.id},
        {"user": mark.id, "role": "member", "resource_type": "group", "resource_id": group.id},
    ]
    now = utcnow()
    await db[OLD_GRANTS].insert_many(
        [g | {"company": company.id, "created_at": now} for g in grants]
    )
    for g in grants:
        fact = {k: g[k] for k in ("resource_type", "resource_id", "role")} | {"company": company.id}
        await User.get_pymongo_collection().update_one(
            {"_id": g["user"]}, {"$push": {"access.grants": fact}}
        )
    await User.get_pymongo_collection().update_many({}, {"$unset": {"access.resource_roles": ""}})
    await Ticket.get_pymongo_collection().update_many({}, {"$unset": {"viewers": ""}})
    await Group.get_pymongo_collection().update_many({}, {"$unset": {"members": ""}})
    await User.get_pymongo_collection().create_index(
        "access.grants.resource_id", name=OLD_COPY_INDEX
    )
    await db[MIGRATIONS].delete_many({})
    return {
        "db": db,
        "ticket": ticket,
        "billing": billing,
        "group": group,
        "mark": mark,
        "carl": carl,
    }


async def assert_migrated(old: dict[str, Any]) -> None:
    db = old["db"]
    assert OLD_GRANTS not in await db.list_collection_names()
    assert OLD_COPY_INDEX not in await User.get_pymongo_collection().index_information()
    assert await User.find({"access.grants": {"$exists": True}}).count() == 0
    ticket = await Ticket.get(old["ticket"].id)
    assert ticket is not None and ticket.viewers == [old["carl"].id]
    group = await Group.get(old["group"].id)
    assert group is not None and group.members == [old["mark"].id]
    mark = await User.get(old["mark"].id)
    assert mark is not None
    assert [(r.resource_type, r.resource_id) for r in mark.access.resource_roles] == [
        ("group", old["group"].id)
    ]
    assert await db[MIGRATIONS].find_one({"_id": RESOURCES_HOLD_ROLES})


async def test_the_old_shape_moves_once(app: FastAPI, world: World) -> None:
    old = await old_database(app, world)
    assert await migrate(old["db"], default_engine()) == 2
    await assert_migrated(old)
    users = await User.get_pymongo_collection().find({}).to_list()
    assert await migrate(old["db"], default_engine()) == 0  # recorded as done
    await old["db"][MIGRATIONS].delete_many({})
    assert await migrate(old["db"], default_engine()) == 0  # and idempotent anyway
    assert await User.get_pymongo_collection().find({}).to_list() == users
    await assert_migrated(old)


async def test_an_interrupted_migration_is_finished_by_the_next_start(
    app: FastAPI, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copies cannot be rebuilt (the server went away after the grants moved): the old
    collection stays, so the next start (here a second API instance) does it all again,
    and the API then serves the migrated rights."""
    old = await old_database(app, world)

    async def outage(*_: Any, **__: Any) -> None:
        raise ConnectionError("the server went away")

    monkeypatch.setattr(migrations, "rebuild", outage)
    with pytest.raises(ConnectionError):
        await migrate(old["db"], default_engine())
    monkeypatch.undo()
    assert OLD_GRANTS in await old["db"].list_collection_names()
    assert await User.find({"access.grants": {"$exists": True}}).count() == 2
    async with instance(settings, app) as restarted, client_for(restarted) as client:
        await assert_migrated(old)
        await see_the_migrated_rights(client, world, old)


async def see_the_migrated_rights(
    client: httpx.AsyncClient, world: World, old: dict[str, Any]
) -> None:
    carl = (await client.get("/tickets", headers=world.auth(old["carl"]))).json()["items"]
    assert [t["id"] for t in carl] == [str(old["ticket"].id)]
    mark = (await client.get("/tickets", headers=world.auth(old["mark"]))).json()["items"]
    assert [t["id"] for t in mark] == [str(old["billing"].id)]


async def test_a_grant_the_policy_cannot_place_is_kept_not_applied(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    """Fewer rights, never more, and nothing thrown away: the collection stays."""
    old = await old_database(app, world)
    await old["db"][OLD_GRANTS].insert_one(
        {
            "user": old["carl"].id,
            "role": "owner",
            "resource_type": "ticket",
            "resource_id": old["billing"].id,
            "company": old["billing"].company,
        }
    )
    assert await migrate(old["db"], default_engine()) == 0
    assert await old["db"][OLD_GRANTS].count_documents({}) == 3
    assert await old["db"][MIGRATIONS].find_one({"_id": RESOURCES_HOLD_ROLES}) is None
    await see_the_migrated_rights(client, world, old)
    await old["db"][OLD_GRANTS].delete_many({"role": "owner"})
    assert await migrate(old["db"], default_engine()) == 2
    await assert_migrated(old)
