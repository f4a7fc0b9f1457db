"""`make bench`: authorization cost and list strategies, measured side by side in one run.

The claims this project makes (an embedded engine is far faster than a generic policy
library, pushing permissions into the query beats filtering in Python, authorization adds
little to a request) are only worth what their measurements are. This script makes them
reproducible on any machine: it starts its own development database (or uses
`MONGODB_URI`), seeds synthetic tenants (`scripts.synthetic`), and measures

- `check_vs_pycasbin`: decisions per second of `Engine.check` over pycasbin's `enforce`
  on the equivalent RBAC-with-domains model, on the same random requests, after checking
  that both answer every request alike;
- `pushdown_vs_post`: time to list a customer's first page with the `post` strategy over
  the `pushdown` strategy (both called in process with a loaded principal);
- `pushdown_docs_per_result`: documents the database sends per ticket returned (pushdown);
- `authz_overhead`: median latency of `GET /tickets` over the same query without
  authorization (`/bench/tickets-unauthorized`), over HTTP against a separate uvicorn
  process under concurrent load, both routes interleaved so noise hits them alike;

plus, without goals, `bulk_check` of 1,000 tickets, list latency per strategy and tenant
size, requests per second and the API's peak memory. It prints a table, writes
`docs/benchmarks.md` and `docs/benchmarks.png`, and ends with one `RATIO <name> <value>`
line per figure. Every figure is a median of repeated, interleaved runs; the machine is
assumed noisy, so only ratios measured in the same run are compared.
"""

import argparse
import asyncio
import contextlib
import os
import platform
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import casbin
import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the dependency group
from bson import ObjectId
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from rich.console import Console
from rich.table import Table

from app.config import Settings
from app.db import Database, initialise
from app.security import create_access_token
from authz.engine import Engine, Principal, Resource, default_engine
from authz.facts import load_principal
from authz.listing import STRATEGIES, ListRequest, Page
from scripts.devdb import process as devdb
from scripts.synthetic import seed_synthetic

ROOT = devdb.ROOT
MODEL = Path(__file__).with_name("casbin_model.conf")
DOCS = ROOT / "docs"
STRATEGY_ORDER = ("pushdown", "bulk", "post")
PERSONAS = ("customer", "agent")
PAGE = 50

GOALS: dict[str, tuple[str, float]] = {
    "check_vs_pycasbin": (">=", 30.0),
    "pushdown_vs_post": (">=", 20.0),
    "pushdown_docs_per_result": ("<=", 1.0),
    "authz_overhead": ("<=", 1.15),
}

Doc = dict[str, Any]
# Wide enough for the tables when the output is a file or a pipe (rich assumes 80 there).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 130)


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to seed and how hard to measure."""

    sizes: tuple[int, ...]
    tenants: int
    users_per_tenant: int
    repeat: int
    checks: int
    check_rounds: int
    http_size: int
    http_requests: int
    http_seconds: float
    concurrency: int
    rps_seconds: float
    seed_check: int
    out: Path


def parse_args(argv: Sequence[str] | None = None) -> Config:
    """Command-line options; the defaults run in a few minutes on two cores."""
    p = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "--sizes", default="1000,5000,20000", help="tickets per tenant, one database each"
    )
    p.add_argument("--tenants", type=int, default=2, help="tenants per database")
    p.add_argument("--users-per-tenant", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5, help="timed runs per list measurement")
    p.add_argument(
        "--checks", type=int, default=10_000, help="random requests for check_vs_pycasbin"
    )
    p.add_argument("--check-rounds", type=int, default=5)
    p.add_argument(
        "--http-size", type=int, default=0, help="database for the HTTP load (default: smallest)"
    )
    p.add_argument("--http-requests", type=int, default=150, help="requests per route, interleaved")
    p.add_argument(
        "--http-seconds", type=float, default=180.0, help="time cap of the interleaved phase"
    )
    p.add_argument("--concurrency", type=int, default=8, help="concurrent HTTP clients")
    p.add_argument("--rps-seconds", type=float, default=10.0, help="length of the throughput phase")
    p.add_argument(
        "--seed-check",
        type=int,
        default=100_000,
        help="also time seeding this many tickets (5 tenants) into a scratch database; 0: skip",
    )
    p.add_argument("--out", type=Path, default=DOCS, help="where benchmarks.md/.png go")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the harness")
    a = p.parse_args(argv)
    sizes = tuple(int(s) for s in a.sizes.split(","))
    if a.quick:
        sizes, a.users_per_tenant, a.repeat, a.checks, a.check_rounds = (200, 500), 20, 3, 2000, 3
        a.http_requests, a.rps_seconds, a.seed_check = 20, 3.0, 5_000
        if a.out == DOCS:  # a smoke test never overwrites the published figures
            a.out = Path(tempfile.gettempdir()) / "bench-quick"
    if min(sizes) < 1 or a.tenants < 1 or a.repeat < 1 or a.concurrency < 1:
        p.error("sizes, tenants, repeat and concurrency must be positive")
    http_size = a.http_size or min(sizes)
    if http_size not in sizes:
        p.error("--http-size must be one of --sizes")
    return Config(
        sizes=tuple(sorted(sizes)),
        tenants=a.tenants,
        users_per_tenant=a.users_per_tenant,
        repeat=a.repeat,
        checks=a.checks,
        check_rounds=a.check_rounds,
        http_size=http_size,
        http_requests=a.http_requests,
        http_seconds=a.http_seconds,
        concurrency=a.concurrency,
        rps_seconds=a.rps_seconds,
        seed_check=a.seed_check,
        out=a.out,
    )


# -- results ---------------------------------------------------------------------------------


@dataclass
class ListSample:
    """Timed runs of one (size, strategy, persona) list request."""

    seconds: list[float] = field(default_factory=list)
    docs_received: int = 0
    items: int = 0

    @property
    def median_ms(self) -> float:
        """Median latency in milliseconds."""
        return statistics.median(self.seconds) * 1000


@dataclass
class CheckResult:
    """Engine.check against pycasbin on the same requests."""

    requests: int
    allowed: int
    engine_rate: float
    casbin_rate: float
    fast_casbin_rate: float
    policies: int
    links: int

    @property
    def ratio(self) -> float:
        """Our decisions/s over the faster of the two pycasbin enforcers."""
        return self.engine_rate / max(self.casbin_rate, self.fast_casbin_rate)


@dataclass
class HttpResult:
    """The API under concurrent load."""

    size: int
    persona: str
    concurrency: int
    authorized_ms: list[float]
    unauthorized_ms: list[float]
    rps: float
    rps_requests: int
    peak_rss_mb: float
    idle_authorized_ms: float
    idle_unauthorized_ms: float
    cpu_ms: dict[str, float]  # "api|db authorized|unauthorized" -> CPU ms per request

    @property
    def ratio(self) -> float:
        """Median latency with authorization over without."""
        return statistics.median(self.authorized_ms) / statistics.median(self.unauthorized_ms)


@dataclass
class Report:
    """Everything one run measured."""

    cfg: Config
    server: str = ""
    seeds: dict[int, dict[str, Any]] = field(default_factory=dict)
    seed_check: dict[str, Any] | None = None
    lists: dict[tuple[int, str, str], ListSample] = field(default_factory=dict)
    ticket_counts: dict[tuple[int, str], int] = field(default_factory=dict)
    docs_per_result: tuple[int, int, int] = (0, 0, 0)  # received, returned, pages
    pushed_down: str = "unknown"
    check: CheckResult | None = None
    bulk_ms: float = 0.0
    http: HttpResult | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0

    def ratios(self) -> dict[str, float]:
        """The four headline figures."""
        big = max(self.cfg.sizes)
        post = self.lists[(big, "post", "customer")].median_ms
        push = self.lists[(big, "pushdown", "customer")].median_ms
        received, returned, _ = self.docs_per_result
        assert self.check is not None  # noqa: S101 - set by run()
        assert self.http is not None  # noqa: S101
        return {
            "check_vs_pycasbin": self.check.ratio,
            "pushdown_vs_post": post / push,
            "pushdown_docs_per_result": received / max(returned, 1),
            "authz_overhead": self.http.ratio,
        }


def goal_met(name: str, value: float) -> bool:
    """Whether `value` meets the goal of figure `name`."""
    op, target = GOALS[name]
    return value >= target if op == ">=" else value <= target


# -- the database ----------------------------------------------------------------------------


@contextlib.contextmanager
def database() -> Iterator[tuple[str, int | None]]:
    """(`MONGODB_URI`, None) when set, else a fresh dev database for the run and its pid."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri, None
        return
    with tempfile.TemporaryDirectory(prefix="devdb-bench-") as tmp:
        server = devdb.start(Path(tmp) / "data")
        try:
            yield server.uri, server.proc.pid
        finally:
            server.stop()


def db_name(size: int) -> str:
    """The database of one tenant size (per process, so a shared server is never clobbered)."""
    return f"bench_{os.getpid()}_{size}"


def bench_settings(uri: str, name: str, secret: str) -> Settings:
    """Settings equal to the API process's, for Beanie in process and for signing tokens."""
    return Settings(
        environment="development",
        mongodb_uri=uri,
        mongodb_db=name,
        jwt_secret=SecretStr(secret),
        bench_routes=True,
    )


async def server_version(client: AsyncMongoClient[Doc], ours: bool) -> str:
    """What the server says it is (SecantusDB names its own server and version)."""
    info = await client.admin.command("buildInfo")
    wire = info.get("version", "?")
    if "secantusVersion" not in info:
        return f"MongoDB {wire}"
    status = await client.admin.command("serverStatus")
    kind = status.get("secantus", {}).get("server", "?")
    where = " (scripts/devdb)" if ours else ""
    return f"SecantusDB {info['secantusVersion']}, {kind} server{where} (MongoDB {wire})"


@dataclass(frozen=True)
class World:
    """Who is who in one seeded database (tenant 0 is the one measured)."""

    company: ObjectId
    companies: list[ObjectId]
    memberships: list[Doc]
    customer: ObjectId  # a customer of tenant 0 only, with a median number of tickets
    agent: ObjectId  # an agent of tenant 0 only
    viewer: ObjectId | None  # a customer of tenant 0 holding a viewer grant there
    multi: ObjectId | None  # a member of several tenants with different roles
    customers: list[ObjectId]
    customer_visible: int  # tickets the customer may read (own and shared)
    agent_visible: int  # tickets the agent may read (the whole tenant)


async def discover(db: AsyncDatabase[Doc]) -> World:
    """Pick the personas from the seeded data (never from knowledge of the generator)."""
    companies = [
        c["_id"] for c in await db["companies"].find({}, {"_id": 1}).sort("name", 1).to_list()
    ]
    company = companies[0]
    memberships = (
        await db["memberships"].find({}, {"user": 1, "company": 1, "role": 1, "_id": 0}).to_list()
    )
    per_user = Counter(m["user"] for m in memberships)
    only_here = {
        m["user"]: m["role"]
        for m in memberships
        if m["company"] == company and per_user[m["user"]] == 1
    }
    customers = sorted(u for u, r in only_here.items() if r == "customer")
    agents = sorted(u for u, r in only_here.items() if r == "agent")
    counts = {
        g["_id"]: g["n"]
        async for g in await db["tickets"].aggregate(
            [
                {"$match": {"company": company}},
                {"$group": {"_id": "$created_by", "n": {"$sum": 1}}},
            ]
        )
    }
    ranked = sorted(customers, key=lambda u: (counts.get(u, 0), u))
    grants = await db["grants"].find({"company": company}, {"user": 1}).to_list()
    viewers = sorted({g["user"] for g in grants} & set(customers))
    multi = sorted(u for u, n in per_user.items() if n >= 2)
    customer = ranked[len(ranked) // 2]
    shared = sum(1 for g in grants if g["user"] == customer)
    return World(
        company,
        companies,
        memberships,
        customer,
        agents[0],
        viewers[0] if viewers else None,
        multi[0] if multi else None,
        customers,
        counts.get(customer, 0) + shared,
        sum(counts.values()),
    )


async def bind(client: AsyncMongoClient[Doc], settings: Settings) -> None:
    """Point Beanie (and so `load_principal`) at one database, with the app's indexes."""
    await initialise(Database(client, settings.mongodb_db))


# -- check_vs_pycasbin -----------------------------------------------------------------------


def _enforcers(
    engine: Engine, memberships: list[Doc], companies: list[ObjectId]
) -> tuple[Any, Any, int, int]:
    """pycasbin's plain and fast (policies indexed by domain and object) enforcers."""
    policies = [
        [role, str(c), *perm.split(":", 1)]
        for c in companies
        for role, spec in engine.policy.roles.items()
        for perm in sorted(spec.permissions)
    ]
    links = [[str(m["user"]), m["role"], str(m["company"])] for m in memberships]
    plain = casbin.Enforcer(str(MODEL))
    fast = casbin.FastEnforcer(str(MODEL), cache_key_order=[1, 2])
    for enforcer in (plain, fast):
        enforcer.add_named_policies("p", policies)
        enforcer.add_named_grouping_policies("g", links)
    return plain, fast, len(policies), len(links)


def measure_check(engine: Engine, world: World, cfg: Config) -> CheckResult:
    """Decisions per second, ours and pycasbin's, on the same random requests."""
    rng = random.Random(6)
    roles: dict[ObjectId, dict[ObjectId, str]] = {}
    for m in world.memberships:
        roles.setdefault(m["user"], {})[m["company"]] = m["role"]
    users = sorted(roles) + [ObjectId() for _ in range(max(1, len(roles) // 20))]  # strangers
    principals = {u: Principal(u, roles.get(u, {})) for u in users}
    permissions = sorted(engine.policy.permissions)
    ours: list[tuple[Principal, str, Resource]] = []
    theirs: list[tuple[str, str, str, str]] = []
    for _ in range(cfg.checks):
        user, company, perm = (
            rng.choice(users),
            rng.choice(world.companies),
            rng.choice(permissions),
        )
        rtype, action = perm.split(":", 1)
        ours.append((principals[user], perm, Resource(rtype, company)))
        theirs.append((str(user), str(company), rtype, action))
    plain, fast, n_policies, n_links = _enforcers(engine, world.memberships, world.companies)

    check = engine.check
    expected = [check(p, perm, r).allowed for p, perm, r in ours]
    for name, enforcer in (("Enforcer", plain), ("FastEnforcer", fast)):
        answers = [enforcer.enforce(*req) for req in theirs]
        wrong = [i for i, (a, b) in enumerate(zip(expected, answers, strict=True)) if a != b]
        if wrong:
            raise RuntimeError(
                f"pycasbin {name} disagrees with Engine.check on {len(wrong)} "
                f"requests, e.g. {theirs[wrong[0]]}: the models differ"
            )

    def run_ours() -> None:
        for p, perm, r in ours:
            check(p, perm, r)

    def run_theirs(enforcer: Any) -> Callable[[], None]:
        enforce = enforcer.enforce

        def go() -> None:
            for req in theirs:
                enforce(*req)

        return go

    timings: dict[str, list[float]] = {"ours": [], "plain": [], "fast": []}
    runs = {"ours": run_ours, "plain": run_theirs(plain), "fast": run_theirs(fast)}
    for _ in range(cfg.check_rounds):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - t)
    rate = {k: cfg.checks / statistics.median(v) for k, v in timings.items()}
    return CheckResult(
        cfg.checks, sum(expected), rate["ours"], rate["plain"], rate["fast"], n_policies, n_links
    )


def measure_bulk(engine: Engine, principal: Principal, docs: list[Doc], rounds: int) -> float:
    """Median milliseconds of one `bulk_check` over `docs` (resources built beforehand)."""
    requests = [("ticket:read", engine.resource_of("ticket", d)) for d in docs]
    times = []
    for _ in range(max(rounds, 5)):
        t = time.perf_counter()
        engine.bulk_check(principal, requests)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


# -- lists in process ------------------------------------------------------------------------


async def list_page(
    db: AsyncDatabase[Doc],
    engine: Engine,
    principal: Principal,
    strategy: str,
    after: ObjectId | None = None,
) -> Page:
    """One page of the principal's tickets ("my tickets": no handler filter), newest first."""
    req = ListRequest("ticket:read", "ticket", {}, PAGE, after)
    return await STRATEGIES[strategy](db["tickets"], engine, principal, req)


async def measure_lists(
    db: AsyncDatabase[Doc],
    engine: Engine,
    size: int,
    principals: dict[str, Principal],
    report: Report,
) -> None:
    """Each strategy for each persona, `repeat` times, interleaved round-robin."""
    combos = [(s, p) for p in PERSONAS for s in STRATEGY_ORDER]
    for s, p in combos:
        report.lists[(size, s, p)] = ListSample()
    for _ in range(report.cfg.repeat):
        for strategy, persona in combos:
            t = time.perf_counter()
            page = await list_page(db, engine, principals[persona], strategy)
            elapsed = time.perf_counter() - t
            sample = report.lists[(size, strategy, persona)]
            sample.seconds.append(elapsed)
            sample.docs_received, sample.items = page.docs_received, len(page.items)
    # All three strategies must have returned the same page.
    for persona in PERSONAS:
        items = {report.lists[(size, s, persona)].items for s in STRATEGY_ORDER}
        if len(items) != 1:
            raise RuntimeError(f"strategies disagree for the {persona} at {size}: {items}")


async def measure_docs_per_result(
    db: AsyncDatabase[Doc], engine: Engine, principals: Sequence[Principal], pages: int
) -> tuple[int, int, int]:
    """(documents received, tickets returned, pages) following `next_cursor`, pushdown.

    Counts, not times: two callers at a time, so the run stays short on a scanning server.
    """
    gate = asyncio.Semaphore(2)

    async def follow(principal: Principal) -> tuple[int, int, int]:
        received = returned = count = 0
        after = None
        async with gate:
            for _ in range(pages):
                page = await list_page(db, engine, principal, "pushdown", after)
                received += page.docs_received
                returned += len(page.items)
                count += 1
                after = page.next_cursor
                if after is None:
                    break
        return received, returned, count

    totals = await asyncio.gather(*(follow(p) for p in principals))
    return (
        sum(t[0] for t in totals),
        sum(t[1] for t in totals),
        sum(t[2] for t in totals),
    )


async def explain_pushdown(db: AsyncDatabase[Doc], engine: Engine, principal: Principal) -> str:
    """How the server ran the customer's page: the index it scanned, or a collection scan."""
    filt = engine.query_filter(principal, "ticket:read", "ticket")
    try:
        plan = await db.command(
            {"explain": {"find": "tickets", "filter": filt, "sort": {"_id": -1}, "limit": PAGE}}
        )
    except PyMongoError:
        return "unknown"
    winning = plan.get("queryPlanner", {}).get("winningPlan", {})
    names = sorted(set(re.findall(r"'indexName': '([^']+)'", str(winning))))
    return f"IXSCAN {', '.join(names)} (explain)" if names else "collection scan (explain)"


# -- HTTP ------------------------------------------------------------------------------------


def _tail(log: Path, lines: int = 20) -> str:
    """The end of the API's log, for an error message (the log lives in a temp folder)."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.asynccontextmanager
async def api_process(
    uri: str, name: str, secret: str, log: Path
) -> AsyncIterator[tuple[str, psutil.Process]]:
    """The API in its own uvicorn process, as deployed; stopped (and awaited) on exit."""
    port = devdb.free_port()
    env = dict(
        os.environ,
        ENVIRONMENT="development",
        BENCH_ROUTES="1",
        JWT_SECRET=secret,
        MONGODB_URI=uri,
        MONGODB_DB=name,
        LIST_STRATEGY="pushdown",
    )
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port), "--quiet"),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"the API exited with {proc.returncode}:\n{_tail(log)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the API was not ready within 60 s:\n{_tail(log)}")
                await asyncio.sleep(0.2)
        yield base, psutil.Process(proc.pid)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def sample_rss(proc: psutil.Process, peak: list[int], stop: asyncio.Event) -> None:
    """Keep the API process tree's peak resident memory in `peak[0]` until `stop`."""
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            procs = [proc, *proc.children(recursive=True)]
            peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def drive(
    client: httpx.AsyncClient,
    jobs: list[tuple[str, str]],
    workers: int,
    deadline: float,
    headers: dict[str, str],
    params: dict[str, str | int],
) -> dict[str, list[float]]:
    """Run `jobs` (label, path) with `workers` concurrent clients until done or `deadline`."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: dict[str, list[float]] = {label: [] for label, _ in jobs}

    async def worker() -> None:
        while not queue.empty() and time.monotonic() < deadline:
            label, path = queue.get_nowait()
            t = time.perf_counter()
            r = await client.get(path, params=params, headers=headers)
            elapsed = time.perf_counter() - t
            if r.status_code != 200:
                raise RuntimeError(f"GET {path} -> {r.status_code}: {r.text[:200]}")
            latencies[label].append(elapsed * 1000)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return latencies


def _cpu(proc: psutil.Process | None) -> float:
    """CPU milliseconds a process (and its children) has used so far; 0 when unknown."""
    if proc is None:
        return 0.0
    try:
        total = 0.0
        for p in (proc, *proc.children(recursive=True)):
            t = p.cpu_times()
            total += t.user + t.system
        return total * 1000
    except psutil.Error:
        return 0.0


async def measure_http(
    uri: str, settings: Settings, world: World, cfg: Config, tmp: Path, db_pid: int | None
) -> HttpResult:
    """GET /tickets with and without authorization, interleaved, then throughput alone."""
    secret = settings.secret_key
    token = create_access_token(str(world.agent), settings).access_token
    headers = {"Authorization": f"Bearer {token}"}
    params: dict[str, str | int] = {"company_id": str(world.company), "limit": PAGE}
    routes = [("authorized", "/tickets"), ("unauthorized", "/bench/tickets-unauthorized")]
    db_proc = psutil.Process(db_pid) if db_pid is not None else None
    async with api_process(uri, settings.mongodb_db, secret, tmp / "api.log") as (base, proc):
        peak = [0]
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(proc, peak, stop))
        limits = httpx.Limits(max_connections=cfg.concurrency)
        async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
            first, second = (
                await client.get(routes[0][1], params=params, headers=headers),
                await client.get(routes[1][1], params=params, headers=headers),
            )
            if first.json()["items"] != second.json()["items"]:
                raise RuntimeError("the two routes return different pages: not the same query")
            # Warm-up, then both routes interleaved: A B A B ... so noise hits both alike.
            await drive(
                client,
                routes * cfg.concurrency,
                cfg.concurrency,
                time.monotonic() + cfg.http_seconds,
                headers,
                params,
            )
            # One client, route by route in alternating blocks: latency without queueing,
            # and the CPU each request costs the API process (and our own dev database).
            idle: dict[str, list[float]] = {label: [] for label, _ in routes}
            cpu = dict.fromkeys([f"{w} {label}" for w in ("api", "db") for label, _ in routes], 0.0)
            for _ in range(3):
                for label, path in routes:
                    before = (_cpu(proc), _cpu(db_proc))
                    block = await drive(
                        client,
                        [(label, path)] * 15,
                        1,
                        time.monotonic() + cfg.http_seconds,
                        headers,
                        params,
                    )
                    idle[label] += block[label]
                    cpu[f"api {label}"] += _cpu(proc) - before[0]
                    cpu[f"db {label}"] += _cpu(db_proc) - before[1]
            for key in cpu:  # totals over all blocks: psutil counts in 10 ms ticks
                cpu[key] /= max(len(idle[key.split()[1]]), 1)
            jobs = routes * cfg.http_requests
            lat = await drive(
                client, jobs, cfg.concurrency, time.monotonic() + cfg.http_seconds, headers, params
            )
            t = time.perf_counter()
            only = await drive(
                client,
                [routes[0]] * 100_000,
                cfg.concurrency,
                time.monotonic() + cfg.rps_seconds,
                headers,
                params,
            )
            elapsed = time.perf_counter() - t
        stop.set()
        await sampler
    done = len(only["authorized"])
    return HttpResult(
        cfg.http_size,
        "agent",
        cfg.concurrency,
        lat["authorized"],
        lat["unauthorized"],
        done / elapsed,
        done,
        peak[0] / 2**20,
        statistics.median(idle["authorized"]),
        statistics.median(idle["unauthorized"]),
        cpu,
    )


# -- the run ---------------------------------------------------------------------------------


async def run(cfg: Config) -> Report:
    """Seed, measure everything, return the report (the database is the caller's)."""
    report = Report(cfg)
    started = time.perf_counter()
    engine = default_engine()
    secret = secrets.token_urlsafe(48)
    with database() as (uri, db_pid), tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        ours = db_pid is not None
        client: AsyncMongoClient[Doc] = AsyncMongoClient(uri, tz_aware=True)
        try:
            report.server = await server_version(client, ours)
            console.print(
                f"[bold]database[/]: {report.server} at {uri}"
                f"{' (started for this run)' if ours else ''}"
            )
            worlds: dict[int, World] = {}
            for size in cfg.sizes:
                console.rule(f"seeding {cfg.tenants} tenants x {size:,} tickets")
                db = client[db_name(size)]
                report.seeds[size] = await seed_synthetic(
                    db, cfg.tenants, size, cfg.users_per_tenant
                )
                worlds[size] = await discover(db)
            if cfg.seed_check:
                tenants = 5
                console.rule(f"seeding speed: {tenants} tenants x {cfg.seed_check // tenants:,}")
                scratch = f"bench_{os.getpid()}_seed"
                report.seed_check = await seed_synthetic(
                    client[scratch], tenants, cfg.seed_check // tenants, cfg.users_per_tenant
                )
                await client.drop_database(scratch)

            # First, on a database the API initialises itself, as it does when deployed.
            console.rule(
                f"HTTP under load ({cfg.concurrency} clients, {cfg.http_size:,} tickets per tenant)"
            )
            settings = bench_settings(uri, db_name(cfg.http_size), secret)
            report.http = await measure_http(
                uri, settings, worlds[cfg.http_size], cfg, Path(tmp), db_pid
            )
            h = report.http
            console.print(
                f"  GET /tickets {statistics.median(h.authorized_ms):.1f} ms, without authz "
                f"{statistics.median(h.unauthorized_ms):.1f} ms; {h.rps:.1f} req/s"
            )

            for size in cfg.sizes:
                console.rule(f"lists at {size:,} tickets per tenant")
                await bind(client, bench_settings(uri, db_name(size), secret))
                world, db = worlds[size], client[db_name(size)]
                principals = {
                    "customer": await load_principal(world.customer),
                    "agent": await load_principal(world.agent),
                }
                report.ticket_counts[(size, "customer")] = world.customer_visible
                report.ticket_counts[(size, "agent")] = world.agent_visible
                await measure_lists(db, engine, size, principals, report)
                for s in STRATEGY_ORDER:
                    console.print(
                        f"  {s:<9}"
                        + "  ".join(
                            f"{p} {report.lists[(size, s, p)].median_ms:8.1f} ms" for p in PERSONAS
                        )
                    )

            big = max(cfg.sizes)
            world, db = worlds[big], client[db_name(big)]
            await bind(client, bench_settings(uri, db_name(big), secret))
            console.rule("pushdown: documents per result, several users and pages")
            users = [world.customer, world.agent, world.viewer, world.multi, world.customers[0]]
            principals_list = [await load_principal(u) for u in dict.fromkeys(users) if u]
            report.docs_per_result = await measure_docs_per_result(db, engine, principals_list, 2)
            report.pushed_down = await explain_pushdown(db, engine, principals_list[0])

            console.rule("Engine.check vs pycasbin; bulk_check")
            report.check = measure_check(engine, world, cfg)
            docs = await db["tickets"].find({"company": world.company}).limit(1000).to_list()
            report.bulk_ms = measure_bulk(engine, principals_list[0], docs, cfg.check_rounds)
        finally:
            if not ours:
                for size in cfg.sizes:
                    with contextlib.suppress(PyMongoError):
                        await client.drop_database(db_name(size))
            await client.close()
    report.seconds = time.perf_counter() - started
    return report


# -- output ----------------------------------------------------------------------------------


def table_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """(figure, value, goal, meaning) rows, headline figures first."""
    assert report.check is not None  # noqa: S101 - set by run()
    assert report.http is not None  # noqa: S101
    ratios = report.ratios()
    big = max(report.cfg.sizes)
    rows: list[tuple[str, str, str, str]] = []
    meaning = {
        "check_vs_pycasbin": "Engine.check decisions/s over pycasbin's (faster enforcer)",
        "pushdown_vs_post": f"customer's first page at {big:,} tickets/tenant: post / pushdown",
        "pushdown_docs_per_result": "documents received per ticket returned (pushdown)",
        "authz_overhead": f"GET /tickets median latency, with / without authz "
        f"({report.http.concurrency} clients)",
    }
    for name, value in ratios.items():
        op, target = GOALS[name]
        status = "met" if goal_met(name, value) else "NOT met"
        if name == "pushdown_vs_post" and status != "met" and "=False" in report.pushed_down:
            status += " (the server scans; see below)"
        rows.append((name, f"{value:.2f}", f"{op} {target:g}: {status}", meaning[name]))
    c, h = report.check, report.http
    post = report.lists[(big, "post", "customer")]
    push = report.lists[(big, "pushdown", "customer")]
    rows += [
        (
            "Engine.check",
            f"{c.engine_rate:,.0f}/s",
            "",
            f"{c.requests:,} random requests, {c.allowed:,} allowed",
        ),
        (
            "pycasbin Enforcer",
            f"{c.casbin_rate:,.0f}/s",
            "",
            f"{c.policies} policies, {c.links} role links",
        ),
        (
            "pycasbin FastEnforcer",
            f"{c.fast_casbin_rate:,.0f}/s",
            "",
            "policies indexed by (domain, object)",
        ),
        ("bulk_check 1,000 tickets", f"{report.bulk_ms:.2f} ms", "", "one customer"),
        (
            "post documents per page",
            f"{post.docs_received:,}",
            "",
            f"vs {push.docs_received} for pushdown "
            f"({post.docs_received / max(push.docs_received, 1):,.0f}x)",
        ),
        ("database filtered in storage", report.pushed_down, "", "pushdown query, explain"),
        (
            "GET /tickets median",
            f"{statistics.median(h.authorized_ms):,.1f} ms",
            "",
            f"without authz {statistics.median(h.unauthorized_ms):,.1f} ms; "
            f"{len(h.authorized_ms)}+{len(h.unauthorized_ms)} requests",
        ),
        (
            "GET /tickets, one client",
            f"{h.idle_authorized_ms:.1f} ms",
            "",
            f"without authz {h.idle_unauthorized_ms:.1f} ms (sequential, unloaded)",
        ),
        (
            "API CPU per GET /tickets",
            f"{h.cpu_ms['api authorized']:.1f} ms",
            "",
            f"without authz {h.cpu_ms['api unauthorized']:.1f} ms (uvicorn process, psutil)",
        ),
        *(
            [
                (
                    "dev database CPU per GET",
                    f"{h.cpu_ms['db authorized']:.1f} ms",
                    "",
                    f"without authz {h.cpu_ms['db unauthorized']:.1f} ms",
                )
            ]
            if h.cpu_ms["db authorized"]
            else []
        ),
        (
            "GET /tickets throughput",
            f"{h.rps:.1f} req/s",
            "",
            f"{h.rps_requests} requests, {h.concurrency} clients, {h.size:,} tickets/tenant",
        ),
        ("API peak RSS", f"{h.peak_rss_mb:.0f} MiB", "", "uvicorn process, whole run"),
    ]
    if report.seed_check is not None:
        sc = report.seed_check
        rows.append(
            (
                f"seed {sc['tickets']:,} tickets",
                f"{sc['seconds']:.1f} s",
                "minutes, not hours: met" if sc["seconds"] < 600 else "minutes: NOT met",
                f"{sc['tenants']} tenants, {sc['users']} users, {sc['memberships']} memberships, "
                f"{sc['replies']:,} replies, {sc['grants']} grants",
            )
        )
    for size, seed in report.seeds.items():
        rows.append(
            (
                f"seed {size:,}/tenant",
                f"{seed['tickets'] / seed['seconds']:,.0f} tickets/s",
                "",
                f"{seed['tickets']:,} tickets in {seed['seconds']:.1f} s",
            )
        )
    return rows


def list_rows(report: Report) -> list[list[str]]:
    """One row per (size, persona): median ms and documents received per strategy."""
    rows = []
    for size in report.cfg.sizes:
        for persona in PERSONAS:
            row = [f"{size:,}", persona, f"{report.ticket_counts[(size, persona)]:,}"]
            for s in STRATEGY_ORDER:
                sample = report.lists[(size, s, persona)]
                row.append(f"{sample.median_ms:,.1f} ms ({sample.docs_received:,} docs)")
            rows.append(row)
    return rows


def print_tables(report: Report) -> None:
    """The rich tables."""
    t = Table(title="make bench: medians; ratios are measured side by side in this run")
    for col in ("figure", "value", "goal", "what it is"):
        t.add_column(col)
    for figure in table_rows(report):
        t.add_row(*figure)
    console.print(t)
    lt = Table(title="list latency, first page of 50 (median; documents received)")
    for col in ("tickets/tenant", "caller", "visible", *STRATEGY_ORDER):
        lt.add_column(col)
    for row in list_rows(report):
        lt.add_row(*row)
    console.print(lt)


def machine_notes(report: Report) -> list[str]:
    """What the numbers were measured on."""
    mem = psutil.virtual_memory().total / 2**30
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- date: {report.started:%Y-%m-%d %H:%M} UTC; whole run {report.seconds:.0f} s",
        f"- machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, load average {load} at the end",
        f"- Python {platform.python_version()} on {platform.system()} {platform.release()}",
        f"- database: {report.server}, on the same machine",
        f"- data: {report.cfg.tenants} tenants per database, {report.cfg.users_per_tenant} "
        f"users per tenant, one database per size",
    ]


def server_notes(report: Report) -> list[str]:
    """How to read the figures on the server they were measured on."""
    notes = [
        "## Reading the figures",
        "",
        "The HTTP figures are taken on the smallest tenant size on purpose: a list costs "
        "more as the data grow while authorization (the caller's facts, two small queries "
        "run alongside the user look-up, and the compiled filter) does not, so its share, "
        "and the ratio, are largest there.",
        "",
    ]
    if "SecantusDB" in report.server:
        notes += [
            "On the development database (SecantusDB), an agent's first page grows with the "
            "tenant although it reads the `{company, _id}` index in order: the server's index "
            "scans do not stop at the query's limit, so it reads every key of the tenant "
            "before returning 50. MongoDB stops at the limit; the product code does not work "
            "around a server's limit.",
            "",
        ]
    return notes


def write_markdown(report: Report, path: Path, plot: Path) -> None:
    """docs/benchmarks.md: what each number means, how to reproduce, the table, the machine."""
    ratios = report.ratios()
    cfg = report.cfg
    big = max(cfg.sizes)
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m scripts.bench`); do not edit by hand: run it "
        "again. Every number is a median over repeated runs made side by side in one run, and "
        "only ratios measured in the same run are compared: the machine is shared and noisy.",
        "",
        "## Headline figures",
        "",
        "| figure | value | goal | meaning |",
        "| --- | --- | --- | --- |",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table_rows(report)),
        "",
        f"## List latency per strategy (first page of {PAGE}, in process)",
        "",
        "Called as `authz.listing.<strategy>(collection, engine, principal, request)` with the "
        "principal loaded by `authz.facts.load_principal`, as `GET /tickets` does; the request "
        'is "my tickets" (no handler filter), newest first. *visible* is how many tickets '
        "the caller may read; *docs* is how many documents the database sent to produce the "
        "page.",
        "",
        f"| tickets/tenant | caller | visible | {' | '.join(STRATEGY_ORDER)} |",
        "| --- | --- | --- | --- | --- | --- |",
        *("| " + " | ".join(r) + " |" for r in list_rows(report)),
        "",
        f"![list latency vs tickets per tenant]({plot.name})",
        "",
        "## What each figure means",
        "",
        "- **check_vs_pycasbin**: decisions per second of `Engine.check` divided by those of "
        "pycasbin's `enforce` on the equivalent RBAC-with-domains model "
        "(`scripts/casbin_model.conf`: `g = _, _, _`, one policy per permission per role per "
        f"company) over the same {cfg.checks:,} random (user, company, permission) requests, "
        "including strangers. Before timing, the bench asserts that both give the same answer "
        "to every request. The divisor is the faster of pycasbin's `Enforcer` and "
        "`FastEnforcer` (policies indexed by domain and object), so the ratio is conservative.",
        f"- **pushdown_vs_post**: time to list a typical customer's first page of {PAGE} in a "
        f"tenant of {big:,} tickets with the `post` strategy (fetch the tenant's tickets "
        "newest first, `check` each in Python) divided by `pushdown` (the permissions compiled "
        "into the query). *post documents per page* shows the same comparison in documents "
        "transferred, which does not depend on the server.",
        "- **pushdown_docs_per_result**: documents the application received per ticket "
        "returned with `pushdown`, summed over several callers (a customer, an agent, a "
        "customer holding viewer grants, a member of several tenants) and two pages each. "
        "1.0 means the database sent nothing the caller may not see.",
        "- **authz_overhead**: median latency of `GET /tickets?company_id=..&limit=50` as an "
        "agent (authentication, the caller's facts, the compiled filter, the read projection) "
        "divided by that of `GET /bench/tickets-unauthorized` with the same parameters (same "
        "authentication, same query, same rendering, no facts and no filter; mounted only with "
        "`BENCH_ROUTES=1` in development). Both routes return the same page (checked). The API "
        f"runs as its own uvicorn process; {cfg.concurrency} concurrent clients send both "
        f"routes interleaved (A B A B ...), {cfg.http_requests} requests each, after a warm-up.",
        "- **GET /tickets throughput**: requests per second of the authorized route alone "
        f"under the same load for {cfg.rps_seconds:g} s; **API peak RSS**: the uvicorn "
        "process's peak resident memory over the whole HTTP part (psutil).",
        "- **GET /tickets, one client**: the same two routes sent one at a time, in "
        "alternating blocks, so no request waits for another; **API CPU per GET /tickets** "
        "and **dev database CPU per GET**: CPU time the uvicorn process (and the dev "
        "database, when this script started it) spent per request in those blocks (psutil). "
        "They say what authorization costs in work rather than in latency: on a server that "
        "uses the app's indexes the database's share shrinks, and the API's is what remains.",
        "- **bulk_check 1,000 tickets**: one `Engine.bulk_check` over 1,000 stored tickets "
        "(resources built beforehand); **seed**: `scripts.synthetic.seed_synthetic` speed.",
        "",
        *server_notes(report),
        "## Reproduce",
        "",
        "```sh",
        "make bench                                  # starts its own dev database",
        "MONGODB_URI=mongodb://127.0.0.1:27017 make bench  # any server: bench_<pid>_* dbs",
        ".venv/bin/python -m scripts.bench --help    # sizes, repetitions, load, output folder",
        "```",
        "",
        "## Machine",
        "",
        *machine_notes(report),
        "",
        "## Figures as the script prints them",
        "",
        "```",
        *(f"RATIO {k} {v:.2f}" for k, v in ratios.items()),
        "```",
        "",
    ]
    path.write_text("\n".join(lines))


def write_plot(report: Report, path: Path) -> None:
    """Per strategy and caller, against tickets per tenant: latency, and documents received."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), dpi=110)
    sizes = list(report.cfg.sizes)
    colors = {"pushdown": "tab:green", "bulk": "tab:orange", "post": "tab:red"}
    plain = FuncFormatter(lambda v, _: f"{v:,.0f}")
    for strategy in STRATEGY_ORDER:
        for persona, style in (("customer", "-"), ("agent", "--")):
            samples = [report.lists[(s, strategy, persona)] for s in sizes]
            label = f"{strategy}, {persona}"
            kw = {"marker": "o", "color": colors[strategy], "label": label}
            left.plot(sizes, [x.median_ms for x in samples], style, **kw)
            right.plot(sizes, [max(x.docs_received, 1) for x in samples], style, **kw)
    server = report.server.split(" (")[0]
    for ax, ylabel, title in (
        (left, "median ms", f"Latency of the first page of {PAGE} ({server})"),
        (right, "documents received", "Documents the database sent for that page"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="both", labelsize=8)
        ax.set_xlabel(f"tickets per tenant ({report.cfg.tenants} tenants per database)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables, write the docs, end with the RATIO lines."""
    cfg = parse_args(argv)
    report = asyncio.run(run(cfg))
    print_tables(report)
    cfg.out.mkdir(parents=True, exist_ok=True)
    plot = cfg.out / "benchmarks.png"
    write_plot(report, plot)
    write_markdown(report, cfg.out / "benchmarks.md", plot)
    console.print(f"wrote {cfg.out / 'benchmarks.md'} and {plot}")
    sys.stdout.flush()
    for name, value in report.ratios().items():
        print(f"RATIO {name} {value:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
