"""Unit tests: the policy, the engine, the settings, the architecture, with no database.

They run in about a second (`pytest tests/unit`). A test here that asks for the database,
or for the app that needs one, fails at collection: move it to tests/api (HTTP),
tests/authz (the engine on the database) or tests/tooling (scripts, tooling).
"""

from pathlib import Path

import pytest

HERE = Path(__file__).parent
DATABASE_FIXTURES = {"mongodb_uri", "app", "client", "world", "clean", "settings"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a unit test that would start the database."""
    for item in items:
        used = set(getattr(item, "fixturenames", ())) & DATABASE_FIXTURES
        if HERE in item.path.parents and used:
            raise pytest.UsageError(f"{item.nodeid} uses {sorted(used)}: not a unit test")
