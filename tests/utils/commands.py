"""Every command the app sends to the database, recorded with PyMongo's command monitoring."""

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pymongo import AsyncMongoClient, monitoring

from app.config import Settings
from app.db import Database, initialise


class CommandLog(monitoring.CommandListener):
    """Counts (command, collection) pairs sent to the server, and keeps the commands."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()
        self.commands: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        self.sent[(event.command_name, str(collection))] += 1
        self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to record."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to record."""

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.sent.clear()
        self.commands.clear()


@asynccontextmanager
async def watching(app: FastAPI, settings: Settings) -> AsyncIterator[CommandLog]:
    """Route the app through a client that logs every command, for the block."""
    log = CommandLog()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongodb_uri, event_listeners=[log], tz_aware=True
    )
    home = app.state.db
    watched = Database(
        client, settings.mongodb_db, supports_transactions=home.supports_transactions
    )
    await initialise(watched)
    app.state.db = watched
    try:
        yield log
    finally:
        app.state.db = home
        await initialise(home)
        await client.close()
