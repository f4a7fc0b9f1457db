"""`python -m scripts.soak --minutes N [--standalone]` (`make soak`): the API under sustained
mixed load while its processes die, then a check that nothing was lost or left wrong.

What runs: a dev database started for the soak (a one-node replica set, or a standalone
server with `--standalone`), two API processes on it, and 16 clients, each signed in as one
member of one of two companies (an admin, three agents and four customers each), sending
a mix of sign-ins, ticket creation, replies and internal notes, updates, shares and
unshares, group moves, role changes, removals and re-additions, invitations, deletions,
reads and lists, to either process. Meanwhile the database is killed (`SIGKILL`) every
`--db-kill-every` seconds and restarted on the same data, and one API process is killed
every `--api-kill-every` seconds and restarted.

Every client writes down what it was told. A write answered 2xx is acknowledged; one
answered 4xx definitely failed; one whose answer never came (the connection dropped) or
was 503 (the database away) may or may not have happened. At the end, with everything
running again:

- every acknowledged write is there: created tickets and replies exist (unless an
  acknowledged deletion followed), and each value with one writer (a ticket's subject, a
  member's role, a share) is the last acknowledged one or a later attempt that may have
  happened; a write that definitely failed is not there;
- `scripts.verify` finds no violation of the invariants authorization relies on;
- isolation: each user's `GET /tickets` (every page) is exactly what the records say they
  may read (their facts recomputed from the memberships and groups, decided by the engine).

It prints requests made, answers by status (503 during an outage is expected; any 500 is a
failure), acknowledged writes checked, violations and differences, and exits 1 on any
loss, violation, difference or 500.
"""

import argparse
import asyncio
import contextlib
import random
import secrets
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the dependency group
from beanie import init_beanie
from bson import ObjectId
from pymongo import AsyncMongoClient

from app.services import user_facts
from authz.engine import Engine, default_engine
from authz.facts import principal_of
from models import DOCUMENT_MODELS
from scripts import verify
from scripts.bench.api import Api, api_process
from scripts.devdb import process as devdb

PASSWORD = "soak-pass-2026"
CLIENTS_PER_COMPANY = 8  # an admin, three agents, four customers
SPARES = 2  # members of each company that only role changes and removals touch
TIMEOUT = 10.0
INDETERMINATE = "no answer"  # the status of a request whose answer never came
MEMBER = "a member"  # a value that stands for any role


@dataclass
class Member:
    """A client's user."""

    name: str
    email: str
    role: str
    company: str
    user_id: str = ""
    token: str = ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Attempt:
    """One write of a value with a single writer, and what the client was told."""

    value: Any
    status: int | str

    @property
    def acknowledged(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300

    @property
    def refused(self) -> bool:
        """Definitely not applied: the API answered a 4xx (never a 503, nor no answer)."""
        return isinstance(self.status, int) and 400 <= self.status < 500


@dataclass
class Ledger:
    """What every client was told, kept for the end."""

    statuses: Counter[str] = field(default_factory=Counter)
    created: dict[str, str] = field(default_factory=dict)  # ticket id -> company
    refused_subjects: set[str] = field(default_factory=set)  # tickets never to exist
    deleted: set[str] = field(default_factory=set)
    replies: list[tuple[str, str]] = field(default_factory=list)  # (ticket, reply id)
    refused_replies: set[str] = field(default_factory=set)  # bodies never to exist
    values: dict[tuple[str, ...], list[Attempt]] = field(default_factory=lambda: defaultdict(list))
    writes: int = 0

    def told(self, status: int | str) -> None:
        self.statuses[str(status)] += 1


class Cluster:
    """The database and the two API processes, each of which can be killed and restarted."""

    def __init__(self, tmp: Path, standalone: bool, secret: str) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.standalone = standalone
        self.port = devdb.free_port()
        self.server = devdb.start(self.data, self.port, standalone=standalone)
        self.env = {
            "ENVIRONMENT": "development",
            "JWT_SECRET": secret,
            "MONGODB_URI": self.server.uri,
            "MONGODB_DB": "soak",
            "DB_TIMEOUT_MS": "1500",
        }
        self.apis: list[Api | None] = [None, None]
        self._stacks: list[contextlib.AsyncExitStack] = []
        self.kills = Counter[str]()

    async def start_api(self, i: int) -> None:
        stack = contextlib.AsyncExitStack()
        log = self.tmp / f"api{i}-{self.kills['api']}.log"
        self.apis[i] = await stack.enter_async_context(api_process(self.env, log))
        if i < len(self._stacks):
            self._stacks[i] = stack
        else:
            self._stacks.append(stack)

    async def kill_api(self, i: int) -> None:
        api = self.apis[i]
        self.apis[i] = None
        if api is not None:
            with contextlib.suppress(psutil.Error):  # it may have died on its own
                api.process.kill()
            await self._stacks[i].aclose()  # reaps it
        self.kills["api"] += 1
        await self.start_api(i)

    def kill_database(self) -> None:
        self.server.proc.kill()
        self.server.proc.wait()
        self.kills["database"] += 1
        self.server = devdb.start(self.data, self.port, standalone=self.standalone)

    async def close(self) -> None:
        for stack in self._stacks:
            with contextlib.suppress(Exception):
                await stack.aclose()
        self.server.stop()

    def urls(self) -> list[str]:
        return [a.base_url for a in self.apis if a is not None]


async def _request(
    cluster: Cluster, ledger: Ledger, method: str, path: str, member: Member | None, **kw: Any
) -> httpx.Response | None:
    """One request to either API process; None when no answer came."""
    urls = cluster.urls()
    if not urls:
        ledger.told(INDETERMINATE)
        return None
    headers = member.headers() if member is not None else {}
    try:
        async with httpx.AsyncClient(base_url=random.choice(urls), timeout=TIMEOUT) as c:
            r = await c.request(method, path, headers=headers, **kw)
    except httpx.HTTPError:
        ledger.told(INDETERMINATE)
        return None
    ledger.told(r.status_code)
    return r


async def _ok(cluster: Cluster, method: str, path: str, member: Member | None, **kw: Any) -> Any:
    """A set-up request, retried until it succeeds (nothing is being killed yet)."""
    for _ in range(50):
        r = await _request(cluster, Ledger(), method, path, member, **kw)
        if r is not None and r.status_code < 300:
            return r.json() if r.content else None
        await asyncio.sleep(0.2)
    raise RuntimeError(f"set-up failed: {method} {path}")


async def _sign_in(cluster: Cluster, m: Member) -> None:
    body = await _ok(
        cluster, "POST", "/auth/login", None, json={"email": m.email, "password": PASSWORD}
    )
    m.token = body["access_token"]


async def seed(
    cluster: Cluster,
) -> tuple[list[Member], dict[str, list[Member]], dict[str, list[str]]]:
    """Two companies, their members, one group each: the clients, the spares, the groups."""
    roles = ["admin", "agent", "agent", "agent", "customer", "customer", "customer", "customer"]
    clients: list[Member] = []
    spares: dict[str, list[Member]] = {}
    groups: dict[str, list[str]] = {}
    for c in range(2):
        people = [
            Member(f"soak{c}{i}", f"soak{c}{i}@soak.example", role, "")
            for i, role in enumerate(roles + ["customer"] * SPARES)
        ]
        for p in people:
            body = {"username": p.name, "email": p.email, "password": PASSWORD}
            p.user_id = (await _ok(cluster, "POST", "/auth/register", None, json=body))["id"]
            await _sign_in(cluster, p)
        admin = people[0]
        company = await _ok(cluster, "POST", "/companies", admin, json={"name": f"Soak {c}"})
        cid = company["id"]
        for p in people:
            p.company = cid
        for p in people[1:]:
            body = {"email": p.email, "role": p.role}
            await _ok(cluster, "POST", f"/companies/{cid}/members", admin, json=body)
        groups[cid] = []
        for name in ("Billing", "Sales"):
            g = await _ok(cluster, "POST", f"/companies/{cid}/groups", admin, json={"name": name})
            groups[cid].append(g["id"])
        for agent in people[1:3]:
            await _ok(
                cluster,
                "PUT",
                f"/companies/{cid}/groups/{groups[cid][0]}/members/{agent.user_id}",
                admin,
            )
        clients += people[: len(roles)]
        spares[cid] = people[len(roles) :]
    return clients, spares, groups


@dataclass
class Client:
    """One user sending a mix of requests until told to stop."""

    me: Member
    cluster: Cluster
    ledger: Ledger
    spares: list[Member]
    groups: list[str]
    customers: list[Member]
    rng: random.Random
    known: list[str] = field(default_factory=list)  # tickets seen
    own: set[str] = field(default_factory=set)  # tickets this client opened

    async def run(self, until: float) -> None:
        staff = self.me.role != "customer"
        ops = [
            (self.create, 3), (self.reply, 3), (self.read, 3), (self.list, 3), (self.sign_in, 1),
            (self.edit_subject, 2 if not staff else 0),
            (self.update, 3 if staff else 0), (self.share, 2 if staff else 0),
            (self.move, 1 if staff else 0),
            (self.change_role, 2 if self.me.role == "admin" else 0),
            (self.remove_and_add, 1 if self.me.role == "admin" else 0),
            (self.invite, 1 if self.me.role == "admin" else 0),
            (self.delete, 1 if self.me.role == "admin" else 0),
        ]  # fmt: skip
        actions = [op for op, weight in ops for _ in range(weight)]
        while time.monotonic() < until:
            await self.rng.choice(actions)()

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response | None:
        return await _request(self.cluster, self.ledger, method, path, self.me, **kw)

    def pick(self) -> str | None:
        return self.rng.choice(self.known) if self.known else None

    async def create(self) -> None:
        subject = f"soak {secrets.token_hex(6)}"
        body = {"company_id": self.me.company, "subject": subject, "description": "."}
        r = await self.call("POST", "/tickets", json=body)
        self.ledger.writes += 1
        if r is not None and r.status_code == 201:
            tid = r.json()["id"]
            self.ledger.created[tid] = self.me.company
            self.ledger.values[("subject", tid)].append(Attempt(subject, 201))
            self.known.append(tid)
            self.own.add(tid)
        elif r is not None and 400 <= r.status_code < 500:
            self.ledger.refused_subjects.add(subject)

    async def reply(self) -> None:
        tid = self.pick()
        if tid is None:
            return
        text = f"reply {secrets.token_hex(6)}"
        internal = self.me.role != "customer" and self.rng.random() < 0.3
        r = await self.call(
            "POST", f"/tickets/{tid}/replies", json={"body": text, "internal": internal}
        )
        self.ledger.writes += 1
        if r is not None and r.status_code == 201:
            self.ledger.replies.append((tid, r.json()["id"]))
        elif r is not None and 400 <= r.status_code < 500:
            self.ledger.refused_replies.add(text)

    async def read(self) -> None:
        tid = self.pick()
        if tid is not None:
            await self.call("GET", f"/tickets/{tid}")

    async def list(self) -> None:
        r = await self.call("GET", "/tickets", params={"company_id": self.me.company, "limit": 50})
        if r is not None and r.status_code == 200:
            for t in r.json()["items"]:
                if t["id"] not in self.known:
                    self.known.append(t["id"])

    async def sign_in(self) -> None:
        r = await _request(
            self.cluster, self.ledger, "POST", "/auth/login", None,
            json={"email": self.me.email, "password": PASSWORD},
        )  # fmt: skip
        if r is not None and r.status_code == 200:
            self.me.token = r.json()["access_token"]

    async def edit_subject(self) -> None:
        """A customer renames a ticket of their own: the subject's only writer."""
        mine = sorted(self.own - self.ledger.deleted)
        if not mine:
            return
        tid, subject = self.rng.choice(mine), f"soak {secrets.token_hex(6)}"
        r = await self.call("PATCH", f"/tickets/{tid}", json={"subject": subject})
        self.ledger.writes += 1
        self.ledger.values[("subject", tid)].append(Attempt(subject, _status(r)))

    async def update(self) -> None:
        tid = self.pick()
        if tid is None:
            return
        change = self.rng.choice(
            [{"status": s} for s in ("open", "in-progress")]
            + [{"priority": p} for p in ("low", "normal", "high")]
        )
        await self.call("PATCH", f"/tickets/{tid}", json=change)
        self.ledger.writes += 1

    async def share(self) -> None:
        """Share with, or stop sharing with, a customer of the company: per ticket and
        customer, the share's state has one value at a time."""
        tid = self.pick()
        if tid is None or not self.customers:
            return
        who = self.rng.choice(self.customers)
        if self.rng.random() < 0.6:
            r = await self.call("POST", f"/tickets/{tid}/viewers", json={"user_id": who.user_id})
            shared, already = True, 409  # shared already: the state asked for
        else:
            r = await self.call("DELETE", f"/tickets/{tid}/viewers/{who.user_id}")
            shared, already = False, 404  # not shared (or the ticket gone): the same
        self.ledger.writes += 1
        status = _status(r)
        self.ledger.values[("viewer", tid, who.user_id)].append(
            Attempt(shared, 200 if status == already else status)
        )

    async def move(self) -> None:
        tid = self.pick()
        if tid is not None:
            group = self.rng.choice([*self.groups, None])
            await self.call("PATCH", f"/tickets/{tid}", json={"group_id": group})
            self.ledger.writes += 1

    async def change_role(self) -> None:
        spare = self.rng.choice(self.spares)
        role = self.rng.choice(["customer", "agent"])
        r = await self.call(
            "PATCH", f"/companies/{self.me.company}/members/{spare.user_id}", json={"role": role}
        )
        self.ledger.writes += 1
        self.ledger.values[("role", self.me.company, spare.user_id)].append(
            Attempt(role, _status(r))
        )

    async def remove_and_add(self) -> None:
        """Remove a spare member, then add them back as a customer."""
        spare = self.rng.choice(self.spares)
        key = ("role", self.me.company, spare.user_id)
        r = await self.call("DELETE", f"/companies/{self.me.company}/members/{spare.user_id}")
        self.ledger.writes += 1
        self.ledger.values[key].append(Attempt(None, _status(r)))
        body = {"email": spare.email, "role": "customer"}
        r = await self.call("POST", f"/companies/{self.me.company}/members", json=body)
        self.ledger.writes += 1
        status = _status(r)
        # A member already (the removal did not happen): a member, with whatever role.
        self.ledger.values[key].append(
            Attempt(MEMBER if status == 409 else "customer", 200 if status == 409 else status)
        )

    async def invite(self) -> None:
        email = f"invitee-{secrets.token_hex(4)}@soak.example"
        await self.call(
            "POST",
            f"/companies/{self.me.company}/invitations",
            json={"email": email, "role": "customer"},
        )
        self.ledger.writes += 1

    async def delete(self) -> None:
        tid = self.pick()
        if tid is None:
            return
        r = await self.call("DELETE", f"/tickets/{tid}")
        self.ledger.writes += 1
        if r is not None and r.status_code == 204:
            self.ledger.deleted.add(tid)
            self.known.remove(tid)


def _status(r: httpx.Response | None) -> int | str:
    return INDETERMINATE if r is None else r.status_code


# -- faults ------------------------------------------------------------------------------


async def chaos(cluster: Cluster, until: float, db_every: float, api_every: float) -> None:
    """Kill the database every `db_every` seconds and an API process every `api_every`."""
    started = time.monotonic()
    next_db, next_api, victim = started + db_every, started + api_every, 0
    while time.monotonic() < until:
        now = time.monotonic()
        if now >= next_db:
            print(f"soak: kill -9 the database ({now - started:.0f} s)", flush=True)
            await asyncio.to_thread(cluster.kill_database)
            next_db += db_every
        if now >= next_api:
            print(f"soak: kill -9 API process {victim} ({now - started:.0f} s)", flush=True)
            await cluster.kill_api(victim)
            victim, next_api = 1 - victim, next_api + api_every
        await asyncio.sleep(0.2)


# -- the checks at the end -----------------------------------------------------------------


def allowed_values(attempts: list[Attempt], initial: Any) -> set[Any]:
    """The values a single-writer field may hold: the last acknowledged one (or the
    initial value), and any later attempt that may have happened."""
    last = max((i for i, a in enumerate(attempts) if a.acknowledged), default=-1)
    values = {attempts[last].value if last >= 0 else initial}
    values |= {a.value for a in attempts[last + 1 :] if not a.refused}
    return values


async def lost_writes(db: Any, ledger: Ledger) -> tuple[int, list[str]]:
    """(acknowledged writes checked, what is missing or should not be there)."""
    problems: list[str] = []
    checked = 0
    alive = {
        str(t["_id"]): t
        async for t in db["tickets"].find(
            {}, {"subject": 1, "viewers": 1, "replies.id": 1, "replies.body": 1}
        )
    }
    for tid in ledger.created:
        checked += 1
        if tid not in alive and tid not in ledger.deleted:
            problems.append(f"acknowledged ticket {tid} is gone")
    for tid in ledger.deleted:
        checked += 1
        if tid in alive:
            problems.append(f"ticket {tid}, acknowledged deleted, is there")
    for tid, reply in ledger.replies:
        checked += 1
        ticket = alive.get(tid)
        if ticket is not None and reply not in {str(r["id"]) for r in ticket.get("replies", [])}:
            problems.append(f"acknowledged reply {reply} of ticket {tid} is gone")
    subjects = {t.get("subject") for t in alive.values()}
    problems += [f"refused ticket '{s}' exists" for s in ledger.refused_subjects & subjects]
    bodies = {r.get("body") for t in alive.values() for r in t.get("replies", [])}
    problems += [f"refused reply '{b}' exists" for b in ledger.refused_replies & bodies]
    roles = {
        (str(m["company"]), str(m["user"])): m["role"] async for m in db["memberships"].find({})
    }
    for key, attempts in ledger.values.items():
        checked += sum(a.acknowledged for a in attempts)
        kind, *ids = key
        if kind == "subject":
            ticket = alive.get(ids[0])
            if ticket is None:
                continue
            stored: Any = ticket["subject"]
            initial: Any = attempts[0].value
        elif kind == "viewer":
            ticket = alive.get(ids[0])
            if ticket is None:
                continue
            stored = ObjectId(ids[1]) in (ticket.get("viewers") or [])
            initial = False
        else:
            stored = roles.get((ids[0], ids[1]))
            initial = "customer"
        values = allowed_values(attempts, initial)
        if stored not in values and not (MEMBER in values and stored is not None):
            problems.append(f"{kind} of {'/'.join(ids)} is {stored!r}, expected one of {values!r}")
    return checked, problems


async def isolation(cluster: Cluster, db: Any, engine: Engine, members: list[Member]) -> list[str]:
    """Each member's `GET /tickets` against what the records let them read."""
    copies = await user_facts.copies_from_record([ObjectId(m.user_id) for m in members], engine)
    tickets = [t async for t in db["tickets"].find({})]
    differences = []
    for m in members:
        principal = principal_of(ObjectId(m.user_id), copies[ObjectId(m.user_id)])
        expected = {
            str(t["_id"])
            for t in tickets
            if engine.check(principal, "ticket:read", engine.resource_of("ticket", t)).allowed
        }
        await _sign_in(cluster, m)
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
            page = await _ok(cluster, "GET", "/tickets", m, params=params)
            seen |= {t["id"] for t in page["items"]}
            cursor = page["next_cursor"]
            if cursor is None:
                break
        if seen != expected:
            differences.append(
                f"{m.email}: {len(seen - expected)} listed but not readable, "
                f"{len(expected - seen)} readable but not listed"
            )
    return differences


# -- the run -------------------------------------------------------------------------------


async def soak(args: argparse.Namespace) -> int:
    """Seed, load under faults, check; the exit status."""
    rng = random.Random(args.seed)
    random.seed(args.seed)
    topology = "standalone server" if args.standalone else "one-node replica set"
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        cluster = Cluster(Path(tmp), args.standalone, secrets.token_urlsafe(48))
        try:
            await cluster.start_api(0)
            await cluster.start_api(1)
            print(f"soak: {cluster.server.describe()}; two API processes", flush=True)
            members, spares, groups = await seed(cluster)
            ledger = Ledger()
            customers = defaultdict(list)
            for m in members:
                if m.role == "customer":
                    customers[m.company].append(m)
            clients = [
                Client(
                    m,
                    cluster,
                    ledger,
                    spares[m.company],
                    groups[m.company],
                    customers[m.company],
                    random.Random(rng.random()),
                )
                for m in members
            ]
            until = time.monotonic() + args.minutes * 60
            print(
                f"soak: {len(clients)} clients for {args.minutes:g} min on a {topology}", flush=True
            )
            started = time.monotonic()
            await asyncio.gather(
                chaos(cluster, until, args.db_kill_every, args.api_kill_every),
                *(c.run(until) for c in clients),
            )
            seconds = time.monotonic() - started
            return await _judge(cluster, ledger, members, seconds)
        finally:
            await cluster.close()


async def _judge(cluster: Cluster, ledger: Ledger, members: list[Member], seconds: float) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cluster.server.uri, tz_aware=True)
    try:
        db = client["soak"]
        await init_beanie(database=db, document_models=DOCUMENT_MODELS, skip_indexes=True)
        engine = default_engine()
        checked, lost = await lost_writes(db, ledger)
        violations = await verify.check(db, engine)
        differences = await isolation(cluster, db, engine, members)
    finally:
        await client.close()
    requests = sum(ledger.statuses.values())
    print(
        f"soak: {requests:,} requests in {seconds:.0f} s ({ledger.writes:,} writes), "
        f"{cluster.kills['database']} database kills, {cluster.kills['api']} API kills"
    )
    print(
        "soak: answers by status: "
        + ", ".join(f"{k} x{v:,}" for k, v in sorted(ledger.statuses.items()))
    )
    print(f"soak: {checked:,} acknowledged writes checked, {len(lost)} lost or wrong")
    print(f"soak: {len(violations)} verifier violations, {len(differences)} isolation differences")
    for line in [*lost, *map(str, violations), *differences][:50]:
        print(f"  {line}")
    failures = ledger.statuses["500"]
    if failures:
        print(f"soak: {failures} answers were 500")
    return 1 if lost or violations or differences or failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and run."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--standalone", action="store_true", help="a server without transactions")
    parser.add_argument("--db-kill-every", type=float, default=60, help="seconds")
    parser.add_argument("--api-kill-every", type=float, default=45, help="seconds")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.minutes <= 0 or min(args.db_kill_every, args.api_kill_every) <= 0:
        parser.error("--minutes and the kill intervals must be positive")
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
