"""Companies and memberships: the writes that span documents.

Without transactions (FerretDB, a standalone MongoDB) every operation is a sequence of
ordered, idempotent steps with compensation on failure; on a replica set the same steps
run inside a transaction. The last-admin rule is enforced by verifying after the write and
reverting it: any interleaving of parallel demotions leaves at least one admin, because the
later of two verifications always sees both writes.
"""

import contextlib
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError, PyMongoError

from app.db import Database
from authz.engine import Resource
from authz.errors import Conflict, InvalidInput, NotFound
from authz.scope import Scope
from models import Company, Grant, Membership, Role, Ticket, User, document_lock, utcnow

LAST_ADMIN = "a company must keep at least one admin: promote another member first"


def company_resource(company_id: ObjectId) -> Resource:
    """The resource a company-level permission is checked on."""
    return Resource("company", company_id, company_id)


async def create_company(db: Database, user_id: ObjectId, name: str) -> Company:
    """Create a company whose creator becomes its first admin (both or neither)."""
    company = Company(name=name, created_by=user_id)
    async with db.transaction() as session:
        await company.insert(session=session)
        try:
            await Membership(
                user=user_id, company=company.id, role=Role.ADMIN, created_by=user_id
            ).insert(session=session)
        except BaseException:
            if session is None:
                await _compensate(Company.get_pymongo_collection().delete_one({"_id": company.id}))
            raise
    return company


async def delete_company(db: Database, scope: Scope, company_id: ObjectId) -> None:
    """Delete a tenant and everything in it.

    The company is first marked `deleting` (hidden from lists at once); the remaining steps
    are idempotent, memberships go last but one so a failed deletion can be retried by the
    same admin, and `resume_deletions` finishes any that were interrupted.
    """
    scope.authorize("company:delete", company_resource(company_id))
    await Company.get_pymongo_collection().update_one(
        {"_id": company_id}, {"$set": {"deleting": True, "updated_at": utcnow()}}
    )
    await finish_deletion(db, company_id)


async def finish_deletion(db: Database, company_id: ObjectId) -> None:
    """The idempotent tail of a company deletion."""
    async with db.transaction() as session:
        for model in (Ticket, Grant, Membership):
            await model.get_pymongo_collection().delete_many(
                {"company": company_id}, session=session
            )
        await Company.get_pymongo_collection().delete_one({"_id": company_id}, session=session)


async def resume_deletions(db: Database) -> int:
    """Finish company deletions a crash or an outage interrupted; return how many."""
    pending = await Company.get_pymongo_collection().find({"deleting": True}, {"_id": 1}).to_list()
    for doc in pending:
        await finish_deletion(db, doc["_id"])
    return len(pending)


async def add_member(
    scope: Scope,
    company_id: ObjectId,
    *,
    email: str | None,
    user_id: ObjectId | None,
    role: Role,
) -> tuple[Membership, User]:
    """Add a user (by email or id) to a company with `role`; 409 if already a member."""
    resource = company_resource(company_id)
    decision = scope.authorize("members:add", resource)
    if (email is None) == (user_id is None):
        raise InvalidInput("give exactly one of email or user_id")
    user = await (User.find_one(User.email == email) if email is not None else User.get(user_id))
    if user is None or user.id is None:
        raise NotFound("no user with that " + ("email" if email is not None else "id"))
    membership = Membership(user=user.id, company=company_id, role=role, created_by=scope.user_id)
    try:
        await membership.insert()
    except DuplicateKeyError as exc:
        raise Conflict("this user is already a member of the company") from exc
    # Only now is the membership known to be new: grants an interrupted removal left
    # behind must not come back to life (an existing member's shares are left alone).
    await Grant.get_pymongo_collection().delete_many({"company": company_id, "user": user.id})
    scope.record_write("members:add", resource, decision)
    return membership, user


async def _membership(company_id: ObjectId, user_id: ObjectId) -> dict[str, Any]:
    doc = await Membership.get_pymongo_collection().find_one(
        {"company": company_id, "user": user_id}
    )
    if doc is None:
        raise NotFound("member not found")
    return doc  # type: ignore[no-any-return]


async def _admins_left(company_id: ObjectId, session: AsyncClientSession | None) -> int:
    return await Membership.get_pymongo_collection().count_documents(
        {"company": company_id, "role": Role.ADMIN.value}, session=session
    )


async def change_role(
    db: Database, scope: Scope, company_id: ObjectId, user_id: ObjectId, role: Role
) -> dict[str, Any]:
    """Change a member's role; the last admin cannot be demoted (409)."""
    resource = company_resource(company_id)
    decision = scope.authorize("members:update", resource)
    # One membership change per company at a time in this process: the last-admin check
    # must see the other changes' writes, which the dev database may otherwise lose.
    async with document_lock(company_id), db.transaction() as session:
        current = await _change_role(scope, company_id, user_id, role, session)
    scope.record_write("members:update", resource, decision)
    return {**current, "role": role.value}


async def _change_role(
    scope: Scope,
    company_id: ObjectId,
    user_id: ObjectId,
    role: Role,
    session: AsyncClientSession | None,
) -> dict[str, Any]:
    """The steps of `change_role`; returns the membership as it was."""
    current = await _membership(company_id, user_id)
    if current["role"] == role.value:
        return current
    coll = Membership.get_pymongo_collection()
    await coll.update_one(
        {"_id": current["_id"]},
        {"$set": {"role": role.value, "updated_at": utcnow()}},
        session=session,
    )

    def revert() -> Any:
        return coll.update_one(
            {"_id": current["_id"], "role": role.value},
            {"$set": {"role": current["role"], "updated_at": current["updated_at"]}},
            session=session,
        )

    try:
        if current["role"] == Role.ADMIN.value and await _admins_left(company_id, session) == 0:
            await revert()
            raise Conflict(LAST_ADMIN)
        if not scope.engine.is_assignable(role.value):
            await _unassign(company_id, user_id, session)
    except Conflict:
        raise
    except BaseException:
        # The check or the unassignment did not happen: an unchecked demotion could leave
        # no admin, and a customer may not keep assignments. Undo, so a retry starts over.
        await _compensate(revert())
        raise
    return current


async def remove_member(
    db: Database, scope: Scope, company_id: ObjectId, user_id: ObjectId
) -> None:
    """Remove a member and every access they had there (grants, assignments)."""
    resource = company_resource(company_id)
    decision = scope.authorize("members:remove", resource)
    async with document_lock(company_id), db.transaction() as session:  # see change_role
        await _remove_member(company_id, user_id, session)
    scope.record_write("members:remove", resource, decision)


async def _remove_member(
    company_id: ObjectId, user_id: ObjectId, session: AsyncClientSession | None
) -> None:
    """The steps of `remove_member`."""
    current = await _membership(company_id, user_id)
    coll = Membership.get_pymongo_collection()
    await coll.delete_one({"_id": current["_id"]}, session=session)

    async def restore() -> None:
        with contextlib.suppress(DuplicateKeyError):
            await coll.insert_one(current, session=session)

    try:
        if current["role"] == Role.ADMIN.value and await _admins_left(company_id, session) == 0:
            await restore()
            raise Conflict(LAST_ADMIN)
        # The membership is gone, so the engine already ignores these; delete them for good.
        await Grant.get_pymongo_collection().delete_many(
            {"company": company_id, "user": user_id}, session=session
        )
        await _unassign(company_id, user_id, session)
    except Conflict:
        raise
    except BaseException:
        # Unchecked, the removal could leave no admin; half cleaned, it would leave tickets
        # assigned to a non-member, and a retry would find no member to remove. Undo it.
        await _compensate(restore())
        raise


async def _unassign(
    company_id: ObjectId, user_id: ObjectId, session: AsyncClientSession | None
) -> None:
    """Tickets may only be assigned to admins and agents of their company."""
    await Ticket.get_pymongo_collection().update_many(
        {"company": company_id, "assigned_to": user_id},
        {"$set": {"assigned_to": None, "updated_at": utcnow()}},
        session=session,
    )


async def _compensate(step: Any) -> None:
    """Run a compensating step; its own failure must not hide the original error."""
    with contextlib.suppress(PyMongoError):
        await step
