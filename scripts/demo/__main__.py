"""`python -m scripts.demo` (`make demo`): the story against a running API; exit code 1 on
any surprise."""

import argparse
import asyncio
import os
import sys

import httpx
from rich.console import Console
from rich.markup import escape

import scripts.demo
from scripts.demo.story import run_demo


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m scripts.demo`; exit code 1 on any surprise."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.demo", description=scripts.demo.__doc__
    )
    parser.add_argument(
        "--base-url",
        default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}",
        help="the running API (default: http://127.0.0.1:$PORT, PORT=8000)",
    )
    args = parser.parse_args(argv)
    console = Console()

    async def go() -> list[str]:
        async with httpx.AsyncClient(base_url=args.base_url, timeout=15) as client:
            try:
                await client.get("/healthz")
            except httpx.TransportError:
                return [
                    f"no API answers at {args.base_url}: start it with `make run` "
                    "(or pass --base-url)"
                ]
            return await run_demo(client, console)

    surprises = asyncio.run(go())
    if surprises:
        console.print(f"\n[bold red]{len(surprises)} surprise(s):[/]")
        for text in surprises:
            console.print(f"  - {escape(text)}")
        return 1
    console.print("\n[bold green]Every outcome matched the policy.[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
