"""The database connection: client, Beanie initialisation, readiness and transactions."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from beanie import init_beanie
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import OperationFailure, PyMongoError

from app.config import Settings
from models import DOCUMENT_MODELS, AuditEvent

log = logging.getLogger("app.db")

TTL_INDEX = "time_ttl"


@dataclass
class Database:
    """The client and what start-up learned about the server."""

    client: AsyncMongoClient[dict[str, object]]
    name: str
    supports_ttl: bool = False
    supports_transactions: bool = False
    initialised: bool = False

    async def ping(self) -> bool:
        """True when the server answers now."""
        try:
            await self.client.admin.command("ping")
        except PyMongoError:
            return False
        return True

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncClientSession | None]:
        """A transaction on a replica set; `None` on a standalone server.

        Callers write their steps so that they are safe either way: ordered, idempotent,
        and compensated on failure. The transaction only makes them atomic where it can.
        """
        if not self.supports_transactions:
            yield None
            return
        async with self.client.start_session() as session, await session.start_transaction():
            yield session


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


async def initialise(db: Database, settings: Settings) -> None:
    """Initialise Beanie and the indexes the server supports."""
    await init_beanie(
        database=db.client[db.name], document_models=DOCUMENT_MODELS, skip_indexes=True
    )
    await ensure_indexes()
    hello = await db.client.admin.command("hello")
    db.supports_transactions = "setName" in hello
    retention = settings.audit_retention_days * 24 * 3600
    try:
        await AuditEvent.get_pymongo_collection().create_index(
            [("time", ASCENDING)], name=TTL_INDEX, expireAfterSeconds=retention
        )
        db.supports_ttl = True
    except OperationFailure as exc:
        # FerretDB v1 does not implement TTL indexes; the audit writer purges instead.
        log.info("TTL index refused (%s); old audit events are purged periodically", exc.code)
        await AuditEvent.get_pymongo_collection().create_index([("time", ASCENDING)], name="time")
    db.initialised = True


async def ensure_indexes() -> None:
    """Create the declared indexes that are missing, one at a time.

    Beanie would send each model's indexes as one batch on every start; FerretDB v1.24
    crashes on a batch of indexes that all exist already, so a restart on existing data
    would never become ready. Creating only what is missing behaves the same on MongoDB.
    """
    for model in DOCUMENT_MODELS:
        coll = model.get_pymongo_collection()  # type: ignore[attr-defined]
        existing = await coll.index_information()
        for index in model.get_settings().indexes or ():  # type: ignore[attr-defined]
            if index.name not in existing:
                await coll.create_indexes([index.index])


async def initialise_with_retry(db: Database, settings: Settings) -> None:
    """Keep trying to initialise until the server answers (it may start after the API)."""
    delay = 0.5
    while not db.initialised:
        try:
            await initialise(db, settings)
        except PyMongoError as exc:
            log.warning("database not ready (%s); retrying in %.1fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
