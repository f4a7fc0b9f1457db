"""The app validates against the policy it runs (`POLICY_FILE`), not the one it was
imported with: a role a copy of the policy adds works end to end and is named in
`/openapi.json`; a role a copy drops is refused, and the members who still hold it have no
rights there (never a 500)."""

from pathlib import Path

import httpx
from fastapi import FastAPI

from app.config import Settings
from authz.policy import DEFAULT_POLICY_PATH, load_policy
from models import Membership
from tests.utils.factories import World
from tests.utils.instances import client_for, instance

SUPERVISOR = """
[roles.supervisor]
description = "reads every ticket of the company and its members; changes nothing"
permissions = ["company:read", "members:list", "ticket:read", "group:read"]
"""


def with_supervisor(folder: Path) -> Path:
    path = folder / "policy.toml"
    text = DEFAULT_POLICY_PATH.read_text()
    at = text.index("# Instance roles:")
    path.write_text(text[:at] + SUPERVISOR.lstrip() + "\n" + text[at:])
    assert "supervisor" in load_policy(path).roles
    return path


def without_customers(folder: Path) -> Path:
    """The shipped policy with no customer role (nor a condition naming it)."""
    path = folder / "policy.toml"
    text = DEFAULT_POLICY_PATH.read_text()
    start = text.index("[roles.customer]")
    end = text.index("\n#", start)
    path.write_text(text[:start] + text[end:])
    assert "customer" not in load_policy(path).roles
    return path


async def test_a_role_added_to_a_copy_works_end_to_end(
    app: FastAPI, settings: Settings, world: World, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    sara, vera = await world.user("sara"), await world.user("vera")
    acme = await world.company("Acme", admin=sara)
    ticket = await world.ticket(acme, sara)
    members = f"/companies/{acme.id}/members"
    body = {"user_id": str(vera.id), "role": "supervisor"}
    shipped = await client.post(members, json=body, headers=world.auth(sara))
    assert shipped.status_code == 422 and "must be one of: admin, agent, customer" in shipped.text

    edited = settings.model_copy(update={"policy_file": with_supervisor(tmp_path)})
    async with instance(edited, app) as other, client_for(other) as c:
        spec = (await c.get("/openapi.json")).json()
        roles = spec["components"]["schemas"]["MemberIn"]["properties"]["role"]["enum"]
        assert roles == ["admin", "agent", "customer", "supervisor"]
        r = await c.post(members, json=body, headers=world.auth(sara))
        assert r.status_code == 201, r.text
        r = await c.get(f"/tickets/{ticket.id}", headers=world.auth(vera))
        assert r.status_code == 200, "the new role's permissions hold"
        r = await c.patch(f"{members}/{vera.id}", json={"role": "agent"}, headers=world.auth(sara))
        assert r.status_code == 200
        r = await c.patch(
            f"{members}/{vera.id}", json={"role": "supervisor"}, headers=world.auth(sara)
        )
        assert r.status_code == 200 and r.json()["role"] == "supervisor"
        invite = {"email": "nina@example.com", "role": "supervisor"}
        r = await c.post(f"/companies/{acme.id}/invitations", json=invite, headers=world.auth(sara))
        assert r.status_code == 201, r.text
    shipped_spec = (await client.get("/openapi.json")).json()
    assert (
        "supervisor"
        not in shipped_spec["components"]["schemas"]["MemberIn"]["properties"]["role"]["enum"]
    )


async def test_a_role_dropped_by_a_copy_is_refused_and_gives_no_rights(
    app: FastAPI, settings: Settings, world: World, tmp_path: Path
) -> None:
    sara, lisa, dora = await world.user("sara"), await world.user("lisa"), await world.user("dora")
    acme = await world.company("Acme", admin=sara)
    await world.member(acme, lisa, "customer")
    await world.ticket(acme, lisa)
    edited = settings.model_copy(update={"policy_file": without_customers(tmp_path)})
    async with instance(edited, app) as other, client_for(other) as c:
        body = {"user_id": str(dora.id), "role": "customer"}
        r = await c.post(f"/companies/{acme.id}/members", json=body, headers=world.auth(sara))
        assert r.status_code == 422 and "must be one of: admin, agent" in r.text
        assert await Membership.find(Membership.user == dora.id).count() == 0
        for path in ("/tickets", "/auth/me", "/me/permissions", f"/companies/{acme.id}"):
            r = await c.get(path, headers=world.auth(lisa))
            assert r.status_code in (200, 404), (path, r.status_code, r.text)
        assert (await c.get("/tickets", headers=world.auth(lisa))).json()["items"] == []
