"""The FastAPI application factory."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from pymongo.errors import PyMongoError

from app import observability
from app.config import Settings, get_settings
from app.db import Database, initialise, initialise_with_retry, make_client
from app.errors import install_error_handlers
from app.limits import BodySizeLimit
from app.live import LiveHub
from app.oidc import IdentityProvider
from app.openapi import document_common_errors
from app.policy_names import PolicyNames, name_in_openapi
from app.routers import (
    auth,
    authz_routes,
    bench,
    companies,
    console,
    events,
    groups,
    health,
    invitations,
    members,
    pdp,
    tickets,
    webhooks,
)
from app.services.companies import resume_deletions
from authz.audit import AuditLog, cancel_until_done
from authz.engine import engine_for
from authz.scope import document_classes
from models import DOCUMENT_MODELS

log = logging.getLogger("app")

DOCS_ASSETS = "/docs-assets"

DESCRIPTION = """\
Multi-tenant support ticketing on MongoDB, with authorization done right.

Sign in with **Authorize** (username = email, e.g. `lisa@acme.example`, password
`demo-pass-2026` for the demo tenants). Every endpoint asks the `authz` engine; lists only
ever return what the caller may see.

Every error has one shape, `{"detail": "...", "code": "..."}` (schema `ErrorOut`); a 422
adds `errors`, the invalid fields (schema `ValidationErrorOut`).
"""


async def _recover(db: Database, live: LiveHub) -> None:
    """Initialise once the database answers, follow its changes for live updates, then
    finish the company deletions that a crash or an outage interrupted (their steps are
    idempotent, so any worker may do it)."""
    await initialise_with_retry(db)
    live.start()
    try:
        finished = await resume_deletions()
    except PyMongoError as exc:
        log.warning("interrupted company deletions not finished (%s)", type(exc).__name__)
        return
    if finished:
        log.info("finished %d interrupted company deletion(s)", finished)


def _keep_documents_out_of_logs() -> None:
    """At DEBUG, PyMongo's command log carries every command and reply document: the user
    records with their password hashes among them. Off unless configured explicitly."""
    driver = logging.getLogger("pymongo.command")
    if driver.level == logging.NOTSET:
        driver.setLevel(logging.INFO)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect (serving 503 until the database answers), recover, audit; then close."""
    settings: Settings = app.state.settings
    db = Database(
        make_client(settings),
        settings.mongodb_db,
        transaction_seconds=2 * settings.db_timeout_ms / 1000,
        engine=app.state.engine,
    )
    app.state.db = db
    live = app.state.live = LiveHub(db, app.state.engine)
    try:
        await initialise(db)
    except PyMongoError as exc:
        log.warning(
            "database unavailable at start-up (%s); serving 503 until it answers",
            type(exc).__name__,
        )
    # Off the start-up path: a large tenant's deletion must not delay readiness.
    recovery = asyncio.create_task(_recover(db, live), name="recovery")
    app.state.recovery = recovery
    audit = AuditLog(
        settings.audit_flush_seconds,
        settings.audit_retention_days,
        context=observability.request_id,
    )
    app.state.audit = audit
    audit.start()
    try:
        yield
    finally:
        await live.stop()
        await cancel_until_done(recovery)
        if db.initialised:
            with contextlib.suppress(PyMongoError):
                await audit.stop()
        await db.client.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless given."""
    settings = settings or get_settings()
    _keep_documents_out_of_logs()
    # /docs and /redoc load their scripts and styles from this package (fastapi-offline
    # ships them), not from a CDN: they work on a machine without internet access.
    app = FastAPIOffline(
        title="Ticketing",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the validator
    )
    app.state.settings = settings
    # Validated now: a bad policy, or a resource type no document class holds, stops start-up.
    app.state.engine = engine_for(settings.policy_file)
    app.state.models = document_classes(app.state.engine, DOCUMENT_MODELS)
    app.state.idp = IdentityProvider(settings) if settings.oidc_issuer else None
    install_error_handlers(app)
    _add_middleware(app, settings)
    _include_routers(app, settings)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = document_common_errors(default_openapi())
            app.openapi_schema = name_in_openapi(spec, app.state.engine)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(PolicyNames, engine=app.state.engine)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        larger={pdp.BULK_PATH: settings.pdp_bulk_max_bytes},
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", observability.REQUEST_ID_HEADER],
        expose_headers=[observability.REQUEST_ID_HEADER],
    )
    observability.install(app)


def _include_routers(app: FastAPI, settings: Settings) -> None:
    """The routes; those of optional surfaces only when their setting turns them on."""
    for module in (
        health, auth, companies, members, groups, invitations, tickets, events, authz_routes,
    ):  # fmt: skip
        app.include_router(module.router)
    console.install(app, settings)
    if settings.logto_webhook_signing_key is not None:
        app.include_router(webhooks.router)
    if settings.pdp_api_key is not None:
        app.include_router(pdp.router)
    if settings.bench_routes:
        app.include_router(bench.router)
