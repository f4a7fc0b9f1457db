"""The copy of each user's memberships and grants that authorization reads (`User.access`).

Every write that changes a membership or a grant calls one of these in the same `Unit`.
In a transaction the record and the copy change together. Without one, the order is what
keeps authorization safe: a right is taken out of the copy *before* the record loses it,
and put into the copy *after* the record has it, so a crash in between leaves the user
with less than the record says, never more; `rebuild` then puts the copy right. A right
that was taken out and must be undone (a later step failed) is put back by `rebuild` too,
from the record as it is once the other steps are undone.
"""

from collections.abc import Iterable

from bson import ObjectId

from app.atomic import Unit
from models import Grant, Membership, User
from models.user import Access, GrantFact, MembershipFact


async def add_membership(
    user_id: ObjectId, company: ObjectId, role: str, unit: Unit, level: str | None = None
) -> None:
    """Give the copy a role in `company` (after the record has it), replacing any other.

    One write (an update pipeline): in a transaction, the fewer writes to a user document,
    the less often two changes of the same user's memberships conflict and retry.
    """
    others = {
        "$filter": {
            "input": {"$ifNull": ["$access.memberships", []]},
            "cond": {"$ne": ["$$this.company", company]},
        }
    }
    fact = {"company": company, "role": role, "level": level}
    await User.get_pymongo_collection().update_one(
        {"_id": user_id},
        [{"$set": {"access.memberships": {"$concatArrays": [others, [{"$literal": fact}]]}}}],
        session=unit.session,
    )
    unit.on_failure(lambda: rebuild([user_id]))


async def remove_membership(
    user_id: ObjectId, company: ObjectId, unit: Unit, *, with_grants: bool
) -> None:
    """Take the role in `company` out of the copy (before the record loses it), and the
    grants there too when the user leaves the company."""
    pull: dict[str, object] = {"access.memberships": {"company": company}}
    if with_grants:
        pull["access.grants"] = {"company": company}
    await User.get_pymongo_collection().update_one(
        {"_id": user_id}, {"$pull": pull}, session=unit.session
    )
    unit.on_failure(lambda: rebuild([user_id]))


async def insert_grant(grant: Grant, unit: Unit) -> None:
    """Store `grant`, then give it to the copy (`DuplicateKeyError` if it is stored already)."""
    await grant.insert(session=unit.session)
    unit.on_failure(grant.delete)
    await _add_grant(grant, unit)


async def _add_grant(grant: Grant, unit: Unit) -> None:
    """Give the copy a stored grant (after the record has it)."""
    fact = GrantFact.model_validate(grant, from_attributes=True).model_dump()
    await User.get_pymongo_collection().update_one(
        {"_id": grant.user}, {"$addToSet": {"access.grants": fact}}, session=unit.session
    )
    unit.on_failure(lambda: rebuild([grant.user]))


async def remove_grants(user_ids: Iterable[ObjectId], resource_id: ObjectId, unit: Unit) -> None:
    """Take every grant on `resource_id` out of these users' copies (before the record)."""
    users = list(user_ids)
    await User.get_pymongo_collection().update_many(
        {"_id": {"$in": users}},
        {"$pull": {"access.grants": {"resource_id": resource_id}}},
        session=unit.session,
    )
    unit.on_failure(lambda: rebuild(users))


async def remove_company(company: ObjectId) -> None:
    """Take a company being deleted out of every copy (its deletion is not undone)."""
    await User.get_pymongo_collection().update_many(
        {"access.memberships.company": company},
        {
            "$pull": {
                "access.memberships": {"company": company},
                "access.grants": {"company": company},
            }
        },
    )


async def rebuild(user_ids: Iterable[ObjectId]) -> None:
    """Recompute these users' copies from the record (a repair; safe to run any time)."""
    users = list(user_ids)
    memberships = await Membership.find({"user": {"$in": users}}).to_list()
    grants = await Grant.find({"user": {"$in": users}}).to_list()
    for user_id in users:
        access = Access(
            memberships=[
                MembershipFact(company=m.company, role=m.role, level=m.ticket_access)
                for m in memberships
                if m.user == user_id
            ],
            grants=[
                GrantFact.model_validate(g, from_attributes=True)
                for g in grants
                if g.user == user_id
            ],
        )
        await User.get_pymongo_collection().update_one(
            {"_id": user_id}, {"$set": {"access": access.model_dump()}}
        )
