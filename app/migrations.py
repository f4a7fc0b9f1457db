"""Bring a database written by an earlier version to the current shape, at start-up.

The first version stored instance roles (a ticket shared with a member, a member of a
group) as documents of a `grants` collection, and copied every one of them into the
holder's user document (`access.grants`): each request then loaded all of them, and the
filter listed every shared ticket. Now a share lives on the resource it is about (a
ticket's `viewers`, a group's `members`), and the copy holds only what stays bounded.
`migrate` moves an old database over, in three steps:

1. each grant's user is added to its resource's relation (`$addToSet`: doing it twice
   changes nothing);
2. the copy of every user still in the old shape is rebuilt from the record (which drops
   `access.grants`);
3. the `grants` collection and the old copy's index go.

Each step is idempotent and starts only once the one before has finished, so a migration
interrupted anywhere is finished by the next start; a finished one is recorded in
`schema_migrations`, so later starts skip it at the cost of one read. It runs before the
API reports ready (`app.db.initialise`): until then requests get 503, never a half-moved
database.
"""

import logging
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from app.services.user_facts import rebuild
from authz.engine import Engine
from authz.scope import shipped_classes
from models import User, utcnow

log = logging.getLogger("app.migrations")

MIGRATIONS = "schema_migrations"
RESOURCES_HOLD_ROLES = "resources-hold-their-roles"
OLD_GRANTS = "grants"
OLD_COPY_INDEX = "access_resource"
BATCH = 1000


async def migrate(db: AsyncDatabase[Any], engine: Engine) -> int:
    """Move what the first version stored to the current shape; return how many grants
    moved (0 when there is nothing to do)."""
    if await db[MIGRATIONS].find_one({"_id": RESOURCES_HOLD_ROLES}) is not None:
        return 0
    moved = 0
    if OLD_GRANTS in await db.list_collection_names(filter={"name": OLD_GRANTS}):
        moved = await _move_grants(db, engine)
    await _rebuild_old_copies(engine)
    if moved >= 0 and OLD_GRANTS in await db.list_collection_names(filter={"name": OLD_GRANTS}):
        await db.drop_collection(OLD_GRANTS)
        log.info("migrated %d grant(s) onto their resources; dropped %s", moved, OLD_GRANTS)
    users = User.get_pymongo_collection()
    if OLD_COPY_INDEX in await users.index_information():
        await users.drop_index(OLD_COPY_INDEX)
    if moved >= 0:
        await db[MIGRATIONS].update_one(
            {"_id": RESOURCES_HOLD_ROLES}, {"$set": {"done_at": utcnow()}}, upsert=True
        )
    return max(moved, 0)


async def _move_grants(db: AsyncDatabase[Any], engine: Engine) -> int:
    """Step 1; -1 when a grant names an instance role the policy cannot place (the
    collection is then kept, and the API starts without it: fewer rights, never more)."""
    classes = shipped_classes(engine)
    writes: dict[str, list[UpdateOne]] = {}
    moved, unplaced = 0, 0
    async for grant in db[OLD_GRANTS].find({}):
        irole = engine.policy.instance_roles.get(f"{grant['resource_type']}#{grant['role']}")
        if irole is None or irole.granted_as is None:
            unplaced += 1
            continue
        rtype = engine.resource_type(irole.resource_type)
        path = rtype.relations[irole.granted_as]
        pending = writes.setdefault(rtype.name, [])
        pending.append(
            UpdateOne(
                {rtype.tenant: grant["company"], "_id": grant["resource_id"]},
                {"$addToSet": {path: grant["user"]}},
            )
        )
        moved += 1
        if len(pending) == BATCH:
            await classes[rtype.name].get_pymongo_collection().bulk_write(pending, ordered=False)
            pending.clear()
    for name, pending in writes.items():
        if pending:
            await classes[name].get_pymongo_collection().bulk_write(pending, ordered=False)
    if unplaced:
        log.warning(
            "%d grant(s) name an instance role the policy does not let anyone grant; kept "
            "in %r, not applied",
            unplaced,
            OLD_GRANTS,
        )
        return -1
    return moved


async def _rebuild_old_copies(engine: Engine) -> None:
    """Step 2: every copy still in the old shape, rebuilt from the record in batches."""
    users = User.get_pymongo_collection()
    old = {"access.grants": {"$exists": True}}
    while batch := await users.find(old, {"_id": 1}).limit(BATCH).to_list():
        await rebuild([u["_id"] for u in batch], engine)
