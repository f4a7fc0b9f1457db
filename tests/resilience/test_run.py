"""`make run` end to end: `python -m scripts.run` as a terminal runs it.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group; the launcher must
then stop the API (whose shutdown runs) and the database it started, exit 0 and print no
traceback, every time (it used to be intermittent, so the stop is repeated). A database
port that another program holds is refused before anything is seeded or served.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from scripts.devdb.process import ROOT, free_port, port_is_free
from scripts.devdb.servers import rust_binary

pytestmark = pytest.mark.slow

STOPS = 4
READY_SECONDS = 90.0


@dataclass
class Run:
    """One `python -m scripts.run` in a process group of its own, output in `log`."""

    proc: subprocess.Popen[bytes]
    log: Path
    api: str

    def output(self) -> str:
        """Everything it printed so far."""
        return self.log.read_text(errors="replace")


def environment(tmp: Path, api_port: int, db_port: int) -> dict[str, str]:
    """`make run`'s environment, on ports and files of the test's own."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "JWT_SECRET")}
    env |= {
        "PORT": str(api_port),
        "DEVDB_PORT": str(db_port),
        "DEVDB_DATA": str(tmp / "devdb"),
        "DEV_JWT_SECRET_FILE": str(tmp / "dev-jwt-secret"),
        "MONGODB_DB": "ticketing",
        "PYTHONUNBUFFERED": "1",
    }
    if not rust_binary().exists():
        # Never start the 10-minute background build of the Rust server from a test.
        env["DEVDB_SERVER"] = "python"
    return env


def launch(env: dict[str, str], log: Path) -> Run:
    """Start the launcher as its own process group leader, like a shell's foreground job."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.run"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    return Run(proc, log, f"http://127.0.0.1:{env['PORT']}")


def wait_ready(run: Run) -> None:
    """Until /readyz answers 200 and the launcher has said so (it polls on its own, and a
    Ctrl-C between the two would stop it before its announcement); the launcher's output
    if it never does."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if run.proc.poll() is not None:
            break
        try:
            answered = httpx.get(f"{run.api}/readyz", timeout=2).status_code == 200
            if answered and "ready: the console at" in run.output():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"make run did not become ready:\n{run.output()}")


def interrupt(run: Run) -> int:
    """Ctrl-C as a terminal sends it: SIGINT to every process of the foreground group."""
    os.killpg(run.proc.pid, signal.SIGINT)
    try:
        return run.proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(run.proc.pid, signal.SIGKILL)
        run.proc.wait()
        pytest.fail(f"make run did not stop within 60 s of Ctrl-C:\n{run.output()}")


@pytest.fixture
def ports() -> tuple[int, int]:
    """A free port for the API and one for the database."""
    api, db = free_port(), free_port()
    while db == api:
        db = free_port()
    return api, db


async def test_ctrl_c_stops_everything_quietly_every_time(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    # In a thread: the minutes this takes must not stall the session's event loop, whose
    # database client would then find its connections timed out.
    await asyncio.to_thread(stop_and_restart, tmp_path, *ports)


def stop_and_restart(tmp_path: Path, api_port: int, db_port: int) -> None:
    """Start, use, Ctrl-C and check, `STOPS` times on the same data."""
    env = environment(tmp_path, api_port, db_port)
    token = ""
    for stop in range(STOPS):
        run = launch(env, tmp_path / f"run{stop}.log")
        wait_ready(run)
        if stop == 0:
            r = httpx.post(
                f"{run.api}/auth/login",
                json={"email": "lisa@acme.example", "password": "demo-pass-2026"},
            )
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            assert "tokens are signed with the key in" in run.output()
        else:
            # Signed before a restart, still accepted after it (development key on disk).
            r = httpx.get(f"{run.api}/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["email"] == "lisa@acme.example", r.text
        code = interrupt(run)
        out = run.output()
        assert code == 0, f"stop {stop}: exit {code}\n{out}"
        assert "Application shutdown complete" in out, f"stop {stop}:\n{out}"
        assert "Traceback" not in out and "KeyboardInterrupt" not in out, f"stop {stop}:\n{out}"
        assert "devdb: stopped" in out, out
        # The address is announced once it answers, not before (it used to be, seconds early).
        ready = out.index(f"ready: the console at http://127.0.0.1:{api_port}/")
        assert ready > out.index("Application startup complete"), out
        assert port_is_free(db_port), f"stop {stop}: the database still listens"
        assert port_is_free(api_port), f"stop {stop}: the API still listens"


async def test_a_port_held_by_another_program_is_refused(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    api_port, db_port = ports
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", db_port))
        squatter.listen()
        run = launch(environment(tmp_path, api_port, db_port), tmp_path / "run.log")
        code = await asyncio.to_thread(run.proc.wait, 60)
    out = run.output()
    assert code != 0, out
    assert f"port {db_port} is already in use" in out and "DEVDB_PORT" in out, out
    assert "seed:" not in out and "Uvicorn running" not in out, out
    assert "Traceback" not in out, out
    assert port_is_free(api_port), "the API was never started"


async def test_a_busy_api_port_is_refused_before_anything_starts(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    api_port, db_port = ports
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", api_port))
        squatter.listen()
        run = launch(environment(tmp_path, api_port, db_port), tmp_path / "run.log")
        code = await asyncio.to_thread(run.proc.wait, 60)
    out = run.output()
    assert code != 0, out
    assert f"port {api_port} is already in use" in out and "PORT=<port>" in out, out
    assert "devdb:" not in out and "seed:" not in out and "Traceback" not in out, out
    assert port_is_free(db_port), "no database was started"


async def test_another_dev_database_on_the_port_is_not_taken_for_ours(
    tmp_path: Path, ports: tuple[int, int], mongodb_uri: str
) -> None:
    """The case that was reported: a second `make run` on the first one's DEVDB_PORT (here,
    the test session's database) seeded and served the first one's database."""
    api_port, _ = ports
    db_port = int(mongodb_uri.rsplit(":", 1)[1].split("/", 1)[0])
    env = environment(tmp_path, api_port, db_port) | {"MONGODB_DB": f"second_run_{os.getpid()}"}
    run = launch(env, tmp_path / "run.log")
    code = await asyncio.to_thread(run.proc.wait, 60)
    out = run.output()
    assert code != 0 and f"port {db_port}" in out and "Uvicorn running" not in out, out
    client: MongoClient[dict[str, object]]
    with MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000) as client:
        assert env["MONGODB_DB"] not in client.list_database_names(), "nothing was seeded there"
