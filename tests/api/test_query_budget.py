"""Round trips per request: the caller's facts come with the user document that
authenticating reads anyway, so a list costs two queries: the user, then the tickets."""

from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from tests.utils.commands import CommandLog, watching
from tests.utils.factories import World


@pytest.fixture
async def commands(app: FastAPI, settings: Settings) -> AsyncIterator[CommandLog]:
    """Route the app through a client that logs every command, for one test."""
    async with watching(app, settings) as log:
        yield log


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
    commands.clear()

    page = (await client.get("/tickets", headers=world.auth(mark))).json()

    assert len(page["items"]) == 4
    assert commands.sent == Counter({("find", "users"): 1, ("find", "tickets"): 1})
