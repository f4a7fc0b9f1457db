"""`make run`: the development database, the demo tenants, then the API, as one process tree.

Ctrl-C or SIGTERM stops the API and then the database it started: no orphans.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from scripts.devdb import process as devdb

ROOT = devdb.ROOT


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


def main() -> int:
    """Start everything, wait for the API to exit, stop everything."""
    env = dict(os.environ)
    env.setdefault("ENVIRONMENT", "development")
    env.setdefault("MONGODB_DB", "ticketing")
    port = env.get("PORT", "8000")
    db_proc = None
    if not env.get("MONGODB_URI"):
        db_port = int(env.get("DEVDB_PORT", "27018"))
        data = Path(env.get("DEVDB_DATA", ROOT / ".devdb"))
        db_proc, env["MONGODB_URI"] = devdb.start(data, db_port, quiet=True)
        print(f"devdb: {env['MONGODB_URI']} (data in {data})", flush=True)
    api: subprocess.Popen[bytes] | None = None
    stopping = False

    def forward(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if api is not None and api.poll() is None:
            api.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        if (ROOT / "scripts" / "seed.py").exists():
            seeded = subprocess.run(
                [sys.executable, "-m", "scripts.seed"], env=env, cwd=ROOT, check=False
            )
            if seeded.returncode != 0:
                return seeded.returncode
        print(f"API: http://127.0.0.1:{port}/docs", flush=True)
        api = subprocess.Popen(
            api_command(env.get("HOST", "127.0.0.1"), port),
            env=env,
            cwd=ROOT,
        )
        code = api.wait()
        # Stopped by the signal we forwarded: a normal end, not a failure of `make run`.
        return 0 if stopping else code
    finally:
        if api is not None and api.poll() is None:
            api.terminate()
            api.wait()
        if db_proc is not None:
            devdb.stop(db_proc)


if __name__ == "__main__":
    sys.exit(main())
