"""What operators watch, from maintained libraries: a request id on every request, log line
and audit record (asgi-correlation-id); JSON logs (python-json-logger); Prometheus metrics at
`/metrics` (prometheus-client).

Off the critical path: a request pays a counter and a histogram bucket, a decision one
counter; the exposition is built only when `/metrics` is scraped. With several worker
processes, set `PROMETHEUS_MULTIPROC_DIR` to an empty directory shared by the workers, and
each scrape sums them (prometheus-client's multiprocess mode); without it, each worker
answers for itself.
"""

import os
import time
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authz.engine import Decision

REQUEST_ID_HEADER = "X-Request-ID"
"""Taken from the request when it holds a version-4 UUID (anything else is replaced, so a
client cannot write into the logs), else generated; sent back on every response."""

REQUESTS = Counter(
    "ticketing_http_requests_total",
    "HTTP requests answered, by method, route (its path template) and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "ticketing_http_request_duration_seconds",
    "Seconds from a request's arrival to its last byte, by method and route",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DECISIONS = Counter(
    "ticketing_authz_decisions_total",
    "Authorization decisions on requests (REST and PDP), by permission and outcome",
    ["permission", "allowed"],
)
DATABASE_ERRORS = Counter(
    "ticketing_database_errors_total",
    "Requests that failed on the database, by the driver's error class",
    ["error"],
)

UNMATCHED = "unmatched"
"""The route label of a request no route matched: raw paths would make a label per URL."""


def request_id() -> str | None:
    """The id of the request being served (None outside one)."""
    return correlation_id.get()


def decided(decision: Decision) -> None:
    """Count one authorization decision."""
    DECISIONS.labels(decision.permission, "true" if decision.allowed else "false").inc()


def database_failed(exc: BaseException) -> None:
    """Count one request that failed on the database."""
    DATABASE_ERRORS.labels(type(exc).__name__).inc()


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request by its route's template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"]
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - started)


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


async def metrics(_: Request) -> Response:
    """The Prometheus exposition of this process (or of every worker, in multiprocess
    mode)."""
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Request ids and metrics on `app` (outermost, so they see every answer)."""
    app.add_route("/metrics", metrics, include_in_schema=False)
    app.add_middleware(RequestMetrics)
    app.add_middleware(CorrelationIdMiddleware, header_name=REQUEST_ID_HEADER)


def log_config(json_logs: bool) -> dict[str, Any]:
    """uvicorn's logging configuration, with the request id on every record; one JSON
    object per line when `json_logs`."""
    # The filter puts the id on each record as `correlation_id`; shown as `request_id`.
    fields = "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s"
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": fields,
            "rename_fields": {"correlation_id": "request_id", "asctime": "time"},
        }
        if json_logs
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {
                "()": "asgi_correlation_id.CorrelationIdFilter",
                "default_value": "-",
            }
        },
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "": {"handlers": ["default"], "level": "INFO"},
            "uvicorn": {"level": "INFO"},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"level": "INFO"},
        },
    }
