"""`make demo` as an end-to-end test: the story holds, repeats, and notices a broken world."""

import io
from typing import Any

import httpx
from fastapi import FastAPI
from rich.console import Console

from app.config import Settings
from app.services.access import rebuild
from models import Company, Grant, Membership, Ticket, User
from scripts.demo import run_demo
from scripts.seed import seed_demo
from tests.utils.factories import World


async def seeded(app: FastAPI, settings: Settings) -> None:
    """The demo tenants, as `make run` leaves them."""
    await seed_demo(app.state.db.client[settings.mongodb_db])


def quiet() -> tuple[Console, io.StringIO]:
    """A console writing to memory, wide enough that reasons are not wrapped."""
    out = io.StringIO()
    return Console(file=out, width=200), out


async def tenant_state() -> dict[str, Any]:
    """What the demo promises to put back: tickets, memberships and grants."""
    memberships = await Membership.find_all().sort("_id").to_list()
    return {
        "tickets": [t.model_dump() for t in await Ticket.find_all().sort("_id").to_list()],
        # Without `updated_at`: the refused last-admin demotion is written and then reverted
        # (memberships.change_member verifies after the write), which moves it; roles are what
        # the demo promises to keep.
        "memberships": [m.model_dump(exclude={"updated_at"}) for m in memberships],
        "grants": await Grant.find_all().count(),
    }


async def test_demo_runs_clean_twice_and_restores_the_seed(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    await seeded(app, settings)
    before = await tenant_state()
    users_before = await User.find_all().count()

    for run in (1, 2):
        console, out = quiet()
        surprises = await run_demo(client, console)
        assert surprises == [], f"run {run}:\n{out.getvalue()}"
        text = out.getvalue()
        # The refusals are shown with the server's own reason.
        assert "refused 403" in text and "lacks members:list" in text
        assert "refused 404" in text and "refused 409" in text
        assert await tenant_state() == before, f"run {run} left something behind"

    assert await User.find_all().count() == users_before, "no account is left behind"
    # Each run's ticket consumed a number: Acme's counter moved from 2 to 4.
    acme = await Company.find_one(Company.name == "Acme Corp")
    assert acme is not None and acme.ticket_seq == 4


async def test_demo_reports_a_world_that_differs_from_the_seed(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    await seeded(app, settings)
    lisa = await User.find_one(User.email == "lisa@acme.example")
    assert lisa is not None and lisa.id is not None
    await Membership.find(Membership.user == lisa.id).update({"$set": {"role": "agent"}})
    await rebuild([lisa.id])  # as the API keeps the copy of her facts

    console, out = quiet()
    surprises = await run_demo(client, console)

    assert len(surprises) == 1, out.getvalue()
    assert "Lisa's companies and roles" in surprises[0]
    assert "make seed" in out.getvalue()
    assert await Ticket.find_all().count() == 4, "a stopped demo writes nothing"


async def test_demo_reports_an_extra_ticket_as_wrong_counts(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient, world: World
) -> None:
    await seeded(app, settings)
    acme = await Company.find_one(Company.name == "Acme Corp")
    lisa = await User.find_one(User.email == "lisa@acme.example")
    assert acme is not None and lisa is not None
    await world.ticket(acme, lisa, subject="One more")

    console, out = quiet()
    surprises = await run_demo(client, console)

    assert surprises == [
        "ticket counts before the demo: Lisa 2 (expected 1), Sara 3 "
        "(expected 2), Mark 4 (expected 3)"
    ], out.getvalue()


async def test_demo_without_the_seed_stops_at_sign_in(client: httpx.AsyncClient) -> None:
    console, out = quiet()
    surprises = await run_demo(client, console)
    assert len(surprises) == 1 and surprises[0].startswith("Lisa signs in: expected 200, got 401")
    assert "make seed" in out.getvalue()
