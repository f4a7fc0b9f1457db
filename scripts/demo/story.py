"""The demo's story: the personas' turns, in order, each doing what its role allows and
being refused what it does not (`STEPS`), from the seeded state back to it (`run_demo`)."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from app.demo import PERSONAS
from scripts.demo.harness import ACME, GLOBEX, Abort, Demo, Session
from scripts.demo.undo import undo
from scripts.seed import TICKETS

SUBJECT = "Password reset email never arrives"
AUDIT_WAIT_SECONDS = 10.0  # the server writes the audit trail in the background


@dataclass
class Story:
    """What the steps share: who is signed in, the two companies and the tickets in play."""

    demo: Demo
    seen: dict[str, list[dict[str, Any]]]  # each persona's tickets before the demo
    acme: str
    globex: str
    david_ticket: str  # seeded in Globex, in no group
    mark_globex_ticket: str  # seeded in Globex, in the Sales group
    lisa_ticket: str = ""  # the one Lisa opens, and Sara deletes

    def __getitem__(self, username: str) -> Session:
        """The session of a persona, by username."""
        return self.demo.sessions[username]


async def run_demo(client: httpx.AsyncClient, console: Console) -> list[str]:
    """Play the whole story against the API behind `client`; return the surprises."""
    demo = Demo(client, console)
    try:
        story = await _begin(demo)
        for step in STEPS:
            await step(story)
        demo.console.rule("[bold]Back where we started[/]")
        await demo.check_counts("after the demo")
    except Abort as stop:
        demo.console.print(f"[bold red]Stopped:[/] {demo.readable(str(stop))}")
    except httpx.HTTPError as exc:
        demo.surprise(f"the server stopped answering: {type(exc).__name__}: {exc}")
    finally:
        await undo(demo)
    return demo.surprises


async def _begin(demo: Demo) -> Story:
    """Sign everyone in, check the seeded counts, and find the tickets the story needs."""
    r = await demo.call(None, "GET", "/healthz")
    demo.require("the API is up (GET /healthz)", r, 200)
    demo.console.rule("[bold]Sign in as every persona[/]")
    for p in PERSONAS:
        demo.sessions[p.username] = await demo.sign_in(p)
    seen = await demo.check_counts("before the demo")
    if demo.surprises:
        raise Abort("the seeded state is not what the seed makes: run `make seed`")
    by_subject = {t["subject"]: t for t in seen["sara"] + seen["john"]}
    seeded = {
        (spec.company, spec.author): by_subject[spec.subject]["id"]
        for spec in TICKETS
        if spec.subject in by_subject
    }
    return Story(
        demo,
        seen,
        acme=demo.sessions["sara"].company_id(ACME),
        globex=demo.sessions["john"].company_id(GLOBEX),
        david_ticket=seeded[(GLOBEX, "david")],
        mark_globex_ticket=seeded[(GLOBEX, "mark")],
    )


# -- Lisa: a customer opens a ticket and follows it -------------------------------------------


async def _lisa_opens_a_ticket(story: Story) -> None:
    """Lisa, a customer, opens a ticket, replies on it, and sees both of hers."""
    demo, lisa = story.demo, story["lisa"]
    demo.act(lisa, "opens a ticket and replies")
    demo.show(lisa, story.seen["lisa"])
    body = demo.require(
        "Lisa opens a ticket in Acme Corp",
        await demo.call(
            lisa,
            "POST",
            "/tickets",
            json={
                "company_id": story.acme,
                "subject": "Password reset mail never arrives",
                "description": "I asked for a password reset three times this morning; no email "
                "arrived, not even in the spam folder.",
            },
        ),
        201,
    )
    tid = story.lisa_ticket = demo.pending.ticket = body["id"]
    demo.names[tid] = f"#{body['number']}"
    demo.verify(
        f"the ticket is #{body['number']}, open, created by Lisa",
        body["status"] == "open" and body["created_by"] == lisa.user_id,
        body,
    )
    demo.expect(
        "Lisa replies on her ticket",
        await demo.call(
            lisa,
            "POST",
            f"/tickets/{tid}/replies",
            json={"body": "Same with my personal address, by the way."},
        ),
        201,
    )
    mine = await demo.tickets(lisa)
    demo.verify(
        "Lisa now sees 2 tickets: hers, both of them",
        len(mine) == 2 and all(t["created_by"] == lisa.user_id for t in mine),
        len(mine),
    )


async def _lisa_is_refused(story: Story) -> None:
    """What a customer may not do: list members, read another tenant, write notes, triage."""
    demo, lisa, tid = story.demo, story["lisa"], story.lisa_ticket
    demo.expect(
        "Lisa lists the members of Acme Corp (customers lack members:list)",
        await demo.call(lisa, "GET", f"/companies/{story.acme}/members"),
        403,
        detail_has="members:list",
    )
    demo.expect(
        "Lisa opens a Globex ticket by its id (another tenant: not found, not forbidden)",
        await demo.call(lisa, "GET", f"/tickets/{story.david_ticket}"),
        404,
    )
    demo.expect(
        "Lisa posts an internal note (customers lack ticket:note)",
        await demo.call(
            lisa, "POST", f"/tickets/{tid}/replies", json={"body": "psst", "internal": True}
        ),
        403,
        detail_has="ticket:note",
    )
    demo.expect(
        "Lisa raises her own ticket's priority (its creator may edit only its subject "
        "and description)",
        await demo.call(lisa, "PATCH", f"/tickets/{tid}", json={"priority": "high"}),
        403,
        detail_has="priority",
    )
    body = demo.require(
        "Lisa corrects her ticket's subject while it is open (a rule of the policy: "
        "its creator edits while it is open)",
        await demo.call(lisa, "PATCH", f"/tickets/{tid}", json={"subject": SUBJECT}),
        200,
    )
    demo.verify("the subject is corrected", body["subject"] == SUBJECT, body["subject"])


# -- Mark: an agent in Acme, a customer in Globex ---------------------------------------------


async def _mark_picks_up_the_ticket(story: Story) -> None:
    """Mark, an agent of Acme, takes Lisa's ticket, adds an internal note and reads it back."""
    demo, mark, tid = story.demo, story["mark"], story.lisa_ticket
    demo.act(mark, "picks up Lisa's ticket")
    mine = await demo.tickets(mark)
    demo.show(mark, mine)
    demo.verify("Mark sees Lisa's new ticket as well: 4 in all", len(mine) == 4, len(mine))
    body = demo.require(
        "Mark assigns Lisa's ticket to himself and sets it in progress",
        await demo.call(
            mark,
            "PATCH",
            f"/tickets/{tid}",
            json={"assigned_to": mark.user_id, "status": "in-progress"},
        ),
        200,
    )
    demo.verify(
        "the ticket is in progress and assigned to Mark",
        body["status"] == "in-progress" and body["assigned_to"] == mark.user_id,
        body,
    )
    note = "Mail logs show the reset emails bounced: her domain's SPF record rejects us."
    demo.expect(
        "Mark adds an internal note",
        await demo.call(
            mark, "POST", f"/tickets/{tid}/replies", json={"body": note, "internal": True}
        ),
        201,
    )
    r = await demo.call(mark, "GET", f"/tickets/{tid}")
    replies = demo.require("Mark reads the ticket", r, 200)["replies"]
    demo.verify(
        "Mark sees Lisa's reply and his internal note",
        [x["internal"] for x in replies] == [False, True],
        replies,
    )


async def _mark_within_his_roles(story: Story) -> None:
    """Mark's two roles: an agent lists members but may not delete; a customer sees his own."""
    demo, mark = story.demo, story["mark"]
    r = await demo.call(mark, "GET", f"/companies/{story.acme}/members")
    members = demo.require("Mark lists Acme's members (agents hold members:list)", r, 200)
    demo.verify(
        "Acme has Sara, Mark and Lisa",
        {m["username"] for m in members} >= {"sara", "mark", "lisa"},
        members,
    )
    demo.expect(
        "Mark deletes Lisa's ticket (agents lack ticket:delete)",
        await demo.call(mark, "DELETE", f"/tickets/{story.lisa_ticket}"),
        403,
        detail_has="ticket:delete",
    )
    globex_seen = await demo.tickets(mark, company_id=story.globex)
    demo.verify(
        "in Globex, where he is a customer, Mark sees only his own ticket",
        [t["id"] for t in globex_seen] == [story.mark_globex_ticket],
        globex_seen,
    )
    demo.expect(
        "Mark opens David's Globex ticket (not his, so not found)",
        await demo.call(mark, "GET", f"/tickets/{story.david_ticket}"),
        404,
    )
    demo.expect(
        "Mark lists Globex's members (a customer there)",
        await demo.call(mark, "GET", f"/companies/{story.globex}/members"),
        403,
        detail_has="members:list",
    )


async def _lisa_checks_again(story: Story) -> None:
    """Lisa sees Mark's progress and her reply, never his internal note."""
    demo, lisa = story.demo, story["lisa"]
    demo.act(lisa, "checks her ticket again")
    r = await demo.call(lisa, "GET", f"/tickets/{story.lisa_ticket}")
    ticket = demo.require("Lisa reads her ticket", r, 200)
    demo.verify(
        "she sees the new status and her own reply, but not Mark's internal note",
        ticket["status"] == "in-progress"
        and [x["body"] for x in ticket["replies"]]
        == ["Same with my personal address, by the way."],
        ticket["replies"],
    )
    demo.expect(
        "Lisa edits the subject again (in progress now: the rule no longer lets her)",
        await demo.call(
            lisa, "PATCH", f"/tickets/{story.lisa_ticket}", json={"subject": "Still no email"}
        ),
        403,
        detail_has="condition author_while_open",
    )


async def _mark_resolves_the_ticket(story: Story) -> None:
    """A resolved ticket is frozen but for its status: Mark resolves it, then reopens it."""
    demo, mark, tid = story.demo, story["mark"], story.lisa_ticket
    demo.act(mark, "resolves Lisa's ticket")
    demo.require(
        "Mark resolves the ticket",
        await demo.call(mark, "PATCH", f"/tickets/{tid}", json={"status": "resolved"}),
        200,
    )
    demo.expect(
        "Mark lowers the priority of the resolved ticket (frozen but for its status)",
        await demo.call(mark, "PATCH", f"/tickets/{tid}", json={"priority": "low"}),
        403,
        detail_has="the ticket is resolved",
    )
    r = await demo.call(
        mark,
        "POST",
        "/authz/check",
        json={"checks": [{"action": "update", "resource_type": "ticket", "resource_id": tid}]},
    )
    answer = demo.require("Mark asks the engine which fields he may change now", r, 200)
    demo.verify("only its status", answer["fields"] == [["status"]], answer.get("fields", answer))
    body = demo.require(
        "Mark reopens it (in progress again)",
        await demo.call(mark, "PATCH", f"/tickets/{tid}", json={"status": "in-progress"}),
        200,
    )
    demo.verify("the ticket is in progress", body["status"] == "in-progress", body["status"])


# -- Emma and David: the other tenant ---------------------------------------------------------


async def _emma_works_globex(story: Story) -> None:
    """Emma, an agent of Globex: the fields she may change, and the engine's own answer."""
    demo, emma, david_ticket = story.demo, story["emma"], story.david_ticket
    demo.act(emma, "works Globex's queue")
    demo.show(emma, story.seen["emma"])
    demo.expect(
        "Emma rewrites the subject of David's ticket (agents may change only "
        "status, priority, assigned_to and group_id)",
        await demo.call(
            emma, "PATCH", f"/tickets/{david_ticket}", json={"subject": "Labels broken"}
        ),
        403,
        detail_has="subject",
    )
    r = await demo.call(
        emma,
        "POST",
        "/authz/check",
        json={
            "checks": [
                {"action": "update", "resource_type": "ticket", "resource_id": david_ticket},
                {"action": "delete", "resource_type": "ticket", "resource_id": david_ticket},
            ]
        },
    )
    answer = demo.require("Emma asks the engine whether she may update and delete it", r, 200)
    demo.verify(
        f'update yes, delete no: "{demo.readable(answer["reasons"][1])}"',
        answer["results"] == [True, False],
        answer,
    )
    demo.expect(
        "Emma opens Lisa's Acme ticket (another tenant)",
        await demo.call(emma, "GET", f"/tickets/{story.lisa_ticket}"),
        404,
    )


async def _david_follows_his_ticket(story: Story) -> None:
    """David, a customer of Globex, sees his own ticket and nothing of a fellow customer's."""
    demo, david = story.demo, story["david"]
    demo.act(david, "follows his ticket")
    demo.show(david, story.seen["david"])
    demo.expect(
        "David opens Mark's Globex ticket (a fellow customer's: not found)",
        await demo.call(david, "GET", f"/tickets/{story.mark_globex_ticket}"),
        404,
    )
    demo.expect(
        "David reads Globex's audit log (customers lack audit:read)",
        await demo.call(david, "GET", f"/companies/{story.globex}/audit"),
        403,
        detail_has="audit:read",
    )


# -- Sara: the admin manages members, deletes, reads the audit log ----------------------------


async def _sara_adds_nina(story: Story) -> None:
    """Sara adds Nina, who has an account but no company, and promotes her to agent."""
    demo, sara, nina = story.demo, story["sara"], story["nina"]
    demo.act(sara, "manages Acme")
    demo.show(sara, await demo.tickets(sara))
    new_id, handle = nina.user_id, nina.name
    r = await demo.call(
        sara,
        "POST",
        f"/companies/{story.acme}/members",
        json={"email": nina.persona.email, "role": "customer"},
    )
    demo.require(
        f"Sara adds {handle}, a new colleague with an account, to Acme Corp as a customer",
        r,
        201,
    )
    demo.pending.member = new_id
    r = await demo.call(
        sara, "PATCH", f"/companies/{story.acme}/members/{new_id}", json={"role": "agent"}
    )
    demo.verify(
        f"Sara promotes {handle} to agent",
        demo.require(f"Sara changes {handle}'s role", r, 200)["role"] == "agent",
        r.text,
    )
    me = demo.require(f"{handle} asks who she is", await demo.call(nina, "GET", "/auth/me"), 200)
    demo.verify(
        f"{handle} now sees her role in Acme Corp",
        [(m["company_name"], m["role"]) for m in me["memberships"]] == [(ACME, "agent")],
        me["memberships"],
    )


async def _sara_makes_it_confidential(story: Story) -> None:
    """Sara marks Lisa's ticket confidential: Nina, an agent now, no longer sees it; Mark,
    its assignee, and Lisa, its creator, still do; only an admin may clear the mark."""
    demo, sara, nina, mark, tid = (
        story.demo, story["sara"], story["nina"], story["mark"], story.lisa_ticket,
    )  # fmt: skip
    demo.expect(
        "Nina, an agent of Acme now, opens Lisa's ticket",
        await demo.call(nina, "GET", f"/tickets/{tid}"),
        200,
    )
    body = demo.require(
        "Sara marks Lisa's ticket confidential (only admins may)",
        await demo.call(sara, "PATCH", f"/tickets/{tid}", json={"confidential": True}),
        200,
    )
    demo.verify("the ticket is confidential", body["confidential"] is True, body)
    demo.expect(
        "Nina opens it again (confidential, and not assigned to her: not found)",
        await demo.call(nina, "GET", f"/tickets/{tid}"),
        404,
    )
    listed = [t["id"] for t in await demo.tickets(nina)]
    demo.verify("Nina's list leaves it out too", tid not in listed, len(listed))
    demo.expect(
        "Mark, its assignee, still reads it", await demo.call(mark, "GET", f"/tickets/{tid}"), 200
    )
    demo.expect(
        "Lisa, its creator, still reads it",
        await demo.call(story["lisa"], "GET", f"/tickets/{tid}"),
        200,
    )
    demo.expect(
        "Mark clears the mark (only admins set or clear it)",
        await demo.call(mark, "PATCH", f"/tickets/{tid}", json={"confidential": False}),
        403,
        detail_has="confidential",
    )


async def _sara_puts_back(story: Story) -> None:
    """Sara deletes Lisa's ticket (gone for Lisa too) and removes Nina again."""
    demo, sara, nina, tid = story.demo, story["sara"], story["nina"], story.lisa_ticket
    demo.expect(
        "Sara deletes Lisa's ticket", await demo.call(sara, "DELETE", f"/tickets/{tid}"), 204
    )
    demo.pending.ticket = None
    demo.expect(
        "Lisa's ticket is gone for Lisa too",
        await demo.call(story["lisa"], "GET", f"/tickets/{tid}"),
        404,
    )
    handle = nina.name
    r = await demo.call(sara, "DELETE", f"/companies/{story.acme}/members/{nina.user_id}")
    if demo.expect(f"Sara removes {handle} again", r, 204):
        demo.pending.member = None
    me = demo.require(f"{handle} asks who she is", await demo.call(nina, "GET", "/auth/me"), 200)
    demo.verify(f"{handle} is in no company again", me["memberships"] == [], me["memberships"])


async def _audit(story: Story) -> None:
    """Sara reads the audit log: Mark's refused deletion and her own, of this run's ticket."""
    demo, sara, tid = story.demo, story["sara"], story.lisa_ticket
    wanted = {
        ("ticket:delete", False, story["mark"].user_id),
        ("ticket:delete", True, sara.user_id),
    }
    loop = asyncio.get_running_loop()
    deadline = loop.time() + AUDIT_WAIT_SECONDS
    while True:
        r = await demo.call(sara, "GET", f"/companies/{story.acme}/audit", params={"limit": 200})
        if r.status_code != 200:
            demo.expect("Sara reads the audit log", r, 200)
            return
        events = [e for e in r.json()["items"] if e["resource_id"] == tid]
        found = {(e["action"], e["allowed"], e["user_id"]) for e in events}
        if wanted <= found or loop.time() > deadline:
            break
        await asyncio.sleep(0.2)  # written in the background: give the flusher a moment
    demo.console.print("    [green]✓[/] Sara reads the audit log: 200")
    table = Table(title="Acme's audit log, newest first (this run's ticket)", title_justify="left")
    for column in ("who", "action", "allowed", "reason"):
        table.add_column(column)
    for e in events:
        table.add_row(
            demo.names.get(e["user_id"] or "", "?"),
            e["action"],
            "yes" if e["allowed"] else "[red]no[/]",
            demo.readable(e["reason"]),
        )
    demo.console.print(table)
    demo.verify("it records Mark's refused deletion and Sara's deletion", wanted <= found, found)


# -- John: the last admin cannot step down; an agent scoped to a group -----------------------


async def _john_administers_globex(story: Story) -> None:
    """John, Globex's only admin, may not demote himself, and is a stranger to Acme."""
    demo, john = story.demo, story["john"]
    demo.act(john, "administers Globex")
    demo.show(john, story.seen["john"])
    r = await demo.call(john, "GET", f"/companies/{story.globex}/members")
    members = demo.require("John lists Globex's members", r, 200)
    roles = {m["username"]: m["role"] for m in members}
    demo.verify("Mark is a customer in Globex", roles.get("mark") == "customer", roles)
    demo.expect(
        "John demotes himself (the last admin; refused with 409)",
        await demo.call(
            john,
            "PATCH",
            f"/companies/{story.globex}/members/{john.user_id}",
            json={"role": "agent"},
        ),
        409,
        detail_has="admin",
    )
    demo.expect(
        "John reads Acme's audit log (not a member there: not found)",
        await demo.call(john, "GET", f"/companies/{story.acme}/audit"),
        404,
    )


async def _john_scopes_emma(story: Story) -> None:
    """John narrows Emma's ticket access to her group: she sees Sales' ticket, not David's."""
    demo, john, emma = story.demo, story["john"], story["emma"]
    demo.act(john, "scopes Emma to the Sales group")
    sales = await _sales(story)
    demo.expect(
        "John gives David, a customer, group-scoped access (only agents have levels)",
        await _set_access(story, story["david"], "groups"),
        422,
        detail_has="not available to role",
    )
    # Noted before asking: putting back is harmless if the change never happened, and a
    # change whose answer was lost is put back too.
    demo.pending.scoped = emma.user_id
    body = demo.require(
        "John sets Emma's ticket access to groups", await _set_access(story, emma, "groups"), 200
    )
    demo.verify("Emma's ticket access is groups", body["ticket_access"] == "groups", body)
    await _emma_sees(
        story, [story.mark_globex_ticket], "Emma now sees 1 ticket, the one in Sales (Mark's quote)"
    )
    demo.expect(
        "Emma opens David's ticket (in no group of hers: not found)",
        await demo.call(emma, "GET", f"/tickets/{story.david_ticket}"),
        404,
    )
    demo.pending.moved = story.david_ticket
    body = demo.require(
        "John moves David's ticket into Sales",
        await demo.call(john, "PATCH", f"/tickets/{story.david_ticket}", json={"group_id": sales}),
        200,
    )
    demo.verify("David's ticket is in Sales", body["group_id"] == sales, body)
    both = [story.david_ticket, story.mark_globex_ticket]
    await _emma_sees(story, both, "Emma sees David's ticket at once: 2 tickets")


async def _john_unscopes_emma(story: Story) -> None:
    """John puts David's ticket back in no group and Emma's access back to all."""
    demo, john, emma = story.demo, story["john"], story["emma"]
    body = demo.require(
        "John moves David's ticket out of Sales again",
        await demo.call(john, "PATCH", f"/tickets/{story.david_ticket}", json={"group_id": None}),
        200,
    )
    demo.pending.moved = None
    demo.verify("David's ticket is in no group", body["group_id"] is None, body)
    demo.expect(
        "Emma opens David's ticket (out of her group again: not found)",
        await demo.call(emma, "GET", f"/tickets/{story.david_ticket}"),
        404,
    )
    body = demo.require(
        "John sets Emma's ticket access back to all", await _set_access(story, emma, "all"), 200
    )
    demo.pending.scoped = None
    demo.verify("Emma's ticket access is all", body["ticket_access"] == "all", body)
    both = [story.david_ticket, story.mark_globex_ticket]
    await _emma_sees(story, both, "Emma sees both Globex tickets again")


async def _sales(story: Story) -> str:
    """The id of Globex's Sales group, checked to be as seeded: Emma, and Mark's ticket."""
    demo = story.demo
    r = await demo.call(story["john"], "GET", f"/companies/{story.globex}/groups")
    groups: dict[str, dict[str, Any]] = {
        g["name"]: g for g in demo.require("John lists Globex's groups", r, 200)
    }
    sales = groups.get("Sales")
    if sales is None:
        demo.surprise(f"Globex's groups: expected Sales, got {sorted(groups)}")
        raise Abort("the demo tenants differ from the seed's: run `make seed`")
    demo.names[sales["id"]] = "Sales"
    in_sales = {t["id"] for t in story.seen["john"] if t["group_id"] == sales["id"]}
    demo.verify(
        "Sales has Emma in it, and Mark's quote ticket but not David's",
        sales["member_ids"] == [story["emma"].user_id] and in_sales == {story.mark_globex_ticket},
        {"members": sales["member_ids"], "tickets": sorted(in_sales)},
    )
    return str(sales["id"])


async def _set_access(story: Story, who: Session, level: str) -> httpx.Response:
    """John sets a Globex member's ticket access."""
    path = f"/companies/{story.globex}/members/{who.user_id}"
    return await story.demo.call(story["john"], "PATCH", path, json={"ticket_access": level})


async def _emma_sees(story: Story, expected: list[str], what: str) -> None:
    """Emma lists her tickets: exactly `expected`, on the very next request."""
    seen = await story.demo.tickets(story["emma"])
    story.demo.verify(
        what,
        sorted(t["id"] for t in seen) == sorted(expected),
        [story.demo.names.get(t["id"], t["subject"]) for t in seen],
    )


STEPS: tuple[Callable[[Story], Awaitable[None]], ...] = (
    _lisa_opens_a_ticket,
    _lisa_is_refused,
    _mark_picks_up_the_ticket,
    _mark_within_his_roles,
    _lisa_checks_again,
    _mark_resolves_the_ticket,
    _emma_works_globex,
    _david_follows_his_ticket,
    _sara_adds_nina,
    _sara_makes_it_confidential,
    _sara_puts_back,
    _audit,
    _john_administers_globex,
    _john_scopes_emma,
    _john_unscopes_emma,
)
