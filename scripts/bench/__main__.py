"""`python -m scripts.bench` (`make bench`): seed, measure every family, report."""

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from scripts.bench import decisions, events, grants, lists, load, pdp, plot, report, world
from scripts.bench.options import Options, parse
from scripts.bench.results import Results, Section
from scripts.bench.world import Run

Family = Callable[[Run], Awaitable[Section]]

# Each family of figures is one module's `measure`, returning its Section. `grants` comes
# last: it shares every ticket of the largest world with one customer.
FAMILIES: tuple[Family, ...] = (
    decisions.measure,
    lists.measure,
    load.measure,
    pdp.measure,
    events.measure,
    grants.measure,
)


async def _families(run: Run) -> list[Section]:
    sections = []
    for family in FAMILIES:
        report.console.rule(family.__module__.rsplit(".", 1)[-1])
        sections.append(await family(run))
    return sections


async def collect(opts: Options) -> Results:
    """Seed one database per size, run every family, and drop the databases again."""
    started, clock = datetime.now(UTC), time.perf_counter()
    with world.server() as uri:
        client: world.Client = AsyncMongoClient(uri, tz_aware=True)
        try:
            server = await world.describe(client)
            report.console.print(f"[bold]database[/]: {server} at {uri}")
            worlds = {}
            for size in opts.sizes:
                report.console.rule(f"seeding {opts.tenants} tenants x {size:,} tickets")
                worlds[size] = await world.build(client, opts, size)
            sections = await _families(Run(opts, client, uri, server, worlds))
        finally:
            for size in opts.sizes:
                with contextlib.suppress(PyMongoError):
                    await client.drop_database(world.db_name(size))
            await client.close()
    return Results(server, started, time.perf_counter() - clock, sections)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the tables, write the documents, end with the RATIO lines; exit 1 if a
    goal is missed (a `--quick` run is a smoke test: its figures are not judged)."""
    opts = parse(argv)
    results = asyncio.run(collect(opts))
    report.print_tables(results)
    opts.out.mkdir(parents=True, exist_ok=True)
    plot.draw(results, opts.out / "benchmarks.png")
    report.write_markdown(results, opts, opts.out / "benchmarks.md", opts.out / "benchmarks.png")
    report.console.print(f"wrote {opts.out / 'benchmarks.md'} and benchmarks.png")
    sys.stdout.flush()
    print("\n".join(report.ratio_lines(results)), flush=True)
    missed = [r.name for r in results.ratios if not r.met]
    if missed and not opts.quick:
        print(f"goal not met: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
