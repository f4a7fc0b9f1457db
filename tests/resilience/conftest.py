"""Tests of what must hold when things go wrong: races, faults, outages, attacks.

They take longer than the others (several start processes of their own), so they are
marked `slow`: `pytest -m "not slow"` leaves them out while iterating; `make test` runs
them all.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.utils.instances import worker

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `slow`."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
async def remote_url(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A second API process on the same database, started once for the module."""
    async with worker(settings, tmp_path_factory.mktemp("worker") / "worker.log") as url:
        yield url


@pytest.fixture
async def remote(remote_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the second API process."""
    # Generous: these tests are about what the database and the processes let through, not
    # latency, and argon2 on a loaded two-core machine can take seconds per sign-up.
    async with httpx.AsyncClient(base_url=remote_url, timeout=60) as c:
        yield c
