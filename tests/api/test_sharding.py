"""Scale-out, shown: every command the API sends to a tenant collection names its tenant.

In a cluster sharded on `{company: 1, _id: 1}` (tickets, memberships, groups, audit events)
and on `_id` (companies), a command whose filter fixes the shard key's first field (an
equality, or `$in`) goes to the shards that hold those tenants; one that does not goes to
every shard. A full API run is recorded with PyMongo's command monitoring, and every
command to those collections must be of the first kind: inserts carry the key, filters
fix it at the top level, in an `$and`, or in every branch of an `$or`.
"""

from collections.abc import Mapping
from typing import Any

import httpx
from fastapi import FastAPI

from app.config import Settings
from tests.utils.commands import watching
from tests.utils.factories import PASSWORD

TENANT_KEY = {
    "tickets": "company",
    "memberships": "company",
    "groups": "company",
    "audit_events": "company",
    "companies": "_id",
}


def fixes(query: object, key: str) -> bool:
    """Whether a filter fixes `key` to one value or a list of them."""
    if not isinstance(query, Mapping):
        return False
    value = query.get(key)
    if value is not None and (not isinstance(value, Mapping) or "$in" in value):
        return True
    if any(fixes(clause, key) for clause in query.get("$and", ())):
        return True
    branches = query.get("$or") or []
    return bool(branches) and all(fixes(branch, key) for branch in branches)


def untargeted(command: Mapping[str, Any]) -> list[str]:
    """What in one command would reach every shard (empty when it is targeted)."""
    name = next(iter(command))
    key = TENANT_KEY.get(str(command[name]))
    if key is None:
        return []
    filters: list[object]
    if name == "insert":
        return [f"insert without {key}" for d in command["documents"] if key not in d]
    if name in ("find", "count"):
        filters = [command.get("filter", command.get("query"))]
    elif name == "findAndModify":
        filters = [command["query"]]
    elif name == "update":
        filters = [u["q"] for u in command["updates"]]
    elif name == "delete":
        filters = [d["q"] for d in command["deletes"]]
    elif name == "aggregate":
        first = command["pipeline"][0] if command["pipeline"] else {}
        filters = [first.get("$match")]
    else:
        return []
    return [f"{name} {command[name]} {f}" for f in filters if not fixes(f, key)]


def test_the_checker_can_fail() -> None:
    assert untargeted({"find": "tickets", "filter": {"status": "open"}})
    assert untargeted({"find": "tickets", "filter": {"$or": [{"company": 1}, {"x": 2}]}})
    assert untargeted({"insert": "groups", "documents": [{"name": 1}]})
    assert not untargeted({"find": "tickets", "filter": {"$and": [{"company": {"$in": [1]}}]}})
    assert not untargeted({"find": "users", "filter": {"email": "x"}})


async def test_every_tenant_command_is_targeted(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    async with watching(app, settings) as log:
        await full_run(client)
    commands = [c for c in log.commands if str(c.get(next(iter(c)))) in TENANT_KEY]
    assert len(commands) > 50  # the run did reach the tenant collections
    problems = [u for c in commands for u in untargeted(c)]
    assert problems == [], "\n".join(problems)


async def full_run(c: httpx.AsyncClient) -> None:
    """Every route that reads or writes tenant data, as admin, agent and customer."""
    h: dict[str, dict[str, str]] = {}
    ids: dict[str, str] = {}
    for name in ("sara", "mark", "lisa", "carl"):
        body = {"username": name, "email": f"{name}@acme.example", "password": PASSWORD}
        assert (await c.post("/auth/register", json=body)).status_code == 201
        creds = {"email": body["email"], "password": PASSWORD}
        token = (await c.post("/auth/login", json=creds)).json()["access_token"]
        h[name] = {"Authorization": f"Bearer {token}"}
        ids[name] = (await c.get("/auth/me", headers=h[name])).json()["id"]
    acme = (await c.post("/companies", json={"name": "Acme"}, headers=h["sara"])).json()["id"]
    members = f"/companies/{acme}/members"
    for name, role in (("mark", "agent"), ("lisa", "customer"), ("carl", "customer")):
        body = {"email": f"{name}@acme.example", "role": role}
        assert (await c.post(members, json=body, headers=h["sara"])).status_code == 201
    body = {"company_id": acme, "subject": "Broken", "description": "It is."}
    ticket = (await c.post("/tickets", json=body, headers=h["lisa"])).json()["id"]
    url = f"/tickets/{ticket}"
    groups = f"/companies/{acme}/groups"
    r = await c.post(groups, json={"name": "Billing"}, headers=h["sara"])
    group = f"{groups}/{r.json()['id']}"
    calls: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("PUT", f"{group}/members/{ids['mark']}", "sara", None),
        ("PATCH", f"{members}/{ids['mark']}", "sara", {"ticket_access": "groups"}),
        ("PATCH", url, "sara", {"group_id": group.rsplit("/", 1)[1]}),
        ("GET", "/tickets", "mark", None),
        ("GET", groups, "mark", None),
        ("PATCH", group, "sara", {"name": "Invoices"}),
        ("PATCH", url, "sara", {"group_id": None}),
        ("DELETE", f"{group}/members/{ids['mark']}", "sara", None),
        ("PATCH", f"{members}/{ids['mark']}", "sara", {"ticket_access": "all"}),
        ("DELETE", group, "sara", None),
        ("GET", "/tickets", "mark", None),
        ("GET", f"/tickets?company_id={acme}&status=open&q=brok", "lisa", None),
        ("GET", url, "lisa", None),
        ("PATCH", url, "mark", {"status": "in-progress", "assigned_to": ids["mark"]}),
        ("POST", f"{url}/replies", "lisa", {"body": "Still broken."}),
        ("POST", f"{url}/replies", "mark", {"body": "Looking.", "internal": True}),
        ("POST", f"{url}/viewers", "mark", {"user_id": ids["carl"]}),
        ("GET", url, "carl", None),
        (
            "POST",
            "/authz/check",
            "mark",
            {"checks": [{"permission": "ticket:delete", "resource_id": ticket}]},
        ),
        ("DELETE", f"{url}/viewers/{ids['carl']}", "mark", None),
        ("GET", "/companies", "mark", None),
        ("GET", f"/companies/{acme}", "mark", None),
        ("PATCH", f"/companies/{acme}", "sara", {"name": "Acme Corp"}),
        ("GET", members, "mark", None),
        ("PATCH", f"{members}/{ids['mark']}", "sara", {"role": "customer"}),
        ("DELETE", f"{members}/{ids['carl']}", "sara", None),
        ("GET", "/me/permissions", "lisa", None),
        ("GET", f"/companies/{acme}/audit", "sara", None),
        ("DELETE", url, "sara", None),
        ("DELETE", f"/companies/{acme}", "sara", None),
    ]
    for method, path, who, json in calls:
        r = await c.request(method, path, headers=h[who], json=json)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
