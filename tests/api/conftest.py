"""Tests of the HTTP API: the contract, the policy through it, the tooling that feeds it."""

import pytest


@pytest.fixture(autouse=True)
async def _fresh_database(clean: None) -> None:
    """Every test here leaves the database as it found it: empty."""
