"""Invitations in the console: Sara (admin of Acme) invites Nina (seeded in no company),
copies the one-time token, and Nina, signed in in a browser of her own, accepts it and
finds Acme in her console. The server's refusals of a token (used: 404; a company the
caller is in already: 409) are shown in its words, and a pending invitation is revoked."""

import pytest
from playwright.async_api import Browser, expect

from models import Invitation, Membership
from tests.browser.conftest import LAPTOP, UI, Demo, open_ui
from tests.browser.test_personas import EXPORT, INVOICE

pytestmark = pytest.mark.browser

NOT_REDEEMABLE = (
    "no pending invitation has this token: it is unknown, expired, revoked or already used "
    "(ask the company's admin for a new one)"
)
ALREADY_MEMBER = "this user is already a member of the company"


async def invite(ui: UI, email: str, role: str) -> str:
    """As the signed-in admin, on the invitations page: invite `email`; the token shown."""
    await ui.page.fill("form.invite input[name=email]", email)
    await ui.page.select_option("form.invite select[name=role]", role)
    await ui.page.click('form.invite [data-action="members:add"]')
    box = ui.page.locator(".token-box")
    await expect(box.get_by_role("heading")).to_have_text(f"Invitation for {email} as {role}")
    return await box.locator("input[name=token]").input_value()


async def accept(ui: UI, token: str) -> None:
    """Paste `token` on the accept page, reached from the navigation, and submit it."""
    await ui.page.locator("nav").get_by_role("link", name="Accept an invitation").click()
    await ui.page.fill("input[name=token]", token)
    await ui.page.get_by_role("button", name="Accept invitation").click()


async def test_an_invitation_brings_a_new_colleague_in(
    ui: UI, demo: Demo, browser: Browser, console_url: str
) -> None:
    acme = demo.companies["Acme Corp"]
    page = ui.page
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_url)
    await ui.sign_in("sara@acme.example")
    await page.get_by_role("link", name="Invitations").click()
    await expect(page.locator("main .empty")).to_have_text("No invitations yet.")

    token = await invite(ui, "nina@acme.example", "agent")
    assert len(token) >= 40
    await page.get_by_role("button", name="Copy token").click()
    await expect(page.locator("#toast")).to_have_text("Token copied.")
    assert await page.evaluate("navigator.clipboard.readText()") == token
    row = page.locator("tr[data-invitation-id]")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("nina@acme.example")
    await expect(row.locator(".badge.invitation-pending")).to_have_text("Pending")

    nina, context = await open_ui(browser, console_url, LAPTOP)
    try:
        await nina.sign_in("nina@acme.example")
        await expect(nina.page.locator(".list-status")).to_contain_text(
            "You belong to no company yet."
        )
        await expect(nina.page.locator("nav .nav-company")).to_have_count(0)
        await accept(nina, token)
        await expect(nina.page.locator("#toast")).to_have_text("You joined Acme Corp as agent.")
        acme_nav = nina.page.locator("nav .nav-company")
        await expect(acme_nav.locator("h2")).to_have_text("Acme Corp agent")
        await expect(nina.page.locator("main h1")).to_have_text("Tickets in Acme Corp")
        subjects = nina.page.locator("[data-ticket-id] .ticket-subject")
        await expect(subjects).to_have_text([EXPORT, INVOICE])
        joined = await Membership.find_one(
            Membership.company == acme, Membership.user == demo.users["nina"]
        )
        assert joined is not None and joined.role == "agent"

        # The token was for one use.
        nina.expect_refusal(404, "/invitations/accept")
        await accept(nina, token)
        await expect(nina.page.locator("form.accept [role=alert]")).to_have_text(NOT_REDEEMABLE)
    finally:
        await context.close()
    assert nina.problems == []

    await page.reload()
    await expect(row.locator(".badge.invitation-accepted")).to_have_text("Accepted")
    await expect(row).to_contain_text("by nina")

    # Sara, already in Acme, cannot accept an invitation to it (409); she revokes it.
    other = await invite(ui, "omar@initech.example", "customer")
    ui.expect_refusal(409, "/invitations/accept")
    await accept(ui, other)
    await expect(page.locator("form.accept [role=alert]")).to_have_text(ALREADY_MEMBER)
    await page.get_by_role("link", name="Invitations").click()
    pending = page.locator("tr[data-invitation-id]", has_text="omar@initech.example")
    await expect(pending.locator(".badge")).to_have_text(["customer", "Pending"])
    await pending.locator('[data-variant="revoke"]').click()
    await pending.get_by_role("button", name="Revoke for omar@initech.example").click()
    await expect(pending.locator(".badge.invitation-revoked")).to_have_text("Revoked")
    await expect(pending.locator("[data-variant=revoke]")).to_have_count(0)
    revoked = await Invitation.find_one(Invitation.email == "omar@initech.example")
    assert revoked is not None and revoked.revoked_at is not None
