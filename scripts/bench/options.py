"""Command-line options: what to seed and how hard to measure."""

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.devdb.process import ROOT

DOCS = ROOT / "docs"
MIN_USERS = 20


@dataclass(frozen=True)
class Options:
    """What one run seeds and measures."""

    sizes: tuple[int, ...]  # tickets per tenant, one database each
    tenants: int
    tickets_per_user: int
    rounds: int
    checks: int
    clients: int
    requests: int
    load_seconds: float
    http_size: int
    post_size: int
    scaling: tuple[int, int]
    out: Path
    quick: bool

    def users_per_tenant(self, size: int) -> int:
        """Users of a tenant of `size` tickets: a tenant grows by gaining customers, each
        filing about the same number of tickets, rather than by each filing more."""
        return max(MIN_USERS, size // self.tickets_per_user)


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(sorted({int(s) for s in text.split(",")}))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scripts.bench", description="make bench: authorization, measured"
    )
    add = p.add_argument
    add("--sizes", default="1000,5000,20000,100000", help="tickets per tenant, one db each")
    add("--tenants", type=int, default=2, help="tenants per database")
    add("--tickets-per-user", type=int, default=50, help="tenant size / users per tenant")
    add("--rounds", type=int, default=9, help="repetitions behind every median")
    add("--checks", type=int, default=10_000, help="random requests for check_vs_pycasbin")
    add("--clients", type=int, default=16, help="concurrent HTTP clients")
    add("--requests", type=int, default=60, help="requests per route in each overhead round")
    add("--load-seconds", type=float, default=8.0, help="load per route for its percentiles")
    add("--http-size", type=int, default=1000, help="tenant size behind the HTTP figures")
    add("--post-size", type=int, default=20_000, help="tenant size of pushdown_vs_post")
    add("--scaling", default="5000,100000", help="the two sizes of pushdown_scaling")
    add("--out", type=Path, default=DOCS, help="where benchmarks.md and .png go")
    add("--quick", action="store_true", help="tiny sizes, few rounds: a smoke test")
    return p


def parse(argv: Sequence[str] | None = None) -> Options:
    """The options of one run; `--quick` shrinks everything and writes to a temp folder."""
    p = _parser()
    a = p.parse_args(argv)
    if a.quick:
        a.sizes, a.http_size, a.post_size, a.scaling = "300,1000,3000", 300, 3000, "1000,3000"
        a.rounds, a.checks, a.requests, a.load_seconds = 3, 2_000, 16, 2.0
        if a.out == DOCS:  # a smoke test never overwrites the published figures
            a.out = Path(tempfile.gettempdir()) / "bench-quick"
    sizes, scaling = _sizes(a.sizes), _sizes(a.scaling)
    if min(sizes) < 1 or min(a.tenants, a.rounds, a.clients, a.requests, a.checks) < 1:
        p.error("sizes, tenants, rounds, clients, requests and checks must be positive")
    if len(scaling) != 2 or not {a.http_size, a.post_size, *scaling} <= set(sizes):
        p.error("--http-size, --post-size and the two --scaling sizes must be among --sizes")
    return Options(
        sizes=sizes,
        tenants=a.tenants,
        tickets_per_user=a.tickets_per_user,
        rounds=a.rounds,
        checks=a.checks,
        clients=a.clients,
        requests=a.requests,
        load_seconds=a.load_seconds,
        http_size=a.http_size,
        post_size=a.post_size,
        scaling=(scaling[0], scaling[1]),
        out=a.out,
        quick=a.quick,
    )
