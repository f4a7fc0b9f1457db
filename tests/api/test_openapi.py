"""OpenAPI quality: what /docs shows a newcomer is complete."""

from typing import Any

from fastapi import FastAPI

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
