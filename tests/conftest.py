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


def _in_process(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    async with _in_process(app) as c:
        yield c


@pytest.fixture(scope="module")
async def module_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """`client`, for the fixtures of a `module_world`."""
    async with _in_process(app) as c:
        yield c


async def _empty(app: FastAPI) -> None:
    await app.state.audit.flush()
    for model in DOCUMENT_MODELS:
        await model.get_pymongo_collection().delete_many({})


@pytest.fixture
async def clean(app: FastAPI) -> AsyncIterator[None]:
    """Empty collections after the test (automatic for every test that uses the database:
    `_fresh_database`)."""
    yield
    await _empty(app)


@pytest.fixture(scope="module")
async def module_world(app: FastAPI, settings: Settings) -> AsyncIterator[World]:
    """A world for a whole module, emptied after its last test: for a module whose tests
    leave each other's data alone (they only read it, or each builds its own under names of
    its own), so that what they share is built once. Its tests are not emptied after each
    (`_fresh_database`), and a module that uses it uses no `world`."""
    yield World(settings)
    await _empty(app)


@pytest.fixture(autouse=True)
def _fresh_database(request: pytest.FixtureRequest) -> None:
    """Every test that can reach the database leaves it as it found it: empty.

    A test reaches it only through `mongodb_uri` (asked for itself or by a fixture it uses:
    `app`, `client`, `settings`, `world`, ...), so the others (all of tests/unit, and the
    tests elsewhere of pure functions or subprocesses without a database) start none. A
    module sharing a `module_world` is emptied once, at its end.
    """
    if "mongodb_uri" in request.fixturenames and "module_world" not in request.fixturenames:
        request.getfixturevalue("clean")


@pytest.fixture
def world(app: FastAPI, settings: Settings) -> World:
    """Async factories for users, companies, memberships, tickets, groups and shares."""
    return World(settings)
