"""`python -m app --host H --port P [--workers N]`: serve the API with uvicorn.

The one command line that starts the API as a process of its own: `make run`, the tests'
second worker and the benchmark all use it. Settings come from the environment. With
`--workers N`, uvicorn starts N worker processes accepting on the one socket; they share
nothing but the database, which is where everything they must agree on lives (facts, login
throttles, ticket numbers, the change stream of live updates).
"""

import argparse

import uvicorn

from app.observability import log_config


def main(argv: list[str] | None = None) -> None:
    """Parse the address and serve until stopped (Ctrl-C or SIGTERM: a graceful shutdown)."""
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--quiet", action="store_true", help="warnings only, no access log")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: one JSON object per log line, with its request id (default: text)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=log_config(json_logs=args.log_format == "json"),
        access_log=not args.quiet,
        log_level="warning" if args.quiet else "info",
    )


if __name__ == "__main__":
    main()
