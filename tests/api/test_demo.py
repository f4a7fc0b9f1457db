"""`make demo` as an end-to-end test: the story holds, repeats, and notices a broken world."""

import io
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from rich.console import Console

from app.config import Settings
from app.services.user_facts import rebuild
from models import Company, Group, Membership, Ticket, User
from scripts.demo import story
from scripts.demo.harness import Abort
from scripts.demo.story import Story, run_demo
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
    """What the demo promises to put back: tickets (and whom they are shared with),
    memberships and groups."""
    memberships = await Membership.find_all().sort("_id").to_list()
    return {
        # Without `updated_at`: John moves David's ticket into Sales and out again, which
        # moves it (`ticket_changes` checks that nothing else does); every field is back.
        "tickets": [
            t.model_dump(exclude={"updated_at"})
            for t in await Ticket.find_all().sort("_id").to_list()
        ],
        # Without `updated_at`: the refused last-admin demotion is written and then reverted
        # (memberships.change_member verifies after the write), and Emma's ticket access is
        # narrowed and widened again, which moves it; roles and access levels are what the
        # demo promises to keep.
        "memberships": [m.model_dump(exclude={"updated_at"}) for m in memberships],
        "groups": [(g.name, g.members) for g in await Group.find_all().sort("_id").to_list()],
    }


async def ticket_changes() -> dict[str, object]:
    """Each ticket's subject and when it last changed."""
    return {t.subject: t.updated_at for t in await Ticket.find_all().to_list()}


async def test_demo_runs_clean_twice_and_restores_the_seed(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    await seeded(app, settings)
    before = await tenant_state()
    changed_before = await ticket_changes()
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
        # The group step shows an agent scoped to a group, with the server's reasons.
        assert "refused 422" in text and "not available to role" in text
        assert "Emma now sees 1 ticket" in text
        # The policy's rules: the creator edits while open, a resolved ticket is frozen but
        # for its status, a confidential one leaves an agent's view (the server's reasons).
        assert "(condition author_while_open)" in text and "(condition resolved)" in text
        assert "✓ only its status" in text and "✓ Nina's list leaves it out too" in text

    changed = await ticket_changes()
    # Only the ticket John moved into a group and out again was written to.
    assert {s for s in changed if changed[s] != changed_before[s]} == {
        "Shipping labels download as a blank PDF"
    }

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


async def stop_here(story: Story) -> None:
    """A step that stops the story, as a refused step the rest depends on does."""
    raise Abort("stopped by the test")


@pytest.mark.parametrize(
    "last_step",
    [story._sara_adds_nina, story._john_scopes_emma],
    ids=["with Lisa's ticket and Nina in Acme", "with Emma scoped and David's ticket moved"],
)
async def test_a_demo_stopped_half_way_puts_everything_back(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    last_step: Callable[[Story], Awaitable[None]],
) -> None:
    await seeded(app, settings)
    before = await tenant_state()
    steps = story.STEPS[: story.STEPS.index(last_step) + 1]
    monkeypatch.setattr(story, "STEPS", (*steps, stop_here))

    console, out = quiet()
    surprises = await run_demo(client, console)

    assert surprises == [], out.getvalue()
    assert "Stopped: stopped by the test" in out.getvalue()
    assert await tenant_state() == before, "the clean-up left something behind"
