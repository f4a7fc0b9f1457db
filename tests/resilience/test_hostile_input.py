"""Hostile input: operator injection, malformed ids, oversized and malformed bodies, bad pages.

The API builds MongoDB queries from request data, so the classic attack is to send an
operator where a string is expected (`{"email": {"$ne": null}}`, `status[$ne]=x`) and hope it
reaches the query. Every such request must be refused (422) or answered as if the operator
were plain text, and above all must never widen what the caller receives: the customer here
may see exactly one ticket, and no request of hers returns more.
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from models import Company, Invitation, Membership, Ticket, User
from tests.utils.factories import PASSWORD, World

ZERO_ID = "0" * 24
# Ids a path parameter may receive; none is a 24-hex string, so none can name a resource.
MALFORMED_PATH_IDS = [
    "xyz",
    "g" * 24,
    "0" * 23,
    "0" * 25,
    "abcdefghijkl",  # 12 characters: a valid ObjectId as *bytes*, never as text
    "%24ne",
    "%7B%22%24ne%22%3Anull%7D",  # {"$ne":null}
    "null",
    "..%2F..%2Fadmin",
]
# Values an id field of a body or query may receive; each must be refused with 422.
MALFORMED_BODY_IDS: list[Any] = [
    "xyz",
    "g" * 24,
    "0" * 23,
    "0" * 25,
    "ABCDEF0123456789ABCDEF01",  # upper case is not the canonical form the API hands out
    {"$ne": None},
    {"$gt": ""},
    ["0" * 24],
    24,
    None,
]
OPERATORS: list[Any] = [{"$ne": None}, {"$gt": ""}, {"$regex": ".*"}, {"$in": ["a"]}, ["x"], 1]


@dataclass
class Tenants:
    """Acme (admin Sara, agent Mark, customer Lisa) and Globex, with tickets in both."""

    acme: Company
    globex: Company
    sara: User
    mark: User
    lisa: User
    lisa_ticket: Ticket
    sara_ticket: Ticket
    globex_tickets: list[Ticket]

    def url(self, template: str) -> str:
        """A path with `{cid}`/`{tid}`/`{uid}` filled with real ids."""
        return template.format(cid=self.acme.id, tid=self.lisa_ticket.id, uid=self.mark.id)


@pytest.fixture
async def tenants(world: World) -> Tenants:
    sara, mark, lisa, john = [await world.user(n) for n in ("sara", "mark", "lisa", "john")]
    acme = await world.company("Acme", admin=sara)
    await world.member(acme, mark, "agent")
    await world.member(acme, lisa, "customer")
    globex = await world.company("Globex", admin=john)
    lisa_ticket = await world.ticket(acme, lisa, subject="Printer .* on fire")
    sara_ticket = await world.ticket(acme, sara, subject="Internal: rotate keys")
    globex_tickets = [await world.ticket(globex, john) for _ in range(3)]
    return Tenants(acme, globex, sara, mark, lisa, lisa_ticket, sara_ticket, globex_tickets)


async def ticket_ids(client: httpx.AsyncClient, headers: dict[str, str], query: str) -> set[str]:
    r = await client.get(f"/tickets?{query}", headers=headers)
    assert r.status_code == 200, (query, r.text)
    return {t["id"] for t in r.json()["items"]}


# -- operator injection ----------------------------------------------------------------------


@pytest.mark.parametrize("value", OPERATORS, ids=json.dumps)
async def test_operator_in_login_is_refused(
    client: httpx.AsyncClient, tenants: Tenants, value: Any
) -> None:
    for body in (
        {"email": value, "password": PASSWORD},
        {"email": tenants.lisa.email, "password": value},
        {"email": value, "password": value},
    ):
        r = await client.post("/auth/login", json=body)
        assert r.status_code == 422, (body, r.text)
        assert "access_token" not in r.text


async def test_operator_in_oauth_form_is_refused(
    client: httpx.AsyncClient, tenants: Tenants
) -> None:
    for data in (
        {"username[$ne]": "x", "password": PASSWORD},
        {"username": '{"$ne": null}', "password": PASSWORD},
        {"username": tenants.lisa.email, "password[$ne]": "x"},
    ):
        r = await client.post("/auth/token", data=data)
        assert r.status_code == 422, (data, r.text)


@pytest.mark.parametrize("value", OPERATORS, ids=json.dumps)
async def test_operator_in_register_is_refused(client: httpx.AsyncClient, value: Any) -> None:
    good = {"username": "mallory", "email": "mallory@evil.example", "password": "long-enough-1"}
    for field in good:
        r = await client.post("/auth/register", json=good | {field: value})
        assert r.status_code == 422, (field, r.text)
    assert await User.find(User.username == "mallory").count() == 0


@pytest.mark.parametrize("value", OPERATORS, ids=json.dumps)
async def test_operator_in_write_bodies_is_refused(
    client: httpx.AsyncClient, world: World, tenants: Tenants, value: Any
) -> None:
    """Each write, with an operator in place of each string: 422, and nothing changes."""
    sara = world.auth(tenants.sara)
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/companies", {"name": value}),
        ("PATCH", "/companies/{cid}", {"name": value}),
        ("POST", "/companies/{cid}/members", {"email": value, "role": "customer"}),
        ("POST", "/companies/{cid}/members", {"user_id": value, "role": "customer"}),
        ("POST", "/companies/{cid}/members", {"email": "x@y.example", "role": value}),
        ("PATCH", "/companies/{cid}/members/{uid}", {"role": value}),
        ("POST", "/tickets", {"company_id": value, "subject": "s", "description": "d"}),
        (
            "POST",
            "/tickets",
            {"company_id": str(tenants.acme.id), "subject": value, "description": "d"},
        ),
        ("PATCH", "/tickets/{tid}", {"status": value}),
        ("PATCH", "/tickets/{tid}", {"assigned_to": value}),
        ("PATCH", "/tickets/{tid}", {"subject": value}),
        ("POST", "/tickets/{tid}/replies", {"body": value}),
        ("POST", "/tickets/{tid}/viewers", {"user_id": value}),
        (
            "POST",
            "/authz/check",
            {"checks": [{"action": "read", "resource_type": "ticket", "resource_id": value}]},
        ),
        ("POST", "/authz/check", {"checks": [{"action": value, "resource_type": "ticket"}]}),
    ]
    before = await _snapshot()
    for method, path, body in cases:
        r = await client.request(method, tenants.url(path), json=body, headers=sara)
        assert r.status_code == 422, (method, path, body, r.text)
    assert await _snapshot() == before


async def test_operator_keys_in_bodies_are_unknown_fields(
    client: httpx.AsyncClient, world: World, tenants: Tenants
) -> None:
    """`$set`, `$where` and friends as keys are unknown fields, never an update document."""
    sara = world.auth(tenants.sara)
    before = await _snapshot()
    for body in (
        {"$set": {"company": str(tenants.globex.id)}},
        {"status": "resolved", "$where": "sleep(1000)"},
        {"status": "resolved", "company": str(tenants.globex.id)},
        {"status": "resolved", "replies.0.internal": False},
    ):
        r = await client.patch(tenants.url("/tickets/{tid}"), json=body, headers=sara)
        assert r.status_code == 422, (body, r.text)
    assert await _snapshot() == before


async def test_operator_text_is_stored_as_text(
    client: httpx.AsyncClient, world: World, tenants: Tenants
) -> None:
    """A string that looks like an operator is data: stored and returned verbatim."""
    for name in ("$where", '{"$ne": null}', "a.b.$[]"):
        r = await client.post("/companies", json={"name": name}, headers=world.auth(tenants.lisa))
        assert r.status_code == 201 and r.json()["name"] == name


@pytest.mark.parametrize(
    "query",
    [
        "status[$ne]=resolved",
        "status[$ne]=",
        "company_id[$ne]={globex}",
        "company_id[$exists]=true",
        "created_by[$ne]=x",
        "assigned_to[$ne]=x",
        "$where=1",
        "q=.*",
        "q=^",
        "q=(",
        'q={"$gt":""}',
        'q={"$regex":".*"}',
        "q=%00",
        "q=\\",
        "q=$ne",
        "q=a|.*|b",
        "limit[$gt]=0",
        "cursor[$gt]=",
    ],
)
async def test_query_string_injection_never_widens_a_list(
    client: httpx.AsyncClient, world: World, tenants: Tenants, query: str
) -> None:
    query = query.replace("{globex}", str(tenants.globex.id))
    lisa, sara = world.auth(tenants.lisa), world.auth(tenants.sara)
    own = {str(tenants.lisa_ticket.id)}
    assert await ticket_ids(client, lisa, "") == own
    assert await ticket_ids(client, lisa, query) <= own
    acme = {str(tenants.lisa_ticket.id), str(tenants.sara_ticket.id)}
    assert await ticket_ids(client, sara, query) <= acme


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ('company_id={"$ne":null}', "company_id"),
        ("status=open&status[$ne]=x&status=bogus", "status"),
        ('assigned_to={"$ne":null}', "assigned_to"),
        ("status=open,resolved", "status"),
        ("q=", "q"),
    ],
)
async def test_malformed_filters_are_422(
    client: httpx.AsyncClient, world: World, tenants: Tenants, query: str, parameter: str
) -> None:
    r = await client.get(f"/tickets?{query}", headers=world.auth(tenants.lisa))
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == [["query", parameter]]


async def test_an_unknown_parameter_filters_nothing_and_reaches_nothing(
    client: httpx.AsyncClient, world: World, tenants: Tenants
) -> None:
    # `company_id[]` is no parameter of the list (PHP's array syntax): ignored, as any
    # unknown one, so the answer is Lisa's list unfiltered, never Globex's tickets.
    lisa = world.auth(tenants.lisa)
    query = f"company_id[]={tenants.globex.id}"
    assert await ticket_ids(client, lisa, query) == await ticket_ids(client, lisa, "")
    assert await ticket_ids(client, lisa, query) == {str(tenants.lisa_ticket.id)}


async def test_regex_metacharacters_match_literally(
    client: httpx.AsyncClient, world: World, tenants: Tenants
) -> None:
    sara = world.auth(tenants.sara)
    assert await ticket_ids(client, sara, "q=.*") == {str(tenants.lisa_ticket.id)}
    assert await ticket_ids(client, sara, "q=PRINTER%20.%2A") == {str(tenants.lisa_ticket.id)}
    assert await ticket_ids(client, sara, "q=Print.r") == set()


async def test_permissions_filter_ignores_operators(
    client: httpx.AsyncClient, world: World, tenants: Tenants
) -> None:
    lisa = world.auth(tenants.lisa)
    r = await client.get(f"/me/permissions?company_id[$ne]={tenants.acme.id}", headers=lisa)
    assert r.status_code == 200
    assert set(r.json()["companies"]) == {str(tenants.acme.id)}
    r = await client.get('/me/permissions?company_id={"$ne":null}', headers=lisa)
    assert r.status_code == 422


# -- malformed ids -----------------------------------------------------------------------------


PATH_ROUTES = [
    ("GET", "/companies/{x}"),
    ("PATCH", "/companies/{x}"),
    ("DELETE", "/companies/{x}"),
    ("GET", "/companies/{x}/audit"),
    ("GET", "/companies/{x}/members"),
    ("POST", "/companies/{x}/members"),
    ("PATCH", "/companies/{cid}/members/{x}"),
    ("DELETE", "/companies/{cid}/members/{x}"),
    ("GET", "/companies/{x}/invitations"),
    ("POST", "/companies/{x}/invitations"),
    ("DELETE", "/companies/{cid}/invitations/{x}"),
    ("GET", "/tickets/{x}"),
    ("PATCH", "/tickets/{x}"),
    ("DELETE", "/tickets/{x}"),
    ("POST", "/tickets/{x}/replies"),
    ("POST", "/tickets/{x}/viewers"),
    ("DELETE", "/tickets/{tid}/viewers/{x}"),
]
VALID_BODIES = {
    "/companies/{x}": {"name": "New name"},
    "/companies/{x}/members": {"email": "lisa@example.com", "role": "customer"},
    "/companies/{cid}/members/{x}": {"role": "agent"},
    "/companies/{x}/invitations": {"email": "nina@example.com", "role": "agent"},
    "/tickets/{x}": {"status": "resolved"},
    "/tickets/{x}/replies": {"body": "hello"},
    "/tickets/{x}/viewers": {"user_id": ZERO_ID},
}


@pytest.mark.parametrize(("method", "template"), PATH_ROUTES, ids=lambda v: str(v))
async def test_malformed_path_ids_are_404(
    client: httpx.AsyncClient, world: World, tenants: Tenants, method: str, template: str
) -> None:
    sara = world.auth(tenants.sara)
    body = VALID_BODIES.get(template) if method in ("POST", "PATCH") else None
    before = await _snapshot()
    for bad in MALFORMED_PATH_IDS:
        path = template.format(x=bad, cid=tenants.acme.id, tid=tenants.lisa_ticket.id)
        r = await client.request(method, path, json=body, headers=sara)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        # The API's own 404, or the router's when a decoded `/` leaves no route to match.
        assert r.json().get("code", "not_found") == "not_found"
    assert await _snapshot() == before


@pytest.mark.parametrize("bad", MALFORMED_BODY_IDS, ids=json.dumps)
async def test_malformed_body_and_query_ids_are_422(
    client: httpx.AsyncClient, world: World, tenants: Tenants, bad: Any
) -> None:
    sara = world.auth(tenants.sara)
    for method, path, body in [
        ("POST", "/tickets", {"company_id": bad, "subject": "s", "description": "d"}),
        ("PATCH", "/tickets/{tid}", {"assigned_to": bad}),
        ("POST", "/tickets/{tid}/viewers", {"user_id": bad}),
        ("POST", "/companies/{cid}/members", {"user_id": bad, "role": "agent"}),
        (
            "POST",
            "/authz/check",
            {"checks": [{"action": "read", "resource_type": "ticket", "resource_id": bad}]},
        ),
        (
            "POST",
            "/authz/check",
            {"checks": [{"action": "read", "resource_type": "company", "company_id": bad}]},
        ),
    ]:
        if bad is None and path != "/tickets" and path != "/tickets/{tid}/viewers":
            continue  # null means "unassign" or "not given" there
        r = await client.request(method, tenants.url(path), json=body, headers=sara)
        assert r.status_code == 422, (method, path, body, r.text)
    if isinstance(bad, str):
        # An upper-case cursor still names an ObjectId, so only the filters refuse it.
        params = ("company_id", "assigned_to") + (("cursor",) if not bad.isupper() else ())
        for param in params:
            r = await client.get("/tickets", params={param: bad}, headers=sara)
            assert r.status_code == 422, (param, bad, r.text)
        r = await client.get("/me/permissions", params={"company_id": bad}, headers=sara)
        assert r.status_code == 422


# -- sizes -------------------------------------------------------------------------------------


async def test_oversized_body_is_413_by_content_length(
    client: httpx.AsyncClient, app: FastAPI, world: World, tenants: Tenants
) -> None:
    limit = app.state.settings.max_body_bytes
    body = json.dumps({"body": "x" * limit}).encode()
    r = await client.post(
        tenants.url("/tickets/{tid}/replies"),
        content=body,
        headers=world.auth(tenants.sara) | {"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_oversized_body_is_413_when_streamed(
    client: httpx.AsyncClient, app: FastAPI, world: World, tenants: Tenants
) -> None:
    """No Content-Length (chunked): the limit is enforced while reading, still as 413."""
    limit = app.state.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"body": "'
        for _ in range(limit // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    before = await _snapshot()
    r = await client.post(
        tenants.url("/tickets/{tid}/replies"),
        content=chunks(),
        headers=world.auth(tenants.sara) | {"content-type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "payload_too_large"
    assert await _snapshot() == before


@pytest.mark.parametrize("length", ["-1", "abc", "1e9", "99999999999999999999"])
async def test_lying_content_length_is_413(client: httpx.AsyncClient, length: str) -> None:
    r = await client.post(
        "/auth/login",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": length},
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("method", "path", "field", "bound", "base"),
    [
        (
            "POST",
            "/auth/register",
            "username",
            40,
            {"email": "a@b.example", "password": "long-enough-1"},
        ),
        ("POST", "/auth/register", "password", 256, {"username": "abc", "email": "a@b.example"}),
        ("POST", "/auth/login", "password", 256, {"email": "a@b.example"}),
        ("POST", "/companies", "name", 120, {}),
        ("PATCH", "/companies/{cid}", "name", 120, {}),
        ("POST", "/tickets", "subject", 200, {"description": "d"}),
        ("POST", "/tickets", "description", 10_000, {"subject": "s"}),
        ("PATCH", "/tickets/{tid}", "subject", 200, {}),
        ("PATCH", "/tickets/{tid}", "description", 10_000, {}),
        ("POST", "/tickets/{tid}/replies", "body", 10_000, {}),
    ],
)
async def test_strings_past_their_bound_are_422(
    client: httpx.AsyncClient,
    world: World,
    tenants: Tenants,
    method: str,
    path: str,
    field: str,
    bound: int,
    base: dict[str, Any],
) -> None:
    headers = world.auth(tenants.sara)
    if path == "/tickets":
        base = base | {"company_id": str(tenants.acme.id)}
    url = tenants.url(path)
    r = await client.request(method, url, json=base | {field: "a" * (bound + 1)}, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", field]
    r = await client.request(method, url, json=base | {field: "a" * bound}, headers=headers)
    assert r.status_code != 422 or r.json()["errors"][0]["loc"] != ["body", field], r.text


async def test_long_email_and_lists_are_422(
    client: httpx.AsyncClient, world: World, tenants: Tenants
) -> None:
    sara = world.auth(tenants.sara)
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".example"
    r = await client.post(
        "/auth/register", json={"username": "abc", "email": email, "password": "long-enough-1"}
    )
    assert r.status_code == 422
    check = {"action": "read", "resource_type": "company", "company_id": str(tenants.acme.id)}
    assert (
        await client.post("/authz/check", json={"checks": [check] * 100}, headers=sara)
    ).status_code == 200
    assert (
        await client.post("/authz/check", json={"checks": [check] * 101}, headers=sara)
    ).status_code == 422
    assert (await client.post("/authz/check", json={"checks": []}, headers=sara)).status_code == 422
    long_action = check | {"action": "a" * 41}
    assert (
        await client.post("/authz/check", json={"checks": [long_action]}, headers=sara)
    ).status_code == 422
    assert (await client.get("/tickets", params={"q": "a" * 101}, headers=sara)).status_code == 422


def _unbounded(schema: dict[str, Any], defs: dict[str, Any], where: str) -> list[str]:
    """Every string without a length bound or enum, every array without maxItems."""
    if "$ref" in schema:
        return _unbounded(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, where)
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found += _unbounded(sub, defs, where)
    kind = schema.get("type")
    if (
        kind == "string"
        and "maxLength" not in schema
        and "enum" not in schema
        and "const" not in schema
        and schema.get("format") not in ("date-time",)
    ):
        found.append(where)
    if kind == "array":
        if "maxItems" not in schema:
            found.append(where)
        found += _unbounded(schema.get("items", {}), defs, f"{where}[]")
    for name, sub in schema.get("properties", {}).items():
        found += _unbounded(sub, defs, f"{where}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _unbounded(schema["additionalProperties"], defs, f"{where}{{}}")
    return found


def test_every_request_string_and_list_is_bounded(app: FastAPI) -> None:
    """Read from the published contract, so a new field without a bound fails here."""
    spec = app.openapi()
    defs = spec["components"]["schemas"]
    unbounded: list[str] = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                if param["in"] != "path":  # path ids: anything malformed is a plain 404
                    unbounded += _unbounded(param["schema"], defs, f"{where} ?{param['name']}")
            for media in op.get("requestBody", {}).get("content", {}).values():
                unbounded += _unbounded(media["schema"], defs, f"{where} body")
    assert unbounded == []


# -- types and syntax --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"name": ',
        b'{"name": "x",}',
        b"[]",
        b'"a string"',
        b"null",
        b"42",
        b'{"name": NaN}',
        b'{"name": 12}',
        b'{"name": true}',
        b'{"name": ["Acme"]}',
        b'{"name": "a\\ud800"}',
    ],
)
async def test_wrong_types_and_broken_json_are_422(
    client: httpx.AsyncClient, world: World, tenants: Tenants, raw: bytes
) -> None:
    r = await client.post(
        "/companies",
        content=raw,
        headers=world.auth(tenants.lisa) | {"content-type": "application/json"},
    )
    assert r.status_code == 422, (raw, r.text)
    body = r.json()
    assert body["code"] == "invalid" and isinstance(body["detail"], str), body
    assert body["errors"] and all(set(e) == {"loc", "msg", "type"} for e in body["errors"])


@pytest.mark.parametrize(
    "raw", [b"\xff\xfe{}", b'{"name": "\xff"}', b"[" * 50_000, b'{"a":' * 10_000 + b"1"]
)
async def test_undecodable_or_too_deep_json_is_400(
    client: httpx.AsyncClient, world: World, tenants: Tenants, raw: bytes
) -> None:
    r = await client.post(
        "/companies",
        content=raw,
        headers=world.auth(tenants.lisa) | {"content-type": "application/json"},
    )
    assert r.status_code in (400, 422), (raw[:20], r.text)
    assert "Traceback" not in r.text


async def test_json_sent_as_another_media_type_is_422(
    client: httpx.AsyncClient, world: World, tenants: Tenants
) -> None:
    for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = world.auth(tenants.lisa) | ({"content-type": ctype} if ctype else {})
        r = await client.post("/companies", content=b'{"name": "Acme"}', headers=headers)
        assert r.status_code == 422, (ctype, r.text)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", "critical"),
        ("priority", 1),
        ("status", "open"),
        ("subject", 7),
        ("company_id", 12345),
        ("description", {"text": "x"}),
    ],
)
async def test_wrong_field_types_are_422(
    client: httpx.AsyncClient, world: World, tenants: Tenants, field: str, value: Any
) -> None:
    body = {"company_id": str(tenants.acme.id), "subject": "s", "description": "d"}
    r = await client.post("/tickets", json=body | {field: value}, headers=world.auth(tenants.lisa))
    assert r.status_code == 422, r.text


async def test_validation_errors_never_echo_the_input(client: httpx.AsyncClient) -> None:
    """A missing username must not bounce the password back (FastAPI's default would)."""
    secret = "never-echo-this-password"
    for body in (
        {"email": "a@b.example", "password": secret},
        {"username": "ab", "email": "a@b.example", "password": secret},
        {"username": "abc", "email": "a@b.example", "password": secret, "x": secret},
    ):
        r = await client.post("/auth/register", json=body)
        assert r.status_code == 422
        assert secret not in r.text
        assert all(set(err) == {"loc", "msg", "type"} for err in r.json()["errors"])


# -- pagination --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=99999999999999999999999",
        "limit=1e3",
        "limit=1.5",
        "limit=abc",
        "limit=",
        "cursor=abc",
        "cursor=" + "0" * 23,
        "cursor=" + "0" * 25,
        "cursor=" + "g" * 24,
        'cursor={"$gt":""}',
        "cursor=%00",
    ],
)
async def test_bad_pages_are_422(
    client: httpx.AsyncClient, world: World, tenants: Tenants, query: str
) -> None:
    sara = world.auth(tenants.sara)
    for path in ("/tickets", tenants.url("/companies/{cid}/audit")):
        r = await client.get(f"{path}?{query}", headers=sara)
        assert r.status_code == 422, (path, query, r.text)


async def test_page_bounds_and_foreign_cursor(
    client: httpx.AsyncClient, world: World, tenants: Tenants
) -> None:
    """Limits 1 and 200 work; a cursor that names another tenant's ticket leaks nothing."""
    lisa = world.auth(tenants.lisa)
    for limit in (1, 200):
        r = await client.get(f"/tickets?limit={limit}", headers=lisa)
        assert r.status_code == 200
        assert len(r.json()["items"]) == 1
    foreign = max(str(t.id) for t in tenants.globex_tickets)
    r = await client.get(f"/tickets?cursor={foreign}", headers=lisa)
    assert r.status_code == 200
    assert {t["id"] for t in r.json()["items"]} <= {str(tenants.lisa_ticket.id)}
    r = await client.get(f"/tickets?cursor={ZERO_ID}", headers=lisa)
    assert r.status_code == 200 and r.json()["items"] == []


async def _snapshot() -> tuple[int, int, int, int, int, list[tuple[str, str, str]]]:
    """Counts of the tenant collections and every ticket's mutable fields."""
    tickets = (
        await Ticket.get_pymongo_collection()
        .find({}, {"status": 1, "subject": 1, "assigned_to": 1, "replies": 1})
        .to_list()
    )
    return (
        await Company.count(),
        await Membership.count(),
        await User.count(),
        await Ticket.count(),
        await Invitation.count(),
        sorted((str(t["_id"]), t["status"], str(t.get("assigned_to"))) for t in tickets),
    )
