"""Consistency of the writes that span documents: a failing step leaves no half-done write.

Each such write goes through `app.atomic`: a transaction on a replica set, ordered steps
that undo themselves on a standalone server. These tests run on both (`make test` runs them
a second time with `DEVDB_TOPOLOGY=standalone`). One step of each write is made to fail
once, the way a dropped connection does (`AutoReconnect`, a 503 to the client), and the
data is checked: either the write never happened, or a retry (by the client, or at the next
start-up) finishes it. Nothing is mocked but the one failing call.
"""

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId
from fastapi import FastAPI
from pymongo.errors import AutoReconnect

from app.config import Settings
from app.services.companies import resume_deletions
from models import Company, Grant, Membership, Ticket, User
from tests.utils.factories import World
from tests.utils.instances import instance
from tests.utils.topology import STANDALONE

pytestmark = pytest.mark.topologies


class Fault:
    """Make `obj.name` raise `AutoReconnect` on its first call (whose arguments match)."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        obj: object,
        name: str,
        when: Callable[..., bool] = lambda *a, **k: True,
    ) -> None:
        self.fired = 0
        original: Callable[..., Awaitable[Any]] = getattr(obj, name)

        async def faulty(*args: Any, **kwargs: Any) -> Any:
            if not self.fired and when(*args, **kwargs):
                self.fired += 1
                raise AutoReconnect(f"injected fault in {name}")
            return await original(*args, **kwargs)

        monkeypatch.setattr(obj, name, faulty)


def names_company(query: object, company_id: object) -> bool:
    """Whether a MongoDB filter requires `company` to be `company_id` (also inside `$and`)."""
    if not isinstance(query, Mapping):
        return False
    if query.get("company") == company_id:
        return True
    return any(names_company(clause, company_id) for clause in query.get("$and", ()))


def on_company(company_id: object) -> Callable[..., bool]:
    """A fault filter: the call's filter names this company."""

    def match(query: Mapping[str, Any] | None = None, *_: Any, **__: Any) -> bool:
        return names_company(query, company_id)

    return match


@dataclass
class Acme:
    """Admin Sara, agent Mark, customer Lisa; Lisa's ticket assigned to Mark, shared with
    customer Carl; a second admin, Ada."""

    company: Company
    sara: User
    ada: User
    mark: User
    lisa: User
    carl: User
    ticket: Ticket


@pytest.fixture
async def acme(world: World) -> Acme:
    users = {n: await world.user(n) for n in ("sara", "ada", "mark", "lisa", "carl")}
    company = await world.company("Acme", admin=users["sara"])
    await world.member(company, users["ada"], "admin")
    await world.member(company, users["mark"], "agent")
    await world.member(company, users["lisa"], "customer")
    await world.member(company, users["carl"], "customer")
    ticket = await world.ticket(company, users["lisa"], assigned_to=users["mark"].id)
    await world.share(ticket, users["carl"])
    return Acme(company, ticket=ticket, **users)


GONE: dict[str, Any] = {"company": None, "members": [], "grants": [], "assigned": [], "tickets": 0}


async def tenant_state(company_id: object) -> dict[str, Any]:
    """Everything of one tenant, as comparable data."""
    memberships = await Membership.get_pymongo_collection().find({"company": company_id}).to_list()
    tickets = await Ticket.get_pymongo_collection().find({"company": company_id}).to_list()
    return {
        "company": await Company.get_pymongo_collection().find_one({"_id": company_id}),
        "members": sorted((str(m["user"]), m["role"]) for m in memberships),
        "grants": sorted(
            str(g["user"])
            for g in await Grant.get_pymongo_collection().find({"company": company_id}).to_list()
        ),
        "assigned": sorted(str(t.get("assigned_to")) for t in tickets),
        "tickets": len(tickets),
    }


async def assert_copies_hold_no_more_than_the_record() -> None:
    """No user's copy of their facts (`User.access`, what authorization reads) holds a role
    or a grant the memberships and grants collections do not."""
    members = {(m.user, m.company, m.role) for m in await Membership.find_all().to_list()}
    grants = {(g.user, g.resource_id, g.role) for g in await Grant.find_all().to_list()}
    for user in await User.find_all().to_list():
        for m in user.access.memberships:
            assert (user.id, m.company, m.role) in members, (user.username, m)
        for g in user.access.grants:
            assert (user.id, g.resource_id, g.role) in grants, (user.username, g)


async def assert_invariants(company_id: object) -> None:
    """What no failure may break: an admin while the company exists; grants and
    assignments only for members (assignees: admins and agents); no copy of a user's
    facts beyond the record."""
    await assert_copies_hold_no_more_than_the_record()
    state = await tenant_state(company_id)
    roles = dict(state["members"])
    if state["company"] is not None and not state["company"].get("deleting"):
        assert "admin" in roles.values(), state
    assert set(state["grants"]) <= set(roles), state
    for assignee in state["assigned"]:
        assert assignee == "None" or roles.get(assignee) in ("admin", "agent"), state


async def test_the_topology_is_the_one_asked_for(app: FastAPI) -> None:
    """Each pass of `make test` really takes the path it is meant to test."""
    if "MONGODB_URI" in os.environ and not STANDALONE:
        pytest.skip("the topology of MONGODB_URI is the operator's choice")
    assert app.state.db.supports_transactions is not STANDALONE


# -- company creation --------------------------------------------------------------------------


async def test_company_creation_is_all_or_nothing(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin membership fails after the company was written: the company goes too."""
    sara = await world.user("sara")
    fault = Fault(monkeypatch, Membership, "insert")
    r = await client.post("/companies", json={"name": "Initech"}, headers=world.auth(sara))
    assert fault.fired == 1
    assert r.status_code == 503 and r.json()["code"] == "database_unavailable"
    assert await Company.find(Company.name == "Initech").count() == 0
    assert await Membership.count() == 0
    r = await client.post("/companies", json={"name": "Initech"}, headers=world.auth(sara))
    assert r.status_code == 201
    assert await Company.find(Company.name == "Initech").count() == 1


async def test_company_insert_failing_writes_nothing(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sara = await world.user("sara")
    fault = Fault(monkeypatch, Company, "insert")
    r = await client.post("/companies", json={"name": "Initech"}, headers=world.auth(sara))
    assert fault.fired == 1 and r.status_code == 503
    assert await Company.count() == 0 and await Membership.count() == 0


# -- member removal and role changes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "method"),
    [(Grant, "delete_many"), (Ticket, "update_many")],
    ids=["grants step", "unassign step"],
)
async def test_member_removal_survives_a_failing_step(
    client: httpx.AsyncClient,
    world: World,
    acme: Acme,
    monkeypatch: pytest.MonkeyPatch,
    model: Any,
    method: str,
) -> None:
    """Removing Mark (assignee) or Carl (viewer) fails half-way: the removal is undone, the
    invariants hold, and the retry completes it."""
    cid = acme.company.id
    for member in (acme.mark, acme.carl):
        before = await tenant_state(cid)
        fault = Fault(monkeypatch, model.get_pymongo_collection(), method, on_company(cid))
        url = f"/companies/{cid}/members/{member.id}"
        r = await client.delete(url, headers=world.auth(acme.sara))
        assert fault.fired == 1
        assert r.status_code == 503, r.text
        await assert_invariants(cid)
        state = await tenant_state(cid)
        assert state["members"] == before["members"], "the removal was not undone"
        r = await client.delete(url, headers=world.auth(acme.sara))
        assert r.status_code == 204, r.text
        await assert_invariants(cid)
        monkeypatch.undo()
    state = await tenant_state(cid)
    assert str(acme.mark.id) not in dict(state["members"])
    assert str(acme.carl.id) not in dict(state["members"])
    assert state["grants"] == [] and state["assigned"] == ["None"]


async def test_removing_an_admin_with_a_failing_check_keeps_the_last_admin(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ada leaves; then Sara (now the last admin) is removed while the check fails: she
    must still be there, and the retry must be refused."""
    cid = acme.company.id
    h = world.auth(acme.sara)
    assert (
        await client.delete(f"/companies/{cid}/members/{acme.ada.id}", headers=h)
    ).status_code == 204
    Fault(monkeypatch, Membership.get_pymongo_collection(), "count_documents", on_company(cid))
    r = await client.delete(f"/companies/{cid}/members/{acme.sara.id}", headers=h)
    assert r.status_code == 503
    await assert_invariants(cid)
    r = await client.delete(f"/companies/{cid}/members/{acme.sara.id}", headers=h)
    assert r.status_code == 409
    await assert_invariants(cid)


async def test_demoting_the_last_admin_with_a_failing_check_is_undone(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = acme.company.id
    h = world.auth(acme.sara)
    assert (
        await client.delete(f"/companies/{cid}/members/{acme.ada.id}", headers=h)
    ).status_code == 204
    Fault(monkeypatch, Membership.get_pymongo_collection(), "count_documents", on_company(cid))
    url = f"/companies/{cid}/members/{acme.sara.id}"
    r = await client.patch(url, json={"role": "agent"}, headers=h)
    assert r.status_code == 503
    await assert_invariants(cid)
    assert (await client.patch(url, json={"role": "agent"}, headers=h)).status_code == 409
    await assert_invariants(cid)


async def test_demotion_with_a_failing_unassign_is_undone(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mark becomes a customer, but his assigned ticket cannot be released: he stays an
    agent (a customer may not hold an assignment), and the retry completes it."""
    cid = acme.company.id
    Fault(monkeypatch, Ticket.get_pymongo_collection(), "update_many", on_company(cid))
    url = f"/companies/{cid}/members/{acme.mark.id}"
    r = await client.patch(url, json={"role": "customer"}, headers=world.auth(acme.sara))
    assert r.status_code == 503
    await assert_invariants(cid)
    r = await client.patch(url, json={"role": "customer"}, headers=world.auth(acme.sara))
    assert r.status_code == 200
    await assert_invariants(cid)
    assert (await tenant_state(cid))["assigned"] == ["None"]


# -- company deletion --------------------------------------------------------------------------


@pytest.mark.parametrize("model", [Ticket, Grant, Membership, Company])
async def test_interrupted_deletion_is_hidden_and_finished(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    acme: Acme,
    monkeypatch: pytest.MonkeyPatch,
    model: Any,
) -> None:
    """A step of the deletion fails: the company is already out of every list and closed
    to new tickets; the admin's retry finishes the job. Once the members' copies of their
    facts have lost the company (before the memberships and the company go), the admin's
    right is gone with them: then the start-up recovery finishes it (next test)."""
    cid = acme.company.id
    last_step = model in (Membership, Company)
    Fault(
        monkeypatch,
        model.get_pymongo_collection(),
        "delete_one" if model is Company else "delete_many",
    )
    h = world.auth(acme.sara)
    assert (await client.delete(f"/companies/{cid}", headers=h)).status_code == 503
    assert (await client.get("/companies", headers=h)).json() == []
    assert (await client.get("/auth/me", headers=h)).json()["memberships"] == []
    ticket = {"company_id": str(cid), "subject": "s", "description": "d"}
    r = await client.post("/tickets", json=ticket, headers=world.auth(acme.lisa))
    assert r.status_code == 404
    r = await client.delete(f"/companies/{cid}", headers=h)
    if last_step:
        assert r.status_code == 404
        assert await resume_deletions() == 1
    else:
        assert r.status_code == 204
    assert await tenant_state(cid) == GONE
    await assert_copies_hold_no_more_than_the_record()


async def test_interrupted_deletion_is_finished_at_start_up(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    acme: Acme,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nobody retries: the next start of the API (any worker) finishes the deletion."""
    cid = acme.company.id
    Fault(monkeypatch, Grant.get_pymongo_collection(), "delete_many")
    assert (
        await client.delete(f"/companies/{cid}", headers=world.auth(acme.sara))
    ).status_code == 503
    monkeypatch.undo()
    assert (await tenant_state(cid))["company"]["deleting"] is True
    async with instance(settings, app) as restarted:
        await restarted.state.recovery
        assert await tenant_state(cid) == {
            "company": None,
            "members": [],
            "grants": [],
            "assigned": [],
            "tickets": 0,
        }


async def test_other_tenants_are_untouched_by_a_failed_deletion(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    john = await world.user("john")
    globex = await world.company("Globex", admin=john)
    await world.member(globex, acme.mark, "agent")
    await world.ticket(globex, john)
    before = await tenant_state(globex.id)
    Fault(monkeypatch, Grant.get_pymongo_collection(), "delete_many")
    assert (
        await client.delete(f"/companies/{acme.company.id}", headers=world.auth(acme.sara))
    ).status_code == 503
    assert await tenant_state(globex.id) == before
    assert (
        await client.delete(f"/companies/{acme.company.id}", headers=world.auth(acme.sara))
    ).status_code == 204
    assert await tenant_state(globex.id) == before
    r = await client.get("/companies", headers=world.auth(acme.mark))
    assert [c["id"] for c in r.json()] == [str(PydanticObjectId(globex.id))]


# -- members added, tickets deleted and numbered -------------------------------------------------


async def test_adding_a_member_whose_stale_grants_cannot_be_cleared_adds_nothing(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grant left by an interrupted removal must not come back to life with a new
    membership: if it cannot be cleared, the membership is not added either."""
    cid = acme.company.id
    dora = await world.user("dora")
    await Grant(
        user=dora.id, role="viewer", resource_type="ticket", resource_id=acme.ticket.id, company=cid
    ).insert()
    fault = Fault(monkeypatch, Grant.get_pymongo_collection(), "delete_many", on_company(cid))
    body = {"email": dora.email, "role": "customer"}
    r = await client.post(f"/companies/{cid}/members", json=body, headers=world.auth(acme.sara))
    assert fault.fired == 1 and r.status_code == 503
    assert str(dora.id) not in dict((await tenant_state(cid))["members"])
    r = await client.post(f"/companies/{cid}/members", json=body, headers=world.auth(acme.sara))
    assert r.status_code == 201
    state = await tenant_state(cid)
    assert dict(state["members"])[str(dora.id)] == "customer"
    assert str(dora.id) not in state["grants"]


async def test_deleting_a_ticket_whose_grants_cannot_be_deleted_keeps_it(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ticket and grants go together: Carl keeps his view of a ticket that is still there."""
    tid = acme.ticket.id
    fault = Fault(monkeypatch, Grant.get_pymongo_collection(), "delete_many")
    r = await client.delete(f"/tickets/{tid}", headers=world.auth(acme.sara))
    assert fault.fired == 1 and r.status_code == 503
    assert (await client.get(f"/tickets/{tid}", headers=world.auth(acme.carl))).status_code == 200
    assert (
        await client.delete(f"/tickets/{tid}", headers=world.auth(acme.sara))
    ).status_code == 204
    assert await Ticket.get(tid) is None
    assert await Grant.find(Grant.resource_id == tid).count() == 0


async def test_a_failed_ticket_insert_never_reuses_its_number(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The number is taken by an atomic `$inc` before the insert: a failed insert leaves a
    gap, never a duplicate."""
    fault = Fault(monkeypatch, Ticket, "insert")
    body = {"company_id": str(acme.company.id), "subject": "s", "description": "d"}
    r = await client.post("/tickets", json=body, headers=world.auth(acme.lisa))
    assert fault.fired == 1 and r.status_code == 503
    r = await client.post("/tickets", json=body, headers=world.auth(acme.lisa))
    assert r.status_code == 201 and r.json()["number"] == acme.ticket.number + 2
    numbers = [t.number for t in await Ticket.find(Ticket.company == acme.company.id).to_list()]
    assert len(numbers) == len(set(numbers)) == 2


# -- shares ----------------------------------------------------------------------------------


def touching_grants(_query: object = None, update: object = None, *_: Any, **__: Any) -> bool:
    """A fault filter: the update changes a user's copy of their grants."""
    return "access.grants" in str(update)


async def test_a_share_whose_copy_cannot_be_written_is_not_made(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Carl's copy of his facts cannot take the new grant: the grant is not made either,
    and Dora cannot read the ticket; the retry shares it."""
    dora = await world.user("dora")
    await world.member(acme.company, dora, "customer")
    url = f"/tickets/{acme.ticket.id}"
    fault = Fault(monkeypatch, User.get_pymongo_collection(), "update_one", touching_grants)
    body = {"user_id": str(dora.id)}
    r = await client.post(f"{url}/viewers", json=body, headers=world.auth(acme.sara))
    assert fault.fired == 1 and r.status_code == 503
    assert await Grant.find(Grant.user == dora.id).count() == 0
    await assert_copies_hold_no_more_than_the_record()
    assert (await client.get(url, headers=world.auth(dora))).status_code == 404
    r = await client.post(f"{url}/viewers", json=body, headers=world.auth(acme.sara))
    assert r.status_code == 201
    assert (await client.get(url, headers=world.auth(dora))).status_code == 200


async def test_an_unshare_whose_grant_cannot_be_deleted_is_undone(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy loses Carl's grant first, then the grant itself cannot be deleted: Carl
    keeps his view (the copy is rebuilt from the record), and the retry revokes it."""
    url = f"/tickets/{acme.ticket.id}"
    fault = Fault(monkeypatch, Grant.get_pymongo_collection(), "delete_many")
    viewer = f"{url}/viewers/{acme.carl.id}"
    r = await client.delete(viewer, headers=world.auth(acme.sara))
    assert fault.fired == 1 and r.status_code == 503
    await assert_copies_hold_no_more_than_the_record()
    assert (await client.get(url, headers=world.auth(acme.carl))).status_code == 200
    assert (await client.delete(viewer, headers=world.auth(acme.sara))).status_code == 204
    assert (await client.get(url, headers=world.auth(acme.carl))).status_code == 404
    await assert_copies_hold_no_more_than_the_record()
