"""Two worker processes behind one port (`python -m app --workers 2`), as production runs
the API: what the workers must agree on lives in the database, so a revocation, a login
throttle and a ticket number sequence behave across them as they do in one process.

Each request goes on a new connection, and the kernel hands connections to either worker;
each test sends them until both workers have served some (their CPU time grew).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the dependency group
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from tests.utils.factories import PASSWORD, World
from tests.utils.instances import worker

REQUESTS = 20  # per test at least, and until both workers have served some
MOST = 400
SERVED_NS = 2_000_000  # CPU a worker spends on a few requests: it served some


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


def _cpu_ns(proc: psutil.Process) -> int:
    """Nanoseconds of CPU the process has used (the scheduler's count of each thread)."""
    tasks = Path(f"/proc/{proc.pid}/task")
    return sum(int((t / "schedstat").read_text().split()[0]) for t in tasks.iterdir())


async def spread(
    url: str, one: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], at_least: int
) -> list[httpx.Response]:
    """`one(client, i)` for i = 0, 1, ..., each on a new connection, until `at_least` were
    sent and both workers have served some (which worker accepts a connection is the
    kernel's choice); their responses."""
    workers = _workers(url)
    assert len(workers) == 2
    before = [_cpu_ns(w) for w in workers]
    responses: list[httpx.Response] = []
    while len(responses) < MOST:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as fresh:
            responses.append(await one(fresh, len(responses)))
        grown = [_cpu_ns(w) - b > SERVED_NS for w, b in zip(workers, before, strict=True)]
        if len(responses) >= at_least and all(grown):
            return responses
        await asyncio.sleep(0.005)  # let the other worker's accept loop come round
    raise AssertionError(f"one worker served all of {MOST} requests on new connections")


async def test_a_removal_is_refused_by_every_worker_at_once(api_url: str, world: World) -> None:
    admin, agent = await world.user("sara"), await world.user("mark")
    acme = await world.company(admin=admin)
    await world.member(acme, agent, "agent")
    ticket = await world.ticket(acme, admin)
    async with httpx.AsyncClient(base_url=api_url) as c:
        assert (await c.get(f"/tickets/{ticket.id}", headers=world.auth(agent))).status_code == 200
        r = await c.delete(f"/companies/{acme.id}/members/{agent.id}", headers=world.auth(admin))
        assert r.status_code == 204, r.text

    async def read(c: httpx.AsyncClient, _: int) -> httpx.Response:
        return await c.get(f"/tickets/{ticket.id}", headers=world.auth(agent))

    assert {r.status_code for r in await spread(api_url, read, REQUESTS)} == {404}


async def test_a_login_throttle_counts_the_attempts_made_on_every_worker(
    api_url: str, world: World, settings: Settings
) -> None:
    user = await world.user("lisa")

    async def guess(c: httpx.AsyncClient, i: int) -> httpx.Response:
        return await c.post("/auth/token", data={"username": user.email, "password": f"no-{i}"})

    statuses = [r.status_code for r in await spread(api_url, guess, REQUESTS)]
    # Whichever worker each guess reached, the limit holds for them all, then the lock.
    limit = settings.login_max_failures
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
    async with httpx.AsyncClient(base_url=api_url) as c:
        form = {"username": user.email, "password": PASSWORD}
        assert (await c.post("/auth/token", data=form)).status_code == 429  # locked


async def test_ticket_numbers_stay_one_sequence_across_workers(api_url: str, world: World) -> None:
    customer = await world.user("lisa")
    acme = await world.company(admin=await world.user("sara"))
    await world.member(acme, customer, "customer")

    async def open_ticket(c: httpx.AsyncClient, i: int) -> httpx.Response:
        body = {"company_id": str(acme.id), "subject": f"#{i}", "description": "."}
        return await c.post("/tickets", json=body, headers=world.auth(customer))

    responses = await spread(api_url, open_ticket, REQUESTS)
    assert {r.status_code for r in responses} == {201}
    assert [r.json()["number"] for r in responses] == list(range(1, len(responses) + 1))
    # And at once, from both workers: still one sequence, no number twice.
    async with httpx.AsyncClient(base_url=api_url) as c:
        more = await asyncio.gather(*(open_ticket(c, i) for i in range(REQUESTS)))
    numbers = sorted(r.json()["number"] for r in more)
    assert numbers == list(range(len(responses) + 1, len(responses) + REQUESTS + 1))


async def test_with_a_shared_metrics_directory_any_worker_reports_every_workers_requests(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    async with worker(settings, tmp_path / "api.log", workers=2) as url:

        async def health(c: httpx.AsyncClient, _: int) -> httpx.Response:
            return await c.get("/healthz")

        sent = len(await spread(url, health, REQUESTS))
        for _ in range(6):  # whichever worker answers the scrape, it counts both
            async with httpx.AsyncClient(base_url=url) as c:
                text = (await c.get("/metrics")).text
            counted = sum(
                s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name == "ticketing_http_requests_total" and s.labels["route"] == "/healthz"
            )
            assert counted == sent
