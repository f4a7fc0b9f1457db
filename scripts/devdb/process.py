"""Start and stop the development database, and make sure we talk to the one we started.

Used by `make run`, the test suite, the benchmark and `make seed`, so there is one way to
get a database: `MONGODB_URI` when it is set, else a SecantusDB process on a loopback port.
A port that something else already listens on is refused with a message naming it, and
once the server answers, its `serverStatus.pid` must be the process we started: any other
listener would otherwise be taken for ours.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from scripts.devdb.servers import ROOT, ServerKind, choose

__all__ = ["ROOT", "PortBusy", "Server", "database", "free_port", "port_is_free", "start"]

DEFAULT_PORT = 27018
CACHE_SIZE = "256M"  # plenty for development data; WiredTiger's 1G default is not needed
START_TIMEOUT = 60.0


class PortBusy(RuntimeError):
    """Another process listens on the port asked for."""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether nothing listens on loopback `port` now (a closed server's lingering
    connections do not count: servers bind with SO_REUSEADDR, and so does this check)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Server:
    """A running dev database process."""

    proc: subprocess.Popen[bytes]
    port: int
    kind: ServerKind
    data: Path
    log: Path
    standalone: bool

    @property
    def uri(self) -> str:
        """The URI a client connects with."""
        return f"mongodb://127.0.0.1:{self.port}/"

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (WiredTiger checkpoints and closes), then SIGKILL if it lingers."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def describe(self) -> str:
        """One line for the person watching: which server, where, which topology."""
        topology = "standalone" if self.standalone else "one-node replica set"
        return (
            f"devdb: SecantusDB {self.kind} server on {self.uri} ({topology}, data in {self.data})"
        )


def _log_tail(log: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _server_pid(port: int) -> int | None:
    """The pid the server on `port` reports, or None while it does not answer yet."""
    client: MongoClient[dict[str, object]] = MongoClient(
        f"mongodb://127.0.0.1:{port}/",
        directConnection=True,
        serverSelectionTimeoutMS=500,
        connectTimeoutMS=500,
    )
    try:
        status = client.admin.command("serverStatus")
    except PyMongoError:
        return None
    finally:
        client.close()
    pid = status.get("pid")
    return int(pid) if isinstance(pid, int) else -1


def _wait_until_ours(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"the dev database exited with code {server.proc.returncode} before it "
                f"answered; its log ({server.log}) ends with:\n{_log_tail(server.log)}"
            )
        pid = _server_pid(server.port)
        if pid == server.proc.pid:
            return
        if pid is not None:
            raise PortBusy(
                f"port {server.port} is answered by another server (pid {pid}), not the dev "
                f"database started here (pid {server.proc.pid}): stop it, or choose another "
                f"port with DEVDB_PORT"
            )
        time.sleep(0.1)
    raise TimeoutError(f"the dev database did not answer on port {server.port} in {timeout}s")


def start(
    data_dir: Path,
    port: int | None = None,
    *,
    standalone: bool = False,
    server: str | None = None,
    log: Path | None = None,
) -> Server:
    """Start a dev database on `data_dir` and wait until it answers as itself.

    `port` None picks a free one; a given port that is taken raises `PortBusy`. `server`
    (`rust`, `python`) overrides the choice of `servers.choose`. `standalone` drops the
    replica-set advertisement, so clients see a server without transactions.
    """
    choice = choose(server)
    if choice.note:
        print(choice.note, flush=True)
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise PortBusy(
            f"port {port} is already in use by another program: stop it, or choose "
            f"another port with DEVDB_PORT=<port>"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    log = log or data_dir.with_name(data_dir.name + ".log")
    command = [
        str(choice.program),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        str(data_dir),
        "--cache-size",
        CACHE_SIZE,
        # Without it the Rust server acknowledges writes, even with j:true, before its log
        # reaches the disk, and a killed server loses them; MongoDB's default on a replica
        # set (w: majority, journaled) does not. It costs ~0.4 ms per write here.
        "--sync-on-commit",
    ]
    if standalone:
        command.append("--standalone")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Server(proc, port, choice.kind, data_dir, log, standalone)
    try:
        _wait_until_ours(running, START_TIMEOUT)
    except BaseException:
        running.stop()
        raise
    return running


@contextlib.contextmanager
def database(data_dir: Path, *, standalone: bool = False) -> Iterator[str]:
    """`MONGODB_URI` if set, else a dev database for the duration of the block."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    running = start(data_dir, standalone=standalone)
    try:
        yield running.uri
    finally:
        running.stop()
