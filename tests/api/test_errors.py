"""One error shape: every error, whoever raises it, is `{"detail": str, "code": str, ...}`.

The domain's errors, FastAPI's validation (422) and parsing (400) errors, Starlette's
routing errors (404, 405) and the body limit (413) are each provoked for real and held to
the schema the OpenAPI document publishes; a 422 also lists its invalid fields.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.schemas import ErrorOut, ValidationErrorOut
from models import Company, Ticket, User
from tests.utils.factories import World

ZERO_ID = "0" * 24


def shaped(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The body of `r`, checked against the published error schema and the expected code."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json", r.headers
    body: dict[str, Any] = r.json()
    model = ValidationErrorOut if status == 422 else ErrorOut
    model.model_validate(body)
    assert body["code"] == code, body
    assert body["detail"].strip(), body
    if status == 422:
        assert body["errors"], body
        assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"]), body
    else:
        assert "errors" not in body, body
    return body


@pytest.fixture
async def acme(world: World) -> tuple[Company, User, User, Ticket]:
    """Acme with admin Sara, customer Lisa and Lisa's ticket."""
    sara, lisa = await world.user("sara"), await world.user("lisa")
    company = await world.company("Acme", admin=sara)
    await world.member(company, lisa, "customer")
    return company, sara, lisa, await world.ticket(company, lisa)


async def test_framework_404_and_405(client: httpx.AsyncClient) -> None:
    body = shaped(await client.get("/no/such/route"), 404, "not_found")
    assert "/no/such/route" in body["detail"] and "/docs" in body["detail"]
    r = await client.delete("/healthz")
    body = shaped(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET"
    assert body["detail"] == "DELETE is not allowed on /healthz; use GET"
    # GET and POST /tickets are two routes; the answer names both.
    r = await client.put("/tickets")
    body = shaped(r, 405, "method_not_allowed")
    assert r.headers.get_list("allow") == ["GET, POST"]
    assert body["detail"] == "PUT is not allowed on /tickets; use GET, POST"


async def test_domain_404_401_403_409(
    client: httpx.AsyncClient, world: World, acme: tuple[Company, User, User, Ticket]
) -> None:
    company, sara, lisa, ticket = acme
    shaped(await client.get(f"/tickets/{ZERO_ID}", headers=world.auth(lisa)), 404, "not_found")
    shaped(await client.get("/tickets/not-an-id", headers=world.auth(lisa)), 404, "not_found")
    r = await client.get("/tickets")
    shaped(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    body = shaped(
        await client.delete(f"/tickets/{ticket.id}", headers=world.auth(lisa)), 403, "forbidden"
    )
    assert body["permission"] == "ticket:delete"
    r = await client.post(
        f"/companies/{company.id}/members",
        json={"user_id": str(lisa.id), "role": "agent"},
        headers=world.auth(sara),
    )
    shaped(r, 409, "conflict")


async def test_pydantic_422_lists_every_field(
    client: httpx.AsyncClient, world: World, acme: tuple[Company, User, User, Ticket]
) -> None:
    r = await client.post("/auth/register", json={"username": "x", "email": "nope"})
    body = shaped(r, 422, "invalid")
    assert {tuple(e["loc"]) for e in body["errors"]} == {
        ("body", "username"),
        ("body", "email"),
        ("body", "password"),
    }
    assert body["detail"].startswith("body.username: ")
    assert body["detail"].endswith("(and 2 more invalid fields)")
    r = await client.get("/tickets", params={"limit": 0}, headers=world.auth(acme[2]))
    body = shaped(r, 422, "invalid")
    assert body["errors"][0]["loc"] == ["query", "limit"]
    r = await client.post("/auth/token", data={"password": "x"})
    assert shaped(r, 422, "invalid")["errors"][0]["loc"] == ["body", "username"]


async def test_the_apps_own_422_has_the_same_shape(
    client: httpx.AsyncClient, world: World, acme: tuple[Company, User, User, Ticket]
) -> None:
    company, sara, lisa, ticket = acme
    r = await client.patch(
        f"/tickets/{ticket.id}", json={"assigned_to": str(lisa.id)}, headers=world.auth(sara)
    )
    body = shaped(r, 422, "invalid")
    assert body["errors"] == [
        {"loc": ["body", "assigned_to"], "msg": body["detail"], "type": "invalid"}
    ]
    r = await client.get("/tickets", params={"cursor": "zz"}, headers=world.auth(lisa))
    assert shaped(r, 422, "invalid")["errors"][0]["loc"] == ["query", "cursor"]
    r = await client.post(
        f"/companies/{company.id}/members", json={"role": "agent"}, headers=world.auth(sara)
    )
    assert shaped(r, 422, "invalid")["errors"][0]["loc"] == ["body"]


async def test_400_and_413(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    headers = world.auth(await world.user()) | {"content-type": "application/json"}
    shaped(
        await client.post("/companies", content=b"[" * 50_000, headers=headers), 400, "bad_request"
    )
    limit = app.state.settings.max_body_bytes
    big = b'{"name": "' + b"a" * limit + b'"}'
    body = shaped(
        await client.post("/companies", content=big, headers=headers), 413, "payload_too_large"
    )
    assert str(limit) in body["detail"]

    async def chunks() -> AsyncIterator[bytes]:
        yield big[: limit // 2]
        yield big[limit // 2 :]

    r = await client.post("/companies", content=chunks(), headers=headers)
    assert shaped(r, 413, "payload_too_large") == body
    # Serialised as compactly as every other error, though a middleware sends it.
    assert r.content == json.dumps(body, separators=(",", ":")).encode()


async def test_429(client: httpx.AsyncClient, app: FastAPI) -> None:
    attempts = app.state.settings.login_max_failures
    creds = {"email": "nobody@example.com", "password": "wrong-password"}
    for _ in range(attempts):
        shaped(await client.post("/auth/login", json=creds), 401, "unauthorized")
    r = await client.post("/auth/login", json=creds)
    body = shaped(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) == body["retry_after"] > 0


def test_openapi_documents_one_error_shape(app: FastAPI) -> None:
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["ErrorOut"]["required"]) == {"detail", "code"}
    assert set(schemas["ValidationErrorOut"]["required"]) == {"detail", "code", "errors"}
    seen = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if not status.startswith(("4", "5")) or (path, status) == ("/readyz", "503"):
                    continue
                ref = response["content"]["application/json"]["schema"]["$ref"]
                expected = "ValidationErrorOut" if status == "422" else "ErrorOut"
                assert ref == f"#/components/schemas/{expected}", (method, path, status)
                seen.add(status)
    assert seen >= {"400", "401", "403", "404", "409", "413", "422", "429", "503"}


async def test_what_the_document_refuses_is_a_clear_422(
    client: httpx.AsyncClient, world: World, acme: tuple[Company, User, User, Ticket]
) -> None:
    """Each refusal the OpenAPI document now describes, as the API answers it: one shape,
    a field to look at, and a sentence that says what to send instead."""
    company, sara, lisa, ticket = acme
    admin, customer = world.auth(sara), world.auth(lisa)

    async def refused(method: str, url: str, auth: dict[str, str], **kw: Any) -> dict[str, Any]:
        body = shaped(await client.request(method, url, headers=auth, **kw), 422, "invalid")
        (error,) = body["errors"]
        assert body["detail"].endswith(error["msg"])
        return dict(error)

    # A cursor is a page's next_cursor: 24 hex digits, in either case.
    for url in ("/tickets", f"/companies/{company.id}/audit"):
        error = await refused("GET", url, admin, params={"cursor": "g" * 24})
        assert error == {
            "loc": ["query", "cursor"],
            "msg": "cursor must be the next_cursor of a previous page",
            "type": "invalid",
        }
        r = await client.get(url, params={"cursor": "F" * 24}, headers=admin)
        assert r.status_code == 200, r.text
    # Exactly one of email or user_id, refused before anything is looked up.
    members = f"/companies/{company.id}/members"
    for body in (
        {"role": "agent"},
        {"email": lisa.email, "user_id": str(lisa.id), "role": "agent"},
    ):
        for auth in (admin, customer):
            error = await refused("POST", members, auth, json=body)
            assert error == {
                "loc": ["body"],
                "msg": "give exactly one of email or user_id",
                "type": "invalid",
            }
    # A level the new role does not allow.
    error = await refused(
        "PATCH", f"{members}/{lisa.id}", admin, json={"role": "admin", "ticket_access": "groups"}
    )
    assert error["loc"] == ["body", "ticket_access"]
    assert error["msg"].startswith("ticket_access 'groups' is not available to role 'admin'")
    # A PATCH names a field, and leaves out what it does not change.
    tickets = f"/tickets/{ticket.id}"
    error = await refused("PATCH", tickets, admin, json={})
    assert error == {"loc": ["body"], "msg": "name at least one field to change", "type": "invalid"}
    error = await refused("PATCH", tickets, admin, json={"status": None})
    assert error["loc"] == ["body", "status"] and error["msg"] == "may be left out, but not null"
    # Booleans are true or false.
    for internal in (0, 1, "true", "false", None):
        error = await refused(
            "POST", f"{tickets}/replies", admin, json={"body": "hi", "internal": internal}
        )
        assert error["loc"] == ["body", "internal"], internal
    error = await refused("PATCH", tickets, admin, json={"confidential": 1})
    assert error["loc"] == ["body", "confidential"]
    r = await client.post(
        f"{tickets}/replies", json={"body": "hi", "internal": True}, headers=admin
    )
    assert r.status_code == 201 and r.json()["internal"] is True
    # A permission is a name like ticket:delete.
    for check in ({"permission": "ab"}, {}, {"permission": "ticket:read", "action": "read"}):
        error = await refused("POST", "/authz/check", admin, json={"checks": [check]})
        assert error["loc"][:3] == ["body", "checks", 0], check
