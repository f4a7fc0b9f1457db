"""The policy's conditions in the console: a confidential ticket, a resolved one, a creator
who corrects their ticket, and priorities only admins set. The page offers what the
engine's answers (`POST /authz/check`) allow; no rule is written in the front end."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from models import Priority, Status, Ticket
from tests.browser.conftest import LAPTOP, UI, Demo, open_ui
from tests.browser.test_personas import EXPORT, INVOICE, listed_subjects, open_ticket

pytestmark = pytest.mark.browser


@pytest.fixture
async def other(browser: Browser, console_url: str) -> AsyncIterator[UI]:
    """A second tab in a browser context of its own (another person's session)."""
    tab, context = await open_ui(browser, console_url, LAPTOP)
    yield tab
    await context.close()
    assert tab.problems == [], "the other page reported errors"


async def edit_fields(ui: UI) -> list[str]:
    names = await ui.page.locator("form.edit [name]").evaluate_all("els => els.map(e => e.name)")
    return [str(n) for n in names]


async def test_a_confidential_ticket_leaves_the_agents_list_until_it_is_his(
    ui: UI, other: UI, demo: Demo
) -> None:
    """Sara marks Lisa's invoice confidential: Mark, an agent of Acme, no longer sees it;
    assigned to him, he does again; Lisa, who opened it, always does."""
    await ui.sign_in("sara@acme.example")
    await open_ticket(ui, demo, INVOICE)
    await ui.page.locator("form.edit input[name=confidential]").check()
    await ui.page.click('[data-action="ticket:update"]')
    await expect(ui.page.locator(".ticket-badges .confidential")).to_have_text("Confidential")
    stored = await Ticket.get(demo.tickets[INVOICE])
    assert stored is not None and stored.confidential

    await other.sign_in("mark@acme.example")
    assert INVOICE not in await listed_subjects(other)
    other.expect_refusal(404, f"/tickets/{demo.tickets[INVOICE]}")
    await other.goto(f"#/tickets/{demo.tickets[INVOICE]}")
    await expect(other.page.locator("main [role=alert]")).to_have_text("ticket not found")

    await ui.page.select_option("form.edit select[name=assigned_to]", str(demo.users["mark"]))
    await ui.page.click('[data-action="ticket:update"]')
    await expect(ui.page.locator("#toast")).to_contain_text("saved")
    await other.goto("#/tickets")
    await expect(other.page.locator(f'[data-ticket-id="{demo.tickets[INVOICE]}"]')).to_be_visible()
    row = other.page.locator(f'[data-ticket-id="{demo.tickets[INVOICE]}"] .confidential')
    await expect(row).to_have_text("Confidential")


async def test_a_resolved_ticket_offers_only_its_status(ui: UI, demo: Demo) -> None:
    """Resolved, the export ticket's form holds its status alone, and says why; reopened,
    the rest comes back."""
    await Ticket.find_one(Ticket.id == demo.tickets[EXPORT]).update(
        {"$set": {"status": Status.RESOLVED}}
    )
    await ui.sign_in("sara@acme.example")
    await open_ticket(ui, demo, EXPORT)
    assert await edit_fields(ui) == ["status"]
    await expect(ui.page.locator("form.edit")).to_contain_text("reopen it to change anything else")
    await ui.page.select_option("form.edit select[name=status]", "open")
    await ui.page.click('[data-action="ticket:update"]')
    await expect(ui.page.locator("form.edit input[name=subject]")).to_be_visible()
    assert "priority" in await edit_fields(ui)


async def test_the_creator_corrects_an_open_ticket_and_then_no_longer(ui: UI, demo: Demo) -> None:
    """Lisa fixes her invoice's subject while it is open; once an agent takes it in
    progress, the page offers her no edit any more."""
    await ui.sign_in("lisa@acme.example")
    await open_ticket(ui, demo, INVOICE)
    assert sorted(await edit_fields(ui)) == ["description", "subject"]
    corrected = "Invoice 2026-114 charges VAT twice (order 5512)"
    await ui.page.fill("form.edit input[name=subject]", corrected)
    await ui.page.click('[data-action="ticket:update"]')
    await expect(ui.page.locator("article.ticket h1")).to_have_text(corrected)

    await Ticket.find_one(Ticket.id == demo.tickets[INVOICE]).update(
        {"$set": {"status": Status.IN_PROGRESS}}
    )
    await ui.page.reload()
    await expect(ui.page.locator("article.ticket h1")).to_have_text(corrected)
    await expect(ui.page.locator("form.edit")).to_have_count(0)


async def test_only_admins_are_offered_urgent(ui: UI, other: UI, demo: Demo) -> None:
    priorities = "form.edit select[name=priority] option"
    await ui.sign_in("mark@acme.example")
    await open_ticket(ui, demo, INVOICE)  # high priority
    await expect(ui.page.locator(priorities)).to_have_text(["Low", "Normal", "High"])
    await ui.page.get_by_role("link", name="New ticket").first.click()
    await expect(ui.page.locator("form.new-ticket select[name=priority] option")).to_have_text(
        ["Low", "Normal", "High"]
    )
    await expect(ui.page.locator("form.new-ticket input[name=confidential]")).to_be_hidden()

    await other.sign_in("sara@acme.example")
    await open_ticket(other, demo, INVOICE)
    await expect(other.page.locator(priorities)).to_have_text(["Low", "Normal", "High", "Urgent"])
    await other.page.select_option("form.edit select[name=priority]", "urgent")
    await other.page.click('[data-action="ticket:update"]')
    await expect(other.page.locator(".ticket-badges .badge").nth(1)).to_have_text("Urgent priority")
    stored = await Ticket.get(demo.tickets[INVOICE])
    assert stored is not None and stored.priority is Priority.URGENT
