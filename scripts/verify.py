"""`python -m scripts.verify [--repair]` (`make verify`): check a live database for every
invariant authorization relies on.

Read-only unless `--repair`. Against `MONGODB_URI` / `MONGODB_DB` (the API's settings; the
dev database of `make run` when unset). Each violation is printed with the ids involved,
then a count per invariant; the exit status is 1 if any is left.

The invariants, each checked from the records (memberships, groups, tickets, companies),
which are the truth, against what is derived from them:

- `facts`: each user's copy of their facts (`User.access`) says what the records say: their
  memberships, roles and access levels, and the groups they are in. Repaired by rebuilding
  the copy from the records (`app.services.user_facts.rebuild`).
- `memberships`: each membership names an existing user and company. Repaired by removing
  the membership (and rebuilding that user's copy).
- `viewers` and `group_members`: a ticket is shared only with members of its company, and a
  group holds only members of its company. Repaired by taking the others out.
- `assignee`: a ticket is assigned only to a member whose role may be assigned. Repaired by
  unassigning it, as removing or demoting the member does.
- `ticket_group`: a ticket's group exists in its company. Repaired by taking the ticket out
  of the missing group.
- `numbers`: ticket numbers are unique in a company and not above its counter. A counter
  behind is raised to the highest number; a duplicate cannot be repaired from the records
  (two tickets claim one number): it is reported.
- `owner`: every company keeps an owner (the policy's `owner_role`). Not repairable: which
  member should become one is a person's decision.
- `deletions`: no company deletion is left half done (`Company.deleting`). Repaired by
  finishing it (`app.services.companies.finish_deletion`, idempotent).

A repair is idempotent and logged (each action printed); what it could not fix is
printed, and the exit status is then 1.
"""

import argparse
import asyncio
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beanie import init_beanie
from bson import ObjectId
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from app.config import Settings
from app.services import user_facts
from app.services.companies import finish_deletion
from authz.engine import Engine, engine_for
from models import DOCUMENT_MODELS

Doc = dict[str, Any]
INVARIANTS = (
    "facts", "memberships", "viewers", "group_members", "assignee", "ticket_group",
    "numbers", "owner", "deletions",
)  # fmt: skip
BATCH = 1000  # users whose copies are compared in one round of reads


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant, with the ids involved."""

    invariant: str
    detail: str
    ids: dict[str, ObjectId] = field(default_factory=dict)

    def __str__(self) -> str:
        named = " ".join(f"{k}={v}" for k, v in self.ids.items())
        return f"{self.invariant}: {self.detail} ({named})"


@dataclass
class Records:
    """What the checks read once: companies, and members by company with their roles."""

    companies: dict[ObjectId, Doc]
    roles: dict[ObjectId, dict[ObjectId, str]]  # company -> user -> role
    users: set[ObjectId]


async def _records(db: AsyncDatabase[Doc]) -> Records:
    companies = {c["_id"]: c async for c in db["companies"].find({})}
    roles: dict[ObjectId, dict[ObjectId, str]] = defaultdict(dict)
    async for m in db["memberships"].find({}, {"user": 1, "company": 1, "role": 1}):
        roles[m["company"]][m["user"]] = m["role"]
    users = {u["_id"] async for u in db["users"].find({}, {"_id": 1})}
    return Records(companies, roles, users)


async def check(db: AsyncDatabase[Doc], engine: Engine) -> list[Violation]:
    """Every violation of every invariant, read-only."""
    records = await _records(db)
    found: list[Violation] = []
    found += await _facts(db, engine, records)
    found += await _memberships(db, records)
    found += await _tickets(db, engine, records)
    found += await _groups(db, records)
    found += _owners(engine, records)
    found += [
        Violation("deletions", "a company deletion was not finished", {"company": cid})
        for cid, company in records.companies.items()
        if company.get("deleting")
    ]
    return found


def _copy(access: Doc | None) -> tuple[frozenset[tuple[Any, ...]], frozenset[tuple[Any, ...]]]:
    """A copy of facts as sets (order does not matter)."""
    access = access or {}
    memberships = frozenset(
        (m["company"], m["role"], m.get("level")) for m in access.get("memberships", [])
    )
    held = frozenset(
        (r["resource_type"], r["resource_id"], r["company"], r["role"])
        for r in access.get("resource_roles", [])
    )
    return memberships, held


async def _batches(db: AsyncDatabase[Doc]) -> AsyncIterator[list[Doc]]:
    batch: list[Doc] = []
    async for user in db["users"].find({}, {"access": 1}).sort("_id", 1):
        batch.append(user)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def _facts(db: AsyncDatabase[Doc], engine: Engine, records: Records) -> list[Violation]:
    found = []
    async for batch in _batches(db):
        expected = await user_facts.copies_from_record([u["_id"] for u in batch], engine)
        for user in batch:
            want = expected[user["_id"]].model_dump()
            if _copy(user.get("access")) != _copy(want):
                detail = "the copy of the user's facts differs from the records"
                found.append(Violation("facts", detail, {"user": user["_id"]}))
    return found


async def _memberships(db: AsyncDatabase[Doc], records: Records) -> list[Violation]:
    found = []
    async for m in db["memberships"].find({}, {"user": 1, "company": 1}):
        missing = [
            what
            for what, present in (
                ("user", m["user"] in records.users),
                ("company", m["company"] in records.companies),
            )
            if not present
        ]
        if missing:
            ids = {"membership": m["_id"], "user": m["user"], "company": m["company"]}
            found.append(Violation("memberships", f"its {' and '.join(missing)} is gone", ids))
    return found


async def _tickets(db: AsyncDatabase[Doc], engine: Engine, records: Records) -> list[Violation]:
    found: list[Violation] = []
    groups: dict[ObjectId, set[ObjectId]] = defaultdict(set)
    async for g in db["groups"].find({}, {"company": 1}):
        groups[g["company"]].add(g["_id"])
    numbers: dict[ObjectId, Counter[int]] = defaultdict(Counter)
    fields = {"company": 1, "number": 1, "viewers": 1, "assigned_to": 1, "group": 1}
    async for t in db["tickets"].find({}, fields):
        company, ids = t["company"], {"ticket": t["_id"], "company": t["company"]}
        if _being_deleted(records, company):  # its deletion is the one thing to finish
            continue
        members = records.roles.get(company, {})
        for viewer in t.get("viewers") or []:
            if viewer not in members:
                found.append(
                    Violation("viewers", "shared with a non-member", ids | {"user": viewer})
                )
        assignee = t.get("assigned_to")
        if assignee is not None and not engine.is_assignable(members.get(assignee)):
            why = "not a member" if assignee not in members else f"a {members[assignee]}"
            detail = f"assigned to someone who may not be: {why}"
            found.append(Violation("assignee", detail, ids | {"user": assignee}))
        group = t.get("group")
        if group is not None and group not in groups[company]:
            found.append(
                Violation("ticket_group", "its group does not exist", ids | {"group": group})
            )
        numbers[company][t["number"]] += 1
    for company, counted in numbers.items():
        counter = records.companies.get(company, {}).get("ticket_seq", 0)
        for number, times in counted.items():
            if times > 1:
                detail = f"number {number} is held by {times} tickets"
                found.append(Violation("numbers", detail, {"company": company}))
        if counted and max(counted) > counter:
            detail = f"numbers reach {max(counted)}, above the counter {counter}"
            found.append(Violation("numbers", detail, {"company": company}))
    return found


async def _groups(db: AsyncDatabase[Doc], records: Records) -> list[Violation]:
    found = []
    async for g in db["groups"].find({}, {"company": 1, "members": 1}):
        if _being_deleted(records, g["company"]):
            continue
        members = records.roles.get(g["company"], {})
        for user in g.get("members") or []:
            if user not in members:
                ids = {"group": g["_id"], "company": g["company"], "user": user}
                found.append(Violation("group_members", "holds a non-member", ids))
    return found


def _being_deleted(records: Records, company: ObjectId) -> bool:
    return bool(records.companies.get(company, {}).get("deleting"))


def _owners(engine: Engine, records: Records) -> list[Violation]:
    owner = engine.policy.invariants.owner_role
    return [
        Violation("owner", f"the company has no {owner}", {"company": cid})
        for cid, company in records.companies.items()
        if not company.get("deleting") and owner not in records.roles.get(cid, {}).values()
    ]


async def repair(db: AsyncDatabase[Doc], engine: Engine, found: Iterable[Violation]) -> None:
    """Fix what the records can fix, printing each action (idempotent: a second run finds
    nothing more to do)."""
    by: dict[str, list[Violation]] = defaultdict(list)
    for v in found:
        by[v.invariant].append(v)
    for v in by["deletions"]:
        _say(f"finishing the deletion of company {v.ids['company']}")
        await finish_deletion(v.ids["company"])
    rebuilt = {v.ids["user"] for v in by["facts"]}
    for v in by["memberships"]:
        _say(f"removing membership {v.ids['membership']} (its user or company is gone)")
        await db["memberships"].delete_one({"_id": v.ids["membership"]})
        rebuilt.add(v.ids["user"])
    await _pull(db, "tickets", "viewers", by["viewers"], "ticket")
    await _pull(db, "groups", "members", by["group_members"], "group")
    rebuilt |= {v.ids["user"] for v in by["group_members"]}
    for v in by["assignee"]:
        _say(f"unassigning ticket {v.ids['ticket']} from {v.ids['user']}")
        await db["tickets"].update_one(
            {"_id": v.ids["ticket"], "assigned_to": v.ids["user"]}, {"$set": {"assigned_to": None}}
        )
    for v in by["ticket_group"]:
        _say(f"taking ticket {v.ids['ticket']} out of the missing group {v.ids['group']}")
        await db["tickets"].update_one(
            {"_id": v.ids["ticket"], "group": v.ids["group"]}, {"$set": {"group": None}}
        )
    for company in {v.ids["company"] for v in by["numbers"]}:
        top = await db["tickets"].find_one(
            {"company": company}, {"number": 1}, sort=[("number", -1)]
        )
        if top is not None:
            _say(f"raising company {company}'s ticket counter to at least {top['number']}")
            await db["companies"].update_one(
                {"_id": company}, {"$max": {"ticket_seq": top["number"]}}
            )
    users = {u["_id"] async for u in db["users"].find({"_id": {"$in": list(rebuilt)}}, {"_id": 1})}
    if users:
        _say(f"rebuilding the copy of the facts of {len(users)} user(s) from the records")
        await user_facts.rebuild(users, engine)


async def _pull(
    db: AsyncDatabase[Doc], collection: str, path: str, found: list[Violation], key: str
) -> None:
    pulls: dict[ObjectId, set[ObjectId]] = defaultdict(set)
    for v in found:
        pulls[v.ids[key]].add(v.ids["user"])
    for doc_id, users in pulls.items():
        _say(f"taking {len(users)} non-member(s) out of {collection[:-1]} {doc_id}'s {path}")
    if pulls:
        await db[collection].bulk_write(
            [UpdateOne({"_id": i}, {"$pull": {path: {"$in": sorted(u)}}}) for i, u in pulls.items()]
        )


def _say(line: str) -> None:
    print(f"repair: {line}", flush=True)


def report(found: Sequence[Violation], seconds: float) -> None:
    """Each violation, then the count per invariant."""
    for v in found:
        print(v)
    counts = Counter(v.invariant for v in found)
    print(f"checked in {seconds:.1f} s")
    for name in INVARIANTS:
        print(f"  {name:<14} {counts[name]:>6}")
    print(f"{len(found)} violation(s)")


_SETTINGS = ("mongodb_uri", "mongodb_db", "policy_file")
"""The API's settings a check needs, read from the environment as the API reads them (the
rest, a signing key among them, it does not need)."""


def _default(name: str) -> Any:
    return Settings.model_fields[name].get_default(call_default_factory=True)


async def run(repairing: bool) -> int:
    """Check (and repair if asked); the exit status."""
    uri, name, policy = (os.environ.get(k.upper(), str(_default(k))) for k in _SETTINGS)
    client: AsyncMongoClient[Doc] = AsyncMongoClient(uri, tz_aware=True)
    try:
        db = client[name]
        # Bound to the documents without touching the indexes: a check writes nothing.
        await init_beanie(database=db, document_models=DOCUMENT_MODELS, skip_indexes=True)
        engine = engine_for(Path(policy))
        started = time.perf_counter()
        found = await check(db, engine)
        report(found, time.perf_counter() - started)
        if not repairing or not found:
            return 1 if found else 0
        await repair(db, engine, found)
        left = await check(db, engine)
        print("after the repair:")
        report(left, time.perf_counter() - started)
        return 1 if left else 0
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and run."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.verify", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--repair", action="store_true", help="fix what the records can fix, then check again"
    )
    args = parser.parse_args(argv)
    return asyncio.run(run(args.repair))


if __name__ == "__main__":
    sys.exit(main())
