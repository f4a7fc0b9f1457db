"""Decisions in process: `Engine.check` against pycasbin and against a bare look-up.

`check_vs_pycasbin` divides our decisions per second by those of pycasbin's `enforce` on
the equivalent RBAC-with-domains model (`scripts/casbin_model.conf`), over the same random
requests, after checking that both answer every one alike. Its limit is the least any
role check can do: a role look-up and a set membership in plain Python.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casbin
from bson import ObjectId

from authz.engine import Engine, Principal, Resource, default_engine
from scripts.bench.results import Figure, Ratio, Section, ms
from scripts.bench.world import Run, World

MODEL = Path(__file__).resolve().parents[1] / "casbin_model.conf"
BULK = 1_000


@dataclass(frozen=True)
class Requests:
    """The same random (user, company, permission) questions, in each library's terms."""

    ours: list[tuple[Principal, str, Resource]]
    theirs: list[tuple[str, str, str, str]]


def _requests(engine: Engine, world: World, count: int) -> Requests:
    """Random requests over the world's users, a few strangers among them."""
    rng = random.Random(6)
    roles: dict[ObjectId, dict[ObjectId, str]] = {}
    for m in world.memberships:
        roles.setdefault(m["user"], {})[m["company"]] = m["role"]
    users = sorted(roles) + [ObjectId() for _ in range(max(1, len(roles) // 20))]
    principals = {u: Principal(u, roles.get(u, {})) for u in users}
    permissions = sorted(engine.policy.permissions)
    ours, theirs = [], []
    for _ in range(count):
        user, company = rng.choice(users), rng.choice(world.companies)
        permission = rng.choice(permissions)
        rtype, action = permission.split(":", 1)
        ours.append((principals[user], permission, Resource(rtype, company)))
        theirs.append((str(user), str(company), rtype, action))
    return Requests(ours, theirs)


def _enforcers(engine: Engine, world: World) -> dict[str, Any]:
    """pycasbin's plain enforcer and its fast one (policies indexed by domain and object)."""
    policies = [
        [role, str(c), *perm.split(":", 1)]
        for c in world.companies
        for role, spec in engine.policy.roles.items()
        for perm in sorted(spec.permissions)
    ]
    links = [[str(m["user"]), m["role"], str(m["company"])] for m in world.memberships]
    enforcers = {
        "Enforcer": casbin.Enforcer(str(MODEL)),
        "FastEnforcer": casbin.FastEnforcer(str(MODEL), cache_key_order=[1, 2]),
    }
    for enforcer in enforcers.values():
        enforcer.add_named_policies("p", policies)
        enforcer.add_named_grouping_policies("g", links)
    return enforcers


def _agree(engine: Engine, requests: Requests, enforcers: dict[str, Any]) -> int:
    """The number of allowed requests, once every enforcer is shown to agree with ours."""
    expected = [engine.check(*r).allowed for r in requests.ours]
    for name, enforcer in enforcers.items():
        wrong = [i for i, r in enumerate(requests.theirs) if enforcer.enforce(*r) != expected[i]]
        if wrong:
            raise RuntimeError(
                f"pycasbin {name} disagrees with Engine.check on {len(wrong)} requests, "
                f"e.g. {requests.theirs[wrong[0]]}: the models differ"
            )
    return sum(expected)


def _contenders(engine: Engine, requests: Requests, enforcers: dict[str, Any]) -> dict[str, Any]:
    """Each way of deciding every request once, as a function to time."""
    check = engine.check
    permissions = {name: r.permissions for name, r in engine.policy.roles.items()}

    def ours() -> None:
        for principal, permission, resource in requests.ours:
            check(principal, permission, resource)

    def bare() -> None:  # the least a role check can do
        for principal, permission, resource in requests.ours:
            role = principal.roles.get(resource.company)
            _ = role is not None and permission in permissions[role]

    def theirs(enforce: Callable[..., bool]) -> Callable[[], None]:
        def run() -> None:
            for request in requests.theirs:
                enforce(*request)

        return run

    return {"Engine.check": ours, "bare look-up": bare} | {
        f"pycasbin {name}": theirs(e.enforce) for name, e in enforcers.items()
    }


def _time_rounds(contenders: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """Seconds per contender per round, contenders interleaved within each round."""
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def _bulk_ms(
    engine: Engine, principal: Principal, docs: list[dict[str, Any]], rounds: int
) -> float:
    """Median milliseconds of one `bulk_check` over `docs` (resources built beforehand)."""
    requests = [("ticket:read", engine.resource_of("ticket", d)) for d in docs]

    def once() -> None:
        engine.bulk_check(principal, requests)

    return ms(_time_rounds({"bulk": once}, rounds)["bulk"])


async def measure(run: Run) -> Section:
    """`check_vs_pycasbin`, the rates behind it, and `bulk_check` of 1,000 tickets."""
    engine, world, opts = default_engine(), run.worlds[run.opts.scaling[0]], run.opts
    requests = _requests(engine, world, opts.checks)
    enforcers = _enforcers(engine, world)
    allowed = _agree(engine, requests, enforcers)
    seconds = _time_rounds(_contenders(engine, requests, enforcers), opts.rounds)
    ours = seconds["Engine.check"]
    theirs = [min(p) for p in zip(*(seconds[f"pycasbin {n}"] for n in enforcers), strict=True)]
    rate = {name: opts.checks / (ms(s) / 1000) for name, s in seconds.items()}
    near = rate["Engine.check"] / rate["bare look-up"]
    ratio = Ratio(
        "check_vs_pycasbin",
        [t / o for t, o in zip(theirs, ours, strict=True)],
        "`Engine.check` decisions/s over pycasbin's (the faster of its two enforcers)",
        f"a bare role look-up decides {rate['bare look-up']:,.0f}/s; `Engine.check` runs at "
        f"{near:.0%} of it while also naming its reason",
    )
    docs = await world.db["tickets"].find({"company": world.company}).limit(BULK).to_list()
    bulk = _bulk_ms(engine, world.principals["customer"], docs, opts.rounds)
    links = len(world.memberships)
    figures = [
        Figure(name, f"{r:,.0f}/s", f"{opts.checks:,} random requests, {allowed:,} allowed")
        for name, r in rate.items()
    ] + [Figure(f"bulk_check {len(docs):,} tickets", f"{bulk:.2f} ms", "one customer")]
    return Section("Decisions", [ratio], figures, [_NOTE.format(links=links)])


_NOTE = (
    "Before timing, every request is put to both libraries and the answers must agree. "
    "pycasbin's model has one policy per permission per role per company and one role link "
    "per membership ({links:,} links); the divisor is the faster of its `Enforcer` and "
    "`FastEnforcer`, round by round, so the ratio is conservative."
)
