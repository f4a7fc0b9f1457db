"""Tests of what must hold when things go wrong: races, faults, outages, attacks.

They take longer than the others (several start processes of their own), so they are
marked `slow`: `pytest -m "not slow"` leaves them out while iterating; `make test` runs
them all.
"""

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `slow`."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
async def _fresh_database(clean: None) -> None:
    """Every test here leaves the database as it found it: empty."""
