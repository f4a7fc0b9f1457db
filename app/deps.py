"""Request dependencies, as `Annotated` aliases so route signatures read like sentences.

Every dependency is `async def`, even those that never await: FastAPI runs a plain `def`
dependency in a worker thread, and under load each hop to the thread pool and back costs
the request a turn of the event loop behind every other request (`make bench` measured a
list 40% slower with five such hops than with two; see docs/benchmarks.md).
"""

from typing import Annotated, Any

from bson import ObjectId
from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError
from pymongo.errors import ServerSelectionTimeoutError

from app.config import Settings
from app.db import Database
from app.errors import Unauthorized
from app.observability import decided
from app.oidc import IdentityProvider, unverified_issuer
from app.security import decode_access_token
from authz.audit import AuditLog
from authz.engine import Engine, Principal
from authz.errors import NotFound
from authz.facts import principal_of
from authz.scope import Scope
from models import User
from models.user import Access

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_app_settings(request: Request) -> Settings:
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


async def _database(request: Request) -> Database:
    """`get_database` as a dependency (on the event loop, not in a worker thread)."""
    return get_database(request)


DatabaseDep = Annotated[Database, Depends(_database)]


async def get_engine(request: Request) -> Engine:
    """The policy engine built at start-up."""
    engine: Engine = request.app.state.engine
    return engine


async def get_audit(request: Request) -> AuditLog:
    """The buffered audit writer."""
    audit: AuditLog = request.app.state.audit
    return audit


EngineDep = Annotated[Engine, Depends(get_engine)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]


async def get_subject(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    settings: SettingsDep,
) -> ObjectId:
    """The user id of a valid bearer token; 401 for anything else.

    The token's claimed issuer picks the verification (see `app/oidc.py`): the identity
    provider's tokens name its user id, mapped to the account its sign-up webhook synced.
    """
    if not token:
        raise Unauthorized("not authenticated")
    idp: IdentityProvider | None = request.app.state.idp
    if idp is not None and unverified_issuer(token) == idp.issuer:
        subject = await idp.subject(token)
        get_database(request)  # the account look-up needs it: 503 until it answers
        return await _synced_account(subject)
    subject = decode_access_token(token, settings)
    if not ObjectId.is_valid(subject):
        raise Unauthorized("invalid token")
    return ObjectId(subject)


async def _synced_account(idp_subject: str) -> ObjectId:
    doc = await User.get_pymongo_collection().find_one({"idp_subject": idp_subject}, {"_id": 1})
    if doc is None:
        raise Unauthorized(
            "this identity provider account is not known here: its sign-up sync (the "
            "PostRegister or User.Created webhook) has not arrived; retry in a moment, or "
            "ask an operator to re-sync it"
        )
    user_id: ObjectId = doc["_id"]
    return user_id


SubjectDep = Annotated[ObjectId, Depends(get_subject)]


async def _stored_user(user_id: ObjectId) -> dict[str, Any]:
    """The user's document, as PyMongo decodes it (one read; validated only where needed)."""
    doc: dict[str, Any] | None = await User.get_pymongo_collection().find_one({"_id": user_id})
    if doc is None:
        # A deleted account's tokens die with it.
        raise Unauthorized("invalid token")
    return doc


async def get_current_user(subject: SubjectDep, _: DatabaseDep) -> User:
    """The authenticated user (401 if the account no longer exists)."""
    return User.model_validate(await _stored_user(subject))


CurrentUser = Annotated[User, Depends(get_current_user)]


class Caller:
    """The authenticated user with their facts, and their authorized scope."""

    __slots__ = ("principal", "scope", "stored")

    def __init__(self, stored: dict[str, Any], principal: Principal, scope: Scope) -> None:
        self.stored = stored
        self.principal = principal
        self.scope = scope

    @property
    def user(self) -> User:
        """The user's document, validated (on the few routes that show or change it: the
        facts every decision needs are in `principal` already)."""
        return User.model_validate(self.stored)


async def get_caller(subject: SubjectDep, request: Request) -> Caller:
    """Authenticate: the user document carries the caller's facts, so one read does both.
    The app's parts are read from its state here, not as dependencies of their own: each
    dependency is a step of every request."""
    get_database(request)
    state = request.app.state
    stored = await _stored_user(subject)
    principal = principal_of(subject, Access.model_validate(stored.get("access", {})))
    settings: Settings = state.settings
    scope = Scope(
        state.engine, principal, state.audit, settings.list_strategy, state.models, decided
    )
    return Caller(stored, principal, scope)


CallerDep = Annotated[Caller, Depends(get_caller)]


def _object_id(value: str) -> ObjectId | None:
    """The ObjectId a 24-hex string spells, or None for anything else."""
    return ObjectId(value) if len(value) == 24 and ObjectId.is_valid(value) else None


def _path_id(value: str, what: str) -> ObjectId:
    """A 24-hex id from a path; anything else names a resource that cannot exist (404)."""
    parsed = _object_id(value)
    if parsed is None:
        raise NotFound(f"{what} not found")
    return parsed


async def company_path_id(company_id: str) -> ObjectId:
    """The `{company_id}` of the path."""
    return _path_id(company_id, "company")


async def ticket_path_id(ticket_id: str) -> ObjectId:
    """The `{ticket_id}` of the path."""
    return _path_id(ticket_id, "ticket")


async def user_path_id(user_id: str) -> ObjectId:
    """The `{user_id}` of the path (a member, or a viewer of a ticket)."""
    return _path_id(user_id, "user")


async def invitation_path_id(invitation_id: str) -> ObjectId:
    """The `{invitation_id}` of the path."""
    return _path_id(invitation_id, "invitation")


async def group_path_id(group_id: str) -> ObjectId:
    """The `{group_id}` of the path."""
    return _path_id(group_id, "group")


CompanyId = Annotated[ObjectId, Depends(company_path_id)]
GroupId = Annotated[ObjectId, Depends(group_path_id)]
InvitationId = Annotated[ObjectId, Depends(invitation_path_id)]
TicketId = Annotated[ObjectId, Depends(ticket_path_id)]
UserId = Annotated[ObjectId, Depends(user_path_id)]


CURSOR_PATTERN = r"^[0-9a-fA-F]{24}$"
"""A cursor, as the document describes it: an ObjectId's 24 hex digits, in either case
(what `_object_id` reads; pages hand out lower case)."""


def _cursor(value: object) -> ObjectId:
    parsed = _object_id(value) if isinstance(value, str) else None
    if parsed is None:
        raise PydanticCustomError("invalid", "cursor must be the next_cursor of a previous page")
    return parsed


CursorIn = Annotated[
    ObjectId,
    PlainValidator(_cursor),
    WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN, "minLength": 24, "maxLength": 24}),
]

# A query parameter validated where it is read, with no dependency of its own (a hop each).
Cursor = Annotated[CursorIn | None, Query(description="The `next_cursor` of the previous page")]
"""A pagination cursor (the last id of the previous page); malformed -> 422."""
