"""The shell commands of README.md and docs/ run as written, and print what the pages show.

Each page's commands run in order in one bash, as a reader pastes them into one terminal,
against an API process of its own on freshly seeded demo tenants (what `make run` serves);
only the address in `API=...` differs. A command fails the test if it writes to stderr
(a `python3 -c` that picks a field that is no longer there, a curl that cannot connect),
if the shell ends in error, or if what it prints is not the page's "Output:". Which blocks
run here and which elsewhere is read from the pages (`tests/utils/docs.py`);
`tests/unit/test_docs_examples.py` holds every block to one of the two.
"""

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from app.config import Settings
from scripts.seed import seed_demo
from tests.utils.docs import PAGES, ROOT, Example, matches, run_here
from tests.utils.instances import worker

WEBHOOK_KEY = "docs-webhook-signing-key-0123456789"
MARK = "\x1e"  # between blocks, on stdout and stderr alike
API_LINE = re.compile(r"^API=\S+", re.MULTILINE)
PAGES_WITH_COMMANDS = [page for page in PAGES if run_here(page)]


@pytest.fixture(scope="module")
async def api_url(
    app: FastAPI, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The API in a process of its own, with the webhook the re-sync recipe signs for."""
    log = tmp_path_factory.mktemp("docs") / "api.log"
    async with worker(settings, log, env={"LOGTO_WEBHOOK_SIGNING_KEY": WEBHOOK_KEY}) as url:
        yield url


def script(blocks: list[Example], url: str) -> str:
    """The page's blocks as one bash script, each preceded by its marker on both streams."""
    return "".join(
        f"printf '{MARK}%s\\n' {i}; printf '{MARK}%s\\n' {i} >&2\n"
        + API_LINE.sub(f"API={url}", block.code)
        for i, block in enumerate(blocks)
    )


def split(stream: str, count: int) -> list[str]:
    """What each block wrote to one stream."""
    pieces = re.split(rf"{MARK}\d+\n", stream)
    assert len(pieces) == count + 1, stream
    return pieces[1:]


async def run(blocks: list[Example], url: str) -> tuple[int, list[str], list[str]]:
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script(blocks, url),
        cwd=ROOT,
        env=os.environ | {"LOGTO_WEBHOOK_SIGNING_KEY": WEBHOOK_KEY},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, split(out.decode(), len(blocks)), split(err.decode(), len(blocks))


@pytest.mark.parametrize("page", PAGES_WITH_COMMANDS, ids=lambda p: p.name)
async def test_the_commands_of_a_page_print_what_it_shows(
    page: Path, api_url: str, app: FastAPI, settings: Settings
) -> None:
    await seed_demo(app.state.db.client[settings.mongodb_db])
    blocks = run_here(page)
    status, printed, complained = await run(blocks, api_url)
    for block, out, err in zip(blocks, printed, complained, strict=True):
        assert err == "", f"{block.where} wrote to stderr:\n{err}"
        if block.output is not None:
            assert matches(out, block.output), f"{block.where} printed:\n{out}"
    assert status == 0
    # The API process writes its audit trail in the background: let it land before the
    # per-test cleanup, so nothing of this page reaches the next.
    await asyncio.sleep(settings.audit_flush_seconds * 4)
