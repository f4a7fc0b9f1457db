"""Members of a company and their roles."""

import functools
from typing import Any

from bson import ObjectId
from fastapi import APIRouter, Request, Response, status

from app import throttle
from app.deps import CallerDep, DatabaseDep, SettingsDep, parse_id
from app.openapi import error_responses
from app.schemas import MemberIn, MemberOut, MemberUpdate
from app.services import tenancy
from authz.errors import NotFound
from models import User

router = APIRouter(prefix="/companies/{company_id}/members", tags=["members"])


def members_with_accounts(company_id: ObjectId) -> list[dict[str, Any]]:
    """The company's memberships, oldest first, each joined with its account's public fields."""
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
    ]


@router.get(
    "",
    response_model=list[MemberOut],
    summary="List members",
    responses=error_responses(401, 403, 404),
)
async def list_members(company_id: str, caller: CallerDep) -> list[MemberOut]:
    """Members and their roles (admins and agents)."""
    cid = parse_id(company_id, "company")
    caller.scope.authorize("members:list", tenancy.company_resource(cid))
    rows = await caller.scope.aggregate("members:list", "members", members_with_accounts(cid))
    return [
        MemberOut(
            user_id=str(m["user"]),
            username=m["account"]["username"],
            email=m["account"]["email"],
            role=m["role"],
        )
        for m in rows
    ]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberOut,
    summary="Add a member",
    responses=error_responses(401, 403, 404, 409, 422, 429),
)
async def add_member(
    company_id: str,
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
    membership, user = await tenancy.add_member(
        db,
        caller.scope,
        parse_id(company_id, "company"),
        email=body.email,
        user_id=ObjectId(body.user_id) if body.user_id else None,
        role=body.role,
        lookup=functools.partial(throttle.account_lookup, client, caller.user.id, settings),
    )
    return MemberOut(
        user_id=str(user.id), username=user.username, email=user.email, role=membership.role
    )


@router.patch(
    "/{user_id}",
    response_model=MemberOut,
    summary="Change a member's role",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def change_role(
    company_id: str, user_id: str, body: MemberUpdate, caller: CallerDep, db: DatabaseDep
) -> MemberOut:
    """Change a role (admin); the last admin cannot be demoted (409)."""
    uid = parse_id(user_id, "member")
    doc = await tenancy.change_role(
        db, caller.scope, parse_id(company_id, "company"), uid, body.role
    )
    user = await User.get(uid)
    if user is None:  # the account was deleted meanwhile
        raise NotFound("member not found")
    return MemberOut(user_id=user_id, username=user.username, email=user.email, role=doc["role"])


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
    responses=error_responses(401, 403, 404, 409),
)
async def remove_member(
    company_id: str, user_id: str, caller: CallerDep, db: DatabaseDep
) -> Response:
    """Remove a member and all their access in the company (admin); not the last admin."""
    await tenancy.remove_member(
        db, caller.scope, parse_id(company_id, "company"), parse_id(user_id, "member")
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
