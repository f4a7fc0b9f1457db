"""Start and stop the development database (the Go launcher next to this file).

Used by `make run`, the test suite, the demo and the benchmark, so there is one way to get
a database: `MONGODB_URI` when it is set, else a FerretDB process on a free loopback port.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "build" / "devdb"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    """Block until the port accepts connections; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"devdb exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"devdb did not listen on port {port} within {timeout}s")


def start(
    data_dir: Path, port: int | None = None, quiet: bool = True
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a devdb process; return it and its MongoDB URI."""
    if not BINARY.exists():
        raise FileNotFoundError(f"{BINARY} is missing: run `make setup` first")
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(
        [str(BINARY), "-listen", f"127.0.0.1:{port}", "-data", str(data_dir)],
        stdout=out,
        stderr=out,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc)
    except BaseException:
        stop(proc)
        raise
    return proc, f"mongodb://127.0.0.1:{port}/"


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Stop a devdb process: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def database(data_dir: Path) -> Iterator[str]:
    """`MONGODB_URI` if set, else a devdb for the duration of the block."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    proc, uri = start(data_dir)
    try:
        yield uri
    finally:
        stop(proc)
