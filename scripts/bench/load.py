"""The API under concurrent load, as its own process (`authz_overhead`, `api_cpu_ratio`,
route latencies).

`authz_overhead` divides the median latency of `GET /tickets?company_id=..&limit=50`, as
an agent, by that of `GET /bench/tickets-unauthorized` with the same parameters and the
agent's filter and read projection compiled beforehand (by this process): the same
authentication (one read of the user), query and rendering, without the principal, its
compilation or the internal-notes decisions (`app/routers/bench.py`, mounted with
`BENCH_ROUTES=1` in development only), which is the limit. Both send the very same query
(the policy's conditions included: an agent's filter leaves out the confidential tickets
not assigned to them; and the viewers cut down to the agent's own entry), and both pages
are checked equal. The clients send the two routes interleaved (A B A B ...) so
noise hits both alike; each round gives one ratio.

`api_cpu_ratio` divides the API process's CPU per `GET /tickets` (a page of 50, as the
agent) by that of `GET /bench/tickets-raw`, the floor of any such route: the same
precompiled filter sent through PyMongo and the documents encoded with orjson, with no
authentication, validation or authorization. One client sends blocks of each route alone,
in alternating order; each pair of blocks gives one ratio (CPU from the scheduler's
nanosecond counts of the API's threads).
"""

import asyncio
import itertools
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from bson import ObjectId, json_util
from pydantic import SecretStr

from app.config import Settings
from app.security import create_access_token
from authz.engine import default_engine
from authz.scope import Scope
from models import Ticket
from scripts.bench.api import Api, api_environment, api_process
from scripts.bench.lists import PAGE
from scripts.bench.results import Figure, Ratio, Section, percentile
from scripts.bench.world import Run, World

Job = tuple[str, str, str, dict[str, Any] | None]  # label, method, url, JSON body
Latencies = dict[str, list[float]]  # label -> milliseconds
EXPECTED = {"GET": 200, "POST": 201}
AUTHORIZED, BASELINE = "GET /tickets", "GET /bench/tickets-unauthorized"
FLOOR = "GET /bench/tickets-raw"
TICKETS = 200  # distinct tickets read and replied to under load


async def drive(
    client: httpx.AsyncClient, jobs: Iterator[Job], clients: int, seconds: float = 0
) -> Latencies:
    """Milliseconds per label of `jobs` sent by `clients` concurrent clients, until the
    jobs run out or `seconds` (when given) have passed; any unexpected status raises."""
    latencies: Latencies = defaultdict(list)
    deadline = time.monotonic() + seconds if seconds else float("inf")

    async def one_client() -> None:
        for label, method, url, body in jobs:  # one iterator, shared by every client
            started = time.perf_counter()
            response = await client.request(method, url, json=body)
            latencies[label].append((time.perf_counter() - started) * 1000)
            if response.status_code != EXPECTED[method]:
                raise RuntimeError(f"{method} {url} -> {response.status_code}: {response.text}")
            if time.monotonic() > deadline:
                return

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies


def _list_jobs(
    company: ObjectId,
    compiled: dict[str, Any] | None = None,
    projection: dict[str, Any] | None = None,
) -> dict[str, Job]:
    """The list, and its baselines sent the agent's filter and read projection compiled
    beforehand (the very same query: the conditions of the policy, `confidential` among
    them, are in both, and the viewers are cut down to the agent's own entry in both)."""
    query = f"?company_id={company}&limit={PAGE}"
    if compiled is not None:
        query += "&" + urlencode({"filter": json_util.dumps(compiled)})
    if projection is not None:
        query += "&" + urlencode({"projection": json_util.dumps(projection)})
    return {
        AUTHORIZED: (AUTHORIZED, "GET", f"/tickets?company_id={company}&limit={PAGE}", None),
        BASELINE: (BASELINE, "GET", "/bench/tickets-unauthorized" + query, None),
        FLOOR: (FLOOR, "GET", "/bench/tickets-raw" + query, None),
    }


async def _same_page(client: httpx.AsyncClient, jobs: dict[str, Job]) -> None:
    """The three routes answer the same page (the floor as stored documents)."""
    pages = {label: (await client.get(job[2])).json()["items"] for label, job in jobs.items()}
    if pages[AUTHORIZED] != pages[BASELINE]:
        raise RuntimeError("the authorized and unauthorized routes return different pages")
    if [t["id"] for t in pages[AUTHORIZED]] != [d["_id"] for d in pages[FLOOR]]:
        raise RuntimeError("the list and its floor return different tickets")


async def _overhead(client: httpx.AsyncClient, jobs: dict[str, Job], run: Run) -> Latencies:
    """Both routes interleaved, round by round; one ratio per round under `ratios`."""
    pair = [jobs[AUTHORIZED], jobs[BASELINE]]
    await drive(client, iter(pair * run.opts.clients), run.opts.clients)  # warm-up
    total: Latencies = defaultdict(list)
    for _ in range(run.opts.rounds):
        got = await drive(client, iter(pair * run.opts.requests), run.opts.clients)
        total["ratios"].append(
            statistics.median(got[AUTHORIZED]) / statistics.median(got[BASELINE])
        )
        for label in (AUTHORIZED, BASELINE):
            total[label] += got[label]
    return total


@dataclass(frozen=True)
class Alone:
    """Per route, one request at a time: the median latency without queueing, and the API
    process's CPU milliseconds per request in each block of that route alone."""

    latency: dict[str, float]
    cpu: dict[str, list[float]]

    def cpu_ms(self, label: str) -> float:
        """The route's median CPU per request over the blocks."""
        return statistics.median(self.cpu[label])


async def _one_client(
    client: httpx.AsyncClient, api: Api, jobs: dict[str, Job], blocks: int = 12, size: int = 20
) -> Alone:
    """Latency with the routes interleaved; CPU from blocks of each route alone, in
    alternating order, read from the scheduler's nanosecond counts (`Api.cpu_ms`)."""
    latencies = await drive(client, iter(list(jobs.values()) * (blocks * size // 3)), 1)
    cpu: dict[str, list[float]] = defaultdict(list)
    for block in range(blocks):
        for label, job in list(jobs.items())[:: 1 if block % 2 == 0 else -1]:
            before = api.cpu_ms()
            await drive(client, iter([job] * size), 1)
            cpu[label].append((api.cpu_ms() - before) / size)
    return Alone({k: statistics.median(v) for k, v in latencies.items()}, dict(cpu))


def _route_jobs(ids: list[ObjectId], company: ObjectId) -> dict[str, Iterator[Job]]:
    """Endless jobs per route: the list, a ticket, a reply (spread over `ids`)."""
    reply = {"body": "Looking into it.", "internal": False}
    return {
        "GET /tickets": itertools.repeat(_list_jobs(company)[AUTHORIZED]),
        "GET /tickets/{id}": (
            ("GET /tickets/{id}", "GET", f"/tickets/{i}", None) for i in itertools.cycle(ids)
        ),
        "POST /tickets/{id}/replies": (
            ("POST /tickets/{id}/replies", "POST", f"/tickets/{i}/replies", reply)
            for i in itertools.cycle(ids)
        ),
    }


async def _route_loads(
    client: httpx.AsyncClient, routes: dict[str, Iterator[Job]], run: Run
) -> list[list[str]]:
    """Each route alone under the clients for `load_seconds`: percentiles, throughput."""
    rows = [["route", "p50", "p95", "p99", "throughput", "requests"]]
    for label, jobs in routes.items():
        started = time.perf_counter()
        got = (await drive(client, jobs, run.opts.clients, run.opts.load_seconds))[label]
        rate = len(got) / (time.perf_counter() - started)
        cells = [f"{percentile(got, p):,.1f} ms" for p in (50, 95, 99)]
        rows.append([label, *cells, f"{rate:,.0f} req/s", f"{len(got):,}"])
    return rows


def _token(run: Run, world: World, user: ObjectId, secret: str) -> str:
    settings = Settings(
        environment="development",
        mongodb_uri=run.uri,
        mongodb_db=world.name,
        jwt_secret=SecretStr(secret),
        bench_routes=True,
    )
    return create_access_token(str(user), settings).access_token


async def measure(run: Run) -> Section:
    """`authz_overhead`, the same routes one client at a time, and each route under load."""
    world, secret = run.worlds[run.opts.http_size], secrets.token_urlsafe(48)
    agent = world.principals["agent"].user_id
    headers = {"Authorization": f"Bearer {_token(run, world, agent, secret)}"}
    compiled = default_engine().query_filter(world.principals["agent"], "ticket:read", "ticket")
    readable = {"$and": [compiled, {"company": world.company}]}  # the tickets the agent reads
    found = world.db["tickets"].find(readable, {"_id": 1}).sort("_id", -1)
    ids = [d["_id"] for d in await found.limit(TICKETS).to_list()]
    projection = Scope(default_engine(), world.principals["agent"]).projection(Ticket, "ticket")
    jobs = _list_jobs(world.company, compiled, projection)
    limits = httpx.Limits(max_connections=run.opts.clients)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        async with (
            api_process(api_environment(run.uri, world.name, secret), Path(tmp) / "api.log") as api,
            httpx.AsyncClient(
                base_url=api.base_url, headers=headers, timeout=300, limits=limits
            ) as client,
        ):
            await _same_page(client, jobs)
            overhead = await _overhead(client, jobs, run)
            alone = await _one_client(client, api, jobs)
            table = await _route_loads(client, _route_jobs(ids, world.company), run)
            api.sample_memory()
    return _section(run, overhead, alone, table, api.peak_rss)


def _section(
    run: Run,
    overhead: Latencies,
    alone: Alone,
    table: list[list[str]],
    peak_rss: int,
) -> Section:
    loaded = {k: statistics.median(overhead[k]) for k in (AUTHORIZED, BASELINE)}
    ratio = Ratio(
        "authz_overhead",
        overhead["ratios"],
        f"`{AUTHORIZED}` median latency over the same query without authorization, "
        f"{run.opts.clients} clients, routes interleaved",
        f"without authorization {loaded[BASELINE]:,.1f} ms, with {loaded[AUTHORIZED]:,.1f} ms",
    )
    cpu = Ratio(
        "api_cpu_ratio",
        [a / b for a, b in zip(alone.cpu[AUTHORIZED], alone.cpu[FLOOR], strict=True)],
        f"API CPU per `{AUTHORIZED}` (a page of {PAGE}) over `{FLOOR}`, the same precompiled "
        "filter through PyMongo and the documents in orjson (no authentication, validation "
        "or authorization), in blocks of each alone, one client",
        f"the floor {alone.cpu_ms(FLOOR):.2f} ms, the list {alone.cpu_ms(AUTHORIZED):.2f} ms",
    )
    figures = [
        Figure(
            "GET /tickets, one client",
            f"{alone.latency[AUTHORIZED]:.1f} ms",
            f"without authorization {alone.latency[BASELINE]:.1f} ms, "
            f"the floor {alone.latency[FLOOR]:.1f} ms",
        ),
        Figure(
            "API CPU per GET /tickets",
            f"{alone.cpu_ms(AUTHORIZED):.2f} ms",
            f"without authorization {alone.cpu_ms(BASELINE):.2f} ms, "
            f"the floor {alone.cpu_ms(FLOOR):.2f} ms",
        ),
        Figure("API peak memory", f"{peak_rss / 2**20:.0f} MiB", "resident, over the HTTP part"),
    ]
    title = f"HTTP ({run.opts.http_size:,} tickets/tenant, as an agent)"
    return Section(title, [ratio, cpu], figures, [_NOTE.format(c=run.opts.clients)], table)


_NOTE = (
    "The API runs as its own process (`python -m app`), the clients in this one. Both "
    "routes authenticate the same way and make the same two round trips (the user "
    "document, which carries the caller's memberships and groups, then the page); the "
    "authorized one adds only CPU: the principal built from the user's copy of their facts, "
    "the compiled filter, and the read projection (one engine check per ticket: may the "
    "caller see internal notes?). Under load ({c} clients) a request's latency is mostly "
    "its turns of the event loop behind the others, so each extra wait costs far more than "
    "its CPU: plain `def` dependencies, which FastAPI runs in its thread pool, made the "
    "list 1.4 times slower than its baseline under this load until they became `async def` "
    "(`app/deps.py`). *One client* sends each route alone, one request at a time, which "
    "shows latency without queueing and the API's CPU per request. The route table is each "
    "route alone under the same load, as the same agent: the list, one of 200 tickets in "
    "turn, and a public reply to one of them."
)
