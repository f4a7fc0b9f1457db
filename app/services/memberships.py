"""Memberships: adding, changing and removing members, and the rule that a company always
keeps an owner (the policy's `owner_role`, admins here).

Each write runs through `app.atomic`: in a transaction where the server has them, as
ordered steps that undo themselves on failure where it does not. The owner rule is
enforced by verifying after the write. Without a transaction the verification sees every
other write, and a failed one undoes its own. In a transaction, snapshot isolation would
let two demotions each count the other's owner and both commit (write skew), so every
change that takes an owner away first writes its company's `owners_version`: two such
changes conflict, and the driver retries one, which then sees the other. Changes that
cannot take an owner away (adding a member, any change of a non-owner) write nothing
shared, so they never wait on each other.
"""

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from beanie.odm.queries.find import FindOne
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from app.atomic import Unit, atomic
from app.db import Database
from app.services import access
from app.services.companies import company_resource
from app.throttle import Lookup
from authz.errors import Conflict, InvalidInput, NotFound
from authz.scope import Scope
from models import Company, Grant, Membership, Ticket, User, touched

LAST_OWNER = "a company must keep at least one {role}: promote another member first"


LookupGuard = Callable[[], Awaitable[Lookup]]


async def add_member(
    db: Database,
    scope: Scope,
    company_id: ObjectId,
    *,
    email: str | None,
    user_id: ObjectId | None,
    role: str,
    lookup: LookupGuard,
) -> tuple[Membership, User]:
    """Add a user (by email or id) to a company with `role`; 409 if already a member.

    Only a caller allowed to add members learns whether the account exists (anyone else
    gets the same 403 or 404 either way), and each "no account" is counted by `lookup`.
    """
    resource = company_resource(company_id)
    decision = scope.authorize("members:add", resource)
    if (email is None) == (user_id is None):
        raise InvalidInput("give exactly one of email or user_id", loc=("body",))
    looked_up = await lookup()
    user = await (User.find_one(User.email == email) if email is not None else User.get(user_id))
    if user is None or user.id is None:
        await looked_up.reveal()
        raise NotFound(
            "no account with that email: they register first, then you add them"
            if email is not None
            else "no account with that id"
        )
    uid = user.id

    async def steps(unit: Unit) -> Membership:
        return await insert_member(unit, company_id, uid, role, created_by=scope.user_id)

    membership = await atomic(db, steps)
    scope.record(resource, decision)
    return membership, user


async def insert_member(
    unit: Unit, company_id: ObjectId, user_id: ObjectId, role: str, *, created_by: ObjectId
) -> Membership:
    """The steps of making `user_id` a member, inside a caller's `atomic` write; 409 if
    they already are one. Whoever calls it has authorized the addition."""
    membership = Membership(user=user_id, company=company_id, role=role, created_by=created_by)
    try:
        await membership.insert(session=unit.session)
    except DuplicateKeyError as exc:
        raise Conflict("this user is already a member of the company") from exc
    unit.on_failure(membership.delete)
    # Only now is the membership known to be new: grants an interrupted removal left
    # behind must not come back to life (an existing member's shares are left alone).
    await Grant.find(Grant.company == company_id, Grant.user == user_id).delete(
        session=unit.session
    )
    await access.add_membership(user_id, company_id, role, unit)
    return membership


UNSET: Any = object()  # "not given", where None means the role's default access


async def change_member(
    db: Database,
    scope: Scope,
    company_id: ObjectId,
    user_id: ObjectId,
    *,
    role: str | None = None,
    ticket_access: str | None = UNSET,
) -> Membership:
    """Change a member's role and/or the access level of their ticket permissions.

    The last owner cannot be demoted (409); an access level the (new) role does not allow
    is 422; a role that does not allow the current level puts the member back on the role's
    default; a member who may no longer be assigned tickets loses their assignments and
    groups.
    """
    resource = company_resource(company_id)
    decision = scope.authorize("members:update", resource)

    async def steps(unit: Unit) -> Membership:
        current = await _membership(company_id, user_id, unit)
        new_role = role or current.role
        level = _level_for(scope, new_role, current, ticket_access)
        if (new_role, level) == (current.role, current.ticket_access):
            return current
        losing_owner = current.role == scope.engine.owner_role != new_role
        if losing_owner:
            await _owners_changing(company_id, unit)
        # The copy of the member's facts never holds more than the record: a change that
        # only narrows their rights reaches the copy first, one that only widens them last,
        # and any other takes the role out of the copy first and puts the new one in last.
        engine = scope.engine
        narrows = engine.at_most(new_role, level, current.role, current.ticket_access)
        widens = engine.at_most(current.role, current.ticket_access, new_role, level)
        if narrows:
            await access.add_membership(user_id, company_id, new_role, unit, level)
        elif not widens:
            await access.remove_membership(user_id, company_id, unit, with_grants=False)
        change = {"role": new_role, "ticket_access": level}
        await _this(current).update(touched({"$set": change}), session=unit.session)
        unit.on_failure(lambda: _revert(current, change))
        if losing_owner:
            await _ensure_an_owner_is_left(scope, company_id, unit)
        if not engine.is_assignable(new_role):
            await _unassign(company_id, user_id, unit)
            await _leave_groups(company_id, user_id, unit)
        if not narrows:
            await access.add_membership(user_id, company_id, new_role, unit, level)
        changed: Membership = current.model_copy(update=change)
        return changed

    membership = await atomic(db, steps)
    scope.record(resource, decision)
    return membership


def _level_for(scope: Scope, role: str, current: Membership, asked: str | None) -> str | None:
    """The access level a member will have: the one asked for, if the role allows it, else
    the current one if the role allows it, else the role's default (None)."""
    allowed = scope.engine.policy.roles[role].access
    if asked is not UNSET:
        if asked is not None and asked not in allowed:
            raise InvalidInput(
                f"ticket_access {asked!r} is not available to role '{role}' "
                f"(it may have: {', '.join(allowed)})",
                loc=("body", "ticket_access"),
            )
        return None if asked == allowed[0] else asked
    return current.ticket_access if current.ticket_access in allowed else None


async def remove_member(
    db: Database, scope: Scope, company_id: ObjectId, user_id: ObjectId
) -> None:
    """Remove a member and every access they had there (grants, assignments)."""
    resource = company_resource(company_id)
    decision = scope.authorize("members:remove", resource)

    async def steps(unit: Unit) -> None:
        current = await _membership(company_id, user_id, unit)
        if current.role == scope.engine.owner_role:
            await _owners_changing(company_id, unit)
        await access.remove_membership(user_id, company_id, unit, with_grants=True)
        await _this(current).delete(session=unit.session)
        unit.on_failure(lambda: _restore(current))
        if current.role == scope.engine.owner_role:
            await _ensure_an_owner_is_left(scope, company_id, unit)
        # The membership is gone, so the engine already ignores these; delete them for good.
        await Grant.find(Grant.company == company_id, Grant.user == user_id).delete(
            session=unit.session
        )
        await _unassign(company_id, user_id, unit)

    await atomic(db, steps)
    scope.record(resource, decision)


async def _owners_changing(company_id: ObjectId, unit: Unit) -> None:
    """In a transaction, the write that makes two changes that take an owner away conflict
    (see the module's docstring); without one, the verification needs none."""
    if unit.in_transaction:
        await Company.find_one(Company.id == company_id).update(
            {"$inc": {"owners_version": 1}}, session=unit.session
        )


async def _membership(company_id: ObjectId, user_id: ObjectId, unit: Unit) -> Membership:
    member: Membership | None = await Membership.find_one(
        Membership.company == company_id, Membership.user == user_id, session=unit.session
    )
    if member is None:
        raise NotFound("member not found")
    return member


async def _ensure_an_owner_is_left(scope: Scope, company_id: ObjectId, unit: Unit) -> None:
    owner = scope.engine.owner_role
    owners = await Membership.find(
        Membership.company == company_id, Membership.role == owner, session=unit.session
    ).count()
    if owners == 0:
        raise Conflict(LAST_OWNER.format(role=owner))


def _this(membership: Membership) -> FindOne[Membership]:
    """A query for exactly this membership, naming its tenant (so a sharded cluster sends
    it to one shard)."""
    return Membership.find_one(
        Membership.company == membership.company, Membership.id == membership.id
    )


async def _revert(was: Membership, change: dict[str, Any]) -> None:
    """Undo a change of role or access, unless another change has been made since."""
    await Membership.find_one(
        Membership.company == was.company, Membership.id == was.id, change
    ).update(
        {
            "$set": {
                "role": was.role,
                "ticket_access": was.ticket_access,
                "updated_at": was.updated_at,
            }
        }
    )


async def _leave_groups(company_id: ObjectId, user_id: ObjectId, unit: Unit) -> None:
    """A member who is no longer staff leaves every group of the company (copy first)."""
    groups = Grant.find(
        Grant.company == company_id, Grant.user == user_id, Grant.resource_type == "group"
    )
    for grant in await groups.to_list():
        await access.remove_grants([user_id], grant.resource_id, unit)
    await groups.delete(session=unit.session)


async def _restore(membership: Membership) -> None:
    """Put back a membership a failed removal deleted (unless a retry re-added it)."""
    with contextlib.suppress(DuplicateKeyError):
        await Membership.get_pymongo_collection().insert_one(membership.model_dump(by_alias=True))


async def _unassign(company_id: ObjectId, user_id: ObjectId, unit: Unit) -> None:
    """Tickets may only be assigned to members whose role the policy makes assignable.

    Not undone without a transaction: a released ticket loses no data, and the retry of
    the change it belongs to releases the rest.
    """
    await Ticket.find(Ticket.company == company_id, Ticket.assigned_to == user_id).update(
        touched({"$set": {"assigned_to": None}}), session=unit.session
    )
