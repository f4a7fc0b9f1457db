"""Live updates in the console: the list and the open ticket follow `GET /events` without a
reload, and a ticket that leaves the reader's reach disappears with a notice. The changes
are made in the database behind the API, as another person's request would."""

from datetime import UTC, datetime

import pytest
from beanie import PydanticObjectId
from bson import ObjectId
from playwright.async_api import expect

from models import Company, Ticket, User
from tests.browser.conftest import UI, Demo
from tests.browser.test_personas import EXPORT, INVOICE, open_ticket
from tests.utils.factories import World

pytestmark = pytest.mark.browser


async def test_a_new_ticket_appears_in_the_agents_list(ui: UI, demo: Demo, world: World) -> None:
    await ui.sign_in("mark@acme.example")
    acme = await Company.get(demo.companies["Acme Corp"])
    lisa = await User.get(demo.users["lisa"])
    assert acme is not None and lisa is not None
    ticket = await world.ticket(acme, lisa, subject="The printer speaks French now")
    row = ui.page.locator(f'[data-ticket-id="{ticket.id}"]')
    await expect(row).to_contain_text("The printer speaks French now")


async def test_the_open_ticket_shows_a_public_reply_and_never_a_note(ui: UI, demo: Demo) -> None:
    await ui.sign_in("lisa@acme.example")
    await open_ticket(ui, demo, INVOICE)
    mark = PydanticObjectId(demo.users["mark"])
    for body, internal in (("Refund approved internally", True), ("We are on it.", False)):
        reply = {"id": ObjectId(), "author": mark, "body": body, "internal": internal,
                 "created_at": datetime.now(UTC)}  # fmt: skip
        await Ticket.get_pymongo_collection().update_one(
            {"_id": demo.tickets[INVOICE]},
            {"$push": {"replies": reply}, "$set": {"updated_at": datetime.now(UTC)}},
        )
    await expect(ui.page.locator("article.ticket")).to_contain_text("We are on it.")
    await expect(ui.page.locator("article.ticket")).not_to_contain_text("Refund approved")


async def test_a_ticket_made_confidential_leaves_the_agents_screen_with_a_notice(
    ui: UI, demo: Demo
) -> None:
    await ui.sign_in("mark@acme.example")
    await open_ticket(ui, demo, EXPORT)  # created by Sara, assigned to Mark
    await Ticket.find_one(Ticket.id == demo.tickets[EXPORT]).update({"$set": {"assigned_to": None}})
    await expect(ui.page.locator("article.ticket")).to_contain_text("Not assigned")
    await Ticket.find_one(Ticket.id == demo.tickets[EXPORT]).update(
        {"$set": {"confidential": True}}
    )
    notice = ui.page.locator("main [data-live=gone]")
    await expect(notice).to_contain_text("is no longer visible to you")
    await ui.goto("#/tickets")
    await expect(ui.page.locator(".ticket-list")).to_be_visible()
    await expect(ui.page.locator(f'[data-ticket-id="{demo.tickets[EXPORT]}"]')).to_have_count(0)
