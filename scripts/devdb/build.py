"""Build the pinned Rust server once per machine, showing what happens and how far it is.

`cargo install` prints one `Compiling <crate>` line per crate; counted against the crates
of the server's own lock file they make a progress bar (on a terminal) or a line every half
minute (in a log). The build's intermediate files live in the cache too, so an interrupted
build resumes where it stopped, and a lock file keeps two builds from racing.
"""

import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from scripts.devdb.servers import (
    CARGO_FLAGS,
    RUST_BINARY,
    RUST_CRATE,
    RUST_VERSION,
    cache_dir,
    cargo,
    rust_binary,
    rust_root,
)

USUAL_MINUTES = "6 to 8 minutes on 2 cores"
LOG_EVERY_SECONDS = 30.0


class BuildFailed(RuntimeError):
    """cargo could not build the server; the message ends with cargo's last lines."""


def announce(console: Console) -> None:
    """Say what is about to happen, once, before the first line of cargo output."""
    console.print(
        f"devdb: building the development database server ({RUST_CRATE} {RUST_VERSION}, "
        f"SecantusDB's Rust server) with cargo. This happens once per machine and usually "
        f"takes {USUAL_MINUTES}; later runs reuse {rust_binary()}.",
        highlight=False,
    )


def crate_count() -> int | None:
    """How many crates the server's lock file names (once cargo has downloaded it)."""
    home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    for lock in home.glob(f"registry/src/*/{RUST_CRATE}-{RUST_VERSION}/Cargo.lock"):
        return lock.read_text().count("[[package]]")
    return None


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """Hold the machine-wide build lock (another clone or `make run` may be building)."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / "build.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("devdb: another build of the server is under way; waiting for it", flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _command(program: str) -> list[str]:
    return [
        program,
        "install",
        RUST_CRATE,
        "--version",
        RUST_VERSION,
        *CARGO_FLAGS,
        "--root",
        str(rust_root()),
        "--target-dir",
        str(cache_dir() / "cargo-target"),
        "--bin",
        RUST_BINARY,
    ]


def _follow(stream: IO[str], console: Console, log: IO[str] | None) -> list[str]:
    """Show cargo's progress; return its last lines (for a failure message)."""
    tail: list[str] = []
    compiled = 0
    started = last_print = time.monotonic()
    live = console.is_terminal and log is None
    progress = Progress(
        TextColumn("devdb build"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} crates"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
        disable=not live,
    )
    with progress:
        task = progress.add_task("downloading", total=None)
        for line in stream:
            if log is not None:
                log.write(line)
                log.flush()
            tail = [*tail[-29:], line.rstrip()]
            words = line.split()
            if words[:1] != ["Compiling"]:
                continue
            compiled += 1
            total = crate_count()
            progress.update(task, completed=compiled, total=total, description=words[1])
            now = time.monotonic()
            if not live and log is None and now - last_print >= LOG_EVERY_SECONDS:
                last_print = now
                about = f" of about {total}" if total else ""
                print(
                    f"devdb build: {compiled}{about} crates compiled "
                    f"({(now - started) / 60:.1f} min)",
                    flush=True,
                )
    return tail


def build_rust(console: Console | None = None, log_path: Path | None = None) -> Path:
    """Build the pinned Rust server unless it is there; return its program.

    `log_path` sends cargo's output to a file instead of the terminal (a background build).
    """
    binary = rust_binary()
    if binary.exists():
        return binary
    program = cargo()
    if program is None:
        raise BuildFailed("no Rust toolchain: cargo is not installed")
    console = console or Console(stderr=True)
    with build_lock():
        if binary.exists():  # the build we waited for made it
            return binary
        if log_path is None:
            announce(console)
        started = time.monotonic()
        log = log_path.open("w") if log_path is not None else None
        try:
            proc = subprocess.Popen(
                _command(program),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ | {"CARGO_TERM_COLOR": "never", "CARGO_TERM_PROGRESS_WHEN": "never"},
            )
            assert proc.stderr is not None  # noqa: S101 - piped above
            tail = _follow(proc.stderr, console, log)
            code = proc.wait()
        finally:
            if log is not None:
                log.close()
        if code != 0 or not binary.exists():
            raise BuildFailed(f"cargo exited with code {code}:\n" + "\n".join(tail[-15:]))
        if log_path is None:
            minutes = (time.monotonic() - started) / 60
            console.print(f"devdb: built {binary} in {minutes:.1f} min", highlight=False)
    return binary


def ensure_built(console: Console | None = None, log_path: Path | None = None) -> int:
    """`python -m scripts.devdb build`: the Rust server, or a clear word on the fallback."""
    console = console or Console(stderr=True)
    if cargo() is None:
        console.print(
            "devdb: no Rust toolchain (cargo) here, so the development database runs on "
            "SecantusDB's Python server (slower; install Rust from rustup.rs for the fast one)",
            highlight=False,
        )
        return 0
    try:
        build_rust(console, log_path)
    except BuildFailed as exc:
        # The Python server still gives a real database; the failure is said, not hidden.
        console.print(
            f"devdb: building the Rust server failed, so SecantusDB's Python server is used: {exc}",
            highlight=False,
        )
    return 0
