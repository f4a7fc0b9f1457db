"""The API as its own process, as deployed: started with `python -m app`, watched, stopped."""

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the dependency group

from scripts.devdb.process import ROOT, free_port

READY_SECONDS = 60


@dataclass
class Api:
    """A running API process: where it listens, and its peak resident memory so far."""

    base_url: str
    process: psutil.Process
    peak_rss: int = 0

    def cpu_ms(self) -> float:
        """CPU milliseconds the process has used so far: from the scheduler's nanosecond
        counts of each of its threads where Linux has them, else psutil's (10 ms ticks)."""
        tasks = Path(f"/proc/{self.process.pid}/task")
        with contextlib.suppress(OSError, ValueError):
            return (
                sum(int((task / "schedstat").read_text().split()[0]) for task in tasks.iterdir())
                / 1e6
            )
        times = self.process.cpu_times()
        used: float = times.user + times.system
        return used * 1000

    def sample_memory(self) -> None:
        """Take the resident memory now into the peak."""
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)


async def _watch_memory(api: Api) -> None:
    while True:
        api.sample_memory()
        await asyncio.sleep(0.1)


def _tail(log: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


async def _wait_ready(proc: asyncio.subprocess.Process, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"the API exited with {proc.returncode}:\n{_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API was not ready in {READY_SECONDS} s:\n{_tail(log)}")
            await asyncio.sleep(0.2)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def api_environment(uri: str, db: str, jwt_secret: str) -> dict[str, str]:
    """The API's settings for a run on database `db` at `uri`: development, with the
    no-authorization baseline mounted and the lists pushed into the query."""
    return {
        "ENVIRONMENT": "development",
        "BENCH_ROUTES": "1",
        "JWT_SECRET": jwt_secret,
        "MONGODB_URI": uri,
        "MONGODB_DB": db,
        "LIST_STRATEGY": "pushdown",
    }


@contextlib.asynccontextmanager
async def api_process(env: dict[str, str], log: Path) -> AsyncIterator[Api]:
    """The API in its own process with `env` added to ours; stopped (and awaited) on exit."""
    port = free_port()
    command = [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port), "--quiet"]
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=os.environ | env, stdout=out, stderr=out
        )
    api = Api(f"http://127.0.0.1:{port}", psutil.Process(proc.pid))
    watcher = None
    try:
        await _wait_ready(proc, api.base_url, log)
        watcher = asyncio.create_task(_watch_memory(api))
        yield api
    finally:
        if watcher is not None:
            watcher.cancel()
        await _stop(proc)
