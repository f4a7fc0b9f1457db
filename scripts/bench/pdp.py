"""The PDP over HTTP, measured as a Permit user would meet it: through the Python SDK.

The Permit-compatible decision point (`app/routers/pdp.py`) is asked:

- **check latency**: p50 and p99 of `permit.check(...)` with 16 concurrent callers, each
  call timed from the caller's side (so it includes what the SDK does per call: it opens a
  new HTTP session for every check), and p50 with one caller, which is latency without
  queueing;
- **bulk throughput**: decisions per second of `permit.bulk_check(...)` (`/pdp/allowed/bulk`)
  in batches of 100 questions of one user each, with the same 16 callers, and the latency
  of one bulk check of 1,000 questions (as the tutorial filters a list it fetched);
- **`pdp_p50_vs_floor`** (a goal): one caller's check p50 over the p50 of the same SDK call
  answered by a constant verdict of the same API process (`/bench/pdp/allowed`, mounted
  with `BENCH_ROUTES`): what the decision costs beyond the SDK, HTTP and the framework.

Permit documents about 7 ms per check (p50) for its PDP sidecar; `PERMIT_CHECK_P50_MS`
holds that figure so the report sets ours beside it as a ratio (a figure, not a goal).

In `make bench`, `measure(run)` starts the API with `PDP_API_KEY` set on the seeded world
and asks about its personas and tickets. Alone, against an API already running with
`PDP_API_KEY` (for example `make run` with the demo tenants), it asks the PDP itself
which tenants and tickets the demo personas have:

    python -m scripts.bench.pdp --base-url http://127.0.0.1:8000   # PDP_API_KEY from the env
"""

import argparse
import asyncio
import itertools
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from permit import Permit
from permit.enforcement.enforcer import CheckQuery
from rich.console import Console
from rich.table import Table

from app.demo import PERSONAS
from scripts.bench.api import api_environment, api_process
from scripts.bench.results import Figure, Ratio, Section
from scripts.bench.world import Run, World

PERMIT_CHECK_P50_MS = 7.0
"""Permit's documented PDP latency per check (p50), the reference for the ratio."""

CONCURRENCY = 16
BATCH = 100
BIG_BULK = 1000
FLOOR_PATH = "/bench/pdp"
"""Where the API answers the SDK's check with a constant verdict (app/routers/bench.py)."""
ACTIONS = ("read", "update", "delete")

Question = CheckQuery
"""One check as the SDK takes it: {"user": key, "action": ..., "resource": {...}}."""


@dataclass(frozen=True, slots=True)
class PdpFigures:
    """What one measurement found."""

    concurrency: int
    checks: int
    check_p50_ms: float
    check_p99_ms: float
    check_per_s: float
    alone_p50_ms: float  # one caller, one check at a time: latency without queueing
    batch: int
    batches: int
    bulk_decisions_per_s: float
    allowed_share: float  # of the checks, how many were allowed: the mix matters
    api_cpu_ms: float | None = None  # the API process's CPU per check, when it is known
    # One caller, the check and the same SDK call to a constant verdict interleaved: the
    # ratio of their p50s per round, and the floor's p50 (when the API mounts it).
    floor_ratios: list[float] = field(default_factory=list)
    floor_p50_ms: float | None = None
    big_bulk: int = 0  # questions in one bulk check of the big-bulk figure
    big_bulk_ms: float | None = None  # its median latency

    @property
    def p50_vs_permit(self) -> float:
        """Our p50 (concurrent callers) over Permit's documented one: below 1 is faster."""
        return self.check_p50_ms / PERMIT_CHECK_P50_MS

    @property
    def alone_vs_permit(self) -> float:
        """Our p50 with one caller over Permit's documented one: below 1 is faster."""
        return self.alone_p50_ms / PERMIT_CHECK_P50_MS


async def demo_questions(permit: Permit, users: Sequence[str] | None = None) -> list[Question]:
    """Checks for the demo personas (or `users`) on every ticket and tenant the PDP shows
    any of them: one ticket, and every ticket of a company, for read, update and delete."""
    users = list(users) if users is not None else [p.email for p in PERSONAS]
    tickets: set[str] = set()
    tenants: set[str] = set()
    for user in users:
        graph = await permit.get_user_permissions(user)
        for key in graph:
            kind, _, rid = key.partition(":")
            (tenants if kind == "__tenant" else tickets).add(rid)
    if not tickets and not tenants:
        raise SystemExit(
            "scripts.bench.pdp: the PDP shows these users nothing: seed the demo first"
        )
    resources: list[dict[str, str]] = [{"type": "ticket", "key": t} for t in sorted(tickets)]
    resources += [{"type": "ticket", "tenant": t} for t in sorted(tenants)]
    return [
        {"user": u, "action": a, "resource": r} for u in users for r in resources for a in ACTIONS
    ]


async def measure_pdp(
    base_url: str,
    api_key: str,
    questions: Sequence[Question],
    *,
    checks: int = 3000,
    alone: int = 300,
    batches: int = 200,
    concurrency: int = CONCURRENCY,
    batch: int = BATCH,
    api_cpu_ms: Callable[[], float] | None = None,
    floor: bool = False,
    big_bulk: int = 0,
) -> PdpFigures:
    """Time `alone` checks by one caller, then `checks` single checks and `batches` bulk
    checks of `batch` questions with `concurrency` callers, cycling through `questions`;
    a warm-up comes first. `api_cpu_ms`, when given, reads the API process's CPU time;
    `floor`, the API mounts the constant verdict (`BENCH_ROUTES`); `big_bulk`, the questions
    of one more bulk check, timed alone."""
    permit = Permit(pdp=f"{base_url.rstrip('/')}/pdp", token=api_key)
    await _checks(permit, questions, 50, 1)  # warm-up
    one, _, _ = await _checks(permit, questions, alone, 1)
    floor_ratios: list[float] = []
    floor_p50 = None
    if floor:
        constant = Permit(pdp=f"{base_url.rstrip('/')}{FLOOR_PATH}", token=api_key)
        floor_ratios, floor_p50 = await _versus_floor(permit, constant, questions, alone)
    cpu_before = api_cpu_ms() if api_cpu_ms is not None else 0.0
    latencies, elapsed, allowed = await _checks(permit, questions, checks, concurrency)
    cpu = (api_cpu_ms() - cpu_before) / checks if api_cpu_ms is not None else None
    bulk_elapsed = await _bulk_checks(permit, questions, batches, concurrency, batch)
    big_bulk_ms = await _big_bulk(permit, questions, big_bulk) if big_bulk else None
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return PdpFigures(
        concurrency=concurrency,
        checks=len(latencies),
        check_p50_ms=cuts[49] * 1000,
        check_p99_ms=cuts[98] * 1000,
        check_per_s=len(latencies) / elapsed,
        alone_p50_ms=statistics.median(one) * 1000,
        batch=batch,
        batches=batches,
        bulk_decisions_per_s=batches * batch / bulk_elapsed,
        allowed_share=allowed / len(latencies),
        api_cpu_ms=cpu,
        floor_ratios=floor_ratios,
        floor_p50_ms=floor_p50,
        big_bulk=big_bulk,
        big_bulk_ms=big_bulk_ms,
    )


async def _versus_floor(
    permit: Permit, constant: Permit, questions: Sequence[Question], checks: int, rounds: int = 9
) -> tuple[list[float], float]:
    """One caller sends each question to the PDP and the same SDK call to the constant
    verdict, in alternating order; per round, the ratio of the two p50s. Also the floor's
    p50 over every round."""
    singles = itertools.cycle(questions)
    ratios: list[float] = []
    floors: list[float] = []
    for _ in range(rounds):
        real: list[float] = []
        floor: list[float] = []
        for i in range(max(10, checks // rounds)):
            q = next(singles)
            pair = [(permit, real), (constant, floor)]
            for sdk, into in pair if i % 2 == 0 else pair[::-1]:
                started = time.perf_counter()
                await sdk.check(**q)
                into.append((time.perf_counter() - started) * 1000)
        ratios.append(statistics.median(real) / statistics.median(floor))
        floors += floor
    return ratios, statistics.median(floors)


async def _big_bulk(permit: Permit, questions: Sequence[Question], size: int) -> float:
    """Median milliseconds of a bulk check of `size` questions of one user (as the tutorial
    filters a list it fetched), which must answer every one of them."""
    first = str(questions[0]["user"])
    mine = [q for q in questions if str(q["user"]) == first]
    bulk = list(itertools.islice(itertools.cycle(mine), size))
    times = []
    for _ in range(7):
        started = time.perf_counter()
        answers = await permit.bulk_check(bulk)
        times.append((time.perf_counter() - started) * 1000)
        if len(answers) != size:
            raise RuntimeError(f"a bulk check of {size} returned {len(answers)} answers")
    return statistics.median(times)


async def _checks(
    permit: Permit, questions: Sequence[Question], checks: int, concurrency: int
) -> tuple[list[float], float, int]:
    """(seconds per check, seconds in all, checks allowed) of `checks` single checks by
    `concurrency` callers, cycling through `questions`."""
    singles = itertools.cycle(questions)
    latencies: list[float] = []
    allowed = 0

    async def checker(n: int) -> None:
        nonlocal allowed
        for _ in range(n):
            q = next(singles)
            t = time.perf_counter()
            decision = await permit.check(**q)
            latencies.append(time.perf_counter() - t)
            allowed += decision  # after the await: `allowed += await ...` would lose updates

    t0 = time.perf_counter()
    await asyncio.gather(*(checker(n) for n in _split(checks, concurrency)))
    return latencies, time.perf_counter() - t0, allowed


async def _bulk_checks(
    permit: Permit, questions: Sequence[Question], batches: int, concurrency: int, batch: int
) -> float:
    """Seconds `batches` bulk checks of `batch` questions take with `concurrency` callers.

    A batch is one user's questions, as when a service filters a list for its caller
    (`permit.filter_objects` is a bulk check): users take turns, batch after batch.
    """
    per_user: dict[str, list[Question]] = {}
    for q in questions:
        per_user.setdefault(str(q["user"]), []).append(q)
    bulks = itertools.cycle(
        [list(itertools.islice(itertools.cycle(qs), batch)) for qs in per_user.values()]
    )

    async def bulk_caller(n: int) -> None:
        for _ in range(n):
            answers = await permit.bulk_check(next(bulks))
            if len(answers) != batch:
                raise RuntimeError(f"a bulk check of {batch} returned {len(answers)} answers")

    t0 = time.perf_counter()
    await asyncio.gather(*(bulk_caller(n) for n in _split(batches, concurrency)))
    return time.perf_counter() - t0


def _split(total: int, parts: int) -> list[int]:
    """`total` jobs over `parts` callers, as evenly as possible."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def figures(f: PdpFigures) -> list[Figure]:
    """The figures, with Permit's documented latency beside ours."""
    permit = f"Permit documents about {PERMIT_CHECK_P50_MS:g} ms per check (p50)"
    return [
        Figure(
            f"check p50, {f.concurrency} callers",
            f"{f.check_p50_ms:.1f} ms",
            f"{f.checks:,} checks, {f.allowed_share:.0%} allowed",
        ),
        Figure(f"check p99, {f.concurrency} callers", f"{f.check_p99_ms:.1f} ms"),
        Figure(
            f"checks per second, {f.concurrency} callers",
            f"{f.check_per_s:,.0f}",
            "one HTTP request (and one SDK session) each",
        ),
        Figure(
            f"check p50 over Permit's, {f.concurrency} callers",
            f"{f.p50_vs_permit:.2f}",
            f"{permit}; below 1 is faster",
        ),
        *(
            [Figure("API CPU per check", f"{f.api_cpu_ms:.1f} ms", "the API process alone")]
            if f.api_cpu_ms is not None
            else []
        ),
        Figure("check p50, one caller", f"{f.alone_p50_ms:.1f} ms", "no queueing"),
        *(
            [
                Figure(
                    "the same SDK call to a constant verdict, p50",
                    f"{f.floor_p50_ms:.1f} ms",
                    "the floor of `pdp_p50_vs_floor`: the SDK, HTTP and the framework",
                )
            ]
            if f.floor_p50_ms is not None
            else []
        ),
        Figure("pdp_p50_vs_permit", f"{f.alone_vs_permit:.2f}", f"one caller; {permit}"),
        Figure(
            f"bulk decisions per second, batches of {f.batch}",
            f"{f.bulk_decisions_per_s:,.0f}",
            f"{f.batches:,} batches, {f.concurrency} callers",
        ),
        *(
            [
                Figure(
                    f"one bulk check of {f.big_bulk:,} questions",
                    f"{f.big_bulk_ms:.0f} ms",
                    "one user's, as the tutorial filters a list it fetched; median of 7",
                )
            ]
            if f.big_bulk_ms is not None
            else []
        ),
    ]


def figures_table(f: PdpFigures) -> Table:
    """The figures as a console table."""
    table = Table(title="PDP over HTTP, through the Python Permit SDK")
    for column in ("measure", "value", "note"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for figure in figures(f):
        table.add_row(figure.name, figure.value, figure.note)
    return table


def world_questions(world: World, tickets: list[tuple[str, str]]) -> list[Question]:
    """Checks for the world's personas on `tickets` ((id, company) pairs, each asked with
    its company as the tenant) and on the measured company as a whole (type level), for
    read, update and delete."""
    users = [str(p.user_id) for p in world.principals.values()]
    resources: list[dict[str, str]] = [
        {"type": "ticket", "key": key, "tenant": tenant} for key, tenant in tickets
    ]
    resources.append({"type": "ticket", "tenant": str(world.company)})
    return [
        {"user": u, "action": a, "resource": r} for u in users for r in resources for a in ACTIONS
    ]


async def _world_tickets(
    world: World, here: int = 90, elsewhere: int = 10
) -> list[tuple[str, str]]:
    """The newest tickets of the measured company, and a few of another (whose answer is
    always no: a tenant's staff and customers reach nothing of another tenant)."""
    found: list[tuple[str, str]] = []
    for company, count in zip(world.companies, (here, elsewhere), strict=False):
        docs = world.db["tickets"].find({"company": company}, {"_id": 1}).sort("_id", -1)
        found += [(str(d["_id"]), str(company)) for d in await docs.limit(count).to_list()]
    return found


async def measure(run: Run) -> Section:
    """The PDP family of `make bench`: the API started with `PDP_API_KEY`, asked about
    the personas and tickets of the world of `--http-size` tickets per tenant."""
    world = run.worlds[run.opts.http_size]
    key = secrets.token_urlsafe(32)
    questions = world_questions(world, await _world_tickets(world))
    env = api_environment(run.uri, world.name, secrets.token_urlsafe(48)) | {"PDP_API_KEY": key}
    small = run.opts.quick
    with tempfile.TemporaryDirectory(prefix="bench-pdp-") as tmp:
        async with api_process(env, Path(tmp) / "api.log") as api:
            found = await measure_pdp(
                api.base_url,
                key,
                questions,
                checks=400 if small else 3000,
                alone=60 if small else 300,
                batches=40 if small else 200,
                api_cpu_ms=api.cpu_ms,
                floor=True,
                big_bulk=BIG_BULK,
            )
    ratio = Ratio(
        "pdp_p50_vs_floor",
        found.floor_ratios,
        "one caller's check p50 through the Python SDK over the same SDK call answered by "
        f"a constant verdict of the same API process (`{FLOOR_PATH}/allowed`), interleaved",
        f"the floor {found.floor_p50_ms or 0:.1f} ms, the check {found.alone_p50_ms:.1f} ms",
    )
    title = f"PDP ({run.opts.http_size:,} tickets/tenant, through the Python Permit SDK)"
    return Section(
        title, [ratio], figures(found), [_NOTE.format(n=len(questions), c=found.concurrency)]
    )


_NOTE = (
    "The API runs as its own process with `PDP_API_KEY` set; the Permit SDK (`permit`, as a "
    "service written against Permit would use it) is pointed at its `/pdp`. The {n:,} "
    "questions are every persona of the lists (by user id) on the company's newest "
    "90 tickets and 10 of another company, each with its company as the tenant, and on the "
    "company as a whole (type level), for read, update and delete; checks cycle through "
    "them. Each check is timed from the caller's side, so it includes what the SDK does per "
    "call (a new HTTP session each time) and, with {c} callers on two shared cores, the "
    "queue behind the others: the one-caller p50 is the latency without queueing, the "
    "figure closest to Permit's documented one (about 7 ms per check at p50 for its PDP "
    "sidecar, `PERMIT_CHECK_P50_MS`). These ratios are figures, not goals: Permit's number "
    "comes from another machine and workload. A bulk check is one user's 100 questions in "
    "one request (`/pdp/allowed/bulk`), as a service filtering a list for its caller sends."
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench.pdp",
        description="Measure the PDP of a running API (started with PDP_API_KEY) through the "
        "Python Permit SDK, asking about the demo tenants of `make run`.",
    )
    parser.add_argument("--base-url", required=True, help="the API, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--api-key", default=os.environ.get("PDP_API_KEY"), help="default: $PDP_API_KEY"
    )
    parser.add_argument("--checks", type=int, default=3000, help="single checks to time")
    parser.add_argument("--batches", type=int, default=200, help=f"bulk checks of {BATCH}")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="callers")
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("give --api-key or set PDP_API_KEY (the key the API was started with)")
    if min(args.checks, args.batches, args.concurrency) < 1:
        parser.error("--checks, --batches and --concurrency must be positive")
    return args


async def run(args: argparse.Namespace) -> PdpFigures:
    """Discover the demo's questions, then measure."""
    permit = Permit(pdp=f"{args.base_url.rstrip('/')}/pdp", token=args.api_key)
    questions = await demo_questions(permit)
    return await measure_pdp(
        args.base_url,
        args.api_key,
        questions,
        checks=args.checks,
        batches=args.batches,
        concurrency=args.concurrency,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run from the command line; the exit code."""
    args = parse_args(argv)
    figures = asyncio.run(run(args))
    Console().print(figures_table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
