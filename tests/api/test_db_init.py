"""Start-up against a database that already has everything (a restart)."""

from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.config import Settings
from app.db import initialise
from app.main import create_app
from models import Ticket


async def test_second_start_on_existing_indexes_is_ready(app: FastAPI, settings: Settings) -> None:
    """A restart finds every index in place: start-up is ready and changes none of them."""
    before = await Ticket.get_pymongo_collection().index_information()
    assert "company_number_unique" in before
    again = create_app(settings)
    async with LifespanManager(again):
        assert again.state.db.initialised
        assert await again.state.db.ping()
    # Beanie binds documents globally: point them back at the session app's client.
    await initialise(app.state.db)
    assert await Ticket.get_pymongo_collection().index_information() == before
