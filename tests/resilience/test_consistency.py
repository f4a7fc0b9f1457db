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
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId
from fastapi import FastAPI
from pymongo.errors import AutoReconnect

from app.config import Settings
from app.services.companies import resume_deletions
from models import Company, Group, Membership, Ticket, User
from tests.utils.factories import Acme, World
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


@pytest.fixture
async def acme(world: World) -> Acme:
    """Admin Sara, agent Mark (in the Billing group), customer Lisa; Lisa's ticket assigned
    to Mark, shared with customer Carl; a second admin, Ada."""
    return await world.acme(
        admins=("sara", "ada"),
        customers=("lisa", "carl"),
        ticket_by="lisa",
        assigned_to="mark",
        shared_with=("carl",),
        groups={"Billing": ("mark",)},
    )


GONE: dict[str, Any] = {
    "company": None,
    "members": [],
    "shares": [],
    "groups": [],
    "assigned": [],
    "tickets": 0,
}


async def tenant_state(company_id: object) -> dict[str, Any]:
    """Everything of one tenant, as comparable data."""
    memberships = await Membership.get_pymongo_collection().find({"company": company_id}).to_list()
    tickets = await Ticket.get_pymongo_collection().find({"company": company_id}).to_list()
    return {
        "company": await Company.get_pymongo_collection().find_one({"_id": company_id}),
        "members": sorted((str(m["user"]), m["role"]) for m in memberships),
        "shares": sorted(str(v) for t in tickets for v in t["viewers"]),
        "groups": sorted(
            (g["name"], str(m))
            for g in await Group.get_pymongo_collection().find({"company": company_id}).to_list()
            for m in g["members"]
        ),
        "assigned": sorted(str(t.get("assigned_to")) for t in tickets),
        "tickets": len(tickets),
    }


async def assert_copies_hold_no_more_than_the_record() -> None:
    """No user's copy of their facts (`User.access`, what authorization reads) holds a role
    or a group the memberships and the groups' members do not."""
    members = {(m.user, m.company, m.role) for m in await Membership.find_all().to_list()}
    in_groups = {(u, g.id) for g in await Group.find_all().to_list() for u in g.members}
    for user in await User.find_all().to_list():
        for m in user.access.memberships:
            assert (user.id, m.company, m.role) in members, (user.username, m)
        for r in user.access.resource_roles:
            assert (user.id, r.resource_id) in in_groups, (user.username, r)


async def assert_invariants(company_id: object) -> None:
    """What no failure may break: an admin while the company exists; shares, groups and
    assignments only for members (group members and assignees: admins and agents); no copy
    of a user's facts beyond the record."""
    await assert_copies_hold_no_more_than_the_record()
    state = await tenant_state(company_id)
    roles = dict(state["members"])
    if state["company"] is not None and not state["company"].get("deleting"):
        assert "admin" in roles.values(), state
    assert set(state["shares"]) <= set(roles), state
    for _, member in state["groups"]:
        assert roles.get(member) in ("admin", "agent"), state
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


def unassigning(query: Mapping[str, Any] | None = None, *_: Any, **__: Any) -> bool:
    """A fault filter: the write releases someone's assigned tickets."""
    return "'assigned_to'" in str(query)


def releasing(query: Mapping[str, Any] | None = None, *_: Any, **__: Any) -> bool:
    """A fault filter: the write takes someone out of the tickets shared with them."""
    return "'viewers'" in str(query)


@pytest.mark.parametrize(
    ("model", "method"),
    [(Ticket, "update_many"), (Group, "update_many"), (Membership, "delete_one")],
    ids=["unassign step", "groups step", "membership step"],
)
async def test_member_removal_survives_a_failing_step(
    client: httpx.AsyncClient,
    world: World,
    acme: Acme,
    monkeypatch: pytest.MonkeyPatch,
    model: Any,
    method: str,
) -> None:
    """Removing Mark (assignee, in a group) or Carl (viewer) fails half-way: the removal
    is undone, the invariants hold, and the retry completes it."""
    cid = acme.company.id
    when = unassigning if model is Ticket else on_company(cid)
    for member in (acme.mark, acme.carl):
        before = await tenant_state(cid)
        fault = Fault(monkeypatch, model.get_pymongo_collection(), method, when)
        url = f"/companies/{cid}/members/{member.id}"
        r = await client.delete(url, headers=world.auth(acme.sara))
        assert fault.fired == 1
        assert r.status_code == 503, r.text
        await assert_invariants(cid)
        state = await tenant_state(cid)
        assert state["members"] == before["members"], "the removal was not undone"
        assert state["groups"] == before["groups"], "the removal was not undone"
        r = await client.delete(url, headers=world.auth(acme.sara))
        assert r.status_code == 204, r.text
        await assert_invariants(cid)
        monkeypatch.undo()
    state = await tenant_state(cid)
    assert str(acme.mark.id) not in dict(state["members"])
    assert str(acme.carl.id) not in dict(state["members"])
    assert state["shares"] == state["groups"] == [] and state["assigned"] == ["None"]


async def test_a_removal_whose_release_fails_is_inert_and_finished_by_its_retry(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taking Carl out of the tickets shared with him comes after his membership is gone
    (it may touch any number of tickets: no transaction holds it). It fails: he can read
    nothing already, and the admin's retry (a 404: he is no longer a member) clears it."""
    cid = acme.company.id
    fault = Fault(monkeypatch, Ticket.get_pymongo_collection(), "update_many", releasing)
    url = f"/companies/{cid}/members/{acme.carl.id}"
    r = await client.delete(url, headers=world.auth(acme.sara))
    assert fault.fired == 1 and r.status_code == 503
    await assert_copies_hold_no_more_than_the_record()
    state = await tenant_state(cid)
    assert str(acme.carl.id) not in dict(state["members"])
    assert state["shares"] == [str(acme.carl.id)]
    carl = world.auth(acme.carl)
    assert (await client.get(f"/tickets/{acme.ticket.id}", headers=carl)).status_code == 404
    assert (await client.get("/tickets", headers=carl)).json()["items"] == []
    r = await client.delete(url, headers=world.auth(acme.sara))
    assert r.status_code == 404
    assert (await tenant_state(cid))["shares"] == []
    await assert_invariants(cid)


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


@pytest.mark.parametrize("model", [Ticket, Group, Membership, Company])
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
    last_step = model in (Group, Membership, Company)
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
    Fault(monkeypatch, Group.get_pymongo_collection(), "delete_many")
    assert (
        await client.delete(f"/companies/{cid}", headers=world.auth(acme.sara))
    ).status_code == 503
    monkeypatch.undo()
    assert (await tenant_state(cid))["company"]["deleting"] is True
    async with instance(settings, app) as restarted:
        await restarted.state.recovery
        assert await tenant_state(cid) == GONE


async def test_other_tenants_are_untouched_by_a_failed_deletion(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    john = await world.user("john")
    globex = await world.company("Globex", admin=john)
    await world.member(globex, acme.mark, "agent")
    await world.ticket(globex, john)
    before = await tenant_state(globex.id)
    Fault(monkeypatch, Ticket.get_pymongo_collection(), "delete_many")
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


async def test_adding_a_member_whose_stale_shares_cannot_be_cleared_adds_nothing(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share left by an interrupted removal must not come back to life with a new
    membership: if it cannot be cleared, the membership is not added either."""
    cid = acme.company.id
    dora = await world.user("dora")
    await world.share(acme.ticket, dora)
    fault = Fault(monkeypatch, Ticket.get_pymongo_collection(), "update_many", releasing)
    body = {"email": dora.email, "role": "customer"}
    r = await client.post(f"/companies/{cid}/members", json=body, headers=world.auth(acme.sara))
    assert fault.fired == 1 and r.status_code == 503
    assert str(dora.id) not in dict((await tenant_state(cid))["members"])
    await assert_copies_hold_no_more_than_the_record()
    r = await client.post(f"/companies/{cid}/members", json=body, headers=world.auth(acme.sara))
    assert r.status_code == 201
    state = await tenant_state(cid)
    assert dict(state["members"])[str(dora.id)] == "customer"
    assert str(dora.id) not in state["shares"]
    r = await client.get(f"/tickets/{acme.ticket.id}", headers=world.auth(dora))
    assert r.status_code == 404


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


async def test_a_share_that_lands_after_its_receiver_was_removed_is_taken_back(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share checks the receiver's membership, writes the ticket, then checks again: a
    removal that ran in between (and so found nothing of Dora's to take out) cannot leave
    her on the ticket."""
    dora = await world.user("dora")
    await world.member(acme.company, dora, "customer")
    coll = Ticket.get_pymongo_collection()
    push = coll.update_one

    async def removed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        await Membership.find(Membership.user == dora.id).delete()
        return await push(*args, **kwargs)

    monkeypatch.setattr(coll, "update_one", removed_meanwhile)
    url = f"/tickets/{acme.ticket.id}"
    r = await client.post(
        f"{url}/viewers", json={"user_id": str(dora.id)}, headers=world.auth(acme.sara)
    )
    monkeypatch.undo()
    assert r.status_code == 422 and "member of its company" in r.json()["detail"]
    assert str(dora.id) not in (await tenant_state(acme.company.id))["shares"]


async def test_a_share_or_unshare_that_fails_changes_nothing(
    client: httpx.AsyncClient, world: World, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each is one write of the ticket: it happened, or it did not; the retry does it."""
    dora = await world.user("dora")
    await world.member(acme.company, dora, "customer")
    url = f"/tickets/{acme.ticket.id}"
    for method, path, body, sees in (
        ("POST", f"{url}/viewers", {"user_id": str(dora.id)}, (dora, 200)),
        ("DELETE", f"{url}/viewers/{acme.carl.id}", None, (acme.carl, 404)),
    ):
        before = await tenant_state(acme.company.id)
        fault = Fault(monkeypatch, Ticket.get_pymongo_collection(), "update_one")
        r = await client.request(method, path, json=body, headers=world.auth(acme.sara))
        assert fault.fired == 1 and r.status_code == 503
        assert await tenant_state(acme.company.id) == before
        monkeypatch.undo()
        r = await client.request(method, path, json=body, headers=world.auth(acme.sara))
        assert r.status_code < 300, r.text
        who, status = sees
        assert (await client.get(url, headers=world.auth(who))).status_code == status
        await assert_invariants(acme.company.id)
