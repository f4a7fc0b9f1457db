"""Each demo persona in the console: the tickets the persona table promises, exactly the
actions the policy gives them, and one allowed and one refused action with its result.

The expectations are spelled out here, not read from the policy or the seed, so a drift in
either fails a test instead of redefining it.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from playwright.async_api import Locator, expect

from models import Membership, Status, Ticket
from tests.browser.conftest import UI, Demo

pytestmark = pytest.mark.browser

INVOICE = "Invoice 2026-114 charges VAT twice"
EXPORT = "Nightly export to the data warehouse failed"
LABELS = "Shipping labels download as a blank PDF"
QUOTE = "Quote for 600 units a month from July"

VIEWER = {"ticket:reply"}
AUTHOR = VIEWER | {"ticket:update"}  # the creator of an open ticket corrects it
AGENT = {"ticket:update", "ticket:share", "ticket:note", "ticket:reply"}
ADMIN = AGENT | {"ticket:delete"}
ALL_FIELDS = {
    "subject", "description", "status", "priority", "assigned_to", "group_id", "confidential"
}  # fmt: skip
AGENT_FIELDS = {"status", "priority", "assigned_to", "group_id"}
AUTHOR_FIELDS = {"subject", "description"}
MANAGE_MEMBERS = frozenset({"members:add", "members:update", "members:remove"})
LAST_ADMIN = "a company must keep at least one admin: promote another member first"

View = tuple[set[str], set[str]]  # a ticket view's data-action buttons, its update inputs


@dataclass(frozen=True)
class Persona:
    """What one persona must find in the console."""

    email: str
    tickets: dict[str, View]  # subject -> what the ticket view offers
    nav: dict[str, list[str]]  # company -> its links in the navigation
    members: frozenset[str] = frozenset()  # the members page's data-action buttons


PERSONAS = {
    "lisa": Persona(
        "lisa@acme.example", {INVOICE: (AUTHOR, AUTHOR_FIELDS)}, {"Acme Corp": ["Tickets"]}
    ),
    "sara": Persona(
        "sara@acme.example",
        {INVOICE: (ADMIN, ALL_FIELDS), EXPORT: (ADMIN, ALL_FIELDS)},
        {"Acme Corp": ["Tickets", "Members", "Groups", "Invitations", "Audit log"]},
        MANAGE_MEMBERS,
    ),
    "mark": Persona(
        "mark@acme.example",
        {
            INVOICE: (AGENT, AGENT_FIELDS),
            EXPORT: (AGENT, AGENT_FIELDS),
            QUOTE: (AUTHOR, AUTHOR_FIELDS),  # his own, at Globex where he is a customer
        },
        {"Acme Corp": ["Tickets", "Members", "Groups"], "Globex Inc": ["Tickets"]},
    ),
    "david": Persona(
        "david@globex.example", {LABELS: (AUTHOR, AUTHOR_FIELDS)}, {"Globex Inc": ["Tickets"]}
    ),
    "emma": Persona(
        "emma@globex.example",
        {LABELS: (AGENT, AGENT_FIELDS), QUOTE: (AGENT, AGENT_FIELDS)},
        {"Globex Inc": ["Tickets", "Members", "Groups"]},
    ),
    "john": Persona(
        "john@globex.example",
        {LABELS: (ADMIN, ALL_FIELDS), QUOTE: (ADMIN, ALL_FIELDS)},
        {"Globex Inc": ["Tickets", "Members", "Groups", "Invitations", "Audit log"]},
        MANAGE_MEMBERS,
    ),
}


async def listed_subjects(ui: UI) -> list[str]:
    """The subjects of the ticket rows on screen."""
    return await ui.page.locator("[data-ticket-id] .ticket-subject").all_inner_texts()


async def actions(ui: UI) -> set[str]:
    """The data-action buttons of the ticket on screen."""
    buttons = ui.page.locator("article.ticket [data-action]")
    return {a for b in await buttons.all() if (a := await b.get_attribute("data-action"))}


def problem_of(member_row: Locator) -> Locator:
    """The alert line under a member's row in the members table."""
    return member_row.locator("xpath=following-sibling::tr[1]").get_by_role("alert")


async def open_ticket(ui: UI, demo: Demo, subject: str) -> None:
    """Click the ticket's row in the list and wait for its page."""
    await ui.page.locator(f'[data-ticket-id="{demo.tickets[subject]}"] a').click()
    await expect(ui.page.locator("article.ticket h1")).to_have_text(subject)


@pytest.mark.parametrize("name", list(PERSONAS))
async def test_persona_sees_their_tickets_and_only_their_actions(
    ui: UI, demo: Demo, name: str
) -> None:
    persona = PERSONAS[name]
    await ui.sign_in(persona.email)

    await expect(ui.page.locator("[data-ticket-id]")).to_have_count(len(persona.tickets))
    assert sorted(await listed_subjects(ui)) == sorted(persona.tickets)
    rows = ui.page.locator("[data-ticket-id]")
    ids = {await r.get_attribute("data-ticket-id") for r in await rows.all()}
    assert ids == {str(demo.tickets[s]) for s in persona.tickets}

    for company, links in persona.nav.items():
        section = ui.page.locator("nav .nav-company", has_text=company)
        assert await section.locator("a").all_inner_texts() == links
    assert await ui.page.locator("nav .nav-company").count() == len(persona.nav)

    for subject, (expected, fields) in persona.tickets.items():
        await open_ticket(ui, demo, subject)
        assert await actions(ui) == expected, subject
        form = ui.page.locator("form.edit")
        if "ticket:update" in expected:
            names = await form.locator("[name]").evaluate_all("els => els.map(e => e.name)")
            assert set(names) == fields, subject
        else:
            await expect(form).to_have_count(0)
        await ui.page.go_back()
        await expect(ui.page.locator("[data-ticket-id]")).to_have_count(len(persona.tickets))

    for company, links in persona.nav.items():
        if "Members" not in links:
            continue
        section = ui.page.locator("nav .nav-company", has_text=company)
        await section.get_by_role("link", name="Members").click()
        await expect(
            ui.page.locator("table.members tbody tr[data-member-id]").first
        ).to_be_visible()
        buttons = ui.page.locator("main [data-action]")
        found = {a for b in await buttons.all() if (a := await b.get_attribute("data-action"))}
        assert found == persona.members, company


# -- one allowed and one refused action per persona ------------------------------------------


async def lisa(ui: UI, demo: Demo) -> None:
    """Allowed: a public reply on her ticket. Refused: Sara's ticket, which she cannot read."""
    await open_ticket(ui, demo, INVOICE)
    await ui.page.fill("textarea[name=body]", "Any news? Our accounts team is waiting.")
    await ui.page.click('[data-action="ticket:reply"]')
    reply = ui.page.locator(".replies .reply")
    await expect(reply).to_have_count(1)
    await expect(reply).to_contain_text("Any news? Our accounts team is waiting.")
    await expect(reply).to_contain_text("lisa (you)")
    await expect(reply.locator(".internal-badge")).to_have_count(0)

    export = demo.tickets[EXPORT]
    ui.expect_refusal(404, f"/tickets/{export}")
    await ui.goto(f"#/tickets/{export}")
    await expect(ui.page.locator("main h1")).to_have_text("Not found")
    await expect(ui.page.locator("main [role=alert]")).to_have_text("ticket not found")


async def sara(ui: UI, demo: Demo) -> None:
    """Allowed: deleting a ticket. Refused: demoting herself, Acme's last admin (409)."""
    await open_ticket(ui, demo, INVOICE)
    await ui.page.click('[data-action="ticket:delete"]')
    await ui.page.get_by_role("button", name="Delete for good").click()
    await expect(ui.page.locator("[data-ticket-id]")).to_have_count(1)
    assert await listed_subjects(ui) == [EXPORT]
    assert await Ticket.find_one(Ticket.subject == INVOICE) is None

    await ui.page.get_by_role("link", name="Members").click()
    row = ui.page.locator(f'tr[data-member-id="{demo.users["sara"]}"]')
    await row.locator("select[name=role]").select_option("agent")
    ui.expect_refusal(409, f"/members/{demo.users['sara']}")
    await row.locator('[data-action="members:update"]').click()
    await expect(problem_of(row)).to_have_text(LAST_ADMIN)
    sara_membership = await Membership.find_one(Membership.user == demo.users["sara"])
    assert sara_membership is not None and sara_membership.role == "admin"


async def mark(ui: UI, demo: Demo) -> None:
    """Allowed: moving Lisa's ticket to in-progress. Refused: assigning it to Lisa, a
    customer (422 with the server's reason)."""
    await open_ticket(ui, demo, INVOICE)
    await ui.page.select_option("form.edit select[name=status]", "in-progress")
    await ui.page.click('[data-action="ticket:update"]')
    await expect(ui.page.locator(".ticket-badges .badge").first).to_have_text("In progress")
    ticket = await Ticket.get(demo.tickets[INVOICE])
    assert ticket is not None and ticket.status is Status.IN_PROGRESS

    await ui.page.select_option("form.edit select[name=assigned_to]", str(demo.users["lisa"]))
    ui.expect_refusal(422, f"/tickets/{demo.tickets[INVOICE]}")
    await ui.page.click('[data-action="ticket:update"]')
    await expect(ui.page.locator("form.edit [role=alert]")).to_have_text(
        "assigned_to must be an admin or agent of the ticket's company"
    )
    ticket = await Ticket.get(demo.tickets[INVOICE])
    assert ticket is not None and ticket.assigned_to is None


async def david(ui: UI, demo: Demo) -> None:
    """Allowed: opening a ticket. Refused: Mark's Globex ticket, which he cannot read."""
    await ui.page.get_by_role("link", name="New ticket").first.click()
    await ui.page.fill("input[name=subject]", "Label printer pairing code")
    await ui.page.fill("textarea[name=description]", "Which code pairs the new printer?")
    await ui.page.click('[data-action="ticket:create"]')
    await expect(ui.page.locator("article.ticket h1")).to_have_text("Label printer pairing code")
    await ui.page.get_by_role("link", name="← Tickets").click()
    await expect(ui.page.locator("[data-ticket-id]")).to_have_count(2)

    quote = demo.tickets[QUOTE]
    ui.expect_refusal(404, f"/tickets/{quote}")
    await ui.goto(f"#/tickets/{quote}")
    await expect(ui.page.locator("main [role=alert]")).to_have_text("ticket not found")


async def emma(ui: UI, demo: Demo) -> None:
    """Allowed: an internal note. Refused: sharing a ticket with David a second time."""
    await open_ticket(ui, demo, LABELS)
    await ui.page.fill("textarea[name=body]", "Label service returns 500 since 08:12.")
    await ui.page.click('[data-action="ticket:note"]')
    note = ui.page.locator(".replies .reply.internal")
    await expect(note).to_have_count(1)
    await expect(note.locator(".internal-badge")).to_have_text("Internal note")

    sharing = ui.page.locator("section.sharing")
    await sharing.locator("select[name=viewer]").select_option(str(demo.users["david"]))
    share = sharing.locator('[data-action="ticket:share"]:not([data-variant])')
    await share.click()
    await expect(ui.page.locator("#toast")).to_have_text("Shared with david.")
    ui.expect_refusal(409, f"/tickets/{demo.tickets[LABELS]}/viewers")
    await share.click()
    await expect(sharing.locator("[role=alert]")).to_have_text(
        "the ticket is already shared with this user"
    )


async def john(ui: UI, demo: Demo) -> None:
    """Allowed: adding Lisa to Globex. Refused: removing himself, its last admin (409)."""
    await ui.page.get_by_role("link", name="Members").click()
    await ui.page.fill("form.add-member input[name=email]", "lisa@acme.example")
    await ui.page.select_option("form.add-member select[name=role]", "customer")
    await ui.page.click('[data-action="members:add"]')
    await expect(ui.page.locator(f'tr[data-member-id="{demo.users["lisa"]}"]')).to_be_visible()
    added = await Membership.find_one(
        Membership.user == demo.users["lisa"], Membership.company == demo.companies["Globex Inc"]
    )
    assert added is not None and added.role == "customer"

    row = ui.page.locator(f'tr[data-member-id="{demo.users["john"]}"]')
    await row.locator('[data-action="members:remove"]').click()
    ui.expect_refusal(409, f"/members/{demo.users['john']}")
    await row.get_by_role("button", name="Remove john").click()
    await expect(problem_of(row)).to_have_text(LAST_ADMIN)


STORIES: dict[str, Callable[[UI, Demo], Awaitable[None]]] = {
    "lisa": lisa,
    "sara": sara,
    "mark": mark,
    "david": david,
    "emma": emma,
    "john": john,
}


@pytest.mark.parametrize("name", list(STORIES))
async def test_persona_allowed_and_refused_action(ui: UI, demo: Demo, name: str) -> None:
    await ui.sign_in(PERSONAS[name].email)
    await STORIES[name](ui, demo)
