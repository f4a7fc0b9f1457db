"""What a request costs its caller as things are shared with them, and as they join more
companies (`grants_scaling`, `grants_facts_scaling`).

In the largest world (100,000 tickets per tenant), a customer of the measured tenant, the
*lead*, is copied on every ticket of it, as a customer's IT lead is copied on their
colleagues' tickets: every ticket gets the lead in its `viewers`, the very write a share
makes (`$addToSet`). Then, through one API process, each pair of requests interleaved
(A B A B ...) and one ratio per round:

- `grants_scaling`: the lead's first page over the first page of the agent who reads the
  same tickets through their role (`all` access): the same number of matches, so whatever
  the server's scan costs, it costs both the same;
- `grants_facts_scaling`: the lead's `GET /auth/me` (every request reads the caller's
  user document) over a customer's with nothing shared.

Beside them: the lead's user document and compiled filter at 0 and at every ticket shared
(the goal: the same within 1 KiB), and the first page of a customer of 200 companies beside
that of a customer of one with as many tickets.
"""

import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import httpx
from bson import ObjectId
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from app.config import Settings
from app.security import create_access_token
from app.services.user_facts import rebuild
from authz.engine import default_engine
from authz.facts import load_principal
from scripts.bench.api import api_environment, api_process
from scripts.bench.lists import PAGE
from scripts.bench.results import Figure, Ratio, Section
from scripts.bench.world import Run, World, bind

COMPANIES = 200  # the companies of the many-company customer
PER_ROUND = 10  # requests of each side per round

Pair = tuple[list[float], float, float]  # per-round ratios, median ms of A, of B


@dataclass(frozen=True)
class Sizes:
    """What a request reads about the lead, at one end."""

    user_bytes: int
    filter_bytes: int


async def _sizes(db: AsyncDatabase[Any], user: ObjectId) -> Sizes:
    doc = await db["users"].find_one({"_id": user})
    assert doc is not None  # noqa: S101 - a persona the world was built with
    principal = await load_principal(user)
    flt = default_engine().query_filter(principal, "ticket:read", "ticket")
    return Sizes(len(bson.encode(doc)), len(bson.encode(flt)))


async def _customers(world: World) -> tuple[ObjectId, ObjectId]:
    """Two customers of the measured tenant only, with nothing shared with them: the lead,
    and the one who stays so."""
    memberships = world.memberships
    companies_of: dict[ObjectId, int] = {}
    for m in memberships:
        companies_of[m["user"]] = companies_of.get(m["user"], 0) + 1
    candidates = sorted(
        m["user"]
        for m in memberships
        if m["company"] == world.company
        and m["role"] == "customer"
        and companies_of[m["user"]] == 1
    )
    chosen: list[ObjectId] = []
    for user in candidates:
        if not await world.db["tickets"].find_one({"company": world.company, "viewers": user}):
            chosen.append(user)
        if len(chosen) == 2:
            return chosen[0], chosen[1]
    raise RuntimeError("the world has fewer than two customers with nothing shared")


async def _share_everything(world: World, lead: ObjectId) -> int:
    """Every ticket of the tenant shared with the lead, as a share writes it."""
    result = await world.db["tickets"].update_many(
        {"company": world.company}, {"$addToSet": {"viewers": lead}}
    )
    return result.modified_count


async def _many_companies(world: World) -> tuple[ObjectId, ObjectId]:
    """A customer of COMPANIES small companies (one ticket of theirs in each), and a
    customer of one company with as many tickets, written as the API leaves them."""
    db, now = world.db, datetime.now(UTC)
    many, one = ObjectId(), ObjectId()
    companies = [ObjectId() for _ in range(COMPANIES + 1)]
    await db["users"].insert_many(
        [
            {
                "_id": u,
                "username": f"bench-{u}",
                "email": f"bench-{u}@bench.example",
                "password_hash": None,
                "idp_subject": None,
                "created_at": now,
                "updated_at": now,
            }
            for u in (many, one)
        ]
    )
    await db["companies"].insert_many(
        [
            {
                "_id": c,
                "name": f"Bench {c}",
                "created_by": many,
                "ticket_seq": COMPANIES if c == companies[-1] else 1,
                "owners_version": 0,
                "deleting": False,
                "created_at": now,
                "updated_at": now,
            }
            for c in companies
        ]
    )
    await db["memberships"].insert_many(
        [
            {
                "user": many if c != companies[-1] else one,
                "company": c,
                "role": "customer",
                "ticket_access": None,
                "created_at": now,
                "updated_at": now,
            }
            for c in companies
        ]
    )

    def ticket(company: ObjectId, creator: ObjectId, number: int) -> dict[str, Any]:
        return {
            "company": company,
            "number": number,
            "subject": "Printer on fire",
            "description": "Smoke.",
            "status": "open",
            "priority": "normal",
            "created_by": creator,
            "assigned_to": None,
            "group": None,
            "viewers": [],
            "replies": [],
            "created_at": now,
            "updated_at": now,
        }

    await db["tickets"].insert_many(
        [ticket(c, many, 1) for c in companies[:-1]]
        + [ticket(companies[-1], one, n) for n in range(1, COMPANIES + 1)]
    )
    await rebuild([many, one])
    return many, one


def _token(run: Run, world: World, user: ObjectId, secret: str) -> dict[str, str]:
    settings = Settings(
        environment="development",
        mongodb_uri=run.uri,
        mongodb_db=world.name,
        jwt_secret=SecretStr(secret),
        bench_routes=True,
    )
    return {"Authorization": f"Bearer {create_access_token(str(user), settings).access_token}"}


async def _pair(
    client: httpx.AsyncClient,
    a: tuple[str, dict[str, str]],
    b: tuple[str, dict[str, str]],
    rounds: int,
) -> Pair:
    """Requests A and B interleaved, one at a time: each round's median ratio, and the
    overall medians in milliseconds."""

    async def once(url: str, headers: dict[str, str]) -> float:
        started = time.perf_counter()
        r = await client.get(url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"GET {url} -> {r.status_code}: {r.text}")
        return elapsed

    for _ in range(2):  # warm-up
        await once(*a)
        await once(*b)
    ratios: list[float] = []
    every: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(rounds):
        got: dict[str, list[float]] = {"a": [], "b": []}
        for _ in range(PER_ROUND):
            got["a"].append(await once(*a))
            got["b"].append(await once(*b))
        ratios.append(statistics.median(got["a"]) / statistics.median(got["b"]))
        every["a"] += got["a"]
        every["b"] += got["b"]
    return ratios, statistics.median(every["a"]), statistics.median(every["b"])


async def _full_pages(client: httpx.AsyncClient, url: str, *headers: dict[str, str]) -> None:
    """Both sides return a full page (else the comparison would flatter one of them)."""
    sizes = [len((await client.get(url, headers=h)).json()["items"]) for h in headers]
    if sizes != [PAGE] * len(headers):
        raise RuntimeError(f"the first pages are not full: {sizes}")


async def measure(run: Run) -> Section:
    """`grants_scaling`, `grants_facts_scaling`, and what a request reads about its caller."""
    world = run.worlds[max(run.worlds)]
    await bind(run.client, world.name)
    lead, unshared = await _customers(world)
    before = await _sizes(world.db, lead)
    shared = await _share_everything(world, lead)
    after = await _sizes(world.db, lead)
    many, one = await _many_companies(world)
    agent = world.principals["agent"].user_id
    secret = secrets.token_urlsafe(48)
    auth = {u: _token(run, world, u, secret) for u in (lead, unshared, agent, many, one)}
    page = f"/tickets?limit={PAGE}"
    rounds = run.opts.rounds
    with tempfile.TemporaryDirectory(prefix="bench-grants-") as tmp:
        env = api_environment(run.uri, world.name, secret)
        async with (
            api_process(env, Path(tmp) / "api.log") as api,
            httpx.AsyncClient(base_url=api.base_url, timeout=300) as client,
        ):
            await _full_pages(client, page, auth[lead], auth[agent], auth[many], auth[one])
            lists = await _pair(client, (page, auth[lead]), (page, auth[agent]), rounds)
            me = await _pair(client, ("/auth/me", auth[lead]), ("/auth/me", auth[unshared]), rounds)
            others = {
                url: await _pair(client, (url, auth[lead]), (url, auth[unshared]), rounds)
                for url in ("/companies", "/me/permissions")
            }
            tenants = await _pair(client, (page, auth[many]), (page, auth[one]), rounds)
    return _section(world, shared, before, after, lists, me, others, tenants)


def _section(
    world: World,
    shared: int,
    before: Sizes,
    after: Sizes,
    lists: Pair,
    me: Pair,
    others: dict[str, Pair],
    tenants: Pair,
) -> Section:
    ratios = [
        Ratio(
            "grants_scaling",
            lists[0],
            f"a customer's first page with {shared:,} tickets shared with them, over an "
            "agent's first page over the same tickets through their role",
            f"the agent's page {lists[2]:,.1f} ms, the customer's {lists[1]:,.1f} ms",
        ),
        Ratio(
            "grants_facts_scaling",
            me[0],
            "`GET /auth/me` of that customer over a customer's with nothing shared",
            f"nothing shared {me[2]:,.1f} ms, {shared:,} shared {me[1]:,.1f} ms",
        ),
    ]

    def kib(n: int) -> str:
        return f"{n / 1024:,.2f} KiB"

    figures = [
        Figure(
            "the customer's user document",
            f"{kib(before.user_bytes)} -> {kib(after.user_bytes)}",
            f"with 0 and {shared:,} tickets shared (goal: the same within 1 KiB)",
        ),
        Figure(
            "the customer's compiled filter",
            f"{kib(before.filter_bytes)} -> {kib(after.filter_bytes)}",
            f"with 0 and {shared:,} tickets shared (goal: the same within 1 KiB)",
        ),
        *(
            Figure(
                f"GET {url}, {shared:,} tickets shared",
                f"{pair[1]:,.1f} ms",
                f"nothing shared {pair[2]:,.1f} ms (ratio {statistics.median(pair[0]):.2f})",
            )
            for url, pair in others.items()
        ),
        Figure(
            f"first page, a customer of {COMPANIES} companies",
            f"{tenants[1]:,.1f} ms",
            f"a customer of one company with as many tickets: {tenants[2]:,.1f} ms "
            f"(ratio {statistics.median(tenants[0]):.2f})",
        ),
    ]
    notes = [_NOTE.format(size=world.size, shared=shared, companies=COMPANIES)]
    title = f"Shares and memberships ({world.size:,} tickets/tenant, through the API)"
    return Section(title, ratios, figures, notes)


_NOTE = (
    "A share is recorded on the ticket it is about (`viewers`, at most 1,000 per ticket), "
    "never in the receiver's user document: every ticket of the measured tenant "
    "({shared:,}) was shared with one customer, and their user document and compiled "
    "filter did not change, so `GET /auth/me`, which reads the caller's facts like every "
    "request, costs them what it costs a customer with nothing shared. Their filter is "
    "`{{$or: [{{company: C, created_by: me}}, {{company: C, viewers: me}}]}}`, on the "
    "`company_creator` and `company_viewers` indexes; the agent's is `{{company: C}}`. Both "
    "match the tenant's {size:,} tickets: MongoDB stops each scan at the page, the dev "
    "database reads every match first (see *Lists*), and it does so for both. A customer "
    "of {companies} companies has a filter with {companies} company ids (bounded by their "
    "memberships, as the design allows), and their page is set beside a customer of one "
    "company who sees as many tickets."
)
