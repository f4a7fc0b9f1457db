"""Live updates fanned out: what a change costs the API, and how fast it arrives
(`events_tenant_isolation`).

A world of its own: 10 synthetic tenants of 100 members each (admins, agents at every
access level, customers). Two API processes follow the same database: *alone* serves the
100 members of tenant 0, *crowded* the same 100 and the 900 members of the nine other
tenants (1,000 streams), each subscriber narrowed to their own tenant (`company_id`). Then
100 changes to tickets of tenant 0, written by this process one after another: both
processes receive each change at the same moment, so their CPU per change is measured side
by side, round by round (`events_tenant_isolation` = crowded over alone; the goal says
subscribers elsewhere cost nothing). Beside it: delivery latency from the write's
acknowledgement to the event's arrival at a subscriber of the crowded process, that of a
bare `watch()` in this process (no authorization, no HTTP), the deliveries expected and
made, and how many events reached someone who may not read the ticket (must be 0).
"""

import asyncio
import contextlib
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from pydantic import SecretStr

from app.config import Settings
from app.security import create_access_token
from authz.engine import default_engine
from authz.facts import load_principal
from scripts.bench.api import Api, api_environment, api_process
from scripts.bench.results import Figure, Ratio, Section, percentile
from scripts.bench.world import Run, bind
from scripts.synthetic import seed_synthetic

TENANTS = 10
MEMBERS = 100
TICKETS = 200  # per tenant
CHANGES = 100
ROUNDS = 5
SPACING = 0.03  # seconds between two changes: latency, not throughput, is measured
SUBJECT = "live change "


@dataclass
class Received:
    """What one subscriber got: change number -> arrival time."""

    user: ObjectId
    arrivals: dict[int, float] = field(default_factory=dict)
    open: asyncio.Event = field(default_factory=asyncio.Event)


async def _listen(client: httpx.AsyncClient, token: str, company: ObjectId, got: Received) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    params = {"company_id": str(company)}
    async with client.stream("GET", "/events", headers=headers, params=params) as response:
        response.raise_for_status()
        name = ""
        async for line in response.aiter_lines():
            if line.startswith(":"):
                got.open.set()  # the stream's first line: it is registered
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name in ("ticket.updated", "ticket.created"):
                subject = json.loads(line[6:])["ticket"]["subject"]
                if subject.startswith(SUBJECT):
                    got.arrivals[int(subject[len(SUBJECT) :])] = time.perf_counter()


@contextlib.asynccontextmanager
async def _subscribed(
    api: Api, streams: list[tuple[ObjectId, ObjectId, str]]
) -> AsyncIterator[dict[ObjectId, Received]]:
    """`streams` (user, company, token) open on `api` for the block, all of them open."""
    limits = httpx.Limits(max_connections=len(streams) + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(60, read=None)
    received = {user: Received(user) for user, _, _ in streams}
    async with httpx.AsyncClient(base_url=api.base_url, limits=limits, timeout=timeout) as c:
        tasks = [
            asyncio.create_task(_listen(c, token, company, received[user]))
            for user, company, token in streams
        ]
        try:
            opened = asyncio.gather(*(r.open.wait() for r in received.values()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(opened, 120)
            failed = [t.exception() for t in tasks if t.done() and not t.cancelled()]
            if failed or not all(r.open.is_set() for r in received.values()):
                raise RuntimeError(f"live-update streams did not open: {failed[:1]}")
            yield received
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def measure(run: Run) -> Section:
    """The live-updates family: two API processes, 100 and 1,000 subscribers, 100 changes."""
    db = run.client[f"bench_events_{id(run)}"]
    await bind(run.client, db.name)
    await seed_synthetic(db, TENANTS, TICKETS, MEMBERS, progress=False)
    try:
        return await _measure(run, db)
    finally:
        await run.client.drop_database(db.name)


async def _measure(run: Run, db: Any) -> Section:
    companies = [
        c["_id"] for c in await db["companies"].find({}, {"_id": 1}).sort("name", 1).to_list()
    ]
    measured = companies[0]
    secret = secrets.token_urlsafe(48)
    settings = Settings(
        environment="development", mongodb_uri=run.uri, mongodb_db=db.name,
        jwt_secret=SecretStr(secret), bench_routes=True,
    )  # fmt: skip
    home: dict[ObjectId, ObjectId] = {}
    for m in await db["memberships"].find({}, {"user": 1, "company": 1}).to_list():
        home.setdefault(m["user"], m["company"])  # one stream per user, in one tenant
    members = await db["memberships"].find({"company": measured}, {"user": 1}).to_list()
    mine = {m["user"] for m in members}

    def token(user: ObjectId) -> str:
        return create_access_token(str(user), settings).access_token

    streams = {
        user: (user, measured if user in mine else company, token(user))
        for user, company in home.items()
    }
    alone = [streams[u] for u in sorted(mine)]
    crowded = (
        alone
        + [s for u, s in sorted(streams.items()) if u not in mine][: TENANTS * MEMBERS - len(alone)]
    )
    tickets = [
        t["_id"] for t in await db["tickets"].find({"company": measured}, {"_id": 1}).to_list()
    ]
    env = api_environment(run.uri, db.name, secret)
    engine = default_engine()
    principals = {user: await load_principal(user) for user, _, _ in crowded}
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        async with (
            api_process(env, Path(tmp) / "alone.log") as api_alone,
            api_process(env, Path(tmp) / "crowded.log") as api_crowded,
            _subscribed(api_alone, alone) as got_alone,
            _subscribed(api_crowded, crowded) as got_crowded,
        ):
            bare: dict[int, float] = {}
            watcher = asyncio.create_task(_bare_watch(db, bare))
            await asyncio.sleep(0.5)
            acks: dict[int, float] = {}
            docs: dict[int, dict[str, Any]] = {}
            ratios: list[float] = []
            cpu_alone: list[float] = []
            cpu_crowded: list[float] = []
            per_round = CHANGES // ROUNDS
            for r in range(ROUNDS):
                before = (api_alone.cpu_ms(), api_crowded.cpu_ms())
                for i in range(per_round):
                    n = r * per_round + i
                    ticket = tickets[n % len(tickets)]
                    await db["tickets"].update_one(
                        {"company": measured, "_id": ticket},
                        {"$set": {"subject": f"{SUBJECT}{n}", "priority": ("low", "high")[n % 2]}},
                    )
                    acks[n] = time.perf_counter()
                    docs[n] = await db["tickets"].find_one({"_id": ticket})
                    await asyncio.sleep(SPACING)
                await asyncio.sleep(1.0)  # the last deliveries land
                spent = (api_alone.cpu_ms() - before[0], api_crowded.cpu_ms() - before[1])
                cpu_alone.append(spent[0] / per_round)
                cpu_crowded.append(spent[1] / per_round)
                ratios.append(spent[1] / spent[0] if spent[0] else float("nan"))
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    return _section(engine, principals, docs, acks, bare, got_alone, got_crowded, ratios,
                    cpu_alone, cpu_crowded, len(alone), len(crowded))  # fmt: skip


async def _bare_watch(db: Any, arrivals: dict[int, float]) -> None:
    async with await db["tickets"].watch([{"$match": {"operationType": "update"}}]) as stream:
        async for change in stream:
            subject = change["updateDescription"]["updatedFields"].get("subject", "")
            if subject.startswith(SUBJECT):
                arrivals[int(subject[len(SUBJECT) :])] = time.perf_counter()


@dataclass
class Tally:
    """One process's deliveries, each checked against `Engine.check` on the ticket."""

    expected: int = 0
    made: int = 0
    missing: int = 0
    leaks: int = 0  # events to someone who may not read the ticket
    latencies: list[float] = field(default_factory=list)  # ms, write ack -> arrival


def _tally(engine: Any, principals: dict[ObjectId, Any], docs: dict[int, dict[str, Any]],
           acks: dict[int, float], got: dict[ObjectId, Received]) -> Tally:  # fmt: skip
    tally = Tally()
    for user, received in got.items():
        for n, doc in docs.items():
            resource = engine.resource_of("ticket", doc)
            may = engine.check(principals[user], "ticket:read", resource).allowed
            arrived = received.arrivals.get(n)
            tally.made += arrived is not None
            if not may:
                tally.leaks += arrived is not None
            elif arrived is None:
                tally.expected += 1
                tally.missing += 1
            else:
                tally.expected += 1
                tally.latencies.append((arrived - acks[n]) * 1000)
    return tally


def _section(engine: Any, principals: dict[ObjectId, Any], docs: dict[int, dict[str, Any]],
             acks: dict[int, float], bare: dict[int, float], got_alone: dict[ObjectId, Received],
             got_crowded: dict[ObjectId, Received], ratios: list[float], cpu_alone: list[float],
             cpu_crowded: list[float], n_alone: int, n_crowded: int) -> Section:  # fmt: skip
    crowded = _tally(engine, principals, docs, acks, got_crowded)
    alone = _tally(engine, principals, docs, acks, got_alone)
    latencies = crowded.latencies
    leaks, missing = crowded.leaks + alone.leaks, crowded.missing + alone.missing
    bare_ms = [(bare[n] - acks[n]) * 1000 for n in bare if n in acks]
    ratio = Ratio(
        "events_tenant_isolation",
        ratios,
        f"API CPU per change with {n_crowded:,} subscribers in {TENANTS} tenants over the same "
        f"with the {n_alone} subscribers of the changed tenant (two processes, the same changes)",
        f"{statistics.median(cpu_alone):.2f} ms of CPU per change with {n_alone} subscribers, "
        f"{statistics.median(cpu_crowded):.2f} ms with {n_crowded:,}",
    )
    figures = [
        Figure(
            "delivery p50",
            f"{percentile(latencies, 50):.1f} ms",
            "write acknowledged -> event read by the subscriber (crowded process)",
        ),
        Figure("delivery p95", f"{percentile(latencies, 95):.1f} ms", ""),
        Figure("delivery p99", f"{percentile(latencies, 99):.1f} ms", ""),
        Figure(
            "bare change stream p50",
            f"{percentile(bare_ms, 50):.1f} ms",
            "a watch() in the benchmark process: no authorization, no HTTP",
        ),
        Figure("bare change stream p95", f"{percentile(bare_ms, 95):.1f} ms", ""),
        Figure(
            "deliveries",
            f"{crowded.made:,} of {crowded.expected:,} expected",
            f"{missing} missing; the alone process made {alone.made:,} of {alone.expected:,}",
        ),
        Figure("events to someone who may not read the ticket", f"{leaks}", "goal: 0"),
    ]
    if leaks or missing:
        raise RuntimeError(
            f"live updates delivered {leaks} event(s) to subscribers who may not read the "
            f"ticket and missed {missing}: the delivery rule is broken"
        )
    return Section("Live updates", [ratio], figures, [_NOTE])


_NOTE = (
    "Each change is checked, for every subscriber of the crowded process, against "
    "`Engine.check` on the ticket as written: an event to someone who may not read it, or "
    "a missing one, fails the run. The changes are spaced so that each is delivered before "
    "the next: the latency is that of one change, not of a queue."
)
