"""The policy as a table: role x action on one ticket of one company, expected HTTP status.

Each cell builds a fresh world, so a destructive action (delete) cannot leak into the next.
Roles: admin, agent, the customer who created the ticket, another customer, a customer
the ticket was shared with, a member of another company only, a removed member who once
had the ticket shared with them, and three agents whose ticket access is limited: to their
groups, the ticket's (`grouped`) or another (`outgroup`), or to their assignments, not this
ticket (`unassigned`).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from models import Company, Ticket, User
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
    """The world of one cell."""

    acme: Company
    ticket: Ticket
    users: dict[str, User]
    newcomer: User


async def build(world: World, client: httpx.AsyncClient) -> Scene:
    users = {name: await world.user(name) for name in ROLES}
    acme = await world.company("Acme", admin=users["admin"])
    globex = await world.company("Globex", admin=users["non_member"])
    assert globex.id
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
    return Scene(acme, ticket, users, await world.user("newcomer"))


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

CELLS = [(action, role, EXPECTED[action][i]) for action in ACTIONS for i, role in enumerate(ROLES)]


@pytest.mark.parametrize(("action", "role", "status"), CELLS, ids=[f"{a}-{r}" for a, r, _ in CELLS])
async def test_cell(
    client: httpx.AsyncClient, world: World, action: str, role: str, status: int
) -> None:
    scene = await build(world, client)
    response = await ACTIONS[action](client, scene, world.auth(scene.users[role]))
    assert response.status_code == status, response.text
    if status == 403:
        assert ":" in response.json()["detail"], "a 403 names the missing permission"
    if status == 404:
        assert "Refund" not in response.text


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
    client: httpx.AsyncClient, world: World, role: str, listed: bool
) -> None:
    scene = await build(world, client)
    page = (await client.get("/tickets", headers=world.auth(scene.users[role]))).json()
    assert (str(scene.ticket.id) in {t["id"] for t in page["items"]}) is listed


async def test_every_action_and_role_is_in_the_table() -> None:
    assert set(EXPECTED) == set(ACTIONS)
    assert all(len(row) == len(ROLES) for row in EXPECTED.values())
