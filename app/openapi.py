"""What the OpenAPI document says about errors: one schema for every error body.

Routes list the errors they raise themselves with `error_responses`; `document_common_errors`
adds, after FastAPI has built the document, the ones raised below the routes (an
undecodable or oversized body, a database outage) and puts the common 422 body in place of
FastAPI's default one, so /docs and the schema fuzzing see the bodies the API really sends.
"""

from typing import Any

from app.schemas import ErrorOut, ValidationErrorOut

ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired token",
    403: "Readable, but the caller lacks the named permission",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Invalid input, with details per field",
    429: "Too many attempts; see Retry-After",
    503: "The database (or the identity provider's key set) is unavailable",
}

# Operations that answer without the database, so they cannot fail with 503.
NO_DATABASE = {("/healthz", "get")}

_SCHEMAS = "#/components/schemas/"
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")


def _model(status: int) -> type[ErrorOut]:
    return ValidationErrorOut if status == 422 else ErrorOut


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` entries for the given error statuses."""
    return {s: {"description": ERROR_DESCRIPTIONS[s], "model": _model(s)} for s in statuses}


def _ensure_schema(spec: dict[str, Any], model: type[ErrorOut]) -> dict[str, str]:
    """A reference to `model` in the document's components, adding it if no route did."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    if model.__name__ not in schemas:
        schema = model.model_json_schema(ref_template=_SCHEMAS + "{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {"$ref": _SCHEMAS + model.__name__}


def document_common_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Add to an OpenAPI document the errors raised below the handlers, on every operation,
    and document FastAPI's 422s with the API's own body.

    No route raises these itself, so no route lists them: an undecodable body (400, from
    FastAPI) or one over the size limit (413, from `BodySizeLimit`) wherever a body is read,
    and a database outage (503) wherever the database is used.
    """
    refs = {status: _ensure_schema(spec, _model(status)) for status in (400, 422)}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            responses = op["responses"]
            invalid = responses.get("422", {}).get("content", {}).get("application/json", {})
            if invalid.get("schema", {}).get("$ref") == _SCHEMAS + _FASTAPI_422[0]:
                responses["422"] = {
                    "description": ERROR_DESCRIPTIONS[422],
                    "content": {"application/json": {"schema": refs[422]}},
                }
            statuses = [400, 413] if "requestBody" in op else []
            if (path, method) not in NO_DATABASE:
                statuses.append(503)
            for status in statuses:
                responses.setdefault(
                    str(status),
                    {
                        "description": ERROR_DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": refs[400]}},
                    },
                )
    schemas = spec.get("components", {}).get("schemas", {})
    for name in _FASTAPI_422:
        schemas.pop(name, None)
    return spec
