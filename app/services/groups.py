"""Helpdesk groups: created and staffed by admins, they scope agents whose ticket access is
`groups` (the policy's `group#member` reaches the tickets of the group).

Who is in a group is recorded on the group (`members`, the policy's `member` relation). It
is also part of each member's copy of their facts (`User.access`), since a group-scoped
agent's filter names their groups: every change of it goes through
`user_facts.replicate`, and takes effect on the member's next request.
"""

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from app.atomic import Unit, atomic
from app.db import Database
from app.services import user_facts
from app.services.companies import company_resource
from app.services.user_facts import CompanyFacts
from authz.errors import Conflict, InvalidInput
from authz.scope import Authorized, Scope
from models import Group, Membership, Ticket

MANAGE = "group:manage"  # the permission whose instance role (group#member) staffing gives


async def create_group(scope: Scope, company_id: ObjectId, name: str) -> Group:
    """A new group in the company (admin); 409 if the name is taken there."""
    resource = company_resource(company_id)
    decision = scope.authorize(MANAGE, resource)
    group = Group(company=company_id, name=name, created_by=scope.user_id)
    try:
        await group.insert()
    except DuplicateKeyError as exc:
        raise Conflict(f"the company already has a group named {name!r}") from exc
    scope.record(scope.resource_of(group), decision)
    return group


async def list_groups(scope: Scope, company_id: ObjectId) -> list[Group]:
    """The company's groups, oldest first, with their members."""
    scope.authorize("group:read", company_resource(company_id))
    groups = await scope.find_all(Group, "group:read", {"company": company_id}, whole=True)
    return sorted(groups, key=lambda g: str(g.id))


async def rename_group(scope: Scope, company_id: ObjectId, group_id: ObjectId, name: str) -> Group:
    """Rename a group (admin); 409 if the name is taken."""
    target = await _managed(scope, company_id, group_id)
    scope.authorize_write(target.resource, {"name": name})
    try:
        group = await scope.update(target, {"name": name}, whole=True)
    except DuplicateKeyError as exc:
        raise Conflict(f"the company already has a group named {name!r}") from exc
    scope.record(target.resource, target.decision)
    return group


async def delete_group(
    db: Database, scope: Scope, company_id: ObjectId, group_id: ObjectId
) -> None:
    """Delete an empty group (admin): 409 while tickets are in it; its members leave it
    (their copies first)."""
    target = await _managed(scope, company_id, group_id)
    held = await Ticket.find(Ticket.company == company_id, Ticket.group == group_id).count()
    if held:
        raise Conflict(
            f"the group still holds {held} ticket(s): move them to another group, or out of "
            "any group, first"
        )
    leaving: dict[ObjectId, user_facts.Change] = {
        member: _without(group_id) for member in target.doc.members
    }

    async def steps(unit: Unit) -> Group:
        return await user_facts.replicate(
            unit,
            scope.engine,
            company_id,
            leaving,
            lambda: scope.delete(target, session=unit.session),
        )

    deleted = await atomic(db, steps)
    # Someone put in the group since it was read: their copy is rebuilt from the record.
    await user_facts.rebuild(set(deleted.members) - set(leaving), scope.engine)
    scope.record(target.resource, target.decision)


def _without(group_id: ObjectId) -> user_facts.Change:
    return lambda facts: facts.without(group_id) if facts is not None else None


async def add_to_group(
    db: Database, scope: Scope, company_id: ObjectId, group_id: ObjectId, user_id: ObjectId
) -> None:
    """Put a member of the company's staff in a group (admin); idempotent. 409 when the
    group is full, or the member is in as many groups as the policy allows."""
    target = await _managed(scope, company_id, group_id)
    irole = scope.engine.role_granted_with(MANAGE)
    relation = _relation(scope)
    await _staff(scope, company_id, user_id)

    async def steps(unit: Unit) -> bool:
        async def write() -> bool:
            most = irole.most_per_member
            groups = {"company": company_id, "members": user_id}
            if most is not None and await Group.find(groups, session=unit.session).count() >= most:
                raise Conflict(
                    f"this member is in {most} groups of the company already, the most the "
                    "policy allows: take them out of one first",
                    limit=most,
                )
            added = await scope.add_holder(target, relation, user_id, session=unit.session)
            if added:
                unit.on_failure(lambda: scope.remove_holder(target, relation, user_id))
                # A removal of the member since the check must not leave them in the group.
                await _staff(scope, company_id, user_id, unit.session)
            return added

        def joined(facts: CompanyFacts | None) -> CompanyFacts | None:
            held = (irole.resource_type, group_id, irole.role)
            return facts.holding(*held) if facts is not None else None

        return await user_facts.replicate(unit, scope.engine, company_id, {user_id: joined}, write)

    if await atomic(db, steps):
        scope.record(target.resource, target.decision)


async def remove_from_group(
    db: Database, scope: Scope, company_id: ObjectId, group_id: ObjectId, user_id: ObjectId
) -> None:
    """Take a user out of a group (admin); idempotent. Their copy loses it first."""
    target = await _managed(scope, company_id, group_id)
    relation = _relation(scope)

    async def steps(unit: Unit) -> bool:
        async def write() -> bool:
            removed = await scope.remove_holder(target, relation, user_id, session=unit.session)
            if removed:
                unit.on_failure(lambda: scope.add_holder(target, relation, user_id))
            return removed

        return await user_facts.replicate(
            unit, scope.engine, company_id, {user_id: _without(group_id)}, write
        )

    if await atomic(db, steps):
        scope.record(target.resource, target.decision)


async def _staff(
    scope: Scope,
    company_id: ObjectId,
    user_id: ObjectId,
    session: AsyncClientSession | None = None,
) -> None:
    """Only an admin or agent of the company can be in one of its groups (422)."""
    member = await Membership.find_one(
        Membership.company == company_id, Membership.user == user_id, session=session
    )
    if member is None or not scope.engine.is_assignable(member.role):
        raise InvalidInput(
            "only an admin or agent of the company can be in one of its groups",
            loc=("path", "user_id"),
        )


async def group_of_company(company_id: ObjectId, group_id: ObjectId) -> Group:
    """A group of the company, for a ticket to be put in; 422 for any other id."""
    group = await Group.find_one(Group.company == company_id, Group.id == group_id)
    if group is None:
        raise InvalidInput(
            "group_id must name a group of the ticket's company", loc=("body", "group_id")
        )
    return group


async def _managed(scope: Scope, company_id: ObjectId, group_id: ObjectId) -> Authorized[Group]:
    return await scope.get(Group, group_id, MANAGE, query={"company": company_id}, whole=True)


def _relation(scope: Scope) -> str:
    """The group's relation staffing adds a member to (the policy's `granted_as`)."""
    relation = scope.engine.role_granted_with(MANAGE).granted_as
    assert relation is not None  # noqa: S101 - the policy pairs granted_with with granted_as
    return relation
