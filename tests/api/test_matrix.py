"""The policy as a table: role x action on one ticket of one company, expected HTTP status.

Roles: admin, agent, the customer who created the ticket, another customer, a customer
the ticket was shared with, a member of another company only, a removed member who once
had the ticket shared with them, and three agents whose ticket access is limited: to their
groups, the ticket's (`grouped`) or another (`outgroup`), or to their assignments, not this
ticket (`unassigned`).

Every cell asserts more than its status: a 403 names the permission the role lacks, a 404
shows nothing of the ticket, a read returns what was asked for, and an allowed write is
found done in the database. The cells that change nothing (reads and refusals) share one
scene, built once for the module; each allowed write gets a scene of its own, beside it.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from models import Company, Membership, Ticket, User
from tests.utils.factories import World

# The representation of rights, on both topologies (`make test` runs it standalone too).
pytestmark = pytest.mark.topologies

ROLES = (
    "admin",
    "agent",
    "creator",
    "customer",
    "viewer",
    "non_member",
    "removed",
    "grouped",
    "outgroup",
    "unassigned",
)


@dataclass
class Scene:
    """One company, its people by role, their one ticket, and a user of no company."""

    acme: Company
    ticket: Ticket
    users: dict[str, User]
    newcomer: User


async def build(world: World, client: httpx.AsyncClient, tag: str = "") -> Scene:
    """A scene whose users are named `<tag><role>`: scenes of different tags live side by
    side in one database, each its own companies, and see nothing of each other."""
    users = {name: await world.user(f"{tag}{name}") for name in ROLES}
    acme = await world.company("Acme", admin=users["admin"])
    await world.company("Globex", admin=users["non_member"])
    for name in ("agent", "grouped", "outgroup", "unassigned"):
        await world.member(acme, users[name], "agent")
    for name in ("creator", "customer", "viewer", "removed"):
        await world.member(acme, users[name], "customer")
    billing = await world.group(acme, "Billing", users["grouped"])
    await world.group(acme, "Sales", users["outgroup"])
    await world.access(acme, users["grouped"], "groups")
    await world.access(acme, users["outgroup"], "groups")
    await world.access(acme, users["unassigned"], "assigned")
    ticket = await world.ticket(acme, users["creator"], subject="Refund", group=billing.id)
    await world.share(ticket, users["viewer"])
    await world.share(ticket, users["removed"])
    r = await client.delete(
        f"/companies/{acme.id}/members/{users['removed'].id}", headers=world.auth(users["admin"])
    )
    assert r.status_code == 204
    return Scene(acme, ticket, users, await world.user(f"{tag}newcomer"))


Action = Callable[[httpx.AsyncClient, Scene, dict[str, str]], Awaitable[httpx.Response]]


def _t(s: Scene) -> str:
    return f"/tickets/{s.ticket.id}"


def _c(s: Scene) -> str:
    return f"/companies/{s.acme.id}"


ACTIONS: dict[str, Action] = {
    "read ticket": lambda c, s, h: c.get(_t(s), headers=h),
    "update status": lambda c, s, h: c.patch(_t(s), json={"status": "resolved"}, headers=h),
    "update subject": lambda c, s, h: c.patch(_t(s), json={"subject": "New"}, headers=h),
    "delete ticket": lambda c, s, h: c.delete(_t(s), headers=h),
    "reply": lambda c, s, h: c.post(f"{_t(s)}/replies", json={"body": "hi"}, headers=h),
    "internal note": lambda c, s, h: c.post(
        f"{_t(s)}/replies", json={"body": "psst", "internal": True}, headers=h
    ),
    "share": lambda c, s, h: c.post(
        f"{_t(s)}/viewers", json={"user_id": str(s.users["customer"].id)}, headers=h
    ),
    "unshare": lambda c, s, h: c.delete(f"{_t(s)}/viewers/{s.users['viewer'].id}", headers=h),
    "open ticket": lambda c, s, h: c.post(
        "/tickets",
        json={"company_id": str(s.acme.id), "subject": "New", "description": "d"},
        headers=h,
    ),
    "read company": lambda c, s, h: c.get(_c(s), headers=h),
    "rename company": lambda c, s, h: c.patch(_c(s), json={"name": "Acme 2"}, headers=h),
    "delete company": lambda c, s, h: c.delete(_c(s), headers=h),
    "list members": lambda c, s, h: c.get(f"{_c(s)}/members", headers=h),
    "add member": lambda c, s, h: c.post(
        f"{_c(s)}/members", json={"user_id": str(s.newcomer.id), "role": "customer"}, headers=h
    ),
    "change role": lambda c, s, h: c.patch(
        f"{_c(s)}/members/{s.users['customer'].id}", json={"role": "agent"}, headers=h
    ),
    "remove member": lambda c, s, h: c.delete(
        f"{_c(s)}/members/{s.users['customer'].id}", headers=h
    ),
    "read audit": lambda c, s, h: c.get(f"{_c(s)}/audit", headers=h),
}

# Expected status per action, in the order of ROLES:
#            admin agent creator customer viewer non_member removed grouped outgroup unassigned
EXPECTED: dict[str, tuple[int, ...]] = {
    "read ticket":    (200, 200, 200, 404, 200, 404, 404, 200, 404, 404),
    "update status":  (200, 200, 403, 404, 403, 404, 404, 200, 404, 404),
    "update subject": (200, 403, 200, 404, 403, 404, 404, 403, 404, 404),
    "delete ticket":  (204, 403, 403, 404, 403, 404, 404, 403, 404, 404),
    "reply":          (201, 201, 201, 404, 201, 404, 404, 201, 404, 404),
    "internal note":  (201, 201, 403, 404, 403, 404, 404, 201, 404, 404),
    "share":          (201, 201, 403, 404, 403, 404, 404, 201, 404, 404),
    "unshare":        (204, 204, 403, 404, 403, 404, 404, 204, 404, 404),
    "open ticket":    (201, 201, 201, 201, 201, 404, 404, 201, 201, 201),
    "read company":   (200, 200, 200, 200, 200, 404, 404, 200, 200, 200),
    "rename company": (200, 403, 403, 403, 403, 404, 404, 403, 403, 403),
    "delete company": (204, 403, 403, 403, 403, 404, 404, 403, 403, 403),
    "list members":   (200, 200, 403, 403, 403, 404, 404, 200, 200, 200),
    "add member":     (201, 403, 403, 403, 403, 404, 404, 403, 403, 403),
    "change role":    (200, 403, 403, 403, 403, 404, 404, 403, 403, 403),
    "remove member":  (204, 403, 403, 403, 403, 404, 404, 403, 403, 403),
    "read audit":     (200, 403, 403, 403, 403, 404, 404, 403, 403, 403),
}  # fmt: skip

# What a 403 of each action names as missing (`permission` of the body, docs/errors.md).
REFUSED_FOR_LACK_OF = {
    "update status": "ticket:update",
    "update subject": "ticket:update",
    "delete ticket": "ticket:delete",
    "internal note": "ticket:note",
    "share": "ticket:share",
    "unshare": "ticket:share",
    "rename company": "company:update",
    "delete company": "company:delete",
    "list members": "members:list",
    "add member": "members:add",
    "change role": "members:update",
    "remove member": "members:remove",
    "read audit": "audit:read",
}

READS = {"read ticket", "read company", "list members", "read audit"}


def _changes_nothing(action: str, status: int) -> bool:
    return action in READS or status >= 400


CELLS = [(action, role, EXPECTED[action][i]) for action in ACTIONS for i, role in enumerate(ROLES)]
STILL = [cell for cell in CELLS if _changes_nothing(cell[0], cell[2])]
WRITES = [cell for cell in CELLS if not _changes_nothing(cell[0], cell[2])]


def _ids(cells: list[tuple[str, str, int]]) -> list[str]:
    return [f"{action}-{role}" for action, role, _ in cells]


@pytest.fixture(scope="module")
async def scene(app: FastAPI, module_world: World, module_client: httpx.AsyncClient) -> Scene:
    """The scene the cells that change nothing share, its audit log written."""
    built = await build(module_world, module_client)
    await app.state.audit.flush()
    return built


async def _stored(ticket: Ticket) -> Ticket:
    found = await Ticket.get(ticket.id)
    assert found is not None, "the ticket is still stored"
    return found


async def _membership(scene: Scene, name: str) -> Membership | None:
    return await Membership.find_one(
        Membership.company == scene.acme.id, Membership.user == scene.users[name].id
    )


async def _read_what_was_asked(action: str, scene: Scene, body: object) -> None:
    if action == "read ticket":
        assert isinstance(body, dict)
        assert (body["id"], body["subject"]) == (str(scene.ticket.id), "Refund")
    elif action == "read company":
        assert isinstance(body, dict)
        assert (body["id"], body["name"]) == (str(scene.acme.id), "Acme")
    elif action == "list members":
        assert isinstance(body, list)
        listed = {m["user_id"] for m in body}
        assert str(scene.users["admin"].id) in listed
        assert str(scene.users["removed"].id) not in listed
    elif action == "read audit":
        assert isinstance(body, dict)
        concerned = {e["resource_id"] for e in body["items"]}
        assert concerned, "the audit log holds at least the removal of a member"
        assert concerned <= {str(scene.acme.id), str(scene.ticket.id)}, "and only Acme's"


@pytest.mark.parametrize(("action", "role", "status"), STILL, ids=_ids(STILL))
async def test_cell_that_changes_nothing(
    module_client: httpx.AsyncClient,
    module_world: World,
    scene: Scene,
    action: str,
    role: str,
    status: int,
) -> None:
    before = await _stored(scene.ticket)
    response = await ACTIONS[action](module_client, scene, module_world.auth(scene.users[role]))
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["permission"] == REFUSED_FOR_LACK_OF[action], response.text
    elif status == 404:
        assert response.json()["code"] == "not_found", response.text
        assert "Refund" not in response.text
    else:
        await _read_what_was_asked(action, scene, response.json())
    after = await _stored(scene.ticket)
    assert after.model_dump(exclude={"revision_id"}) == before.model_dump(exclude={"revision_id"})


Effect = Callable[[Scene, User, httpx.Response], Awaitable[None]]


async def _status_resolved(s: Scene, _: User, __: httpx.Response) -> None:
    assert (await _stored(s.ticket)).status == "resolved"


async def _subject_new(s: Scene, _: User, __: httpx.Response) -> None:
    assert (await _stored(s.ticket)).subject == "New"


async def _ticket_gone(s: Scene, _: User, __: httpx.Response) -> None:
    assert await Ticket.get(s.ticket.id) is None


def _replied(body: str, internal: bool) -> Effect:
    async def effect(s: Scene, caller: User, _: httpx.Response) -> None:
        replies = (await _stored(s.ticket)).replies
        assert [(r.author, r.body, r.internal) for r in replies] == [(caller.id, body, internal)]

    return effect


async def _customer_shared(s: Scene, _: User, __: httpx.Response) -> None:
    assert s.users["customer"].id in (await _stored(s.ticket)).viewers


async def _viewer_unshared(s: Scene, _: User, __: httpx.Response) -> None:
    assert s.users["viewer"].id not in (await _stored(s.ticket)).viewers


async def _ticket_opened(s: Scene, caller: User, response: httpx.Response) -> None:
    opened = await Ticket.get(response.json()["id"])
    assert opened is not None
    assert (opened.company, opened.created_by, opened.subject) == (s.acme.id, caller.id, "New")


async def _renamed(s: Scene, _: User, __: httpx.Response) -> None:
    company = await Company.get(s.acme.id)
    assert company is not None
    assert company.name == "Acme 2"


async def _company_gone(s: Scene, _: User, __: httpx.Response) -> None:
    assert await Company.get(s.acme.id) is None
    assert await Membership.find(Membership.company == s.acme.id).count() == 0


async def _newcomer_added(s: Scene, _: User, __: httpx.Response) -> None:
    added = await Membership.find_one(
        Membership.company == s.acme.id, Membership.user == s.newcomer.id
    )
    assert added is not None
    assert added.role == "customer"


async def _customer_made_agent(s: Scene, _: User, __: httpx.Response) -> None:
    membership = await _membership(s, "customer")
    assert membership is not None
    assert membership.role == "agent"


async def _customer_removed(s: Scene, _: User, __: httpx.Response) -> None:
    assert await _membership(s, "customer") is None


EFFECTS: dict[str, Effect] = {
    "update status": _status_resolved,
    "update subject": _subject_new,
    "delete ticket": _ticket_gone,
    "reply": _replied("hi", internal=False),
    "internal note": _replied("psst", internal=True),
    "share": _customer_shared,
    "unshare": _viewer_unshared,
    "open ticket": _ticket_opened,
    "rename company": _renamed,
    "delete company": _company_gone,
    "add member": _newcomer_added,
    "change role": _customer_made_agent,
    "remove member": _customer_removed,
}


@pytest.mark.parametrize(("action", "role", "status"), WRITES, ids=_ids(WRITES))
async def test_allowed_write_is_done(
    module_client: httpx.AsyncClient,
    module_world: World,
    action: str,
    role: str,
    status: int,
) -> None:
    own = await build(module_world, module_client, tag=f"{action.replace(' ', '_')}_{role}_")
    caller = own.users[role]
    response = await ACTIONS[action](module_client, own, module_world.auth(caller))
    assert response.status_code == status, response.text
    await EFFECTS[action](own, caller, response)


LISTED = {
    "admin": True,
    "agent": True,
    "creator": True,
    "customer": False,
    "viewer": True,
    "non_member": False,
    "removed": False,
    "grouped": True,
    "outgroup": False,
    "unassigned": False,
}


@pytest.mark.parametrize(("role", "listed"), LISTED.items())
async def test_list_contains_ticket(
    module_client: httpx.AsyncClient, module_world: World, scene: Scene, role: str, listed: bool
) -> None:
    r = await module_client.get("/tickets", headers=module_world.auth(scene.users[role]))
    assert r.status_code == 200, r.text
    assert (str(scene.ticket.id) in {t["id"] for t in r.json()["items"]}) is listed


def test_every_action_and_role_is_in_the_table() -> None:
    assert set(EXPECTED) == set(ACTIONS)
    assert all(len(row) == len(ROLES) for row in EXPECTED.values())
    refused = {action for action, _, status in CELLS if status == 403}
    assert refused == set(REFUSED_FOR_LACK_OF)
    assert {action for action, _, _ in WRITES} == set(EFFECTS)
