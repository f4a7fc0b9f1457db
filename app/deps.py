"""Request dependencies, as `Annotated` aliases so route signatures read like sentences."""

import asyncio
from dataclasses import dataclass
from typing import Annotated

from beanie import PydanticObjectId
from bson import ObjectId
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from pymongo.errors import ServerSelectionTimeoutError

from app.config import Settings
from app.db import Database
from app.errors import Unauthorized
from app.security import decode_access_token
from authz.audit import AuditLog
from authz.engine import Engine, Principal
from authz.errors import InvalidInput, NotFound
from authz.facts import load_principal
from authz.scope import Scope
from models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_database(request: Request) -> Database:
    """The app's database; 503 while start-up has not reached the server yet."""
    db: Database = request.app.state.db
    if not db.initialised:
        raise ServerSelectionTimeoutError("database not initialised yet")
    return db


DatabaseDep = Annotated[Database, Depends(get_database)]


def get_engine(request: Request) -> Engine:
    """The policy engine built at start-up."""
    engine: Engine = request.app.state.engine
    return engine


def get_audit(request: Request) -> AuditLog:
    """The buffered audit writer."""
    audit: AuditLog = request.app.state.audit
    return audit


EngineDep = Annotated[Engine, Depends(get_engine)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]


def get_subject(
    token: Annotated[str | None, Depends(oauth2_scheme)], settings: SettingsDep
) -> ObjectId:
    """The user id of a valid bearer token; 401 for anything else."""
    if not token:
        raise Unauthorized("not authenticated")
    subject = decode_access_token(token, settings)
    if not ObjectId.is_valid(subject):
        raise Unauthorized("invalid token")
    return ObjectId(subject)


SubjectDep = Annotated[ObjectId, Depends(get_subject)]


async def _existing_user(user_id: ObjectId) -> User:
    user = await User.get(PydanticObjectId(user_id))
    if user is None:
        # A deleted account's tokens die with it.
        raise Unauthorized("invalid token")
    return user


async def get_current_user(subject: SubjectDep, _: DatabaseDep) -> User:
    """The authenticated user (401 if the account no longer exists)."""
    return await _existing_user(subject)


CurrentUser = Annotated[User, Depends(get_current_user)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user with their facts, and their authorized scope."""

    user: User
    principal: Principal
    scope: Scope


async def get_caller(
    subject: SubjectDep, _: DatabaseDep, engine: EngineDep, audit: AuditDep, settings: SettingsDep
) -> Caller:
    """Authenticate and load the caller's facts in parallel: one round trip of latency."""
    user, principal = await asyncio.gather(_existing_user(subject), load_principal(subject))
    return Caller(user, principal, Scope(engine, principal, audit, settings.list_strategy))


CallerDep = Annotated[Caller, Depends(get_caller)]


def parse_id(value: str, what: str) -> ObjectId:
    """A 24-hex id from a path; anything else is a resource that cannot exist (404)."""
    if not ObjectId.is_valid(value) or len(value) != 24:
        raise NotFound(f"{what} not found")
    return ObjectId(value)


def parse_cursor(value: str | None) -> ObjectId | None:
    """A pagination cursor (the last id of the previous page); malformed -> 422."""
    if value is None:
        return None
    if not ObjectId.is_valid(value) or len(value) != 24:
        raise InvalidInput(
            "cursor must be the next_cursor of a previous page", loc=("query", "cursor")
        )
    return ObjectId(value)
