"""Large synthetic tenants, written straight into the database with bulk inserts.

The demo seed (a handful of users) says nothing about how authorization behaves at scale;
the benchmark and anyone sizing a deployment need tens of thousands of tickets per tenant,
seeded in seconds rather than through the API. This module writes raw documents with
exactly the field shapes of `models/*.py` (a test validates them against the models):

- users, all with one shared password hash (argon2 is slow on purpose: hashed once);
- companies whose `ticket_seq` equals their number of tickets, so the API numbers the
  next ticket correctly;
- memberships: per tenant a few admins, some agents, many customers, and a few users who
  belong to several tenants with a different role in each; of a tenant's agents, one in
  three keeps `all` ticket access, the others are scoped to their `groups`, and with four
  agents or more the last one sees only tickets `assigned` to them;
- helpdesk groups: three to eight per tenant, each agent a member of one or two (in the
  group's `members`, as the API stores them);
- tickets numbered 1..N per company, newest with the highest `_id` (ids are built from
  `created_at`), a realistic status and priority mix, created by the tenant's customers,
  most in a group, mostly assigned once worked on to staff who may hold the ticket's group
  (the API refuses other assignees), some with replies and internal notes, a few
  confidential;
- shares: tickets shared with another customer of the same tenant (in the ticket's
  `viewers`);
- each user's copy of their facts (`User.access`), written by the API's own
  `app.services.user_facts.rebuild` from the records above.

`scripts/seed.py --tenants T --tickets-per-tenant N --users-per-tenant U` and
`scripts/bench` call `seed_synthetic`, with the Beanie documents bound to the same database
(the copies are rebuilt through them). Calling it again on the same database adds new
tenants after the existing synthetic ones instead of colliding with them.

`generate` makes the documents in memory; `writer` inserts them in bulk; `seed_synthetic`,
here, puts the two together.
"""

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from app.security import hash_password
from models import Company, Group, Membership, Ticket, User
from scripts.synthetic.generate import (
    NAME_PREFIX,
    PASSWORD,
    Doc,
    Ids,
    ms,
    organise,
    ticket,
    ticket_times,
    users_and_tenants,
)
from scripts.synthetic.writer import BATCH, Writer, progress_bar, rebuild_copies

USERS = str(User.Settings.name)
COMPANIES = str(Company.Settings.name)
MEMBERSHIPS = str(Membership.Settings.name)
TICKETS = str(Ticket.Settings.name)
GROUPS = str(Group.Settings.name)


async def _first_free_index(db: AsyncDatabase[Doc]) -> int:
    """The index after the last synthetic tenant already in `db` (0 when there is none)."""
    names = (
        await db[COMPANIES]
        .find({"name": {"$regex": f"^{NAME_PREFIX}"}}, {"name": 1, "_id": 0})
        .to_list()
    )
    used = [
        int(n["name"].removeprefix(NAME_PREFIX))
        for n in names
        if n["name"].removeprefix(NAME_PREFIX).isdigit()
    ]
    return max(used, default=-1) + 1


async def seed_synthetic(
    db: AsyncDatabase[Doc],
    tenants: int,
    tickets_per_tenant: int,
    users_per_tenant: int,
    progress: bool = True,
    *,
    seed: int = 2026,
) -> dict[str, Any]:
    """Write `tenants` synthetic companies with their users, tickets and shares; return counts.

    Bulk `insert_many` of raw documents (the fields of `models/*.py`). The content, not the
    ids, is deterministic for a given `seed` and number of synthetic tenants already there.
    Returns the documents written per collection, the new company ids, the shared password
    and the elapsed seconds.
    """
    if tenants < 1 or tickets_per_tenant < 0 or users_per_tenant < 3:
        raise ValueError(
            "need tenants >= 1, tickets_per_tenant >= 0, users_per_tenant >= 3 "
            "(at least one admin, one agent and one customer per tenant)"
        )
    started = time.perf_counter()
    first = await _first_free_index(db)
    rng = random.Random(f"{seed}:{first}")
    ids = Ids()
    now = ms(datetime.now(UTC) - timedelta(minutes=1))
    password_hash = hash_password(PASSWORD)

    users, tenant_list = users_and_tenants(
        rng, ids, first, tenants, users_per_tenant, password_hash, now
    )
    memberships, groups = organise(ids, tenant_list, users_per_tenant)
    companies = [
        {
            "_id": t.id,
            "name": f"{NAME_PREFIX}{t.index:04d}",
            "created_by": t.admins[0],
            "ticket_seq": tickets_per_tenant,
            "owners_version": 0,
            "deleting": False,
            "created_at": t.created_at,
            "updated_at": t.created_at,
        }
        for t in tenant_list
    ]
    shareable = tickets_per_tenant > 0 and all(len(t.customers) > 1 for t in tenant_list)
    shares_per_tenant = max(1, tickets_per_tenant // 200) if shareable else 0

    bar = progress_bar() if progress else None
    writer = Writer(db, bar)
    for name, total in (
        (USERS, len(users)),
        (COMPANIES, len(companies)),
        (MEMBERSHIPS, len(memberships)),
        (GROUPS, len(groups)),
        (TICKETS, tenants * tickets_per_tenant),
    ):
        writer.expect(name, total)
    if bar is not None:
        bar.start()
    try:
        for name, docs in (
            (USERS, users),
            (COMPANIES, companies),
            (MEMBERSHIPS, memberships),
            (GROUPS, groups),
        ):
            for k in range(0, len(docs), BATCH):
                await writer.insert(name, docs[k : k + BATCH])
        replies = shares = 0
        for tenant in tenant_list:
            shared = set(rng.sample(range(1, tickets_per_tenant + 1), shares_per_tenant))
            batch: list[Doc] = []
            for number, created in enumerate(ticket_times(rng, tickets_per_tenant, now), 1):
                doc = ticket(rng, ids, tenant, number, created, now, number in shared)
                replies += len(doc["replies"])
                shares += len(doc["viewers"])
                batch.append(doc)
                if len(batch) == BATCH:
                    await writer.insert(TICKETS, batch)
                    batch = []
            await writer.insert(TICKETS, batch)
        await writer.drain()
        await rebuild_copies(db, [u["_id"] for u in users])
    finally:
        await writer.cancel()
        if bar is not None:
            bar.stop()
    return {
        "tenants": tenants,
        "companies": [t.id for t in tenant_list],
        "users": writer.counts[USERS],
        "memberships": writer.counts[MEMBERSHIPS],
        "groups": writer.counts[GROUPS],
        "tickets": writer.counts[TICKETS],
        "replies": replies,
        "shares": shares,
        "password": PASSWORD,
        "seconds": time.perf_counter() - started,
    }
