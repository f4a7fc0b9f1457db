"""Members of a company and their roles."""

import functools
from typing import Any

from bson import ObjectId
from fastapi import APIRouter, Request, Response, status

from app import throttle
from app.deps import CallerDep, CompanyId, DatabaseDep, SettingsDep, UserId
from app.openapi import error_responses
from app.schemas import MemberIn, MemberOut, MemberUpdate
from app.services import memberships as service
from app.services.companies import company_resource
from authz.errors import NotFound
from authz.scope import Scope
from models import Membership, User

router = APIRouter(prefix="/companies/{company_id}/members", tags=["members"])


def with_accounts(company_id: ObjectId) -> list[dict[str, Any]]:
    """The company's memberships, oldest first, each joined with its account's public fields
    (one aggregation: `$lookup` into users)."""
    return [
        {"$match": {"company": company_id}},
        {"$sort": {"_id": 1}},
        {
            "$lookup": {
                "from": User.get_collection_name(),
                "localField": "user",
                "foreignField": "_id",
                "as": "account",
                "pipeline": [{"$project": {"username": 1, "email": 1}}],
            }
        },
        {"$unwind": "$account"},
        {
            "$project": {
                "_id": 0,
                "user_id": "$user",
                "role": 1,
                "ticket_access": 1,
                "username": "$account.username",
                "email": "$account.email",
            }
        },
    ]


def member_out(scope: Scope, user: User, membership: Membership) -> MemberOut:
    """A member as the API shows them, with their effective ticket access."""
    return MemberOut(
        user_id=user.id,
        username=user.username,
        email=user.email,
        role=membership.role,
        ticket_access=scope.engine.level_of(membership.role, membership.ticket_access),
    )


@router.get(
    "",
    response_model=list[MemberOut],
    summary="List members",
    responses=error_responses(401, 403, 404),
)
async def list_members(company_id: CompanyId, caller: CallerDep) -> list[MemberOut]:
    """Members and their roles (admins and agents)."""
    caller.scope.authorize("members:list", company_resource(company_id))
    rows = await caller.scope.aggregate(Membership, "members:list", with_accounts(company_id))
    level_of = caller.scope.engine.level_of
    return [
        MemberOut.model_validate(
            row | {"ticket_access": level_of(row["role"], row.get("ticket_access"))}
        )
        for row in rows
    ]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberOut,
    summary="Add a member",
    responses=error_responses(401, 403, 404, 409, 422, 429),
)
async def add_member(
    company_id: CompanyId,
    body: MemberIn,
    caller: CallerDep,
    db: DatabaseDep,
    request: Request,
    settings: SettingsDep,
) -> MemberOut:
    """Add an existing user, by email or user id, with a role (admin).

    404 when no account has that email or id; those answers are throttled per caller and
    per client address (429), so they cannot be used to find out who has an account.
    """
    client = request.client.host if request.client else None
    membership, user = await service.add_member(
        db,
        caller.scope,
        company_id,
        email=body.email,
        user_id=ObjectId(body.user_id) if body.user_id else None,
        role=body.role,
        lookup=functools.partial(
            throttle.account_lookup, client, caller.principal.user_id, settings
        ),
    )
    return member_out(caller.scope, user, membership)


@router.patch(
    "/{user_id}",
    response_model=MemberOut,
    summary="Change a member's role or ticket access",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def change_role(
    company_id: CompanyId, user_id: UserId, body: MemberUpdate, caller: CallerDep, db: DatabaseDep
) -> MemberOut:
    """Change a role and/or an agent's ticket access (admin); the last admin cannot be
    demoted (409); an access level the role does not allow is 422."""
    membership = await service.change_member(
        db,
        caller.scope,
        company_id,
        user_id,
        role=body.role,
        ticket_access=body.ticket_access
        if "ticket_access" in body.model_fields_set
        else service.UNSET,
    )
    user = await User.get(user_id)
    if user is None:  # the account was deleted meanwhile
        raise NotFound("member not found")
    return member_out(caller.scope, user, membership)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
    responses=error_responses(401, 403, 404, 409),
)
async def remove_member(
    company_id: CompanyId, user_id: UserId, caller: CallerDep, db: DatabaseDep
) -> Response:
    """Remove a member and all their access in the company (admin); not the last admin."""
    await service.remove_member(db, caller.scope, company_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
