"""`python -m scripts.bench.profile ROUTE`: where one route's CPU goes, sampled with py-spy.

The method behind the profile summary of docs/benchmarks.md: seed the bench's world of
1,000 tickets per tenant on a fresh dev database, start the API as its own process (as
`make bench` does), send ROUTE one request at a time from this process while py-spy samples
the API process, then print the functions holding the most samples, inclusive and self.
ROUTE is one of `list` (`GET /tickets`, a page of 50, as the agent), `floor` (`GET
/bench/tickets-raw`, its floor), `get` (`GET /tickets/{id}`), `reply` (`POST
/tickets/{id}/replies`) or `pdp` (a check through the Python Permit SDK). It also prints
the API's CPU per request, from the scheduler's counts.

    .venv/bin/python -m scripts.bench.profile list --seconds 15

py-spy (in the `bench` dependency group) attaches to another process with ptrace: as root,
or with `kernel.yama.ptrace_scope` at 0.
"""

import argparse
import asyncio
import collections
import dataclasses
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import httpx
from bson import ObjectId
from permit import Permit
from pymongo import AsyncMongoClient

from authz.engine import default_engine
from authz.scope import Scope
from models import Ticket
from scripts.bench import world
from scripts.bench.api import api_environment, api_process
from scripts.bench.load import AUTHORIZED, FLOOR, _list_jobs, _token
from scripts.bench.options import parse

ROUTES = ("list", "floor", "get", "reply", "pdp")
SIZE = 1000


def summary(collapsed: Path, top: int) -> str:
    """The `top` functions by inclusive and by self samples of py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";"), int(count)
        total += n
        own[frames[-1]] += n
        inclusive.update(dict.fromkeys(set(frames), n))
    out = [f"{total} samples", "-- inclusive"]
    out += [f"{100 * n / total:5.1f}% {f}" for f, n in inclusive.most_common(top)]
    out += ["-- self"] + [f"{100 * n / total:5.1f}% {f}" for f, n in own.most_common(top // 2)]
    return "\n".join(out)


async def profile(route: str, seconds: float, top: int) -> None:
    """Seed, start the API, measure CPU per request, sample, print."""
    opts = dataclasses.replace(parse([]), sizes=(SIZE,), http_size=SIZE)  # the HTTP world
    with world.server() as uri:
        client: world.Client = AsyncMongoClient(uri, tz_aware=True)
        w = await world.build(client, opts, SIZE)
        run = world.Run(opts, client, uri, "", {SIZE: w})
        secret, key = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
        agent = w.principals["agent"].user_id
        headers = {"Authorization": f"Bearer {_token(run, w, agent, secret)}"}
        compiled = default_engine().query_filter(w.principals["agent"], "ticket:read", "ticket")
        projection = Scope(default_engine(), w.principals["agent"]).projection(Ticket, "ticket")
        jobs = _list_jobs(w.company, compiled, projection)
        found = w.db["tickets"].find({"company": w.company, "confidential": False}, {"_id": 1})
        ids = [d["_id"] for d in await found.limit(50).to_list()]
        env = api_environment(uri, w.name, secret) | {"PDP_API_KEY": key}
        with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
            async with (
                api_process(env, Path(tmp) / "api.log") as api,
                httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=60) as http,
            ):
                permit = Permit(pdp=f"{api.base_url}/pdp", token=key)
                urls = {"list": jobs[AUTHORIZED][2], "floor": jobs[FLOOR][2]}
                send = _sender(route, http, permit, urls, str(agent), ids)
                for i in range(30):
                    await send(i)
                before, n = api.cpu_ms(), 200
                for i in range(n):
                    await send(i)
                print(f"{route}: API CPU per request {(api.cpu_ms() - before) / n:.2f} ms")
                out = Path(tmp) / "stacks.txt"
                spy = await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).with_name("py-spy")), "record",
                    "-p", str(api.process.pid), "-d", str(int(seconds)),
                    "-r", "500", "-f", "raw", "-o", str(out),
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                deadline, i = time.monotonic() + seconds + 1, 0
                while time.monotonic() < deadline:
                    await send(i)
                    i += 1
                _, err = await spy.communicate()
                if spy.returncode != 0:
                    raise SystemExit(f"py-spy failed: {err.decode(errors='replace')}")
                print(summary(out, top))
        await client.drop_database(w.name)
        await client.close()


def _sender(
    route: str,
    http: httpx.AsyncClient,
    permit: Permit,
    urls: dict[str, str],
    user: str,
    ids: list[ObjectId],
) -> Callable[[int], Awaitable[object]]:
    """One request of `route` about the `i`th of `ids`, checked for success."""

    async def send(i: int) -> object:
        ticket = str(ids[i % len(ids)])
        if route == "pdp":
            return await permit.check(user, "read", {"type": "ticket", "key": ticket})
        if route == "reply":
            body = {"body": "Looking into it.", "internal": False}
            r = await http.post(f"/tickets/{ticket}/replies", json=body)
        else:
            r = await http.get(urls.get(route, f"/tickets/{ticket}"))
        r.raise_for_status()
        return r

    return send


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the route and run."""
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.profile", description=__doc__)
    parser.add_argument("route", choices=ROUTES)
    parser.add_argument("--seconds", type=float, default=15, help="how long py-spy samples")
    parser.add_argument("--top", type=int, default=40, help="functions printed")
    args = parser.parse_args(argv)
    asyncio.run(profile(args.route, args.seconds, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
