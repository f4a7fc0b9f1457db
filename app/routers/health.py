"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.db import Database
from app.errors import DB_UNAVAILABLE

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process serves requests")
async def healthz() -> dict[str, str]:
    """Always 200 while the process runs."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers",
    responses={503: {"description": "The database does not answer"}},
)
async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers a ping, else 503 with the reason."""
    db: Database = request.app.state.db
    if db.initialised and await db.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse(
        {"status": "unavailable", "detail": DB_UNAVAILABLE, "code": "database_unavailable"},
        status_code=503,
    )
