"""Which SecantusDB server the development database runs, and where its program is.

Two servers speak the MongoDB wire protocol over the same WiredTiger storage:

- `rust`: crate `secantus-mdb` from crates.io, binary `secantusd-rs`: the fast one (index
  scans, sorts in the index), built once per machine by `cargo install` into a cache
  outside the clone, so every clone and every CI run on the machine reuse it.
- `python`: package `secantusdb` from PyPI (dependency group `devdb`, pinned in uv.lock),
  binary `secantusd-py`: no build, slower (lists fetch, then sort).

SecantusDB is GPL-2.0-only: it runs as a separate process for development and tests, and
nothing in `app/`, `authz/` or `models/` imports it.
"""

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[2]

RUST_CRATE = "secantus-mdb"
RUST_VERSION = "0.5.3-beta.196"
RUST_BINARY = "secantusd-rs"
# The crate declares rustc 1.98 while the machines have 1.95, which builds and runs it.
CARGO_FLAGS = ("--locked", "--ignore-rust-version")
PYTHON_BINARY = "secantusd-py"

ServerKind = Literal["rust", "python"]


def cache_dir() -> Path:
    """Where built servers are kept, per version, shared by every clone on the machine."""
    configured = os.environ.get("DEVDB_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ticketing"


def rust_root() -> Path:
    """The `cargo install --root` of the pinned Rust server."""
    return cache_dir() / f"{RUST_BINARY}-{RUST_VERSION}"


def rust_binary() -> Path:
    """Where the pinned Rust server's program is once built."""
    return rust_root() / "bin" / RUST_BINARY


def python_binary() -> Path:
    """The Python server's program, installed into this virtualenv by `uv sync`."""
    return Path(sys.executable).with_name(PYTHON_BINARY)


def cargo() -> str | None:
    """The cargo program, if a Rust toolchain is installed."""
    found = shutil.which("cargo")
    if found:
        return found
    home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo")) / "bin" / "cargo"
    return str(home) if home.exists() else None


@dataclass(frozen=True, slots=True)
class Choice:
    """The server to start, and a line for the person waiting when it is not the Rust one."""

    kind: ServerKind
    program: Path
    note: str | None = None


def choose(preferred: str | None = None) -> Choice:
    """The server for this run: `DEVDB_SERVER` (`rust`, `python`) or the best one available.

    The Rust server when it is built; the Python one otherwise, with a note that says why
    and what to do. Building is the caller's decision (`scripts.devdb.build`).
    """
    wanted = preferred or os.environ.get("DEVDB_SERVER", "auto")
    if wanted not in ("auto", "rust", "python"):
        raise ValueError(f"DEVDB_SERVER must be rust, python or auto, not {wanted!r}")
    rust = rust_binary()
    if wanted != "python" and rust.exists():
        return Choice("rust", rust)
    if wanted == "rust":
        raise FileNotFoundError(
            f"the Rust dev database server is not built ({rust} is missing): "
            "run `python -m scripts.devdb build`"
        )
    python = python_binary()
    if not python.exists():
        raise FileNotFoundError(f"{python} is missing: run `make setup` first")
    if wanted == "python":
        return Choice("python", python)
    why = (
        "no Rust toolchain (cargo) on this machine"
        if cargo() is None
        else "the Rust server is not built yet (`python -m scripts.devdb build`)"
    )
    return Choice("python", python, f"devdb: using SecantusDB's Python server: {why}")
