"""A Permit-compatible policy decision point: the Permit SDKs' own calls, answered here.

A service written against the Permit SDKs (Python `permit`, Node `permitio`) points its
`pdp` setting at `<this API>/pdp` and its token at `PDP_API_KEY`; `check`, `bulk_check` /
`bulkCheck` and `get_user_permissions` / `getUserPermissions` then get the decisions that
guard this API, from the same facts, with no sidecar. Service to service: the caller names
the user and no user token is involved, so the key is the whole authentication. Mounted
only when `PDP_API_KEY` is set (see app/main.py).
"""

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.deps import AuditDep, DatabaseDep, EngineDep, SettingsDep
from app.errors import Unauthorized
from app.observability import decided
from app.openapi import error_responses
from app.pdp_schemas import (
    BulkCheckQuery,
    BulkVerdicts,
    CheckQuery,
    UserPermissions,
    UserPermissionsQuery,
    Verdict,
)
from app.services.pdp import Pdp

pdp_key = HTTPBearer(
    auto_error=False,
    scheme_name="PDP API key",
    description="`Authorization: Bearer <PDP_API_KEY>`, as the Permit SDKs send their token",
)


async def require_pdp_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(pdp_key)],
    settings: SettingsDep,
) -> None:
    """401 unless the request carries the configured key (compared in constant time)."""
    expected = settings.pdp_api_key
    given = credentials.credentials if credentials is not None else ""
    if expected is None or not hmac.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    ):
        raise Unauthorized("missing or invalid PDP API key")


async def get_pdp(engine: EngineDep, audit: AuditDep, _: DatabaseDep) -> Pdp:
    """The engine's answers to the PDP's questions, denials going to the audit trail."""
    return Pdp(engine, audit, decided)


PdpDep = Annotated[Pdp, Depends(get_pdp)]

router = APIRouter(prefix="/pdp", tags=["pdp"], dependencies=[Depends(require_pdp_key)])
BULK_PATH = "/pdp/allowed/bulk"
"""The bulk check's path: its bodies may be larger than others (`PDP_BULK_MAX_BYTES`)."""


@router.post(
    "/allowed",
    response_model=Verdict,
    summary="Permit check: may this user do this?",
    responses=error_responses(401, 422),
)
async def allowed(query: CheckQuery, pdp: PdpDep) -> Verdict:
    """`permit.check(user, action, resource)`: one decision of the engine, with its reason.

    With a resource `key`, about that resource (false if the user may not read it, or if
    `tenant` is not its company); without, about every resource of the type in `tenant`
    (true only through a tenant role). Unknown users, types and actions are false.
    """
    return (await pdp.check([query]))[0]


@router.post(
    BULK_PATH.removeprefix("/pdp"),
    response_model=BulkVerdicts,
    summary="Permit bulk check",
    responses=error_responses(401, 422),
)
async def allowed_bulk(queries: BulkCheckQuery, pdp: PdpDep) -> BulkVerdicts:
    """`permit.bulk_check([...])`: the answers, in order, to up to 5,000 questions
    (`MAX_BULK_CHECKS`), in a body of at most `PDP_BULK_MAX_BYTES` (2 MiB); more questions
    is a 422, a larger body a 413. Each user's facts are read once, and the resources named
    in one query per user and type, however many questions name them."""
    return BulkVerdicts(allow=await pdp.check(queries.root))


@router.post(
    "/user-permissions",
    response_model=UserPermissions,
    response_model_exclude_none=True,
    summary="Permit user permissions",
    responses=error_responses(401, 422),
)
async def user_permissions(query: UserPermissionsQuery, pdp: PdpDep) -> UserPermissions:
    """`permit.get_user_permissions(user, tenants, resources, resource_types)`.

    `"__tenant:<company id>"`: the user's role there and what it grants on every resource
    of the company. `"ticket:<id>"`: instance roles on one ticket (shared with the user, or
    created by them) where the tenant role does not already cover them, read from the
    tickets that name the user, at most 1,000: a larger answer is a 422 that says how to
    narrow it (`tenants`, `resources`), never a list cut short.
    """
    return UserPermissions(await pdp.user_permissions(query))
