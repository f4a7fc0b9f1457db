"""The console as a person uses it: keyboard sign-in, one-click personas, filters, paging
without layout jump, phone width, and one authorization call per page view."""

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from models import Company, User
from tests.browser.conftest import LAPTOP, PHONE, UI, Demo, open_ui
from tests.browser.test_personas import EXPORT, INVOICE, QUOTE
from tests.utils.factories import World

pytestmark = pytest.mark.browser


async def test_keyboard_only_sign_in(ui: UI, demo: Demo) -> None:
    await ui.open()
    page = ui.page
    email = page.locator("input[name=email]")
    await expect(email).to_be_focused()
    await page.keyboard.type("sara@acme.example")
    await page.keyboard.press("Tab")
    await expect(page.locator("input[name=password]")).to_be_focused()
    await page.keyboard.type("demo-pass-2026")
    await page.keyboard.press("Tab")
    await expect(page.locator("button[type=submit]")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("[data-ticket-id]")).to_have_count(2)
    await expect(page.locator("main h1")).to_be_focused()
    # Tabbing on from the heading reaches the filters and then the tickets, in reading order.
    await page.keyboard.press("Tab")
    await expect(page.locator("main .page-head [data-action='ticket:create']")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.locator("select[name=status]")).to_be_focused()


async def test_wrong_password_shows_the_servers_reason(ui: UI, demo: Demo) -> None:
    await ui.open()
    await ui.page.fill("input[name=email]", "sara@acme.example")
    await ui.page.fill("input[name=password]", "not-her-password")
    ui.expect_refusal(401, "/auth/login")
    await ui.page.click("button[type=submit]")
    await expect(ui.page.locator("form [role=alert]")).to_have_text("incorrect email or password")
    await expect(ui.page.locator("[data-ticket-id]")).to_have_count(0)


async def test_one_click_persona_sign_in_shows_roles(ui: UI, demo: Demo) -> None:
    await ui.open()
    mark = ui.page.locator('button[data-persona="mark@acme.example"]')
    await expect(mark).to_contain_text("Acme Corp: agent; Globex Inc: customer")
    await expect(ui.page.locator("button[data-persona]")).to_have_count(6)
    await mark.click()
    await expect(ui.page.locator("[data-ticket-id]")).to_have_count(3)
    await expect(ui.page.locator("#account")).to_contain_text("mark@acme.example")

    await ui.page.get_by_role("button", name="Sign out").click()
    await expect(ui.page.locator("input[name=email]")).to_be_visible()
    await ui.page.reload()
    await expect(ui.page.locator("input[name=email]")).to_be_visible()


async def test_each_page_view_asks_the_engine_once(ui: UI, demo: Demo) -> None:
    await ui.sign_in("sara@acme.example")
    assert ui.authz_calls == 1
    await ui.page.locator(f'[data-ticket-id="{demo.tickets[INVOICE]}"] a').click()
    await expect(ui.page.locator("[data-action='ticket:delete']")).to_be_visible()
    assert ui.authz_calls == 2
    await ui.page.get_by_role("link", name="Members").click()
    await expect(ui.page.locator("[data-action='members:add']")).to_be_visible()
    assert ui.authz_calls == 3
    await ui.page.get_by_role("link", name="Groups").click()
    await expect(
        ui.page.locator("[data-action='group:manage'][data-variant='create']")
    ).to_be_visible()
    assert ui.authz_calls == 4
    await ui.page.get_by_role("link", name="Invitations").click()
    await expect(ui.page.locator("[data-action='members:add']")).to_be_visible()
    assert ui.authz_calls == 5
    # Filtering the list is not a new page view: no new question.
    await ui.page.get_by_role("link", name="All tickets").click()
    await expect(ui.page.locator("[data-ticket-id]")).to_have_count(2)
    await ui.page.select_option("select[name=status]", "open")
    await expect(ui.page.locator("[data-ticket-id]")).to_have_count(1)
    assert ui.authz_calls == 6


async def test_filters_search_and_empty_state(ui: UI, demo: Demo) -> None:
    await ui.sign_in("mark@acme.example")
    page = ui.page
    # Waits until the list shows exactly these subjects, in this order (newest first).
    subjects = page.locator("[data-ticket-id] .ticket-subject")
    await expect(subjects).to_have_text([QUOTE, EXPORT, INVOICE])

    await page.select_option("select[name=company]", str(demo.companies["Globex Inc"]))
    await expect(subjects).to_have_text([QUOTE])
    await expect(page.locator("main h1")).to_have_text("Tickets in Globex Inc")

    await page.select_option("select[name=company]", "")
    await page.select_option("select[name=assignee]", str(demo.users["mark"]))
    await expect(subjects).to_have_text([EXPORT])

    await page.select_option("select[name=assignee]", "")
    await page.fill("input[name=q]", "vat")
    await expect(subjects).to_have_text([INVOICE])
    assert "q=vat" in page.url, "the filters are in the address, so a reload keeps them"

    await page.select_option("select[name=status]", "resolved")
    await expect(subjects).to_have_count(0)
    await expect(page.locator(".list-status")).to_have_text("No ticket matches these filters.")

    await page.reload()
    await expect(page.locator(".list-status")).to_have_text("No ticket matches these filters.")
    await expect(page.locator("input[name=q]")).to_have_value("vat")


async def test_load_more_appends_without_moving_what_is_on_screen(
    ui: UI, demo: Demo, world: World
) -> None:
    acme = await Company.get(demo.companies["Acme Corp"])
    lisa = await User.get(demo.users["lisa"])
    assert acme is not None and lisa is not None
    for n in range(29):
        await world.ticket(acme, lisa, subject=f"Printer {n:02d} jams on A3")
    await ui.sign_in("lisa@acme.example")
    page = ui.page
    rows = page.locator("[data-ticket-id]")
    await expect(rows).to_have_count(25)
    await expect(page.locator(".list-status")).to_have_text("25 tickets shown")

    more = page.get_by_role("button", name="Load more")
    await more.scroll_into_view_if_needed()
    before = [await r.bounding_box() for r in (await rows.all())[:25]]
    scroll = await page.evaluate("window.scrollY")
    await more.click()
    await expect(rows).to_have_count(30)
    after = [await r.bounding_box() for r in (await rows.all())[:25]]
    assert after == before, "rows already on screen did not move"
    assert await page.evaluate("window.scrollY") == scroll
    await expect(page.locator(".list-footer")).to_have_text("End of the list")
    ids = [await r.get_attribute("data-ticket-id") for r in await rows.all()]
    assert len(set(ids)) == 30


async def test_readable_at_phone_width(browser: Browser, console_url: str, demo: Demo) -> None:
    ui, context = await open_ui(browser, console_url, PHONE)
    try:
        await ui.sign_in("mark@acme.example")
        await expect(ui.page.locator("[data-ticket-id]")).to_have_count(3)
        for hash_ in ("#/tickets", f"#/tickets/{demo.tickets[INVOICE]}", "#/new"):
            await ui.goto(hash_)
            await expect(ui.page.locator("main h1")).to_be_visible()
            overflow = await ui.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{hash_} scrolls sideways at phone width"
    finally:
        await context.close()
    assert ui.problems == []


async def test_admin_pages_readable_at_phone_width(
    browser: Browser, console_url: str, demo: Demo
) -> None:
    """Wide tables scroll in their own box; the page itself never scrolls sideways."""
    ui, context = await open_ui(browser, console_url, PHONE)
    acme = demo.companies["Acme Corp"]
    try:
        await ui.sign_in("sara@acme.example")
        for panel in ("members", "groups", "invitations", "audit"):
            await ui.goto(f"#/companies/{acme}/{panel}")
            await expect(ui.page.locator("main h1")).to_contain_text("Acme Corp")
            overflow = await ui.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the {panel} page scrolls sideways at phone width"
    finally:
        await context.close()
    assert ui.problems == []


SHOTS = {"lisa": "customer", "mark": "agent", "sara": "admin"}


async def test_screenshots_of_customer_agent_and_admin(
    browser: Browser, console_url: str, demo: Demo, tmp_path: Path
) -> None:
    """The README's pictures: a ticket at laptop width, the list at phone width.
    `make screenshots` writes them to docs/ (else a temporary folder: the test still
    proves each view renders without an error)."""
    target = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    for name, role in SHOTS.items():
        for viewport, suffix in ((LAPTOP, ""), (PHONE, "-phone")):
            ui, context = await open_ui(browser, console_url, viewport)
            try:
                await ui.sign_in(f"{name}@acme.example")
                if viewport is LAPTOP:  # the same ticket, as each role may work it
                    await ui.page.locator(f'[data-ticket-id="{demo.tickets[INVOICE]}"] a').click()
                    await expect(ui.page.locator("article.ticket h1")).to_have_text(INVOICE)
                path = target / f"console-{role}{suffix}.png"
                await ui.page.screenshot(path=path, full_page=True, animations="disabled")
                assert path.stat().st_size > 10_000
            finally:
                await context.close()
            assert ui.problems == []
