"""More app instances beside the session's: other "workers", other settings, other databases.

`worker` runs the API in a process of its own (uvicorn), the only way to share nothing but
the database with the app under test. In-process instances are cheaper, but see below.

Beanie binds its document classes to the client of the last `init_beanie` in the process,
so a second instance's start-up takes them over, and its shutdown closes the client they
point at. `instance` gives them back to the session's app on the way out, so the tests
after it (and the per-test cleanup) talk to the session's database again.
"""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.config import Settings
from app.db import initialise
from app.main import create_app
from scripts.devdb import process as devdb


def client_for(app: FastAPI, address: str = "127.0.0.1", **kwargs: object) -> httpx.AsyncClient:
    """An in-process client whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40_000), **kwargs)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@asynccontextmanager
async def instance(settings: Settings, home: FastAPI) -> AsyncIterator[FastAPI]:
    """Another app built from `settings`, inside its lifespan; `home` is rebound after it."""
    other = create_app(settings)
    try:
        async with LifespanManager(other):
            yield other
    finally:
        await initialise(home.state.db)


@asynccontextmanager
async def worker(
    settings: Settings,
    log: Path,
    workers: int = 1,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[str]:
    """The API in its own uvicorn process on `settings`' database (and PDP key, if any),
    with `workers` worker processes behind its one port, `args` added to its command line
    and `env` to its environment; yields its base URL."""
    port = devdb.free_port()
    environment = (
        os.environ
        | dict(env or {})
        | {
            "ENVIRONMENT": "development",
            "MONGODB_URI": settings.mongodb_uri,
            "MONGODB_DB": settings.mongodb_db,
            "JWT_SECRET": settings.secret_key,
            "POLICY_FILE": str(settings.policy_file),
            "AUDIT_FLUSH_SECONDS": str(settings.audit_flush_seconds),
        }
    )
    if settings.pdp_api_key is not None:
        environment["PDP_API_KEY"] = settings.pdp_api_key.get_secret_value()
    command = [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603, ASYNC220 - our own command; a child for the test
            command, env=environment, cwd=devdb.ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_ready(url, proc, log)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


async def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=url) as c:
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if (await c.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-2000:]
    raise TimeoutError(f"the API process did not become ready:\n{tail}")
