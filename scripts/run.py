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
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from scripts.devdb import process as devdb
from scripts.devdb.build import USUAL_MINUTES
from scripts.devdb.servers import cargo, rust_binary

ROOT = devdb.ROOT
BUILD_LOG = ROOT / "build" / "devdb-build.log"


def api_command(host: str, port: str) -> list[str]:
    """The command that serves the API with uvicorn (also used by tests for a real worker)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        port,
    ]


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
    try:
        if not env.get("MONGODB_URI"):
            build = start_background_build()
            data = Path(env.get("DEVDB_DATA", ROOT / ".devdb"))
            db_port = int(env.get("DEVDB_PORT", str(devdb.DEFAULT_PORT)))
            server = devdb.start(data, db_port, server="python" if build else None)
            env["MONGODB_URI"] = server.uri
            say(server.describe())
        say("seed: the demo tenants (idempotent)")
        current = subprocess.Popen(
            [sys.executable, "-m", "scripts.seed"], env=env, cwd=ROOT, start_new_session=True
        )
        if current.wait() != 0 or stopping:
            return 0 if stopping else current.returncode
        say(
            f"console: http://127.0.0.1:{port}/  API: http://127.0.0.1:{port}/docs "
            "(Ctrl-C stops the API and the database)"
        )
        current = subprocess.Popen(
            api_command(env.get("HOST", "127.0.0.1"), port),
            env=env,
            cwd=ROOT,
            start_new_session=True,
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
