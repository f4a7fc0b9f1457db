"""Ticket semantics: field rules, invariants, read projection, pagination, numbering."""

from datetime import timedelta

import httpx
import pytest
from bson import ObjectId
from fastapi import FastAPI

from app.config import Settings
from app.services.user_facts import rebuild
from authz.engine import default_engine
from authz.facts import load_principal
from models import AuditEvent, Company, Membership, Ticket, User
from tests.utils.factories import Acme, World

# The representation of rights, on both topologies (`make test` runs it standalone too).
pytestmark = pytest.mark.topologies


@pytest.fixture
async def acme(world: World) -> Acme:
    """One company: admin Sara, agent Mark, customers Lisa and Carl, a ticket by Lisa."""
    return await world.acme(customers=("lisa", "carl"), ticket_by="lisa")


@pytest.mark.parametrize(
    "field", ["company_id", "created_by", "number", "created_at", "company", "replies", "_id"]
)
async def test_immutable_and_unknown_fields_are_refused(
    client: httpx.AsyncClient, world: World, acme: Acme, field: str
) -> None:
    ticket = acme.ticket
    r = await client.patch(
        f"/tickets/{ticket.id}",
        json={field: "65f000000000000000000001"},
        headers=world.auth(acme.sara),
    )
    assert r.status_code == 422
    stored = await Ticket.get(ticket.id)
    assert stored is not None
    assert stored.company == ticket.company and stored.number == ticket.number


async def test_assignee_must_be_staff_of_the_company(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    ticket, sara = acme.ticket, acme.sara
    outsider = await world.user("outsider")
    url, h = f"/tickets/{ticket.id}", world.auth(sara)
    for bad in (acme.lisa, outsider):
        r = await client.patch(url, json={"assigned_to": str(bad.id)}, headers=h)
        assert r.status_code == 422
        assert "admin or agent" in r.json()["detail"]
    r = await client.patch(url, json={"assigned_to": str(acme.mark.id)}, headers=h)
    assert r.status_code == 200
    r = await client.patch(url, json={"assigned_to": None}, headers=h)
    assert r.status_code == 200 and r.json()["assigned_to"] is None
    r = await client.patch(url, json={"status": None}, headers=h)
    assert r.status_code == 422
    r = await client.patch(url, json={}, headers=h)
    assert r.status_code == 422


async def test_demoting_an_assignee_unassigns(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    ticket, sara, mark = acme.ticket, acme.sara, acme.mark
    h = world.auth(sara)
    await client.patch(f"/tickets/{ticket.id}", json={"assigned_to": str(mark.id)}, headers=h)
    company = acme.company
    r = await client.patch(
        f"/companies/{company.id}/members/{mark.id}", json={"role": "customer"}, headers=h
    )
    assert r.status_code == 200
    stored = await Ticket.get(ticket.id)
    assert stored is not None and stored.assigned_to is None


async def test_removal_revokes_shares_at_once(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    ticket, sara, carl = acme.ticket, acme.sara, acme.carl
    carl_h = world.auth(carl)
    r = await client.post(
        f"/tickets/{ticket.id}/viewers", json={"user_id": str(carl.id)}, headers=world.auth(sara)
    )
    assert r.status_code == 201
    assert (await client.get(f"/tickets/{ticket.id}", headers=carl_h)).status_code == 200
    company = acme.company
    r = await client.delete(f"/companies/{company.id}/members/{carl.id}", headers=world.auth(sara))
    assert r.status_code == 204
    assert (await client.get(f"/tickets/{ticket.id}", headers=carl_h)).status_code == 404
    assert (await client.get("/tickets", headers=carl_h)).json()["items"] == []
    assert await Ticket.find({"viewers": carl.id}).count() == 0


async def test_a_leftover_share_of_a_removed_member_is_inert_and_cleared(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    """A removal interrupted after the membership went but before the member was taken out
    of the company's tickets: access is gone (and stays gone when his facts are rebuilt
    from the record); added again later, he does not get the old share back."""
    ticket, carl = acme.ticket, acme.carl
    assert carl.id is not None
    await world.share(ticket, carl)
    await Membership.find(Membership.user == carl.id).delete()
    await rebuild([carl.id])
    assert await Ticket.find({"viewers": carl.id}).count() == 1
    assert (await client.get(f"/tickets/{ticket.id}", headers=world.auth(carl))).status_code == 404
    assert (await client.get("/tickets", headers=world.auth(carl))).json()["items"] == []
    r = await client.post(
        f"/companies/{acme.company.id}/members",
        json={"user_id": str(carl.id), "role": "customer"},
        headers=world.auth(acme.sara),
    )
    assert r.status_code == 201
    assert await Ticket.find({"viewers": carl.id}).count() == 0
    assert (await client.get(f"/tickets/{ticket.id}", headers=world.auth(carl))).status_code == 404


async def test_share_only_with_members_and_once(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    ticket, mark = acme.ticket, acme.mark
    outsider = await world.user("outsider")
    url, h = f"/tickets/{ticket.id}/viewers", world.auth(mark)
    r = await client.post(url, json={"user_id": str(outsider.id)}, headers=h)
    assert r.status_code == 422
    r = await client.post(url, json={"user_id": str(acme.carl.id)}, headers=h)
    assert r.status_code == 201
    r = await client.post(url, json={"user_id": str(acme.carl.id)}, headers=h)
    assert r.status_code == 409 and "already shared" in r.json()["detail"]
    r = await client.delete(f"{url}/{outsider.id}", headers=h)
    assert r.status_code == 404
    assert (await client.delete(f"{url}/{acme.carl.id}", headers=h)).status_code == 204
    r = await client.get(f"/tickets/{ticket.id}", headers=world.auth(acme.carl))
    assert r.status_code == 404
    assert (await client.delete(f"{url}/{acme.carl.id}", headers=h)).status_code == 404


async def test_a_ticket_is_shared_with_at_most_the_policys_limit(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    """The limit is part of the write's condition: the last place is taken, one more is a
    409 that says so, and nothing is dropped."""
    limit = default_engine().resource_type("ticket").many["viewer"]
    others = [ObjectId() for _ in range(limit - 1)]
    await Ticket.get_pymongo_collection().update_one(
        {"_id": acme.ticket.id}, {"$set": {"viewers": others}}
    )
    url, h = f"/tickets/{acme.ticket.id}/viewers", world.auth(acme.mark)
    assert (
        await client.post(url, json={"user_id": str(acme.carl.id)}, headers=h)
    ).status_code == 201
    dora = await world.user("dora")
    await world.member(acme.company, dora, "customer")
    r = await client.post(url, json={"user_id": str(dora.id)}, headers=h)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "conflict" and f"{limit} users" in r.json()["detail"]
    assert r.json()["limit"] == limit
    stored = await Ticket.get_pymongo_collection().find_one({"_id": acme.ticket.id})
    assert stored is not None and stored["viewers"] == [*others, acme.carl.id]
    assert (
        await client.get(f"/tickets/{acme.ticket.id}", headers=world.auth(dora))
    ).status_code == 404
    assert (
        await client.get(f"/tickets/{acme.ticket.id}", headers=world.auth(acme.carl))
    ).status_code == 200


async def test_a_share_costs_its_receiver_nothing(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    """Sharing writes the ticket, never the receiver's user document, and their compiled
    filter is the same with 0 or 30 tickets shared with them."""
    carl = acme.carl
    assert carl.id is not None
    before = await User.get_pymongo_collection().find_one({"_id": carl.id})
    flt = default_engine().query_filter(await load_principal(carl.id), "ticket:read", "ticket")
    h = world.auth(acme.sara)
    for _ in range(30):
        ticket = await world.ticket(acme.company, acme.lisa)
        r = await client.post(
            f"/tickets/{ticket.id}/viewers", json={"user_id": str(carl.id)}, headers=h
        )
        assert r.status_code == 201
    assert await User.get_pymongo_collection().find_one({"_id": carl.id}) == before
    after = await load_principal(carl.id)
    assert default_engine().query_filter(after, "ticket:read", "ticket") == flt
    assert flt == {
        "$or": [
            {"company": acme.company.id, "created_by": carl.id},
            {"company": acme.company.id, "viewers": carl.id},
        ]
    }
    page = (await client.get("/tickets", headers=world.auth(carl))).json()
    assert len(page["items"]) == 30


async def test_pagination_and_filters_never_widen(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    company, lisa, carl, mark = acme.company, acme.lisa, acme.carl, acme.mark
    for i in range(7):
        await world.ticket(
            company, lisa, subject=f"Lisa {i}", status="resolved" if i % 2 else "open"
        )
        await world.ticket(company, carl, subject=f"Carl {i}")
    lisa_h = world.auth(lisa)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/tickets", params=params, headers=lisa_h)).json()
        seen += [t["subject"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 8
    assert not any(s.startswith("Carl") for s in seen)

    resolved = (await client.get("/tickets", params={"status": "resolved"}, headers=lisa_h)).json()[
        "items"
    ]
    assert {t["subject"] for t in resolved} == {"Lisa 1", "Lisa 3", "Lisa 5"}
    found = (await client.get("/tickets", params={"q": "carl"}, headers=lisa_h)).json()
    assert found["items"] == []
    found = (await client.get("/tickets", params={"q": "CARL 3"}, headers=world.auth(mark))).json()
    assert [t["subject"] for t in found["items"]] == ["Carl 3"]
    regex = (await client.get("/tickets", params={"q": ".*"}, headers=lisa_h)).json()
    assert regex["items"] == [], "q is matched literally, not as a pattern"


async def test_numbers_are_sequential_per_company(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    lisa, company = acme.lisa, acme.company
    other = await world.company("Other", admin=lisa)
    numbers = []
    for cid in (company.id, other.id, company.id):
        r = await client.post(
            "/tickets",
            json={"company_id": str(cid), "subject": "s", "description": "d"},
            headers=world.auth(lisa),
        )
        numbers.append(r.json()["number"])
    assert numbers == [2, 1, 3]


async def test_writes_and_denials_are_audited(
    app: FastAPI, client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    ticket, mark, sara = acme.ticket, acme.mark, acme.sara
    await client.delete(f"/tickets/{ticket.id}", headers=world.auth(mark))
    await client.patch(
        f"/tickets/{ticket.id}", json={"status": "resolved"}, headers=world.auth(mark)
    )
    await app.state.audit.flush()
    events = await AuditEvent.find(AuditEvent.resource_id == ticket.id).to_list()
    got = {(e.action, e.allowed, e.user) for e in events}
    assert ("ticket:delete", False, mark.id) in got
    assert ("ticket:update", True, mark.id) in got
    denial = next(e for e in events if not e.allowed)
    assert denial.reason.endswith("lacks ticket:delete")
    assert denial.company == ticket.company
    assert sara is not None


async def test_audit_events_expire_by_the_servers_ttl_index(
    app: FastAPI, settings: Settings
) -> None:
    """Each event carries its expiry (its time plus the retention); the TTL index on it
    is the server's to act on, not the application's."""
    app.state.audit.record(
        user=None,
        company=None,
        action="ticket:read",
        resource_type="ticket",
        resource_id=None,
        allowed=False,
        reason="r",
    )
    await app.state.audit.flush()
    event = await AuditEvent.find_one()
    assert event is not None
    assert event.expires_at - event.time == timedelta(days=settings.audit_retention_days)
    indexes = await AuditEvent.get_pymongo_collection().index_information()
    assert indexes["expiry_ttl"]["key"] == [("expires_at", 1)]
    assert indexes["expiry_ttl"]["expireAfterSeconds"] == 0


async def test_a_company_being_deleted_is_gone_at_once(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    await Company.get_pymongo_collection().update_one(
        {"_id": acme.company.id}, {"$set": {"deleting": True}}
    )
    r = await client.get(f"/companies/{acme.company.id}", headers=world.auth(acme.sara))
    assert r.status_code == 404
    assert (await client.get("/companies", headers=world.auth(acme.sara))).json() == []


async def test_adding_an_existing_member_again_keeps_their_shares(
    client: httpx.AsyncClient, world: World, acme: Acme
) -> None:
    await world.share(acme.ticket, acme.carl)
    r = await client.post(
        f"/companies/{acme.company.id}/members",
        json={"user_id": str(acme.carl.id), "role": "agent"},
        headers=world.auth(acme.sara),
    )
    assert r.status_code == 409
    assert await Ticket.find({"viewers": acme.carl.id}).count() == 1
