"""Companies and memberships: the writes that span documents.

Each runs through `app.atomic`: in a transaction where the server has them, as ordered
steps that undo themselves on failure where it does not. The last-admin rule is enforced
by verifying after the write: without a transaction the verification sees every other
write, and a failed one undoes its own; in a transaction, every membership change first
writes its company's `members_version`, so two changes of one company's members conflict
(and the driver retries one) instead of each counting the other's admin from a stale
snapshot.
"""

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from app.atomic import Unit, atomic
from app.db import Database
from app.throttle import Lookup
from authz.engine import Resource
from authz.errors import Conflict, InvalidInput, NotFound
from authz.scope import Scope
from models import Company, Grant, Membership, Role, Ticket, User, utcnow

LAST_ADMIN = "a company must keep at least one admin: promote another member first"

# Starts one account look-up (see `app.throttle.account_lookup`).
LookupGuard = Callable[[], Awaitable[Lookup]]


def company_resource(company_id: ObjectId) -> Resource:
    """The resource a company-level permission is checked on."""
    return Resource("company", company_id, company_id)


async def create_company(db: Database, user_id: ObjectId, name: str) -> Company:
    """Create a company whose creator becomes its first admin (both or neither)."""

    async def steps(unit: Unit) -> Company:
        company = Company(name=name, created_by=user_id)
        await company.insert(session=unit.session)
        unit.on_failure(lambda: Company.get_pymongo_collection().delete_one({"_id": company.id}))
        await Membership(
            user=user_id, company=company.id, role=Role.ADMIN, created_by=user_id
        ).insert(session=unit.session)
        return company

    return await atomic(db, steps)


async def delete_company(scope: Scope, company_id: ObjectId) -> None:
    """Delete a tenant and everything in it.

    Not one transaction: a tenant's data has no size limit, and a transaction does (time,
    and the memory of its snapshot). The company is first marked `deleting`, which hides
    it at once; the remaining steps are idempotent, memberships go last but one so a
    failed deletion can be retried by the same admin, and `resume_deletions` (at start-up)
    finishes any that were interrupted.
    """
    scope.authorize("company:delete", company_resource(company_id))
    await Company.get_pymongo_collection().update_one(
        {"_id": company_id}, {"$set": {"deleting": True, "updated_at": utcnow()}}
    )
    await finish_deletion(company_id)


async def finish_deletion(company_id: ObjectId) -> None:
    """The idempotent tail of a company deletion."""
    for model in (Ticket, Grant, Membership):
        await model.get_pymongo_collection().delete_many({"company": company_id})
    await Company.get_pymongo_collection().delete_one({"_id": company_id})


async def resume_deletions() -> int:
    """Finish company deletions a crash or an outage interrupted; return how many."""
    pending = await Company.get_pymongo_collection().find({"deleting": True}, {"_id": 1}).to_list()
    for doc in pending:
        await finish_deletion(doc["_id"])
    return len(pending)


async def add_member(
    db: Database,
    scope: Scope,
    company_id: ObjectId,
    *,
    email: str | None,
    user_id: ObjectId | None,
    role: Role,
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
        await _members_changing(company_id, unit)
        membership = Membership(user=uid, company=company_id, role=role, created_by=scope.user_id)
        try:
            await membership.insert(session=unit.session)
        except DuplicateKeyError as exc:
            raise Conflict("this user is already a member of the company") from exc
        coll = Membership.get_pymongo_collection()
        unit.on_failure(lambda: coll.delete_one({"_id": membership.id}))
        # Only now is the membership known to be new: grants an interrupted removal left
        # behind must not come back to life (an existing member's shares are left alone).
        await Grant.get_pymongo_collection().delete_many(
            {"company": company_id, "user": uid}, session=unit.session
        )
        return membership

    membership = await atomic(db, steps)
    scope.record_write("members:add", resource, decision)
    return membership, user


async def _members_changing(company_id: ObjectId, unit: Unit) -> None:
    """Mark a change of the company's members; in a transaction, the write that makes two
    such changes conflict (see the module's docstring)."""
    if unit.in_transaction:
        await Company.get_pymongo_collection().update_one(
            {"_id": company_id}, {"$inc": {"members_version": 1}}, session=unit.session
        )


async def _membership(company_id: ObjectId, user_id: ObjectId, unit: Unit) -> dict[str, Any]:
    doc = await Membership.get_pymongo_collection().find_one(
        {"company": company_id, "user": user_id}, session=unit.session
    )
    if doc is None:
        raise NotFound("member not found")
    return doc  # type: ignore[no-any-return]


async def _ensure_an_admin_is_left(company_id: ObjectId, unit: Unit) -> None:
    admins = await Membership.get_pymongo_collection().count_documents(
        {"company": company_id, "role": Role.ADMIN.value}, session=unit.session
    )
    if admins == 0:
        raise Conflict(LAST_ADMIN)


async def change_role(
    db: Database, scope: Scope, company_id: ObjectId, user_id: ObjectId, role: Role
) -> dict[str, Any]:
    """Change a member's role; the last admin cannot be demoted (409)."""
    resource = company_resource(company_id)
    decision = scope.authorize("members:update", resource)

    async def steps(unit: Unit) -> dict[str, Any]:
        await _members_changing(company_id, unit)
        current = await _membership(company_id, user_id, unit)
        if current["role"] == role.value:
            return current
        coll = Membership.get_pymongo_collection()
        await coll.update_one(
            {"_id": current["_id"]},
            {"$set": {"role": role.value, "updated_at": utcnow()}},
            session=unit.session,
        )
        unit.on_failure(
            lambda: coll.update_one(
                {"_id": current["_id"], "role": role.value},
                {"$set": {"role": current["role"], "updated_at": current["updated_at"]}},
            )
        )
        if current["role"] == Role.ADMIN.value:
            await _ensure_an_admin_is_left(company_id, unit)
        if not scope.engine.is_assignable(role.value):
            await _unassign(company_id, user_id, unit)
        return current

    current = await atomic(db, steps)
    scope.record_write("members:update", resource, decision)
    return {**current, "role": role.value}


async def remove_member(
    db: Database, scope: Scope, company_id: ObjectId, user_id: ObjectId
) -> None:
    """Remove a member and every access they had there (grants, assignments)."""
    resource = company_resource(company_id)
    decision = scope.authorize("members:remove", resource)

    async def steps(unit: Unit) -> None:
        await _members_changing(company_id, unit)
        current = await _membership(company_id, user_id, unit)
        coll = Membership.get_pymongo_collection()
        await coll.delete_one({"_id": current["_id"]}, session=unit.session)
        unit.on_failure(lambda: _restore(current))
        if current["role"] == Role.ADMIN.value:
            await _ensure_an_admin_is_left(company_id, unit)
        # The membership is gone, so the engine already ignores these; delete them for good.
        await Grant.get_pymongo_collection().delete_many(
            {"company": company_id, "user": user_id}, session=unit.session
        )
        await _unassign(company_id, user_id, unit)

    await atomic(db, steps)
    scope.record_write("members:remove", resource, decision)


async def _restore(membership: dict[str, Any]) -> None:
    """Put back a membership a failed removal deleted (unless a retry re-added it)."""
    with contextlib.suppress(DuplicateKeyError):
        await Membership.get_pymongo_collection().insert_one(membership)


async def _unassign(company_id: ObjectId, user_id: ObjectId, unit: Unit) -> None:
    """Tickets may only be assigned to admins and agents of their company.

    Not undone without a transaction: a released ticket loses no data, and the retry of
    the change it belongs to releases the rest.
    """
    await Ticket.get_pymongo_collection().update_many(
        {"company": company_id, "assigned_to": user_id},
        {"$set": {"assigned_to": None, "updated_at": utcnow()}},
        session=unit.session,
    )
