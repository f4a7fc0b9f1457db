"""Two worker processes behind one port (`python -m app --workers 2`), as production runs
the API: what the workers must agree on lives in the database, so a revocation, a login
throttle and a ticket number sequence behave across them as they do in one process.

Every request goes on a new connection, so the kernel hands them to either worker; each
test checks that both workers served some of them (their CPU time grew).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the dependency group
import pytest

from app.config import Settings
from tests.utils.factories import PASSWORD, World
from tests.utils.instances import worker

REQUESTS = 40  # per test: enough that both workers take some, whichever order


@pytest.fixture(scope="module")
async def api_url(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    async with worker(settings, tmp_path_factory.mktemp("workers") / "api.log", workers=2) as url:
        yield url


def _workers(url: str) -> list[psutil.Process]:
    """The worker processes of the uvicorn started on `url`'s port."""
    port = str(urlsplit(url).port)
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "app" in cmdline and "--port" in cmdline and port in cmdline:
            # uvicorn spawns its workers with multiprocessing (beside its resource tracker).
            children: list[psutil.Process] = proc.children()
            return [c for c in children if "spawn_main" in " ".join(c.cmdline())]
    raise LookupError(f"no API process on port {port}")


@asynccontextmanager
async def both_serve(url: str) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    """New connections for every request; on exit, asserts that both workers served."""
    workers = _workers(url)
    assert len(workers) == 2
    before = [sum(w.cpu_times()[:2]) for w in workers]

    def fresh() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
        )

    yield fresh
    used = [sum(w.cpu_times()[:2]) - b for w, b in zip(workers, before, strict=True)]
    assert all(u > 0 for u in used), f"CPU seconds per worker: {used}"


async def _spread(n: int, one: Callable[[int], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def test_a_removal_is_refused_by_every_worker_at_once(api_url: str, world: World) -> None:
    admin, agent = await world.user("sara"), await world.user("mark")
    acme = await world.company(admin=admin)
    await world.member(acme, agent, "agent")
    ticket = await world.ticket(acme, admin)
    async with both_serve(api_url) as fresh, fresh() as c:
        assert (await c.get(f"/tickets/{ticket.id}", headers=world.auth(agent))).status_code == 200
        r = await c.delete(f"/companies/{acme.id}/members/{agent.id}", headers=world.auth(admin))
        assert r.status_code == 204, r.text

        async def read(_: int) -> httpx.Response:
            async with fresh() as each:
                return await each.get(f"/tickets/{ticket.id}", headers=world.auth(agent))

        assert {r.status_code for r in await _spread(REQUESTS, read)} == {404}


async def test_a_login_throttle_counts_the_attempts_made_on_every_worker(
    api_url: str, world: World, settings: Settings
) -> None:
    user = await world.user("lisa")
    attempts = settings.login_max_failures + REQUESTS
    async with both_serve(api_url) as fresh:

        async def guess(i: int) -> httpx.Response:
            async with fresh() as each:
                form = {"username": user.email, "password": f"wrong-guess-{i}"}
                return await each.post("/auth/token", data=form)

        statuses = [r.status_code for r in await _spread(attempts, guess)]
        # However the guesses fall on the workers, no more than the limit get checked.
        assert statuses.count(401) == settings.login_max_failures
        assert statuses.count(429) == attempts - settings.login_max_failures
        async with fresh() as c:
            form = {"username": user.email, "password": PASSWORD}
            assert (await c.post("/auth/token", data=form)).status_code == 429  # locked


async def test_ticket_numbers_stay_one_sequence_across_workers(api_url: str, world: World) -> None:
    customer = await world.user("lisa")
    acme = await world.company(admin=await world.user("sara"))
    await world.member(acme, customer, "customer")
    async with both_serve(api_url) as fresh:

        async def open_ticket(i: int) -> httpx.Response:
            async with fresh() as each:
                body = {"company_id": str(acme.id), "subject": f"#{i}", "description": "."}
                return await each.post("/tickets", json=body, headers=world.auth(customer))

        responses = await _spread(REQUESTS, open_ticket)
    assert [r.status_code for r in responses] == [201] * REQUESTS
    assert sorted(r.json()["number"] for r in responses) == list(range(1, REQUESTS + 1))
