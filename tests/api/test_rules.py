"""The helpdesk rules of `authz/policy.toml`, through HTTP, for every demo persona.

Each rule is the policy's work (a condition, a field list), none the code's: confidential
tickets, resolved tickets frozen but for their status, the creator editing while the
ticket is open, urgent for admins. The personas are the seeded ones of the README.
"""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from models import Ticket, User
from scripts.seed import seed_demo
from tests.utils.factories import World

pytestmark = pytest.mark.topologies

INVOICE = "Invoice 2026-114 charges VAT twice"  # Lisa's, in Acme, open, high priority
EXPORT = "Nightly export to the data warehouse failed"  # Sara's, Acme, in progress
LABELS = "Shipping labels download as a blank PDF"  # David's, Globex, open
PERSONAS = ("sara", "mark", "lisa", "john", "emma", "david")


class Desk:
    """The seeded demo tenants, and a client acting as each persona."""

    def __init__(self, client: httpx.AsyncClient, world: World, users: dict[str, User]) -> None:
        self.client = client
        self.headers = {name: world.auth(user) for name, user in users.items()}
        self.users = users

    def id(self, name: str) -> str:
        return str(self.users[name].id)

    async def ticket(self, subject: str) -> Ticket:
        found = await Ticket.find_one(Ticket.subject == subject)
        assert found is not None
        return found

    async def call(
        self, who: str, method: str, url: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.client.request(method, url, json=body, headers=self.headers[who])

    async def sees(self, who: str, ticket_id: object) -> bool:
        """Whether `who` reads the ticket by id, and their list agrees."""
        one = await self.call(who, "GET", f"/tickets/{ticket_id}")
        listed = (await self.call(who, "GET", "/tickets?limit=200")).json()["items"]
        in_list = str(ticket_id) in {t["id"] for t in listed}
        assert (one.status_code == 200) is in_list, (who, one.status_code)
        return in_list

    async def check(self, who: str, permission: str, ticket_id: object) -> dict[str, Any]:
        body = {"checks": [{"permission": permission, "resource_id": str(ticket_id)}]}
        answer = (await self.call(who, "POST", "/authz/check", body)).json()
        return {k: answer[k][0] for k in ("results", "reasons", "fields", "values")}


@pytest.fixture
async def desk(app: FastAPI, settings: Settings, client: httpx.AsyncClient, world: World) -> Desk:
    await seed_demo(app.state.db.client[settings.mongodb_db])
    users = {n: await User.find_one(User.username == n) for n in PERSONAS}
    assert all(users.values())
    return Desk(client, world, {n: u for n, u in users.items() if u is not None})


async def test_a_confidential_ticket_is_read_by_admins_assignee_creator_and_viewers(
    desk: Desk,
) -> None:
    acme = str((await desk.ticket(INVOICE)).company)
    body = {"company_id": acme, "subject": "Salary data in the export", "description": "!"}
    for who in ("mark", "lisa"):
        r = await desk.call(who, "POST", "/tickets", body | {"confidential": True})
        assert r.status_code == 403 and r.json()["fields"] == ["confidential"], who
    r = await desk.call("sara", "POST", "/tickets", body | {"confidential": True})
    assert r.status_code == 201 and r.json()["confidential"] is True
    secret = r.json()["id"]
    assert {p: await desk.sees(p, secret) for p in PERSONAS} == {
        "sara": True, "mark": False, "lisa": False, "john": False, "emma": False, "david": False,
    }  # fmt: skip
    refused = await desk.check("mark", "ticket:read", secret)
    assert refused["results"] is False and "not found" in refused["reasons"]

    r = await desk.call("sara", "POST", f"/tickets/{secret}/viewers", {"user_id": desk.id("lisa")})
    assert r.status_code == 201
    r = await desk.call("sara", "PATCH", f"/tickets/{secret}", {"assigned_to": desk.id("mark")})
    assert r.status_code == 200
    assert {p: await desk.sees(p, secret) for p in PERSONAS} == {
        "sara": True, "mark": True, "lisa": True, "john": False, "emma": False, "david": False,
    }  # fmt: skip
    r = await desk.call("mark", "PATCH", f"/tickets/{secret}", {"confidential": False})
    assert r.status_code == 403 and r.json()["fields"] == ["confidential"]
    r = await desk.call("sara", "PATCH", f"/tickets/{secret}", {"assigned_to": None})
    assert r.status_code == 200
    assert not await desk.sees("mark", secret), "no longer his: out of his reach again"
    r = await desk.call("sara", "PATCH", f"/tickets/{secret}", {"confidential": False})
    assert r.status_code == 200 and r.json()["confidential"] is False
    assert await desk.sees("mark", secret)


async def test_a_resolved_ticket_changes_only_its_status(desk: Desk) -> None:
    invoice = (await desk.ticket(INVOICE)).id
    url = f"/tickets/{invoice}"
    assert (await desk.call("mark", "PATCH", url, {"status": "resolved"})).status_code == 200
    for who, field, value in (("mark", "priority", "low"), ("sara", "subject", "New subject")):
        r = await desk.call(who, "PATCH", url, {field: value})
        assert r.status_code == 403, who
        assert r.json()["fields"] == [field]
        assert "the ticket is resolved" in r.json()["detail"], r.json()["detail"]
    for who in ("sara", "mark"):
        answer = await desk.check(who, "ticket:update", invoice)
        assert answer["results"] is True and answer["fields"] == ["status"], who
    lisa = await desk.check("lisa", "ticket:update", invoice)
    assert lisa["results"] is False and "(condition author_while_open)" in lisa["reasons"]
    assert (await desk.call("mark", "PATCH", url, {"status": "open"})).status_code == 200
    assert (await desk.call("mark", "PATCH", url, {"priority": "low"})).status_code == 200


async def test_the_creator_edits_subject_and_description_while_it_is_open(desk: Desk) -> None:
    for who, subject in (("lisa", INVOICE), ("david", LABELS)):
        ticket = await desk.ticket(subject)
        url = f"/tickets/{ticket.id}"
        answer = await desk.check(who, "ticket:update", ticket.id)
        assert answer["fields"] == ["description", "subject"], who
        r = await desk.call(who, "PATCH", url, {"subject": f"{subject} (corrected)"})
        assert r.status_code == 200 and r.json()["subject"].endswith("(corrected)")
        for field, value in (("status", "resolved"), ("priority", "low")):
            r = await desk.call(who, "PATCH", url, {field: value})
            assert r.status_code == 403 and r.json()["fields"] == [field], (who, field)
        staff = "mark" if who == "lisa" else "emma"
        r = await desk.call(staff, "PATCH", url, {"status": "in-progress"})
        assert r.status_code == 200
        r = await desk.call(who, "PATCH", url, {"description": "More detail."})
        assert r.status_code == 403
        assert "edits a ticket only while it is open" in r.json()["detail"]
    # Shared with Lisa, Sara's export ticket is hers to read and answer, never to edit.
    export = await desk.ticket(EXPORT)
    share = {"user_id": desk.id("lisa")}
    assert (await desk.call("sara", "POST", f"/tickets/{export.id}/viewers", share)).is_success
    assert await desk.sees("lisa", export.id)
    r = await desk.call("lisa", "PATCH", f"/tickets/{export.id}", {"subject": "Mine now"})
    assert r.status_code == 403 and "lacks ticket:update" in r.json()["detail"]


async def test_only_admins_set_urgent(desk: Desk) -> None:
    invoice = await desk.ticket(INVOICE)
    url = f"/tickets/{invoice.id}"
    r = await desk.call("mark", "PATCH", url, {"priority": "urgent"})
    assert r.status_code == 403 and r.json()["fields"] == ["priority"]
    assert "only admins set a ticket's priority to urgent" in r.json()["detail"]
    assert "(condition urgent)" in r.json()["detail"]
    assert (await desk.call("mark", "PATCH", url, {"priority": "normal"})).status_code == 200
    assert (await desk.check("mark", "ticket:update", invoice.id))["values"]["priority"] == [
        "low", "normal", "high",
    ]  # fmt: skip
    assert (await desk.call("sara", "PATCH", url, {"priority": "urgent"})).status_code == 200
    body = {"company_id": str(invoice.company), "subject": "Down", "description": "All of it."}
    for who, expected in (("lisa", 403), ("mark", 403), ("sara", 201)):
        r = await desk.call(who, "POST", "/tickets", body | {"priority": "urgent"})
        assert r.status_code == expected, (who, r.text)
    assert (await desk.call("lisa", "POST", "/tickets", body | {"priority": "high"})).is_success
    numbers = sorted(t.number for t in await Ticket.find({"company": invoice.company}).to_list())
    assert numbers == list(range(1, len(numbers) + 1)), "a refused ticket takes no number"
