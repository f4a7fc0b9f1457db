"""The Permit-compatible decision point, in process: its door, its edge cases, its audit.

The real SDKs as clients, against a real API process, are in tests/api/test_pdp_sdk.py; the
property on random worlds in tests/api/test_pdp_property.py.
"""

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from app.config import Settings
from app.main import create_app
from app.pdp_schemas import MAX_BULK_CHECKS
from app.services import pdp as pdp_service
from models import AuditEvent
from tests.conftest import TEST_PDP_KEY
from tests.utils.factories import Acme, World
from tests.utils.instances import client_for

KEY = {"Authorization": f"Bearer {TEST_PDP_KEY}"}


def ask(user: str, action: str, rtype: str = "ticket", **resource: str) -> dict[str, Any]:
    """A check query as the Python SDK sends it (the tenant defaulted, the context copied)."""
    tenant = resource.pop("tenant", "default")
    return {
        "user": {"key": user},
        "action": action,
        "resource": {"type": rtype, "tenant": tenant, "context": {"tenant": tenant}, **resource},
        "context": {},
    }


async def allowed(client: httpx.AsyncClient, query: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/pdp/allowed", json=query, headers=KEY)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"allow", "reason"}
    return body


async def graph_of(client: httpx.AsyncClient, **query: Any) -> dict[str, Any]:
    r = await client.post("/pdp/user-permissions", json=query, headers=KEY)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
async def acme(world: World) -> Acme:
    """One company: an admin, an agent and a customer with a ticket, and an outsider."""
    return await world.acme(
        admins=("admin",),
        agents=("agent",),
        customers=("customer",),
        outsiders=("outsider",),
        ticket_by="customer",
        prefix="pdp_",
    )


# -- the door --------------------------------------------------------------------------------


async def test_off_unless_a_key_is_set(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"pdp_api_key": None}))
    assert not [p for p in app.openapi()["paths"] if p.startswith("/pdp")]
    async with client_for(app) as c:
        r = await c.post("/pdp/allowed", json=ask("x", "read"), headers=KEY)
    assert r.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-of-some-length-000000"},
        {"Authorization": f"Bearer {TEST_PDP_KEY[:-1]}"},
        {"Authorization": f"Bearer {TEST_PDP_KEY}x"},
        {"Authorization": f"Basic {TEST_PDP_KEY}"},
        {"Authorization": TEST_PDP_KEY},
    ],
    ids=["none", "wrong", "prefix", "longer", "basic", "no-scheme"],
)
async def test_anything_but_the_key_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path, body in (
        ("/pdp/allowed", ask("x", "read")),
        ("/pdp/allowed/bulk", [ask("x", "read")]),
        ("/pdp/user-permissions", {"user": {"key": "x"}}),
        ("/pdp/allowed", {"not": "even valid"}),  # 401 before the body is looked at
    ):
        r = await client.post(path, json=body, headers=headers)
        assert r.status_code == 401, (path, r.text)
        assert r.json() == {"detail": "missing or invalid PDP API key", "code": "unauthorized"}


def test_the_key_is_refused_when_short_and_off_when_empty() -> None:
    with pytest.raises(ValidationError, match="PDP_API_KEY must be at least 16"):
        Settings(environment="development", jwt_secret=TEST_PDP_KEY, pdp_api_key="short")
    empty = Settings(environment="development", jwt_secret=TEST_PDP_KEY, pdp_api_key="")
    assert empty.pdp_api_key is None


async def test_batch_limit(client: httpx.AsyncClient, acme: Acme) -> None:
    query = ask(acme.email("admin"), "read", key=acme.tid)
    r = await client.post("/pdp/allowed/bulk", json=[query] * MAX_BULK_CHECKS, headers=KEY)
    assert r.status_code == 200
    assert [a["allow"] for a in r.json()["allow"]] == [True] * MAX_BULK_CHECKS
    r = await client.post("/pdp/allowed/bulk", json=[query] * (MAX_BULK_CHECKS + 1), headers=KEY)
    assert r.status_code == 422
    assert f"at most {MAX_BULK_CHECKS} items" in r.text
    assert (await client.post("/pdp/allowed/bulk", json=[], headers=KEY)).json() == {"allow": []}


def compact(body: Any) -> bytes:
    """`body` as httpx sends it."""
    return json.dumps(body, separators=(",", ":")).encode()


async def test_a_bulk_check_may_be_larger_than_other_bodies_up_to_its_own_limit(
    app: FastAPI, client: httpx.AsyncClient, acme: Acme
) -> None:
    settings = app.state.settings
    query = ask(acme.email("admin"), "read", key=acme.tid)
    many = [query] * (settings.max_body_bytes // len(compact(query)) + 10)
    assert len(compact(many)) > settings.max_body_bytes
    r = await client.post("/pdp/allowed/bulk", json=many, headers=KEY)
    assert r.status_code == 200, r.text
    assert len(r.json()["allow"]) == len(many)
    r = await client.post("/pdp/allowed", json=many, headers=KEY)  # every other path: 413
    assert r.status_code == 413
    padded = {**query, "context": {"pad": "x" * settings.pdp_bulk_max_bytes}}
    r = await client.post("/pdp/allowed/bulk", json=[padded], headers=KEY)
    assert r.status_code == 413
    assert r.json() == {
        "detail": f"request body exceeds {settings.pdp_bulk_max_bytes} bytes",
        "code": "payload_too_large",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"user": {"key": ""}, "action": "read", "resource": {"type": "ticket"}},
        {"user": "lisa", "action": "read", "resource": {"type": "ticket"}},
        {"user": {"key": "lisa"}, "resource": {"type": "ticket"}},
        {"user": {"key": "lisa"}, "action": "read", "resource": {"key": "1"}},
        {"user": {"key": "x" * 255}, "action": "read", "resource": {"type": "ticket"}},
    ],
    ids=["empty-key", "user-not-object", "no-action", "no-type", "key-too-long"],
)
async def test_malformed_queries_are_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    r = await client.post("/pdp/allowed", json=body, headers=KEY)
    assert r.status_code == 422
    assert r.json()["detail"]


# -- questions the engine cannot pose: false, with a reason ----------------------------------


async def test_unknown_users_types_actions_and_tenants_are_false(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    admin = acme.email("admin")
    cases = [
        (ask("nobody@example.com", "read", key=acme.tid), "unknown user 'nobody@example.com'"),
        (ask("0" * 24, "read", key=acme.tid), f"unknown user '{'0' * 24}'"),
        (ask(admin, "read", "boat", key=acme.tid), "unknown resource type 'boat'"),
        (ask(admin, "fly", key=acme.tid), "unknown action 'fly' on ticket (known: create,"),
        (ask(admin, "read", key=acme.tid, tenant="acme"), "unknown tenant 'acme'"),
        (ask(admin, "read"), "give the company id as the resource's tenant"),
        (ask(admin, "read", key="not-an-id"), "ticket 'not-an-id' not found"),
        (ask(admin, "read", key="0" * 24), "not found, or not readable by this user"),
    ]
    bulk = await client.post("/pdp/allowed/bulk", json=[q for q, _ in cases], headers=KEY)
    assert bulk.status_code == 200
    for (query, reason), answer in zip(cases, bulk.json()["allow"], strict=True):
        assert answer["allow"] is False
        assert reason in answer["reason"]
        assert await allowed(client, query) == answer  # the single answer is the same


async def test_a_user_is_named_by_id_or_email_in_any_case(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    admin = acme.users["admin"]
    for key in (str(admin.id), admin.email, admin.email.upper()):
        answer = await allowed(client, ask(key, "delete", key=acme.tid))
        assert answer == {
            "allow": True,
            "reason": f"role 'admin' in company {acme.cid} grants ticket:delete",
        }


async def test_the_type_matches_in_any_case_and_id_names_the_resource(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    customer = acme.email("customer")
    assert (await allowed(client, ask(customer, "read", "Ticket", key=acme.tid)))["allow"]
    assert (await allowed(client, ask(customer, "read", "TICKET", id=acme.tid)))["allow"]


# -- tenants ---------------------------------------------------------------------------------


async def test_a_tenant_must_be_the_resources_company(
    client: httpx.AsyncClient, acme: Acme, world: World
) -> None:
    admin = acme.users["admin"]
    other = await world.company("Other", admin=admin)
    right = await allowed(client, ask(admin.email, "read", key=acme.tid, tenant=acme.cid))
    assert right["allow"] is True
    wrong = await allowed(client, ask(admin.email, "read", key=acme.tid, tenant=str(other.id)))
    assert wrong == {
        "allow": False,
        "reason": f"tenant {other.id} is not the company of ticket {acme.tid}",
    }
    # Both SDKs send "default" when their caller gave no tenant: the ticket's company decides.
    assert (await allowed(client, ask(admin.email, "read", key=acme.tid)))["allow"] is True


async def test_type_level_checks_hold_only_through_a_tenant_role(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    """May they read every ticket of Acme? The admin yes; the agent no (a confidential
    ticket only while it is his); the customer no, although she may read her own ticket;
    the outsider no. Create: every member."""
    answers = {}
    for name in ("admin", "agent", "customer", "outsider"):
        for action in ("read", "create", "delete"):
            body = await allowed(client, ask(acme.email(name), action, tenant=acme.cid))
            answers[name, action] = body["allow"]
    assert answers == {
        ("admin", "read"): True,
        ("admin", "create"): True,
        ("admin", "delete"): True,
        ("agent", "read"): False,
        ("agent", "create"): True,
        ("agent", "delete"): False,
        ("customer", "read"): False,
        ("customer", "create"): True,
        ("customer", "delete"): False,
        ("outsider", "read"): False,
        ("outsider", "create"): False,
        ("outsider", "delete"): False,
    }
    own = await allowed(client, ask(acme.email("customer"), "read", key=acme.tid))
    assert own["allow"] is True
    assert own["reason"].startswith("instance role ticket#viewer (as creator of ticket")


async def test_company_questions(client: httpx.AsyncClient, acme: Acme) -> None:
    for name, update in (("admin", True), ("agent", False), ("outsider", False)):
        by_key = await allowed(client, ask(acme.email(name), "update", "company", key=acme.cid))
        by_tenant = await allowed(
            client, ask(acme.email(name), "update", "company", tenant=acme.cid)
        )
        assert by_key["allow"] is by_tenant["allow"] is update, name


# -- the audit trail -------------------------------------------------------------------------


async def test_denials_are_audited_and_marked(
    client: httpx.AsyncClient, acme: Acme, app: FastAPI
) -> None:
    customer, outsider = acme.users["customer"], acme.users["outsider"]
    await client.post(
        "/pdp/allowed/bulk",
        json=[
            ask(customer.email, "read", key=acme.tid),  # allowed: not recorded
            ask(customer.email, "delete", key=acme.tid),  # denied by the engine
            ask(outsider.email, "delete", key=acme.tid),  # not even readable
            ask(outsider.email, "read", key=acme.tid),  # a read of the unreadable: as the API
            ask(customer.email, "read", tenant=acme.cid),  # type-level denial
            ask("nobody@example.com", "delete", key=acme.tid),  # no decision to record
        ],
        headers=KEY,
    )
    await app.state.audit.flush()
    events = await AuditEvent.get_pymongo_collection().find({}, {"_id": 0}).to_list()
    summary = sorted(
        (str(e["user"]), e["action"], str(e["company"]), str(e["resource_id"]), e["reason"])
        for e in events
    )
    assert summary == sorted(
        [
            (
                str(customer.id),
                "ticket:delete",
                acme.cid,
                acme.tid,
                f"pdp: role 'customer' in company {acme.cid} lacks ticket:delete",
            ),
            (str(outsider.id), "ticket:delete", "None", acme.tid, "pdp: ticket not readable"),
            (
                str(customer.id),
                "ticket:read",
                acme.cid,
                "None",
                f"pdp: role 'customer' in company {acme.cid} lacks ticket:read",
            ),
        ]
    )
    assert all(e["allowed"] is False and e["resource_type"] == "ticket" for e in events)


# -- the permission graph --------------------------------------------------------------------


async def test_the_graph_of_each_role(client: httpx.AsyncClient, acme: Acme, world: World) -> None:
    """The plans rendered: what holds on every ticket of Acme is said once, by its
    `__tenant` entry; what holds conditionally, ticket by ticket, with the roles that hold
    there."""
    agent, customer = acme.users["agent"], acme.users["customer"]
    agents_own = await world.ticket(acme.company, agent)
    shared = await world.ticket(acme.company, acme.users["admin"])
    secret = await world.ticket(acme.company, acme.users["admin"], confidential=True)
    await world.share(shared, customer)
    tenant_key = f"__tenant:{acme.cid}"
    tenant = {"key": acme.cid, "attributes": {"name": "Acme"}}

    def ticket_entry(tid: object, roles: list[str], permissions: list[str]) -> dict[str, Any]:
        return {
            "tenant": tenant,
            "resource": {"type": "ticket", "key": str(tid), "attributes": {}},
            "roles": roles,
            "permissions": permissions,
        }

    viewer = ["ticket:read", "ticket:reply"]
    assert await graph_of(client, user={"key": customer.email}) == {
        tenant_key: {
            "tenant": tenant,
            "roles": ["customer"],
            "permissions": ["company:read", "ticket:create"],
        },
        # created by her, and open: she may correct it
        f"ticket:{acme.tid}": ticket_entry(
            acme.tid, ["ticket#author", "ticket#viewer"], [*viewer, "ticket:update"]
        ),
        f"ticket:{shared.id}": ticket_entry(shared.id, ["ticket#viewer"], viewer),  # shared
    }
    agent_graph = await graph_of(client, user={"key": str(agent.id)})
    # The agent's role reads the tickets of Acme but the confidential ones not theirs: no
    # `__tenant` entry can say "every ticket", so they come one by one.
    assert "ticket:read" not in agent_graph[tenant_key]["permissions"]
    assert "ticket:create" in agent_graph[tenant_key]["permissions"]
    listed = {key for key in agent_graph if key != tenant_key}
    assert listed == {f"ticket:{t}" for t in (acme.tid, agents_own.id, shared.id)}
    assert f"ticket:{secret.id}" not in agent_graph
    assert all("agent" in agent_graph[key]["roles"] for key in listed)
    assert "ticket#author" in agent_graph[f"ticket:{agents_own.id}"]["roles"]
    admin_graph = await graph_of(client, user={"key": acme.email("admin")})
    assert list(admin_graph) == [tenant_key], "the admin reads every ticket: said once"
    assert await graph_of(client, user={"key": acme.email("outsider")}) == {}
    assert await graph_of(client, user={"key": "nobody@example.com"}) == {}


async def test_the_graph_is_narrowed_as_asked(
    client: httpx.AsyncClient, acme: Acme, world: World
) -> None:
    customer = acme.users["customer"]
    other = await world.company("Other", admin=acme.users["admin"])
    await world.member(other, customer, "customer")
    elsewhere = await world.ticket(other, customer)
    everything = await graph_of(
        client, user={"key": customer.email}, tenants=None, resources=None, resource_types=None
    )
    keys = {
        f"__tenant:{acme.cid}",
        f"__tenant:{other.id}",
        f"ticket:{acme.tid}",
        f"ticket:{elsewhere.id}",
    }
    assert set(everything) == keys

    async def narrowed(**narrowing: Any) -> set[str]:
        return set(await graph_of(client, user={"key": customer.email}, **narrowing))

    assert await narrowed(tenants=[acme.cid]) == {f"__tenant:{acme.cid}", f"ticket:{acme.tid}"}
    assert await narrowed(tenants=["default"]) == set()
    assert await narrowed(resource_types=["__tenant"]) == {
        f"__tenant:{acme.cid}",
        f"__tenant:{other.id}",
    }
    assert await narrowed(resource_types=["Ticket"]) == {
        f"ticket:{acme.tid}",
        f"ticket:{elsewhere.id}",
    }
    assert await narrowed(resources=[f"ticket:{elsewhere.id}", f"__tenant:{acme.cid}"]) == {
        f"ticket:{elsewhere.id}",
        f"__tenant:{acme.cid}",
    }
    assert await narrowed(resources=[f"ticket:{elsewhere.id}"], tenants=[acme.cid]) == set()
    assert await narrowed(resources=[], tenants=None) == set()


async def test_the_derived_listing_is_bounded(
    client: httpx.AsyncClient, acme: Acme, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the bound the answer would be incomplete: refused, saying how to narrow it."""
    monkeypatch.setattr(pdp_service, "MAX_DERIVED_RESOURCES", 2)
    customer = acme.users["customer"]
    more = [await world.ticket(acme.company, customer) for _ in range(2)]
    r = await client.post(
        "/pdp/user-permissions", json={"user": {"key": customer.email}}, headers=KEY
    )
    assert r.status_code == 422
    assert r.json()["code"] == "invalid"
    assert "on more than 2 ticket resources: narrow the question" in r.json()["detail"]
    wanted = [f"ticket:{t.id}" for t in more]
    assert set(await graph_of(client, user={"key": customer.email}, resources=wanted)) == set(
        wanted
    )


async def test_shares_are_listed_up_to_the_bound_too(
    client: httpx.AsyncClient, acme: Acme, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tickets shared with a user are entries of the Permit graph, read from the tickets
    that name them; past the bound the answer is refused, and `resources` narrows it."""
    monkeypatch.setattr(pdp_service, "MAX_DERIVED_RESOURCES", 2)
    customer = acme.users["customer"]
    shared = [await world.ticket(acme.company, acme.users["admin"]) for _ in range(3)]
    for ticket in shared:
        await world.share(ticket, customer)
    r = await client.post(
        "/pdp/user-permissions", json={"user": {"key": customer.email}}, headers=KEY
    )
    assert r.status_code == 422
    assert "ticket#viewer on more than 2 ticket resources" in r.json()["detail"]
    wanted = [f"ticket:{t.id}" for t in shared[:2]]
    graph = await graph_of(client, user={"key": customer.email}, resources=wanted)
    assert set(graph) == set(wanted)
    assert all(entry["roles"] == ["ticket#viewer"] for entry in graph.values())
