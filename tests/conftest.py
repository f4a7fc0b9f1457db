"""Test fixtures, in Beanie's own shape: one database for the session, data cleared per test.

The database is real: `MONGODB_URI` when set, else a development database (SecantusDB)
started for the run in a temporary folder. `DEVDB_TOPOLOGY=standalone` starts it without
its replica-set advertisement (or uses `MONGODB_STANDALONE_URI`), so the app takes the path
of a server without transactions; `make test` runs the tests marked `topologies` that way
after the whole suite.
"""

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from models import DOCUMENT_MODELS
from scripts.devdb import process as devdb
from tests.utils.factories import World
from tests.utils.topology import STANDALONE

TEST_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
TEST_PDP_KEY = "test-pdp-key-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    """A MongoDB-wire server for the whole run, of the topology asked for."""
    if STANDALONE:
        given = os.environ.get("MONGODB_STANDALONE_URI")
        if given:
            yield given
            return
        with tempfile.TemporaryDirectory(prefix="devdb-test-") as tmp:
            server = devdb.start(Path(tmp) / "data", standalone=True)
            try:
                yield server.uri
            finally:
                server.stop()
        return
    with (
        tempfile.TemporaryDirectory(prefix="devdb-test-") as tmp,
        devdb.database(Path(tmp) / "data") as uri,
    ):
        yield uri


@pytest.fixture(scope="session")
def settings(mongodb_uri: str) -> Settings:
    """Settings of the app under test; a fresh database name per run."""
    return Settings(
        environment="development",
        mongodb_uri=mongodb_uri,
        mongodb_db=f"test_{os.getpid()}",
        jwt_secret=TEST_SECRET,
        bench_routes=True,
        pdp_api_key=TEST_PDP_KEY,
        audit_flush_seconds=0.05,
        db_timeout_ms=1500,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app, inside its lifespan (Beanie initialised against the test database)."""
    application = create_app(settings)
    async with LifespanManager(application):
        yield application
        await application.state.db.client.drop_database(settings.mongodb_db)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def clean(app: FastAPI) -> AsyncIterator[None]:
    """Empty collections after the test (the folders whose tests use the database make it
    automatic: tests/api, tests/resilience, tests/browser)."""
    yield
    await app.state.audit.flush()
    for model in DOCUMENT_MODELS:
        await model.get_pymongo_collection().delete_many({})


@pytest.fixture
def world(app: FastAPI, settings: Settings) -> World:
    """Async factories for users, companies, memberships, tickets, groups and shares."""
    return World(settings)
