"""The FastAPI application factory."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pymongo.errors import PyMongoError

from app.config import Settings, get_settings
from app.db import Database, initialise, initialise_with_retry, make_client
from app.errors import document_common_errors, install_error_handlers
from app.limits import BodySizeLimit
from app.routers import auth, authz_routes, companies, console, health, members, tickets
from app.services import tenancy
from authz.audit import AuditLog
from authz.engine import Engine
from authz.policy import load_policy

log = logging.getLogger("app")

DESCRIPTION = """\
Multi-tenant support ticketing on MongoDB, with authorization done right.

Sign in with **Authorize** (username = email, e.g. `lisa@acme.example`, password
`demo-pass-2026` for the demo tenants). Every endpoint asks the `authz` engine; lists only
ever return what the caller may see.
"""


async def _recover(db: Database, settings: Settings) -> None:
    """Initialise once the database answers, then finish the company deletions that a crash
    or an outage interrupted (their steps are idempotent, so any worker may do it)."""
    await initialise_with_retry(db)
    try:
        finished = await tenancy.resume_deletions()
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


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless given."""
    settings = settings or get_settings()
    _keep_documents_out_of_logs()
    engine = Engine(load_policy(settings.policy_file))  # a bad policy stops start-up

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            make_client(settings),
            settings.mongodb_db,
            transaction_seconds=2 * settings.db_timeout_ms / 1000,
        )
        app.state.db = db
        try:
            await initialise(db)
        except PyMongoError as exc:
            log.warning(
                "database unavailable at start-up (%s); serving 503 until it answers",
                type(exc).__name__,
            )
        # Off the start-up path: a large tenant's deletion must not delay readiness.
        recovery = asyncio.create_task(_recover(db, settings), name="recovery")
        app.state.recovery = recovery
        audit = AuditLog(settings.audit_flush_seconds, settings.audit_retention_days)
        app.state.audit = audit
        audit.start()
        try:
            yield
        finally:
            # Cancelled until it has ended: PyMongo can absorb a cancellation mid-operation,
            # and the initialisation retries would then go on while the database is away.
            while not recovery.done():
                recovery.cancel()
                await asyncio.wait({recovery}, timeout=0.1)
            if not recovery.cancelled():
                recovery.result()  # an error that ended it surfaces at shutdown, as before
            if db.initialised:
                with contextlib.suppress(PyMongoError):
                    await audit.stop()
            await db.client.close()

    app = FastAPI(
        title="Ticketing",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
    )
    for module in (health, auth, companies, members, tickets, authz_routes):
        app.include_router(module.router)
    if settings.bench_routes:
        from app.routers import bench

        app.include_router(bench.router)
    console.install(app, settings)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return app.openapi_schema or document_common_errors(default_openapi())

    app.openapi = openapi  # type: ignore[method-assign]
    return app
