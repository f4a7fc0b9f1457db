"""Every error the API answers, in one shape: `{"detail": str, "code": str, ...}`.

`detail` is a sentence a person can act on, `code` a stable string a program can branch
on; a 422 adds `errors`, the list of invalid fields (`loc`, `msg`, `type`), and some codes
add a field of their own (`permission` on a 403, `retry_after` on a 429). Domain errors,
FastAPI's validation errors, Starlette's routing errors (404, 405), the body limit (413),
database outages (503) and anything unexpected (500) all go through `error_response`.

One handler serves the whole domain family: the status is found by walking the
exception's MRO, so a new subclass needs no new handler. Unexpected errors never leak a
stack trace. What the OpenAPI document says about errors is in `app.openapi`.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure, ExecutionTimeout
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

from app.observability import database_failed
from authz.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

log = logging.getLogger("app")


class Unauthorized(DomainError):
    """Missing or bad credentials; deliberately vague about which part was wrong."""

    code = "unauthorized"


class RateLimited(DomainError):
    """Too many attempts; `extra["retry_after"]` tells when to come back (seconds)."""

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


class EventsUnavailable(DomainError):
    """Live updates need change streams, which this database server does not have."""

    code = "events_unavailable"


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
    EventsUnavailable: 503,
}

# The codes of errors raised by the framework rather than by the domain.
CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal_error",
    503: "database_unavailable",
}

DB_UNAVAILABLE = "the database is unavailable; retry in a few seconds"


def status_for(exc: DomainError) -> int:
    """The HTTP status of a domain error, from the nearest mapped class in its MRO."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def error_body(message: str, code: str, **extra: object) -> dict[str, object]:
    """The JSON body of every error: a `detail` sentence plus a stable `code`."""
    return {"detail": message, "code": code, **extra}


def error_response(
    status: int,
    message: str,
    code: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    """The response of every error (also sent by the ASGI middleware, so bytes match)."""
    return JSONResponse(
        jsonable_encoder(error_body(message, code, **extra)), status, headers=headers
    )


def field_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors as `{loc, msg, type}`, without the `input` they were raised for.

    The input is the rejected value, or the whole body when a field is missing: echoing it
    would send a password back into whatever logs or caches the response passes through.
    """
    return [{"loc": list(e["loc"]), "msg": str(e["msg"]), "type": str(e["type"])} for e in errors]


def summary(errors: Sequence[Mapping[str, Any]]) -> str:
    """One line for a person: the first invalid field, and how many more there are."""
    if not errors:
        return "the request is invalid"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    line = f"{where}: {first['msg']}" if where else str(first["msg"])
    more = len(errors) - 1
    return line + (f" (and {more} more invalid field{'s' * (more > 1)})" if more else "")


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)  # noqa: S101 - registered for DomainError only
    status = status_for(exc)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    extra = dict(exc.extra)
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if status == 422:
        # An app-level refusal of a well-formed request: the same list as pydantic's, with
        # the field it is about when the raiser named one (`loc`).
        loc = list(extra.pop("loc", ()))
        extra["errors"] = [{"loc": loc, "msg": exc.message, "type": exc.code}]
    return error_response(status, exc.message, exc.code, headers=headers, **extra)


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, in the common shape."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    errors = field_errors(exc.errors())
    return error_response(422, summary(errors), "invalid", errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own errors: no route (404), wrong method (405), a body
    that cannot be parsed (400), each with a code and a sentence that says what to do."""
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for it only
    status = exc.status_code
    headers = dict(exc.headers or {})
    target = f"{request.method} {request.url.path}"
    if status == 404:
        message = f"no route for {target}; the API's routes are listed at /docs"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
        if any(k.lower() == "allow" for k in headers):
            # Starlette names the methods of the first route on the path only; GET and POST
            # on one path are two routes, so ask them all.
            allowed = ", ".join(_methods_of(request))
            headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
            headers["Allow"] = allowed
            message += f"; use {allowed}"
    else:
        message = str(exc.detail)
    return error_response(
        status, message, CODE_BY_STATUS.get(status, f"http_{status}"), headers=headers
    )


def _methods_of(request: Request) -> list[str]:
    """Every method some route accepts on the request's path (asked of the routes, which
    may be nested routers)."""
    routes: list[BaseRoute] = request.app.router.routes
    return [
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    database_failed(exc)
    log.warning(
        "database unavailable during %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    return error_response(503, DB_UNAVAILABLE, "database_unavailable", headers={"Retry-After": "5"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error during %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers of the error family, the framework's errors, database outages
    and anything else."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ConnectionFailure, _database_down)
    # A bounded operation (a transaction's retries) ran out of time: busy or away, retry.
    app.add_exception_handler(ExecutionTimeout, _database_down)
    app.add_exception_handler(Exception, _unexpected)


__all__ = [
    "DB_UNAVAILABLE",
    "IdentityProviderUnavailable",
    "MalformedRequest",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthorized",
    "error_body",
    "error_response",
    "install_error_handlers",
    "status_for",
]
