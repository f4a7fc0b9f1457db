"""`make run`: the development database, the demo tenants, then the API, as one process tree.

Ctrl-C or SIGTERM stops the API (which runs its shutdown) and then the database it
started: no orphans, no traceback. The children run in sessions of their own, so the
terminal's Ctrl-C reaches this process alone and each child is told exactly once.

On a machine where the fast (Rust) dev database server is not built yet, the build starts
in the background and this run serves from the Python server meanwhile, so a newcomer is
never kept waiting; the next `make run` uses the Rust server.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from scripts.devdb import process as devdb
from scripts.devdb.build import USUAL_MINUTES
from scripts.devdb.servers import cargo, rust_binary

ROOT = devdb.ROOT
BUILD_LOG = ROOT / "build" / "devdb-build.log"
# Development only, and only without JWT_SECRET: the key tokens are signed with, kept so
# that a walkthrough's tokens survive a restart (ignored by git, removed by `make clean`).
DEV_SECRET = ROOT / "build" / "dev-jwt-secret"
WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - names of "every address", not a bind


def say(line: str) -> None:
    """One line for the person at the terminal."""
    print(line, flush=True)


def start_background_build() -> subprocess.Popen[bytes] | None:
    """Build the Rust server while this run serves from the Python one (see the docstring)."""
    if rust_binary().exists() or cargo() is None or os.environ.get("DEVDB_SERVER") == "python":
        return None
    BUILD_LOG.parent.mkdir(parents=True, exist_ok=True)
    build = subprocess.Popen(
        [sys.executable, "-m", "scripts.devdb", "build", "--log", str(BUILD_LOG)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    say(
        f"devdb: building the fast (Rust) dev database server in the background, once per "
        f"machine ({USUAL_MINUTES}; progress in {BUILD_LOG}). This run uses the Python "
        f"server meanwhile; the next `make run` uses the Rust one."
    )

    def report() -> None:
        if build.wait() == 0 and rust_binary().exists():
            say("devdb: the Rust server is built; the next `make run` will use it")

    threading.Thread(target=report, daemon=True).start()
    return build


def keep_tokens_across_restarts(env: dict[str, str]) -> None:
    """In development without a JWT_SECRET, sign tokens with the key kept in `DEV_SECRET`."""
    if (
        env.get("ENVIRONMENT") != "development"
        or env.get("JWT_SECRET")
        or _dotenv_sets("JWT_SECRET")
    ):
        return
    path = Path(env.setdefault("DEV_JWT_SECRET_FILE", str(DEV_SECRET)))
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    say(f"API: no JWT_SECRET: tokens are signed with the key in {shown}, so they outlive a restart")


def _dotenv_sets(name: str) -> bool:
    """Whether the `.env` file the API reads assigns `name`."""
    dotenv = ROOT / ".env"
    if not dotenv.is_file():
        return False
    lines = (
        line.strip().removeprefix("export ").lstrip() for line in dotenv.read_text().splitlines()
    )
    return any(line.startswith(f"{name}=") for line in lines)


def listening(
    proc: subprocess.Popen[bytes], host: str, port: str, stopping: Callable[[], bool]
) -> bool:
    """Wait until the API accepts connections; False if it exits or we stop first."""
    target = ("127.0.0.1" if host in WILDCARDS else host, int(port))
    while proc.poll() is None and not stopping():
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(target) == 0:
                return True
        time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """Ask a child to stop (SIGTERM), and kill it if it does not in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    """Start everything, wait for the API to exit, stop everything."""
    env = dict(os.environ)
    env.setdefault("ENVIRONMENT", "development")
    env.setdefault("MONGODB_DB", "ticketing")
    port = env.get("PORT", "8000")
    current: subprocess.Popen[bytes] | None = None
    stopping = False

    def forward(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if current is not None and current.poll() is None:
            current.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    server: devdb.Server | None = None
    build = None
    host = env.get("HOST", "127.0.0.1")
    shown = "127.0.0.1" if host in WILDCARDS else host
    try:
        if not devdb.port_is_free(int(port)):
            # Before the database and the seed, which would be for nothing.
            raise devdb.PortBusy(
                f"port {port} is already in use by another program: stop it, or choose "
                f"another port with PORT=<port>"
            )
        if not env.get("MONGODB_URI"):
            build = start_background_build()
            data = Path(env.get("DEVDB_DATA", ROOT / ".devdb"))
            db_port = int(env.get("DEVDB_PORT", str(devdb.DEFAULT_PORT)))
            server = devdb.start(data, db_port, server="python" if build else None)
            env["MONGODB_URI"] = server.uri
            say(server.describe())
        keep_tokens_across_restarts(env)
        say("seed: the demo tenants (idempotent)")
        current = subprocess.Popen(
            [sys.executable, "-m", "scripts.seed"], env=env, cwd=ROOT, start_new_session=True
        )
        if current.wait() != 0 or stopping:
            return 0 if stopping else current.returncode
        say(f"API: starting uvicorn on port {port}")
        current = subprocess.Popen(
            [sys.executable, "-m", "app", "--host", host, "--port", port],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        if listening(current, host, port, lambda: stopping):
            say(
                f"ready: the console at http://{shown}:{port}/ and the API at "
                f"http://{shown}:{port}/docs (Ctrl-C stops the API and the database)"
            )
        code = current.wait()
        # Stopped by the signal we forwarded: a normal end, not a failure of `make run`.
        return 0 if stopping else code
    except (devdb.PortBusy, RuntimeError, TimeoutError, FileNotFoundError) as exc:
        say(f"make run: {exc}")
        return 1
    finally:
        stop(current)
        if server is not None:
            server.stop()
            say("devdb: stopped")
        if build is not None and build.poll() is None:
            stop(build)
            say("devdb: the Rust server build was interrupted; the next `make run` resumes it")


if __name__ == "__main__":
    sys.exit(main())
