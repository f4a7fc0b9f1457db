"""Lists in process: the three strategies beside the bare query, at every tenant size.

Each caller's first page of 50 (newest first, "my tickets") is asked of `pushdown`,
`bulk` and `post` (`authz.listing`, with the principal `authz.facts.load_principal`
returns, as `GET /tickets` does) and of the *query alone*: the filter `pushdown` compiles,
sent by plain PyMongo with no authorization code on the path, which is the limit any
authorized list can reach. All of them, at all sizes, are timed round by round, so every
ratio compares runs made side by side.
"""

import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from authz.engine import Engine, Principal, default_engine
from authz.listing import NEWEST_FIRST, STRATEGIES, ListRequest, Page
from scripts.bench.results import Figure, Point, Ratio, Section
from scripts.bench.world import Run, World

PAGE = 50
PERSONAS = ("customer", "agent", "agent (groups)")  # the agent reads all; see world.py
CONTENDERS = ("query", "pushdown", "bulk", "post")
Key = tuple[int, str, str]  # (tickets per tenant, persona, contender)
Tickets = AsyncCollection[dict[str, Any]]


@dataclass
class Timing:
    """Repeated runs of one list call."""

    seconds: list[float] = field(default_factory=list)
    docs: int = 0  # documents the database sent for the page
    ids: list[ObjectId] = field(default_factory=list)

    @property
    def ms(self) -> float:
        """Median milliseconds."""
        return statistics.median(self.seconds) * 1000


async def _strategy_page(
    coll: Tickets, engine: Engine, principal: Principal, strategy: str, after: ObjectId | None
) -> Page:
    req = ListRequest("ticket:read", "ticket", {}, PAGE, after)
    return await STRATEGIES[strategy](coll, engine, principal, req)


async def _query_page(coll: Tickets, query: dict[str, Any]) -> Page:
    items = await coll.find(query).sort(NEWEST_FIRST).limit(PAGE).to_list()
    return Page(items, None, len(items))


def _calls(
    world: World, engine: Engine, strategies: bool
) -> dict[Key, Callable[[], Awaitable[Page]]]:
    """Every contender for each persona's first page in one world."""
    coll = world.db["tickets"]
    calls: dict[Key, Callable[[], Awaitable[Page]]] = {}
    for persona in PERSONAS:
        principal = world.principals[persona]
        query = engine.query_filter(principal, "ticket:read", "ticket")
        calls[(world.size, persona, "query")] = partial(_query_page, coll, query)
        for name in CONTENDERS[1:] if strategies else ("pushdown",):
            calls[(world.size, persona, name)] = partial(
                _strategy_page, coll, engine, principal, name, None
            )
    return calls


async def _time_interleaved(
    calls: dict[Key, Callable[[], Awaitable[Page]]], rounds: int
) -> dict[Key, Timing]:
    """Run every call once per round (in reverse order every other round)."""
    timings = {key: Timing() for key in calls}
    for r in range(rounds):
        for key in list(calls) if r % 2 == 0 else list(reversed(calls)):
            started = time.perf_counter()
            page = await calls[key]()
            timing = timings[key]
            timing.seconds.append(time.perf_counter() - started)
            timing.docs, timing.ids = page.docs_received, [d["_id"] for d in page.items]
    return timings


def _same_pages(timings: dict[Key, Timing]) -> None:
    """Every contender returned the same page to the same caller."""
    pages: dict[tuple[int, str], list[ObjectId]] = {}
    for (size, persona, name), timing in timings.items():
        first = pages.setdefault((size, persona), timing.ids)
        if timing.ids != first:
            raise RuntimeError(f"{name} returned another page to the {persona} at {size:,}")


async def _docs_per_result(world: World, engine: Engine, pages: int = 2) -> tuple[int, int]:
    """(documents received, tickets returned) following `next_cursor`, every persona."""
    received = returned = 0
    for principal in world.principals.values():
        after = None
        for _ in range(pages):
            page = await _strategy_page(world.db["tickets"], engine, principal, "pushdown", after)
            received, returned = received + page.docs_received, returned + len(page.items)
            if (after := page.next_cursor) is None:
                break
    return received, returned


async def _explain(world: World, engine: Engine, persona: str) -> str:
    """The indexes the server says the persona's page reads (explain)."""
    query = engine.query_filter(world.principals[persona], "ticket:read", "ticket")
    find = {"find": "tickets", "filter": query, "sort": {"_id": -1}, "limit": PAGE}
    try:
        plan = await world.db.command({"explain": find})
    except PyMongoError:
        return "unknown"
    names = sorted(
        set(re.findall(r"'indexName': '([^']+)'", str(plan["queryPlanner"]["winningPlan"])))
    )
    return f"IXSCAN {', '.join(names)}" if names else "collection scan"


def _per_round(timings: dict[Key, Timing], over: Key, under: Key) -> list[float]:
    pairs = zip(timings[over].seconds, timings[under].seconds, strict=True)
    return [a / b for a, b in pairs]


def _post_ratio(timings: dict[Key, Timing], size: int) -> Ratio:
    push, query = timings[(size, "customer", "pushdown")], timings[(size, "customer", "query")]
    return Ratio(
        "pushdown_vs_post",
        _per_round(timings, (size, "customer", "post"), (size, "customer", "pushdown")),
        f"a customer's first page at {size:,} tickets/tenant: `post` time over `pushdown` time",
        f"the compiled query alone takes {query.ms:.1f} ms, pushdown {push.ms:.1f} ms "
        f"({push.ms / query.ms - 1:+.0%})",
    )


def _scaling_ratio(timings: dict[Key, Timing], small: int, big: int) -> Ratio:
    alone = statistics.median(
        _per_round(timings, (big, "customer", "query"), (small, "customer", "query"))
    )
    return Ratio(
        "pushdown_scaling",
        _per_round(timings, (big, "customer", "pushdown"), (small, "customer", "pushdown")),
        f"a customer's first page (`pushdown`) at {big:,} tickets/tenant over the same "
        f"at {small:,}",
        f"the query alone scales by {alone:.2f} between the same two sizes",
    )


def _table(run: Run, timings: dict[Key, Timing]) -> list[list[str]]:
    rows = [["tickets/tenant", "caller", "visible", *CONTENDERS]]
    for size, world in run.worlds.items():
        for persona in PERSONAS:
            cells = [timings.get((size, persona, c)) for c in CONTENDERS]
            shown = [f"{t.ms:,.1f} ms ({t.docs:,} docs)" if t else "not run" for t in cells]
            rows.append([f"{size:,}", persona, f"{world.visible[persona]:,}", *shown])
    return rows


def _series(run: Run, timings: dict[Key, Timing]) -> dict[str, list[Point]]:
    """Each contender's points per persona, persona by persona (the legend's order)."""
    series: dict[str, list[Point]] = {}
    order = sorted(
        timings.items(),
        key=lambda kv: (PERSONAS.index(kv[0][1]), CONTENDERS.index(kv[0][2]), kv[0][0]),
    )
    for (size, persona, name), t in order:
        series.setdefault(f"{name}, {persona}", []).append(Point(size, t.ms, t.docs))
    return series


async def measure(run: Run) -> Section:
    """The strategies at every size, `pushdown_vs_post`, `pushdown_scaling` and
    `pushdown_docs_per_result`."""
    engine, opts = default_engine(), run.opts
    calls: dict[Key, Callable[[], Awaitable[Page]]] = {}
    for size, world in run.worlds.items():
        calls |= _calls(world, engine, strategies=size <= opts.post_size)
    timings = await _time_interleaved(calls, opts.rounds)
    _same_pages(timings)
    world = run.worlds[opts.post_size]
    received, returned = await _docs_per_result(world, engine)
    docs = Ratio(
        "pushdown_docs_per_result",
        [received / max(returned, 1)],
        "documents the database sent per ticket returned (`pushdown`; every persona, two pages)",
        "1.0: the database sends nothing the caller may not see",
    )
    post, push = (timings[(opts.post_size, "customer", s)].docs for s in ("post", "pushdown"))
    figures = [
        Figure("post documents per page", f"{post:,}", f"vs {push} for pushdown (same page)"),
        *[
            Figure(f"index of the {who}'s page", await _explain(world, engine, who), "explain")
            for who in PERSONAS
        ],
        *_agent_pages(run, timings),
    ]
    ratios = [_post_ratio(timings, opts.post_size), docs, _scaling_ratio(timings, *opts.scaling)]
    notes = [_NOTE.format(post=opts.post_size), *_server_notes(run)]
    return Section("Lists", ratios, figures, notes, _table(run, timings), _series(run, timings))


def _agent_pages(run: Run, timings: dict[Key, Timing]) -> list[Figure]:
    return [
        Figure(
            f"{persona}'s first page at {size:,}",
            f"{timings[(size, persona, 'pushdown')].ms:,.1f} ms",
            f"the query alone {timings[(size, persona, 'query')].ms:,.1f} ms",
        )
        for persona in PERSONAS[1:]
        for size in run.worlds
    ]


def _server_notes(run: Run) -> list[str]:
    if "SecantusDB" not in run.server:
        return []
    return [
        "**Why the agent's page grows on this server.** An agent may read the whole "
        "tenant, so the compiled filter is `{company: C}` and the page reads the "
        "`{company, _id}` index in order. MongoDB stops that scan at the limit, after 50 "
        "keys, whatever the tenant's size. SecantusDB's Rust server does not: its `find` "
        "collects every document the filter matches, sorts them, and only then applies "
        "the limit (its `explain` describes mongod's plan, not this execution), so an "
        "agent's first page reads the whole tenant, and the *query* column grows the same "
        "way: it is the server, not the authorization. The product code does not work "
        "around a server's limit. A customer's page stays flat because what a customer may "
        "see does not grow with the tenant; on this server a customer filing twenty times "
        "more tickets would see their page grow with them, and MongoDB would not.",
        "**The agent scoped to groups.** Their filter is `{$or: [{company: C, assigned_to: "
        "me}, {company: C, group: {$in: [their groups]}}, {company: C, created_by: me}]}`, "
        "and each branch has its index (`company_assignee`, `company_group` with one range "
        "per group, `company_creator`): no single index can serve an `$or` over three fields "
        "in `_id` order, and none is missing. MongoDB can merge the branches' scans in `_id` "
        "order (exploding the `$in` into one scan per group) and stop at the limit; this "
        "server reads every ticket of the agent's groups and sorts them, so their page grows "
        "with their groups, as the agent's grows with the tenant, and the *query* column "
        "with it. The database still sends only the page (*docs*).",
    ]


_NOTE = (
    "*query* is the filter `pushdown` compiles, sent alone by PyMongo: no facts, no "
    "compilation, no checks. `post` fetches the tenant's tickets newest first and checks each "
    "in Python; `bulk` does the same with one `bulk_check` per batch of 200. They read "
    "the tenant until the caller's page is full, so they are run up to {post:,} tickets "
    "per tenant only (beyond, a page costs them seconds). *visible* is what the caller may "
    "read; *docs* what the database sent for the page. Tenants grow by gaining customers "
    "(one user per 50 tickets), so a customer's own tickets stay about as many at every size."
)
