"""Companies (tenants): creation with their first admin, and deletion of everything in them."""

from bson import ObjectId

from app.atomic import Unit, atomic
from app.db import Database
from app.services import user_facts
from app.services.user_facts import CompanyFacts
from authz.engine import Resource
from authz.scope import Scope
from models import Company, Group, Invitation, Membership, Ticket, touched


def company_resource(company_id: ObjectId) -> Resource:
    """The resource a company-level permission is checked on."""
    return Resource("company", company_id, company_id)


async def create_company(db: Database, scope: Scope, name: str) -> Company:
    """Create a company whose creator receives the policy's owner role (both or neither)."""

    async def steps(unit: Unit) -> Company:
        company = Company(name=name, created_by=scope.user_id)
        await company.insert(session=unit.session)
        unit.on_failure(company.delete)
        owner = scope.engine.owner_role
        membership = Membership(
            user=scope.user_id, company=company.id, role=owner, created_by=scope.user_id
        )
        assert company.id is not None  # noqa: S101 - set by the insert
        await user_facts.replicate(
            unit,
            scope.engine,
            company.id,
            {scope.user_id: lambda _: CompanyFacts(owner)},
            lambda: membership.insert(session=unit.session),
        )
        return company

    return await atomic(db, steps)


async def delete_company(scope: Scope, company_id: ObjectId) -> None:
    """Delete a tenant and everything in it.

    Not one transaction: a tenant's data has no size limit, and a transaction does (time,
    and the memory of its snapshot). The company is first marked `deleting`, which hides
    it at once; the remaining steps are idempotent. Until the members' copies of their
    facts lose the company, a failed deletion can be retried by the same admin; after
    that, `resume_deletions` (at start-up) finishes it.
    """
    resource = company_resource(company_id)
    decision = scope.authorize("company:delete", resource)
    await Company.find_one(Company.id == company_id).update(touched({"$set": {"deleting": True}}))
    await finish_deletion(company_id)
    scope.record(resource, decision)


async def finish_deletion(company_id: ObjectId) -> None:
    """The idempotent tail of a company deletion."""
    await Ticket.find(Ticket.company == company_id).delete()
    await user_facts.remove_company(company_id)
    await Group.find(Group.company == company_id).delete()
    await Invitation.find(Invitation.company == company_id).delete()
    await Membership.find(Membership.company == company_id).delete()
    await Company.find_one(Company.id == company_id).delete()


async def resume_deletions() -> int:
    """Finish company deletions a crash or an outage interrupted; return how many."""
    pending = await Company.find(Company.deleting == True).to_list()  # noqa: E712 - a query
    for company in pending:
        assert company.id is not None  # noqa: S101 - stored documents have ids
        await finish_deletion(company.id)
    return len(pending)
