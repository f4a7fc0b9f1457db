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

Every change of a membership reaches the member's copy of their facts through
`user_facts.replicate`, which orders the two writes. A member also holds places on the
company's resources (the tickets shared with them, the groups they are in): removing them
takes them out of all of those, one targeted write per collection (`release`).
"""

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from beanie.odm.queries.find import FindOne
from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from app.atomic import Unit, atomic
from app.db import Database
from app.services import user_facts
from app.services.companies import company_resource
from app.services.user_facts import CompanyFacts
from app.throttle import Lookup
from authz.engine import Engine
from authz.errors import Conflict, InvalidInput, NotFound
from authz.scope import Scope, shipped_classes
from models import Company, Group, Membership, Ticket, User, touched

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
        return await insert_member(
            unit, scope.engine, company_id, uid, role, created_by=scope.user_id
        )

    membership = await atomic(db, steps)
    scope.record(resource, decision)
    return membership, user


async def insert_member(
    unit: Unit,
    engine: Engine,
    company_id: ObjectId,
    user_id: ObjectId,
    role: str,
    *,
    created_by: ObjectId,
) -> Membership:
    """The steps of making `user_id` a member, inside a caller's `atomic` write; 409 if
    they already are one. Whoever calls it has authorized the addition."""
    membership = Membership(user=user_id, company=company_id, role=role, created_by=created_by)

    async def write() -> None:
        try:
            await membership.insert(session=unit.session)
        except DuplicateKeyError as exc:
            raise Conflict("this user is already a member of the company") from exc
        unit.on_failure(membership.delete)
        # Only now is the membership known to be new: places an interrupted removal left
        # behind must not come back to life (an existing member's shares are left alone).
        await release(engine, company_id, user_id, unit.session)

    def joined(facts: CompanyFacts | None) -> CompanyFacts | None:
        return facts if facts is not None else CompanyFacts(role)  # a member already: 409

    await user_facts.replicate(unit, engine, company_id, {user_id: joined}, write)
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
        engine = scope.engine
        losing_owner = current.role == engine.owner_role != new_role
        staff = engine.is_assignable(new_role)
        change = {"role": new_role, "ticket_access": level}

        def changed(facts: CompanyFacts | None) -> CompanyFacts | None:
            held = facts.held if facts is not None and staff else frozenset()
            return CompanyFacts(new_role, level, held)

        async def write() -> None:
            if losing_owner:
                await _owners_changing(company_id, unit)
            await _this(current).update(touched({"$set": change}), session=unit.session)
            unit.on_failure(lambda: _revert(current, change))
            if losing_owner:
                await _ensure_an_owner_is_left(scope, company_id, unit)
            if not staff:  # tickets are assigned, and groups staffed, only with staff
                await _unassign(company_id, user_id, unit)
                await _leave_groups(company_id, user_id, unit.session)

        await user_facts.replicate(unit, engine, company_id, {user_id: changed}, write)
        result: Membership = current.model_copy(update=change)
        return result

    membership = await atomic(db, steps)
    scope.record(resource, decision)
    return membership


def _level_for(scope: Scope, role: str, current: Membership, asked: str | None) -> str | None:
    """The access level a member will have: the one asked for (None: the role's default),
    or, when none was asked for (`UNSET`), the current one if the role still allows it."""
    if asked is UNSET:
        return scope.engine.level_for(role, None, current.ticket_access)
    return scope.engine.level_for(role, asked, None)


async def remove_member(
    db: Database, scope: Scope, company_id: ObjectId, user_id: ObjectId
) -> None:
    """Remove a member and every access they had there (the tickets shared with them,
    their groups, their assignments)."""
    resource = company_resource(company_id)
    decision = scope.authorize("members:remove", resource)

    async def steps(unit: Unit) -> None:
        current = await _membership(company_id, user_id, unit)
        owner = current.role == scope.engine.owner_role

        async def write() -> None:
            if owner:
                await _owners_changing(company_id, unit)
            await _this(current).delete(session=unit.session)
            unit.on_failure(lambda: _restore(current))
            if owner:
                await _ensure_an_owner_is_left(scope, company_id, unit)
            await _unassign(company_id, user_id, unit)
            await _leave_groups(company_id, user_id, unit.session)

        await user_facts.replicate(unit, scope.engine, company_id, {user_id: lambda _: None}, write)

    try:
        await atomic(db, steps)
    except NotFound:
        # Not (or no longer) a member: finish what an interrupted removal left behind.
        await release(scope.engine, company_id, user_id)
        raise
    # Outside the transaction: a member may hold places on any number of the company's
    # tickets, and a transaction's size is bounded. The membership is gone, so the engine
    # already ignores them; if this fails, the admin's retry (or a later addition of the
    # same user) clears what is left.
    await release(scope.engine, company_id, user_id)
    scope.record(resource, decision)


async def release(
    engine: Engine,
    company_id: ObjectId,
    user_id: ObjectId,
    session: AsyncClientSession | None = None,
) -> None:
    """Take a user out of every many-valued relation of the company's resources (the
    tickets shared with them, the groups they are in): one targeted write per collection,
    on the `{company, <relation>}` indexes. Only the member themselves lose their places."""
    classes = shipped_classes(engine)
    for name, tenant, path in engine.many_relations():
        coll = classes[name].get_pymongo_collection()
        await coll.update_many(
            {tenant: company_id, path: user_id}, {"$pull": {path: user_id}}, session=session
        )


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


async def _leave_groups(
    company_id: ObjectId, user_id: ObjectId, session: AsyncClientSession | None
) -> None:
    """A member who is no longer staff leaves every group of the company (their copy lost
    the groups first: the change narrows their rights)."""
    await Group.get_pymongo_collection().update_many(
        {"company": company_id, "members": user_id},
        {"$pull": {"members": user_id}},
        session=session,
    )


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
