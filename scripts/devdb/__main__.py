"""`python -m scripts.devdb build`: make sure the fast dev database server is built."""

import argparse
import sys
from pathlib import Path

from scripts.devdb.build import ensure_built


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the one command."""
    parser = argparse.ArgumentParser(prog="python -m scripts.devdb", description=__doc__)
    parser.add_argument("command", choices=["build"], help="build the Rust server if missing")
    parser.add_argument("--log", type=Path, help="write cargo's output here, not to the terminal")
    args = parser.parse_args(argv)
    return ensure_built(log_path=args.log)


if __name__ == "__main__":
    sys.exit(main())
