"""The web console, served by the API process itself: the page at `/`, its files under
`/console/`, and in development the demo personas for one-click sign-in.

The console is a client of the public JSON API like any other: it signs in with
`POST /auth/login`, sends the bearer token, and asks `POST /authz/check` what to offer.
Nothing here decides anything about authorization.
"""

import os

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.config import Settings
from app.console import STATIC
from app.demo import PASSWORD, present_personas
from app.deps import DatabaseDep
from app.policy_names import Role

# The page runs only its own files and talks only to its own origin: no inline script or
# style, no third-party host, no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
# Revalidated on every load (a 304 when unchanged): the modules carry no version in their
# names, so a cached copy must never outlive an upgrade.
ASSET_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
PAGE_HEADERS = ASSET_HEADERS | {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)
development_router = APIRouter(prefix="/dev", include_in_schema=False)


class Assets(StaticFiles):
    """The console's files, with the headers above."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file, revalidated on each load and never content-sniffed."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(ASSET_HEADERS)
        return response


@router.get("/")
async def console_page() -> FileResponse:
    """The console's single page."""
    return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


class PersonaMembership(BaseModel):
    """A persona's role in one company, as the database has it now."""

    company_name: str
    role: Role


class PersonaOut(BaseModel):
    """A demo account the console offers to sign in as."""

    name: str
    email: str
    memberships: list[PersonaMembership]


class PersonasOut(BaseModel):
    """The demo accounts present in this database, and their (public) password."""

    password: str
    personas: list[PersonaOut]


@development_router.get("/personas", response_model=PersonasOut)
async def demo_personas(_: DatabaseDep) -> PersonasOut:
    """The seeded demo personas that exist in this database, with their current roles.

    Only the fixed demo accounts are listed, never other users; the console signs in with
    `POST /auth/login` like anyone (throttling included), so nothing bypasses sign-in.
    """
    personas = [
        PersonaOut(
            name=persona.name,
            email=persona.email,
            memberships=[
                PersonaMembership(company_name=company, role=role)
                for company, role in roles.items()
            ],
        )
        for persona, roles in await present_personas()
    ]
    return PersonasOut(password=PASSWORD, personas=personas)


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the console on `app`; the persona list only in development."""
    app.include_router(router)
    if settings.environment == "development":
        app.include_router(development_router)
    app.mount("/console", Assets(directory=STATIC), name="console")
