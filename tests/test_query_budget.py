"""Round trips per request: the caller's facts come with the user document that
authenticating reads anyway, so a list costs two queries: the user, then the tickets."""

from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient, monitoring

from app.config import Settings
from app.db import Database, initialise
from tests.utils.factories import World


class CommandLog(monitoring.CommandListener):
    """Counts (command, collection) pairs sent to the server."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        self.sent[(event.command_name, str(collection))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to record."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to record."""


@pytest.fixture
async def commands(app: FastAPI, settings: Settings) -> AsyncIterator[CommandLog]:
    """Route the app through a client that logs every command, for one test."""
    log = CommandLog()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongodb_uri, event_listeners=[log], tz_aware=True
    )
    home = app.state.db
    watched = Database(client, settings.mongodb_db)
    await initialise(watched)
    app.state.db = watched
    try:
        yield log
    finally:
        app.state.db = home
        await initialise(home)
        await client.close()


async def test_a_list_costs_two_queries(
    client: httpx.AsyncClient, world: World, commands: CommandLog
) -> None:
    mark = await world.user("mark")
    acme = await world.company("Acme")
    globex = await world.company("Globex")
    await world.member(acme, mark, "agent")
    await world.member(globex, mark, "customer")
    shared = await world.ticket(globex, await world.user("david"))
    await world.share(shared, mark)
    for _ in range(3):
        await world.ticket(acme, mark)
    commands.sent.clear()

    page = (await client.get("/tickets", headers=world.auth(mark))).json()

    assert len(page["items"]) == 4
    assert commands.sent == Counter({("find", "users"): 1, ("find", "tickets"): 1})
