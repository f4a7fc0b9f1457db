"""OpenAPI quality: what /docs shows a newcomer is complete."""

import json
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.deps import CursorIn
from app.schemas import (
    CheckIn,
    CompanyIn,
    MemberIn,
    MemberUpdate,
    RegisterIn,
    ReplyIn,
    TicketIn,
    TicketUpdate,
)

PUBLIC = {
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/auth/register", "post"),
    ("/auth/login", "post"),
    ("/auth/token", "post"),
}


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
    ]


def test_every_operation_is_documented(app: FastAPI) -> None:
    ops = operations(app)
    assert len(ops) >= 25
    for path, method, op in ops:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), f"{where} has no summary"
        assert op.get("tags"), f"{where} has no tag"
        success = [s for s in op["responses"] if s.startswith("2")]
        assert success, f"{where} documents no success response"
        if (path, method) not in PUBLIC:
            assert "401" in op["responses"], f"{where} does not document 401"
        if "{" in path:
            assert "404" in op["responses"], f"{where} does not document 404"
        if "requestBody" in op:
            assert "422" in op["responses"], f"{where} does not document 422"


def test_request_bodies_have_examples(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    for path, method, op in operations(app):
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert schemas[ref].get("examples"), f"{method.upper()} {path} body has no example"


def test_authorize_button_uses_the_token_endpoint(app: FastAPI) -> None:
    scheme = app.openapi()["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"


# -- the document says what the validators accept -------------------------------------------

ID = "65f000000000000000000003"
EMAIL = "david@globex.example"
# (request model, body, whether it is valid): the published schema and the model agree.
BODIES: list[tuple[type[BaseModel], dict[str, Any], bool]] = [
    # Exactly one of email or user_id (null counts as left out).
    (MemberIn, {"email": EMAIL, "role": "agent"}, True),
    (MemberIn, {"user_id": ID, "role": "agent"}, True),
    (MemberIn, {"email": EMAIL, "user_id": None, "role": "agent"}, True),
    (MemberIn, {"role": "agent"}, False),
    (MemberIn, {"email": None, "user_id": None, "role": "agent"}, False),
    (MemberIn, {"email": EMAIL, "user_id": ID, "role": "agent"}, False),
    # email-validator refuses special-use domains, and the document says so.
    (MemberIn, {"email": "david@globex.test", "role": "agent"}, False),
    (MemberIn, {"email": "david@LOCALHOST", "role": "agent"}, False),
    # A permission, or an action and a resource type.
    (CheckIn, {"permission": "ticket:delete"}, True),
    (CheckIn, {"action": "delete", "resource_type": "ticket"}, True),
    (CheckIn, {"permission": "ticket:delete", "action": None, "resource_type": None}, True),
    (CheckIn, {}, False),
    (CheckIn, {"action": "delete"}, False),
    (
        CheckIn,
        {"permission": "ticket:delete", "action": "delete", "resource_type": "ticket"},
        False,
    ),
    (CheckIn, {"permission": "ab"}, False),
    (CheckIn, {"permission": "ticket"}, False),
    # A PATCH names something (a ticket's, see below); only assigned_to and group_id may
    # be null.
    (MemberUpdate, {}, False),
    (MemberUpdate, {"role": None}, True),
    (TicketUpdate, {"assigned_to": None, "group_id": None}, True),
    (TicketUpdate, {"status": None}, False),
    (TicketUpdate, {"subject": None}, False),
    (TicketUpdate, {"confidential": None}, False),
    # Booleans are JSON's true and false.
    (TicketUpdate, {"confidential": True}, True),
    (TicketUpdate, {"confidential": 0}, False),
    (ReplyIn, {"body": "b", "internal": False}, True),
    (ReplyIn, {"body": "b", "internal": 0}, False),
    (ReplyIn, {"body": "b", "internal": 1}, False),
    (ReplyIn, {"body": "b", "internal": "true"}, False),
    (TicketIn, {"company_id": ID, "subject": "s", "description": "d", "confidential": 1}, False),
    (TicketIn, {"company_id": ID, "subject": "s", "description": "d", "confidential": True}, True),
    # Text is read without the whitespace around it (what `str.strip` removes), and its
    # maxLength bounds it as sent.
    (CompanyIn, {"name": " Acme "}, True),
    (CompanyIn, {"name": " \t\u3000"}, False),
    (CompanyIn, {"name": "\x85\x1c"}, False),
    (CompanyIn, {"name": "\ufeff"}, True),
    (CompanyIn, {"name": "a" * 120}, True),
    (CompanyIn, {"name": " " + "a" * 120}, False),
    (RegisterIn, {"username": " lisa\n", "email": EMAIL, "password": "p" * 10}, True),
    (RegisterIn, {"username": " li ", "email": EMAIL, "password": "p" * 10}, False),
    (RegisterIn, {"username": "li sa", "email": EMAIL, "password": "p" * 10}, False),
]


def validator_for(app: FastAPI, schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """A validator of `schema`, whose references point into the app's published document."""
    root = {**schema, "components": app.openapi()["components"]}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def accepted(model: type[BaseModel], body: dict[str, Any]) -> bool:
    try:
        model.model_validate_json(json.dumps(body))
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("model", "body", "valid"), BODIES, ids=[f"{m.__name__} {json.dumps(b)}" for m, b, _ in BODIES]
)
def test_schema_and_validator_agree(
    app: FastAPI, model: type[BaseModel], body: dict[str, Any], valid: bool
) -> None:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    assert validator_for(app, ref).is_valid(body) is valid
    assert accepted(model, body) is valid


def test_an_empty_ticket_patch_is_invalid(app: FastAPI) -> None:
    """The service refuses it after the permission check (tests/api/test_errors.py), so
    that an empty PATCH asks whether the caller may update the ticket."""
    schema = validator_for(app, {"$ref": "#/components/schemas/TicketUpdate"})
    assert not schema.is_valid({})
    assert schema.is_valid({"group_id": None})


def test_levels_a_role_does_not_allow_are_invalid(app: FastAPI) -> None:
    """The engine refuses a level the (new) role does not allow; the document lists them."""
    schema = validator_for(app, {"$ref": "#/components/schemas/MemberUpdate"})
    assert schema.is_valid({"role": "agent", "ticket_access": "groups"})
    assert schema.is_valid({"role": "admin", "ticket_access": None})
    assert not schema.is_valid({"role": "admin", "ticket_access": "groups"})
    assert not schema.is_valid({"role": "customer", "ticket_access": "assigned"})
    # Without a role, the level is checked against the member's current one.
    assert schema.is_valid({"ticket_access": "assigned"})


@pytest.mark.parametrize(
    "cursor",
    [
        *("0" * 24, "65f00000000000000000000a", "65F00000000000000000000A"),
        *("0" * 23, "0" * 25, "g" * 24, "0" * 23 + "\n", " " + "0" * 23, ""),
    ],
)
def test_the_cursor_is_described_as_it_is_read(app: FastAPI, cursor: str) -> None:
    for path, op in [("/tickets", "get"), ("/companies/{company_id}/audit", "get")]:
        params = app.openapi()["paths"][path][op]["parameters"]
        (schema,) = [p["schema"] for p in params if p["name"] == "cursor"]
        try:
            TypeAdapter(CursorIn).validate_python(cursor)
        except ValidationError:
            valid = False
        else:
            valid = True
        assert validator_for(app, schema).is_valid(cursor) is valid, (path, cursor)


def test_request_body_examples_are_valid(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    for path, method, op in operations(app):
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None:
            continue
        ref = content["schema"]["$ref"]
        validator = validator_for(app, {"$ref": ref})
        for example in schemas[ref.rsplit("/", 1)[-1]].get("examples", []):
            assert validator.is_valid(example), (method.upper(), path, example)
