"""The database connection: client, Beanie initialisation, readiness, server capabilities."""

import asyncio
import logging
from dataclasses import dataclass

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError

from app.config import Settings
from app.migrations import migrate
from authz.engine import Engine, default_engine
from models import DOCUMENT_MODELS

log = logging.getLogger("app.db")


@dataclass
class Database:
    """The client and what start-up learned about the server."""

    client: AsyncMongoClient[dict[str, object]]
    name: str
    # A transaction, with the driver's retries after write conflicts, gives up after this
    # (then the client gets a 503): a request must never hang on a busy or absent server.
    transaction_seconds: float = 4.0
    supports_transactions: bool = False
    supports_change_streams: bool = False
    initialised: bool = False
    # The policy whose resource types a migration moves data onto (the shipped one if None).
    engine: Engine | None = None

    async def ping(self) -> bool:
        """True when the server answers now."""
        try:
            await self.client.admin.command("ping")
        except PyMongoError:
            return False
        return True


def make_client(settings: Settings) -> AsyncMongoClient[dict[str, object]]:
    """A client that fails fast (instead of hanging) when the server is away."""
    return AsyncMongoClient(
        settings.mongodb_uri,
        serverSelectionTimeoutMS=settings.db_timeout_ms,
        connectTimeoutMS=settings.db_timeout_ms,
        socketTimeoutMS=max(settings.db_timeout_ms * 5, 10_000),
        tz_aware=True,
        uuidRepresentation="standard",
    )


async def initialise(db: Database) -> None:
    """Bind the documents to the database, create their indexes, learn the topology, and
    bring data an earlier version wrote to the current shape (`app/migrations.py`)."""
    await init_beanie(database=db.client[db.name], document_models=DOCUMENT_MODELS)
    hello = await db.client.admin.command("hello")
    # Replica-set members and mongos routers run transactions; a standalone server does not.
    db.supports_transactions = "setName" in hello or hello.get("msg") == "isdbgrid"
    # Change streams need the same (an oplog); live updates read a ticket's pre-image to
    # tell who could read it before a change (MongoDB 6.0+).
    db.supports_change_streams = db.supports_transactions
    if db.supports_change_streams:
        await _keep_pre_images(db)
    await migrate(db.client[db.name], db.engine or default_engine())
    db.initialised = True


async def _keep_pre_images(db: Database) -> None:
    """Record the tickets' pre-images for change streams (`app/live.py`); a server that
    refuses serves no live updates, and everything else as before."""
    try:
        await db.client[db.name].command(
            {"collMod": "tickets", "changeStreamPreAndPostImages": {"enabled": True}}
        )
    except OperationFailure as exc:
        log.warning("no change-stream pre-images for tickets (%s): live updates are off", exc)
        db.supports_change_streams = False


async def initialise_with_retry(db: Database) -> None:
    """Keep trying to initialise until the server answers (it may start after the API)."""
    delay = 0.5
    while not db.initialised:
        try:
            await initialise(db)
        except PyMongoError as exc:
            log.warning("database not ready (%s); retrying in %.1fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
