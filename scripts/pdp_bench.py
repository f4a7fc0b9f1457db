"""The PDP over HTTP, measured as a Permit user would meet it: through the Python SDK.

Two figures, against an API that is already running with `PDP_API_KEY` set:

- **check latency**: p50 and p99 of `permit.check(...)` with 16 concurrent callers, each
  call timed from the caller's side (so it includes what the SDK does per call: it opens a
  new HTTP session for every check);
- **bulk throughput**: decisions per second of `permit.bulk_check(...)` (`/pdp/allowed/bulk`)
  in batches of 100 questions of one user each, with the same 16 callers.

Permit documents about 7 ms per check (p50) for its PDP sidecar; `PERMIT_CHECK_P50_MS`
holds that figure so a report can set ours beside it as a ratio.

    python -m scripts.pdp_bench --base-url http://127.0.0.1:8000   # PDP_API_KEY from the env

`make bench` calls `measure_pdp` with questions from its own seeded world (the API process
it starts needs `PDP_API_KEY` in its environment); alone, `demo_questions` asks the PDP
itself which tenants and tickets the demo personas of `make run` have.
"""

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from permit import Permit
from permit.enforcement.enforcer import CheckQuery
from rich.console import Console
from rich.table import Table

from app.demo import PERSONAS

PERMIT_CHECK_P50_MS = 7.0
"""Permit's documented PDP latency per check (p50), the reference for the ratio."""

CONCURRENCY = 16
BATCH = 100
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
    batch: int
    batches: int
    bulk_decisions_per_s: float
    allowed_share: float  # of the checks, how many were allowed: the mix matters

    @property
    def p50_vs_permit(self) -> float:
        """Our p50 over Permit's documented one: below 1 is faster."""
        return self.check_p50_ms / PERMIT_CHECK_P50_MS


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
        raise SystemExit("pdp_bench: the PDP shows these users nothing: seed the demo first")
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
    batches: int = 200,
    concurrency: int = CONCURRENCY,
    batch: int = BATCH,
) -> PdpFigures:
    """Time `checks` single checks and `batches` bulk checks of `batch` questions, each
    with `concurrency` callers, cycling through `questions`; a warm-up comes first."""
    permit = Permit(pdp=f"{base_url.rstrip('/')}/pdp", token=api_key)
    warm = [await permit.check(**q) for q in itertools.islice(itertools.cycle(questions), 50)]
    if len(warm) != 50:
        raise RuntimeError("the warm-up did not complete")

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
    check_elapsed = time.perf_counter() - t0

    # A batch is one user's questions, as when a service filters a list for its caller
    # (`permit.filter_objects` is a bulk check): users take turns, batch after batch.
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
    bulk_elapsed = time.perf_counter() - t0

    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return PdpFigures(
        concurrency=concurrency,
        checks=len(latencies),
        check_p50_ms=cuts[49] * 1000,
        check_p99_ms=cuts[98] * 1000,
        check_per_s=len(latencies) / check_elapsed,
        batch=batch,
        batches=batches,
        bulk_decisions_per_s=batches * batch / bulk_elapsed,
        allowed_share=allowed / len(latencies),
    )


def _split(total: int, parts: int) -> list[int]:
    """`total` jobs over `parts` callers, as evenly as possible."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def figures_table(f: PdpFigures) -> Table:
    """The figures, with Permit's documented latency beside ours."""
    table = Table(title=f"PDP over HTTP, Python SDK, {f.concurrency} concurrent callers")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("note")
    table.add_row("check p50", f"{f.check_p50_ms:.1f} ms", f"{f.checks} checks")
    table.add_row("check p99", f"{f.check_p99_ms:.1f} ms", f"{f.allowed_share:.0%} allowed")
    table.add_row("checks per second", f"{f.check_per_s:.0f}", "one HTTP request each")
    table.add_row(
        "p50 vs Permit's PDP",
        f"{f.p50_vs_permit:.2f}x",
        f"Permit documents about {PERMIT_CHECK_P50_MS:g} ms per check (p50)",
    )
    table.add_row(
        f"bulk decisions per second (batches of {f.batch})",
        f"{f.bulk_decisions_per_s:,.0f}",
        f"{f.batches} batches",
    )
    return table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.pdp_bench",
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
