"""The database a run measures: seeded synthetic tenants, and who is who in them."""

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Database, initialise
from authz.engine import Principal
from authz.facts import load_principal
from scripts.bench.options import Options
from scripts.devdb import process as devdb
from scripts.synthetic import seed_synthetic

Doc = dict[str, Any]
Client = AsyncMongoClient[Doc]


@contextlib.contextmanager
def server() -> Iterator[str]:
    """`MONGODB_URI` when set, else a fresh dev database for the run: its URI."""
    with (
        tempfile.TemporaryDirectory(prefix="devdb-bench-") as tmp,
        devdb.database(Path(tmp) / "data") as uri,
    ):
        yield uri


def ours() -> bool:
    """Whether this run started its own database (no `MONGODB_URI`)."""
    return not os.environ.get("MONGODB_URI")


async def describe(client: Client) -> str:
    """What the server says it is (SecantusDB names its own server and version)."""
    info = await client.admin.command("buildInfo")
    wire = info.get("version", "?")
    if "secantusVersion" not in info:
        return f"MongoDB {wire}"
    kind = (await client.admin.command("serverStatus")).get("secantus", {}).get("server", "?")
    where = " (scripts/devdb)" if ours() else ""
    return f"SecantusDB {info['secantusVersion']}, {kind} server{where} (MongoDB {wire})"


@dataclass(frozen=True)
class World:
    """One seeded database (one tenant size); tenant 0 is the one measured."""

    size: int
    db: AsyncDatabase[Doc]
    company: ObjectId
    companies: list[ObjectId]
    memberships: list[Doc]
    visible: dict[str, int]  # persona -> tickets it may read
    # customer, agent, agent (groups), and when seeded: viewer, multi
    principals: dict[str, Principal]

    @property
    def name(self) -> str:
        """The database's name."""
        return self.db.name


def db_name(size: int) -> str:
    """The database of one tenant size (per process: a shared server is never clobbered)."""
    return f"bench_{os.getpid()}_{size}"


async def build(client: Client, opts: Options, size: int) -> World:
    """Seed `opts.tenants` tenants of `size` tickets, index them as the app does, and pick
    the personas from what was written (never from knowledge of the generator)."""
    db = client[db_name(size)]
    # Indexes first, as the app has them: the dev database, asked to build one afterwards
    # over 200,000 tickets, retried it on write conflicts for 13 minutes without finishing.
    await bind(client, db.name)
    await seed_synthetic(db, opts.tenants, size, opts.users_per_tenant(size))
    found = await db["companies"].find({}, {"_id": 1}).sort("name", 1).to_list()
    companies = [c["_id"] for c in found]
    fields = {"user": 1, "company": 1, "role": 1, "ticket_access": 1}
    memberships = await db["memberships"].find({}, fields).to_list()
    users, visible = await _personas(db, companies[0], memberships)
    principals = {role: await load_principal(user) for role, user in users.items()}
    return World(size, db, companies[0], companies, memberships, visible, principals)


async def bind(client: Client, name: str) -> None:
    """Point Beanie (and so `load_principal`) at one database, with the app's indexes."""
    await initialise(Database(client, name))


async def _personas(
    db: AsyncDatabase[Doc], company: ObjectId, memberships: list[Doc]
) -> tuple[dict[str, ObjectId], dict[str, int]]:
    """Users by persona, and how many tickets the customer and each agent may read.

    The customer and the agents belong to `company` only; the customer files a median
    number of tickets; the agent reads every ticket of the company (`ticket_access` all),
    the group-scoped agent those of their groups and those assigned to them; the viewer
    is a customer holding a share; `multi` belongs to several tenants.
    """
    per_user = Counter(m["user"] for m in memberships)
    here = [m for m in memberships if m["company"] == company and per_user[m["user"]] == 1]
    only_here = {m["user"]: m["role"] for m in here}
    agents = {
        level: min(m["user"] for m in here if m["role"] == "agent" and m["ticket_access"] == level)
        for level in (None, "groups")
    }
    filed = await _tickets_per_creator(db, company)
    customers = sorted(
        (u for u, r in only_here.items() if r == "customer"), key=lambda u: (filed[u], u)
    )
    customer = customers[len(customers) // 2]
    shared = db["tickets"].find(
        {"company": company, "viewers.0": {"$exists": True}}, {"viewers": 1}
    )
    shares = Counter([v async for t in shared for v in t["viewers"]])
    users = {"customer": customer, "agent": agents[None], "agent (groups)": agents["groups"]}
    viewers = sorted(set(shares) & set(customers))
    several = sorted(u for u, n in per_user.items() if n >= 2)
    users |= {"viewer": viewers[0]} if viewers else {}
    users |= {"multi": several[0]} if several else {}
    visible = {
        "customer": filed[customer] + shares[customer],
        "agent": await _open_or_assigned(db, company, agents[None]),
        "agent (groups)": await _in_groups_or_assigned(db, company, agents["groups"]),
    }
    return users, visible


async def _open_or_assigned(db: AsyncDatabase[Doc], company: ObjectId, agent: ObjectId) -> int:
    """Tickets of `company` an agent reads: all but the confidential ones not assigned to
    them (counted from the data rather than from the policy)."""
    tickets = db["tickets"].find({"company": company}, {"confidential": 1, "assigned_to": 1})
    return sum([1 async for t in tickets if not t.get("confidential") or t["assigned_to"] == agent])


async def _in_groups_or_assigned(db: AsyncDatabase[Doc], company: ObjectId, agent: ObjectId) -> int:
    """Tickets of `company` in the agent's groups (but the confidential ones) or assigned
    to them: what `groups` access reaches, counted from the data, not from the policy."""
    mine = {"company": company, "members": agent}
    groups = {g["_id"] for g in await db["groups"].find(mine, {"_id": 1}).to_list()}
    tickets = db["tickets"].find(
        {"company": company}, {"group": 1, "confidential": 1, "assigned_to": 1}
    )
    return sum(
        [
            1
            async for t in tickets
            if t["assigned_to"] == agent or (t["group"] in groups and not t.get("confidential"))
        ]
    )


async def _tickets_per_creator(db: AsyncDatabase[Doc], company: ObjectId) -> Counter[ObjectId]:
    pipeline: list[Doc] = [
        {"$match": {"company": company}},
        {"$group": {"_id": "$created_by", "n": {"$sum": 1}}},
    ]
    return Counter({g["_id"]: g["n"] async for g in await db["tickets"].aggregate(pipeline)})


@dataclass
class Run:
    """What every family of measurements works with."""

    opts: Options
    client: Client
    uri: str
    server: str
    worlds: dict[int, World]
