"""Groups in the console: beside the seeded Billing group, Sara (admin) creates one, staffs
it, scopes Mark's ticket access to his groups and routes a ticket into it, and Mark, in a
browser of his own, sees exactly the tickets his groups and his assignments give him, on
his next page load. The server's
refusals (a customer in a group, a level a customer may not have, a group that still
holds a ticket) are shown in its words. Mark, an agent, sees the groups and cannot change
them."""

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from models import Company, Group, Membership, Ticket, User
from tests.browser.conftest import LAPTOP, UI, Demo, open_ui
from tests.browser.test_personas import EXPORT, INVOICE, QUOTE, open_ticket, problem_of
from tests.utils.factories import World

pytestmark = pytest.mark.browser

CUSTOMER_IN_GROUP = "only an admin or agent of the company can be in one of its groups"
CUSTOMER_LEVEL = "ticket_access 'groups' is not available to role 'customer' (it may have: all)"
STILL_HOLDS = (
    "the group still holds 1 ticket(s): move them to another group, or out of any group, first"
)


async def see_exactly(page: Page, subjects: list[str]) -> None:
    """Reload the ticket list and wait until it shows exactly `subjects`, newest first."""
    await page.reload()
    await expect(page.locator("[data-ticket-id] .ticket-subject")).to_have_text(subjects)


async def open_groups(ui: UI, company: str) -> None:
    """Follow the company's Groups link in the navigation."""
    section = ui.page.locator("nav .nav-company", has_text=company)
    await section.get_by_role("link", name="Groups").click()
    await expect(ui.page.locator("main h1")).to_have_text(f"Groups of {company}")


async def move_invoice(ui: UI, demo: Demo, group_name: str) -> None:
    """As the signed-in admin: put the Invoice ticket in `group_name` ("No group": out)."""
    await ui.goto("#/tickets")
    await open_ticket(ui, demo, INVOICE)
    await ui.page.locator("form.edit select[name=group_id]").select_option(label=group_name)
    await ui.page.click('[data-action="ticket:update"]')
    group_row = ui.page.locator(".details dt:text-is('Group') + dd")
    await expect(group_row).to_have_text(group_name)


async def seeded_group(company: Company, name: str) -> Group:
    """The demo's group `name` of `company`, as `scripts/seed.py` creates it."""
    group = await Group.find_one(Group.company == company.id, Group.name == name)
    assert group is not None
    return group


async def test_a_group_scopes_an_agent_to_its_tickets(
    ui: UI, demo: Demo, browser: Browser, console_url: str
) -> None:
    acme = demo.companies["Acme Corp"]
    mark_id, lisa_id = demo.users["mark"], demo.users["lisa"]
    page = ui.page
    await ui.sign_in("sara@acme.example")
    await open_groups(ui, "Acme Corp")
    await expect(page.locator("section.group h2")).to_have_text(["Billing"])

    await page.fill("form.add-group input[name=name]", "Returns")
    await page.click('[data-action="group:manage"][data-variant="create"]')
    await expect(page.locator("section.group h2")).to_have_text(["Billing", "Returns"])
    group = await Group.find_one(Group.company == acme, Group.name == "Returns")
    assert group is not None
    card = page.locator(f'section.group[data-group-id="{group.id}"]')

    # A customer is offered (the page knows no role names) and refused by the server.
    await card.locator("select[name=member]").select_option(str(lisa_id))
    ui.expect_refusal(422, f"/groups/{group.id}/members/{lisa_id}")
    await card.locator('[data-variant="put-in"]').click()
    await expect(card.get_by_role("alert")).to_have_text(CUSTOMER_IN_GROUP)

    await card.locator("select[name=member]").select_option(str(mark_id))
    await card.locator('[data-variant="put-in"]').click()
    await expect(card.locator(f'li[data-member-id="{mark_id}"]')).to_contain_text("mark")
    assert await Group.find_one({"_id": group.id, "members": mark_id})
    await move_invoice(ui, demo, "No group")  # out of Billing, where Mark also is

    # Ticket access, on the members page: refused for Lisa (a customer), given to Mark.
    await page.locator("nav").get_by_role("link", name="Members").click()
    lisa_row = page.locator(f'tr[data-member-id="{lisa_id}"]')
    await lisa_row.locator("select[name=ticket_access]").select_option("groups")
    ui.expect_refusal(422, f"/members/{lisa_id}")
    await lisa_row.locator('[data-action="members:update"]').click()
    await expect(problem_of(lisa_row)).to_have_text(CUSTOMER_LEVEL)
    await expect(lisa_row.locator("select[name=ticket_access]")).to_have_value("all")

    mark_row = page.locator(f'tr[data-member-id="{mark_id}"]')
    await mark_row.locator("select[name=ticket_access]").select_option("groups")
    await mark_row.locator('[data-action="members:update"]').click()
    await expect(page.locator("#toast")).to_have_text(
        "mark is now agent, with ticket access “Their groups”."
    )
    membership = await Membership.find_one(Membership.company == acme, Membership.user == mark_id)
    assert membership is not None and membership.ticket_access == "groups"

    mark, context = await open_ui(browser, console_url, LAPTOP)
    try:
        # Nothing in his groups: Export (assigned to him) and his own Globex ticket.
        await mark.sign_in("mark@acme.example")
        await see_exactly(mark.page, [QUOTE, EXPORT])

        await move_invoice(ui, demo, "Returns")
        invoice = await Ticket.get(demo.tickets[INVOICE])
        assert invoice is not None and invoice.group == group.id
        await see_exactly(mark.page, [QUOTE, EXPORT, INVOICE])
        row = mark.page.locator(f'[data-ticket-id="{demo.tickets[INVOICE]}"]')
        await expect(row.locator(".ticket-meta")).to_contain_text("Acme Corp · in Returns")

        # Renamed, the group keeps its tickets; holding one, it cannot be deleted.
        await open_groups(ui, "Acme Corp")
        await card.locator('[data-variant="rename"]').click()
        await card.locator("form.rename input[name=name]").fill("Returns and refunds")
        await card.get_by_role("button", name="Save name").click()
        await expect(card.locator("h2")).to_have_text("Returns and refunds")
        await card.locator('[data-variant="delete"]').click()
        ui.expect_refusal(409, f"/groups/{group.id}")
        await card.get_by_role("button", name="Delete for good").click()
        await expect(card.get_by_role("alert")).to_have_text(STILL_HOLDS)
        assert await Group.get(group.id) is not None
        await see_exactly(mark.page, [QUOTE, EXPORT, INVOICE])

        # Out of any group (null), the ticket leaves Mark's list, and the group can go.
        await move_invoice(ui, demo, "No group")
        invoice = await Ticket.get(demo.tickets[INVOICE])
        assert invoice is not None and invoice.group is None
        await see_exactly(mark.page, [QUOTE, EXPORT])
        await open_groups(ui, "Acme Corp")
        await card.locator('[data-variant="delete"]').click()
        await card.get_by_role("button", name="Delete for good").click()
        await expect(page.locator("#toast")).to_have_text("Group Returns and refunds deleted.")
        await expect(page.locator("section.group h2")).to_have_text(["Billing"])
        assert await Group.get(group.id) is None
    finally:
        await context.close()
    assert mark.problems == []


async def test_an_agent_sees_groups_but_cannot_change_them(
    ui: UI, demo: Demo, world: World
) -> None:
    acme = await Company.get(demo.companies["Acme Corp"])
    mark = await User.get(demo.users["mark"])
    assert acme is not None and mark is not None
    billing = await seeded_group(acme, "Billing")
    await world.group(acme, "Logistics")

    await ui.sign_in("mark@acme.example")
    await open_groups(ui, "Acme Corp")
    page = ui.page
    await expect(page.locator("section.group h2")).to_have_text(["Billing", "Logistics"])
    members = page.locator(f'[data-group-id="{billing.id}"] li[data-member-id]')
    await expect(members).to_have_text(["mark (you) agent · ticket access: all tickets"])
    await expect(page.locator("section.group", has_text="Logistics")).to_contain_text(
        "No one in this group yet."
    )
    await expect(page.locator("main [data-action]")).to_have_count(0)
    await expect(page.locator("main form, main select, main button")).to_have_count(0)

    # He may put one of the tickets he works in a group (group_id is among his fields).
    await ui.goto("#/tickets")
    await open_ticket(ui, demo, EXPORT)
    await expect(page.locator("form.edit select[name=group_id] option")).to_have_text(
        ["No group", "Billing", "Logistics"]
    )

    # And open one in a group of Acme, where he is an agent; in Globex, where he is a
    # customer, the engine lists no group_id among his fields: no group is offered.
    await page.get_by_role("link", name="New ticket").first.click()
    group = page.locator("form.new-ticket select[name=group_id]")
    await page.select_option("select[name=company_id]", str(demo.companies["Globex Inc"]))
    await expect(group).to_be_hidden()
    await page.select_option("select[name=company_id]", str(acme.id))
    await expect(group.locator("option")).to_have_text(["No group", "Billing", "Logistics"])
    await group.select_option(label="Billing")
    await page.fill("input[name=subject]", "Refund for order 5512")
    await page.fill("textarea[name=description]", "Charged twice on 3 March.")
    await page.click('[data-action="ticket:create"]')
    await expect(page.locator(".details dt:text-is('Group') + dd")).to_have_text("Billing")
    opened = await Ticket.find_one(Ticket.subject == "Refund for order 5512")
    assert opened is not None and opened.group == billing.id


async def test_a_scoped_agent_routes_a_ticket_out_of_his_reach(
    ui: UI, demo: Demo, world: World
) -> None:
    """Mark, scoped to Billing, escalates its ticket to Logistics, as helpdesks route
    tickets: the page says it is now outside his ticket access, and it leaves his list."""
    acme = await Company.get(demo.companies["Acme Corp"])
    mark = await User.get(demo.users["mark"])
    assert acme is not None and mark is not None
    await seeded_group(acme, "Billing")  # Mark is in it, so is the Invoice
    logistics = await world.group(acme, "Logistics")
    await world.access(acme, mark, "groups")

    await ui.sign_in("mark@acme.example")
    page = ui.page
    subjects = page.locator("[data-ticket-id] .ticket-subject")
    await expect(subjects).to_have_text([QUOTE, EXPORT, INVOICE])
    await open_ticket(ui, demo, INVOICE)
    invoice_path = f"/tickets/{demo.tickets[INVOICE]}"

    await page.locator("form.edit select[name=group_id]").select_option(str(logistics.id))
    ui.expect_refusal(404, invoice_path)  # the page's look after the move: out of reach
    await page.click('[data-action="ticket:update"]')
    await expect(page.locator("#toast")).to_have_text(
        "Ticket #1 saved. It is now outside your ticket access."
    )
    await expect(subjects).to_have_text([QUOTE, EXPORT])
    invoice = await Ticket.get(demo.tickets[INVOICE])
    assert invoice is not None and invoice.group == logistics.id


async def test_screenshots_of_the_admins_groups_panel(
    browser: Browser, console_url: str, demo: Demo, world: World, tmp_path: Path
) -> None:
    """The README's picture of the groups panel (`make screenshots` writes it to docs/)."""
    acme = await Company.get(demo.companies["Acme Corp"])
    sara, mark = await User.get(demo.users["sara"]), await User.get(demo.users["mark"])
    assert acme is not None and sara is not None and mark is not None
    await world.group(acme, "Logistics", sara)
    await world.access(acme, mark, "groups")

    target = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    ui, context = await open_ui(browser, console_url, LAPTOP)
    try:
        await ui.sign_in("sara@acme.example")
        await open_groups(ui, "Acme Corp")
        await expect(ui.page.locator("section.group h2")).to_have_text(["Billing", "Logistics"])
        path = target / "console-groups.png"
        await ui.page.screenshot(path=path, full_page=True, animations="disabled")
        assert path.stat().st_size > 10_000
    finally:
        await context.close()
    assert ui.problems == []
