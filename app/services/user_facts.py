"""The copy of each user's facts that authorization reads on every request (`User.access`).

It copies two parts of the record, both bounded: the user's memberships (role and access
level per company), and the instance roles an access level reaches through (the groups
they are in: `Engine.copied_roles`, at most the policy's `most_per_member` per company).
What was shared with the user lives on the shared resource and is never copied.

One function writes the copy, `replicate`, and only the write paths of what it copies call
it (memberships, and the holders of a copied role: group members). Told how a write changes
each user's facts in one company, it compares the facts before and after and orders the
writes so that the copy never holds a right the record does not:

- a change that only narrows the user's rights reaches the copy first, then the record;
- one that only widens them reaches the record first, then the copy (read back from it);
- any other takes the company out of the copy first, then writes the record, then the copy.

In a transaction the order changes nothing (all or nothing); the same steps run. Without
one, a crash between two steps leaves the user with less than the record says, never more,
and a failed write's undo ends by rebuilding the copy from the record as it is once the
other steps are undone (`rebuild`, also the repair and the bulk loaders' way in).
"""

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from authz.engine import Engine, default_engine, names
from authz.mongo import one_or_in
from authz.scope import shipped_classes
from models import Membership, User
from models.user import Access, MembershipFact, ResourceRoleFact

if TYPE_CHECKING:  # app.atomic needs app.db, which runs the migrations that use this module
    from app.atomic import Unit

T = TypeVar("T")

Held = tuple[str, ObjectId, str]  # (resource type, resource id, role) of a copied role


@dataclass(frozen=True, slots=True)
class CompanyFacts:
    """What the copy says about a user in one company: their role, its access level (None:
    the role's default) and the copied instance roles they hold there."""

    role: str
    level: str | None = None
    held: frozenset[Held] = frozenset()

    def holding(self, resource_type: str, resource_id: ObjectId, role: str) -> "CompanyFacts":
        """These facts with one more instance role."""
        return replace(self, held=self.held | {(resource_type, resource_id, role)})

    def without(self, resource_id: ObjectId) -> "CompanyFacts":
        """These facts without any instance role on `resource_id`."""
        return replace(self, held=frozenset(h for h in self.held if h[1] != resource_id))


Change = Callable[[CompanyFacts | None], CompanyFacts | None]
"""How a write changes one user's facts in a company (None: not a member)."""


def at_most(engine: Engine, facts: CompanyFacts | None, than: CompanyFacts | None) -> bool:
    """Whether `facts` give no right that `than` does not."""
    if facts is None:
        return True
    if than is None:
        return False
    return engine.at_most(facts.role, facts.level, than.role, than.level) and (
        facts.held <= than.held
    )


async def replicate(
    unit: "Unit",
    engine: Engine,
    company: ObjectId,
    changes: Mapping[ObjectId, Change],
    write: Callable[[], Awaitable[T]],
) -> T:
    """Run `write`, the record's side of a change of these users' facts in `company`, and
    bring their copies along in the order that never gives more than the record."""
    users = list(changes)
    # Registered first, so that it runs last: once the record's own undos are done.
    unit.on_failure(lambda: rebuild(users))
    before = await record(engine, company, users, unit.session)
    after = {u: changes[u](before.get(u)) for u in users}
    # A user whose facts the write leaves as they are costs no write of their document.
    changed = [u for u in users if after[u] != before.get(u)]
    narrows = {u for u in changed if at_most(engine, after[u], before.get(u))}
    widens = {u for u in changed if u not in narrows and at_most(engine, before.get(u), after[u])}
    first = {u: after[u] if u in narrows else None for u in changed if u not in widens}
    await _write_copies(company, first, unit.session)
    result = await write()
    last = [u for u in changed if u not in narrows]
    if last:
        await _write_copies(
            company, await record(engine, company, last, unit.session), unit.session, last
        )
    return result


async def record(
    engine: Engine,
    company: ObjectId,
    users: Iterable[ObjectId],
    session: AsyncClientSession | None = None,
) -> dict[ObjectId, CompanyFacts]:
    """What the record says about these users in `company` (members only)."""
    users = list(users)
    found = (
        await Membership.get_pymongo_collection()
        .find(
            {"company": company, "user": {"$in": users}},
            {"user": 1, "role": 1, "ticket_access": 1},
            session=session,
        )
        .to_list()
    )
    facts = {m["user"]: CompanyFacts(m["role"], m.get("ticket_access")) for m in found}
    for held in await _held(engine, [company], list(facts), session):
        user = held["user"]
        facts[user] = facts[user].holding(held["resource_type"], held["resource_id"], held["role"])
    return facts


async def _held(
    engine: Engine,
    companies: list[ObjectId],
    users: list[ObjectId],
    session: AsyncClientSession | None = None,
) -> list[dict[str, Any]]:
    """The copied instance roles these users hold in these companies, read from the
    resources that record them (a group's `members`)."""
    if not companies or not users:
        return []
    classes = shipped_classes(engine)
    held: list[dict[str, Any]] = []
    for irole in engine.copied_roles:
        rtype = engine.resource_type(irole.resource_type)
        coll = classes[rtype.name].get_pymongo_collection()
        for relation in irole.derived_from:
            path = rtype.relations[relation]
            cursor = coll.find(
                {rtype.tenant: one_or_in(companies), path: one_or_in(users)},
                {rtype.tenant: 1, path: 1},
                session=session,
            )
            async for doc in cursor:
                for user in users:
                    if names(doc.get(path), user):
                        held.append(
                            {
                                "user": user,
                                "resource_type": rtype.name,
                                "resource_id": doc["_id"],
                                "role": irole.role,
                                "company": doc[rtype.tenant],
                            }
                        )
    return held


async def _write_copies(
    company: ObjectId,
    facts: Mapping[ObjectId, CompanyFacts | None],
    session: AsyncClientSession | None,
    users: Iterable[ObjectId] | None = None,
) -> None:
    """Set what each copy says about `company` to `facts` (absent or None: nothing), in one
    round trip. One update pipeline per user: the fewer writes to a user document in a
    transaction, the less often two changes of the same user conflict and retry."""
    targets = list(users) if users is not None else list(facts)
    if not targets:
        return
    await User.get_pymongo_collection().bulk_write(
        [UpdateOne({"_id": u}, _set_company(company, facts.get(u), u)) for u in targets],
        ordered=False,
        session=session,
    )


def _set_company(company: ObjectId, facts: CompanyFacts | None, user: ObjectId) -> list[Any]:
    """An update pipeline replacing what a copy says about `company` with `facts`."""
    memberships: list[Any] = []
    held: list[Any] = []
    if facts is not None:
        fact = MembershipFact(company=company, role=facts.role, level=facts.level)
        memberships = [{"$literal": fact.model_dump()}]
        held = [
            {
                "$literal": ResourceRoleFact(
                    resource_type=t, resource_id=rid, company=company, role=role
                ).model_dump()
            }
            for t, rid, role in sorted(facts.held, key=str)
        ]

    def others(field: str) -> dict[str, Any]:
        return {
            "$filter": {
                "input": {"$ifNull": [f"$access.{field}", []]},
                "cond": {"$ne": ["$$this.company", company]},
            }
        }

    return [
        {
            "$set": {
                "access.memberships": {"$concatArrays": [others("memberships"), memberships]},
                "access.resource_roles": {"$concatArrays": [others("resource_roles"), held]},
            }
        }
    ]


async def rebuild(user_ids: Iterable[ObjectId], engine: Engine | None = None) -> None:
    """Recompute these users' copies from the record (a repair; safe to run any time)."""
    access = await copies_from_record(user_ids, engine)
    if not access:
        return
    await User.get_pymongo_collection().bulk_write(
        [UpdateOne({"_id": u}, {"$set": {"access": a.model_dump()}}) for u, a in access.items()],
        ordered=False,
    )


async def copies_from_record(
    user_ids: Iterable[ObjectId], engine: Engine | None = None
) -> dict[ObjectId, Access]:
    """What each of these users' copies should say, read from the record (memberships and
    the resources that hold copied roles), in the copy's order."""
    engine = engine or default_engine()
    users = list(user_ids)
    if not users:
        return {}
    memberships = (
        await Membership.get_pymongo_collection()
        .find({"user": {"$in": users}}, {"user": 1, "company": 1, "role": 1, "ticket_access": 1})
        .to_list()
    )
    access = {u: Access() for u in users}
    for m in memberships:
        access[m["user"]].memberships.append(
            MembershipFact(company=m["company"], role=m["role"], level=m.get("ticket_access"))
        )
    member_of = {(m["user"], m["company"]) for m in memberships}
    companies = sorted({m["company"] for m in memberships})
    for held in await _held(engine, companies, sorted({m["user"] for m in memberships})):
        if (held["user"], held["company"]) in member_of:
            access[held.pop("user")].resource_roles.append(ResourceRoleFact(**held))
    for facts in access.values():
        facts.memberships.sort(key=lambda m: str(m.company))
        facts.resource_roles.sort(key=lambda r: (str(r.company), str(r.resource_id)))
    return access


async def remove_company(company: ObjectId) -> None:
    """Take a company being deleted out of every copy (its deletion is not undone)."""
    await User.get_pymongo_collection().update_many(
        {"access.memberships.company": company},
        {
            "$pull": {
                "access.memberships": {"company": company},
                "access.resource_roles": {"company": company},
            }
        },
    )
