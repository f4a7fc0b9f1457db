"""The policy drives the page: the same console, served by an API started on an edited copy
of policy.toml, offers less, with no change to the front end."""

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from app.config import Settings
from authz.policy import DEFAULT_POLICY_PATH, load_policy
from tests.browser.conftest import LAPTOP, UI, Demo, open_ui
from tests.browser.test_personas import INVOICE, actions, open_ticket
from tests.utils.instances import worker

pytestmark = pytest.mark.browser


def agent_without_share_or_priority(folder: Path) -> Path:
    """A copy of the shipped policy where agents may neither share nor change priority."""
    text = DEFAULT_POLICY_PATH.read_text()
    start = text.index("[roles.agent]")
    end = text.index("\n[", start)
    agent = text[start:end]
    edited = agent.replace(', "ticket:share"', "").replace('"priority", ', "")
    assert edited != agent
    text = text[:start] + edited + text[end:]
    path = folder / "policy.toml"
    path.write_text(text)
    policy = load_policy(path)
    assert policy.roles["agent"].permissions == (
        load_policy(DEFAULT_POLICY_PATH).roles["agent"].permissions - {"ticket:share"}
    )
    assert policy.roles["agent"].writable_fields["ticket"] == {"status", "assigned_to", "group_id"}
    return path


async def ticket_offer(ui: UI, demo: Demo, email: str) -> tuple[set[str], set[str]]:
    """What the Invoice ticket's page offers `email`: its actions and its editable fields."""
    await ui.sign_in(email)
    await open_ticket(ui, demo, INVOICE)
    fields = await ui.page.locator("form.edit [name]").evaluate_all("els => els.map(e => e.name)")
    return await actions(ui), set(fields)


async def test_a_policy_change_changes_what_the_page_offers(
    ui: UI, demo: Demo, browser: Browser, settings: Settings, tmp_path: Path
) -> None:
    shipped = await ticket_offer(ui, demo, "mark@acme.example")
    assert shipped == (
        {"ticket:update", "ticket:share", "ticket:note", "ticket:reply"},
        {"status", "priority", "assigned_to", "group_id"},
    )

    edited = settings.model_copy(update={"policy_file": agent_without_share_or_priority(tmp_path)})
    async with worker(edited, tmp_path / "api.log") as url:
        other, context = await open_ui(browser, url, LAPTOP)
        try:
            mark = await ticket_offer(other, demo, "mark@acme.example")
            assert mark == (
                {"ticket:update", "ticket:note", "ticket:reply"},
                {"status", "assigned_to", "group_id"},
            )
            await expect(other.page.locator('[data-action="ticket:share"]')).to_have_count(0)
            # Admins keep what the edit did not touch.
            await other.page.get_by_role("button", name="Sign out").click()
            sara = await ticket_offer(other, demo, "sara@acme.example")
            assert "ticket:share" in sara[0] and "priority" in sara[1]
        finally:
            await context.close()
    assert other.problems == []
