"""Helpdesk groups: created and staffed by admins, they scope agents whose ticket access is
`groups` (the policy's `group#member` reaches the tickets of the group).

Who is in a group is stored as a grant (role `member` on the group), so it joins each
member's copy of their facts (`User.access`) like a shared ticket does, and a change of it
takes effect on their next request.
"""

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from app.atomic import Unit, atomic
from app.db import Database
from app.services import access
from app.services.companies import company_resource
from authz.errors import Conflict, InvalidInput
from authz.scope import Authorized, Scope
from models import Grant, Group, Membership, Ticket, touched

MEMBER = "member"  # the stored role of `group#member` (authz/policy.toml)


async def create_group(scope: Scope, company_id: ObjectId, name: str) -> Group:
    """A new group in the company (admin); 409 if the name is taken there."""
    resource = company_resource(company_id)
    decision = scope.authorize("group:manage", resource)
    group = Group(company=company_id, name=name, created_by=scope.user_id)
    try:
        await group.insert()
    except DuplicateKeyError as exc:
        raise Conflict(f"the company already has a group named {name!r}") from exc
    scope.record(scope.resource_of(group), decision)
    return group


async def list_groups(scope: Scope, company_id: ObjectId) -> list[tuple[Group, list[ObjectId]]]:
    """The company's groups, oldest first, each with its members' ids."""
    scope.authorize("group:read", company_resource(company_id))
    groups = await scope.find_all(Group, "group:read", {"company": company_id})
    members = await _members(company_id)
    return [(g, members.get(g.id, [])) for g in sorted(groups, key=lambda g: str(g.id))]


async def members_of(company_id: ObjectId, group_id: ObjectId) -> list[ObjectId]:
    """Who is in one group."""
    return (await _members(company_id, group_id)).get(group_id, [])


async def _members(
    company_id: ObjectId, group_id: ObjectId | None = None
) -> dict[ObjectId | None, list[ObjectId]]:
    query = [Grant.company == company_id, Grant.resource_type == "group", Grant.role == MEMBER]
    if group_id is not None:
        query.append(Grant.resource_id == group_id)
    members: dict[ObjectId | None, list[ObjectId]] = {}
    for grant in await Grant.find(*query).sort("_id").to_list():
        members.setdefault(grant.resource_id, []).append(grant.user)
    return members


async def rename_group(scope: Scope, company_id: ObjectId, group_id: ObjectId, name: str) -> Group:
    """Rename a group (admin); 409 if the name is taken."""
    target = await _managed(scope, company_id, group_id)
    try:
        group = await scope.update(target, touched({"$set": {"name": name}}))
    except DuplicateKeyError as exc:
        raise Conflict(f"the company already has a group named {name!r}") from exc
    scope.record(target.resource, target.decision)
    return group


async def delete_group(
    db: Database, scope: Scope, company_id: ObjectId, group_id: ObjectId
) -> None:
    """Delete an empty group (admin): 409 while tickets are in it; its members leave it."""
    target = await _managed(scope, company_id, group_id)
    held = await Ticket.find(Ticket.company == company_id, Ticket.group == group_id).count()
    if held:
        raise Conflict(
            f"the group still holds {held} ticket(s): move them to another group, or out of "
            "any group, first"
        )
    in_group = (Grant.company == company_id, Grant.resource_id == group_id)

    async def steps(unit: Unit) -> None:
        members = [g.user for g in await Grant.find(*in_group, session=unit.session).to_list()]
        await access.remove_grants(members, group_id, unit)
        await Grant.find(*in_group).delete(session=unit.session)
        await scope.delete(target, session=unit.session)

    await atomic(db, steps)
    scope.record(target.resource, target.decision)


async def add_to_group(
    db: Database, scope: Scope, company_id: ObjectId, group_id: ObjectId, user_id: ObjectId
) -> None:
    """Put a member of the company's staff in a group (admin); idempotent."""
    target = await _managed(scope, company_id, group_id)
    member = await Membership.find_one(Membership.company == company_id, Membership.user == user_id)
    if member is None or not scope.engine.is_assignable(member.role):
        raise InvalidInput(
            "only an admin or agent of the company can be in one of its groups",
            loc=("path", "user_id"),
        )
    grant = Grant(
        user=user_id,
        role=MEMBER,
        resource_type="group",
        resource_id=group_id,
        company=company_id,
        created_by=scope.user_id,
    )

    async def steps(unit: Unit) -> None:
        try:
            await access.insert_grant(grant, unit)
        except DuplicateKeyError as exc:
            # Raised, not swallowed: a write error has already aborted a transaction.
            raise _AlreadyThere from exc

    try:
        await atomic(db, steps)
    except _AlreadyThere:
        return  # already in it: PUT is idempotent
    scope.record(target.resource, target.decision)


class _AlreadyThere(Exception):
    """The grant being written exists already."""


async def remove_from_group(
    db: Database, scope: Scope, company_id: ObjectId, group_id: ObjectId, user_id: ObjectId
) -> None:
    """Take a user out of a group (admin); idempotent. Their copy loses it first."""
    target = await _managed(scope, company_id, group_id)

    async def steps(unit: Unit) -> None:
        await access.remove_grants([user_id], group_id, unit)
        await Grant.find(
            Grant.company == company_id,
            Grant.resource_id == group_id,
            Grant.user == user_id,
            Grant.role == MEMBER,
        ).delete(session=unit.session)

    await atomic(db, steps)
    scope.record(target.resource, target.decision)


async def group_of_company(company_id: ObjectId, group_id: ObjectId) -> Group:
    """A group of the company, for a ticket to be put in; 422 for any other id."""
    group = await Group.find_one(Group.company == company_id, Group.id == group_id)
    if group is None:
        raise InvalidInput(
            "group_id must name a group of the ticket's company", loc=("body", "group_id")
        )
    return group


async def _managed(scope: Scope, company_id: ObjectId, group_id: ObjectId) -> Authorized[Group]:
    return await scope.get(Group, group_id, "group:manage", query={"company": company_id})
