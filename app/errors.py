"""HTTP mapping of domain errors, plus the errors only the HTTP layer raises.

One handler serves the whole family: the status is found by walking the exception's MRO,
so a new subclass needs no new handler. Unexpected errors never leak a stack trace.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo.errors import ConnectionFailure, ExecutionTimeout

from authz.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

log = logging.getLogger("app")


class Unauthorized(DomainError):
    """Missing or bad credentials; deliberately vague about which part was wrong."""

    code = "unauthorized"


class RateLimited(DomainError):
    """Too many failed attempts; `extra["retry_after"]` tells when to come back (seconds)."""

    code = "rate_limited"


class PayloadTooLarge(DomainError):
    """The request body exceeds the configured limit."""

    code = "payload_too_large"


class MalformedRequest(DomainError):
    """A body that is not what the endpoint reads at all (not JSON, not the expected shape)."""

    code = "malformed_request"


class IdentityProviderUnavailable(DomainError):
    """The identity provider's signing keys cannot be fetched right now."""

    code = "identity_provider_unavailable"


class ErrorOut(BaseModel):
    """The body of an error response (422s from validation carry a list of field errors)."""

    detail: str | list[dict[str, Any]]
    code: str | None = None


STATUS_BY_ERROR: dict[type[DomainError], int] = {
    MalformedRequest: 400,
    InvalidInput: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    RateLimited: 429,
    IdentityProviderUnavailable: 503,
}

DB_UNAVAILABLE = "the database is unavailable; retry in a few seconds"


def status_for(exc: DomainError) -> int:
    """The HTTP status of a domain error, from the nearest mapped class in its MRO."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def error_body(message: str, code: str, **extra: object) -> dict[str, object]:
    """The JSON body of every error: FastAPI's `detail` plus a stable `code`."""
    return {"detail": message, "code": code, **extra}


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)  # noqa: S101 - registered for DomainError only
    status = status_for(exc)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    return JSONResponse(error_body(exc.message, exc.code, **exc.extra), status, headers=headers)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning(
        "database unavailable during %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    return JSONResponse(
        error_body(DB_UNAVAILABLE, "database_unavailable"), 503, headers={"Retry-After": "5"}
    )


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, minus the `input` of each error.

    The input is the rejected value, or the whole body when a field is missing: echoing it
    would send a password back into whatever logs or caches the response passes through.
    """
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    errors = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(errors)}, 422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error during %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal error", "internal_error"), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers of the error family, database outages and anything else."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(ConnectionFailure, _database_down)
    # A bounded operation (a transaction's retries) ran out of time: busy or away, retry.
    app.add_exception_handler(ExecutionTimeout, _database_down)
    app.add_exception_handler(Exception, _unexpected)


ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired token",
    403: "Readable, but the caller lacks the named permission",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Invalid input, with details per field",
    429: "Too many failed attempts; see Retry-After",
    503: "The database (or the identity provider's key set) is unavailable",
}

# Operations that answer without the database, so they cannot fail with 503.
NO_DATABASE = {("/healthz", "get")}


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` entries for the given error statuses."""
    return {s: {"description": ERROR_DESCRIPTIONS[s], "model": ErrorOut} for s in statuses}


def document_common_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Add to an OpenAPI document the errors raised below the handlers, on every operation.

    No route raises these itself, so no route lists them: an undecodable body (400, from
    FastAPI) or one over the size limit (413, from `BodySizeLimit`) wherever a body is read,
    and a database outage (503) wherever the database is used.
    """
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            statuses = [400, 413] if "requestBody" in op else []
            if (path, method) not in NO_DATABASE:
                statuses.append(503)
            for status in statuses:
                op["responses"].setdefault(
                    str(status),
                    {
                        "description": ERROR_DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return spec
