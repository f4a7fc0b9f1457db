"""Helpdesk groups of a company and who is in them."""

from fastapi import APIRouter, Response, status

from app.deps import CallerDep, CompanyId, DatabaseDep, GroupId, UserId
from app.openapi import error_responses
from app.schemas import GroupIn, GroupOut
from app.services import groups as service

router = APIRouter(prefix="/companies/{company_id}/groups", tags=["groups"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=GroupOut,
    summary="Create a group",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_group(company_id: CompanyId, body: GroupIn, caller: CallerDep) -> GroupOut:
    """A new group, empty (admin). Agents whose ticket access is `groups` see the tickets
    of the groups they are in."""
    group = await service.create_group(caller.scope, company_id, body.name)
    return GroupOut(id=group.id, name=group.name, company_id=group.company, member_ids=[])


@router.get(
    "",
    response_model=list[GroupOut],
    summary="List groups",
    responses=error_responses(401, 403, 404),
)
async def list_groups(company_id: CompanyId, caller: CallerDep) -> list[GroupOut]:
    """The company's groups and their members (admins and agents)."""
    return [
        GroupOut(id=g.id, name=g.name, company_id=g.company, member_ids=g.members)
        for g in await service.list_groups(caller.scope, company_id)
    ]


@router.patch(
    "/{group_id}",
    response_model=GroupOut,
    summary="Rename a group",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def rename_group(
    company_id: CompanyId, group_id: GroupId, body: GroupIn, caller: CallerDep
) -> GroupOut:
    """Rename a group (admin)."""
    group = await service.rename_group(caller.scope, company_id, group_id, body.name)
    return GroupOut(
        id=group.id, name=group.name, company_id=group.company, member_ids=group.members
    )


@router.delete(
    "/{group_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a group",
    responses=error_responses(401, 403, 404, 409),
)
async def delete_group(
    company_id: CompanyId, group_id: GroupId, caller: CallerDep, db: DatabaseDep
) -> Response:
    """Delete a group that holds no ticket (admin; 409 otherwise)."""
    await service.delete_group(db, caller.scope, company_id, group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{group_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Put a member in a group",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def add_to_group(
    company_id: CompanyId, group_id: GroupId, user_id: UserId, caller: CallerDep, db: DatabaseDep
) -> Response:
    """Put an admin or agent of the company in the group (admin); doing it twice is fine.
    409 when the group holds the most members the policy allows (500), or the member is in
    the most groups of the company it allows (50)."""
    await service.add_to_group(db, caller.scope, company_id, group_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{group_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Take a member out of a group",
    responses=error_responses(401, 403, 404),
)
async def remove_from_group(
    company_id: CompanyId, group_id: GroupId, user_id: UserId, caller: CallerDep, db: DatabaseDep
) -> Response:
    """Take a user out of the group (admin); their access through it ends at once."""
    await service.remove_from_group(db, caller.scope, company_id, group_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
