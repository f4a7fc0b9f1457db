"""Companies (tenants) and their audit log."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.deps import CallerDep, CompanyId, Cursor, DatabaseDep
from app.openapi import error_responses
from app.presenters import audit_out
from app.schemas import AuditPage, CompanyIn, CompanyOut, CompanyUpdate
from app.services import companies as service
from app.services.lookups import live_companies
from models import LIVE_COMPANY, AuditEvent, Company

router = APIRouter(prefix="/companies", tags=["companies"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CompanyOut,
    summary="Create a company",
    responses=error_responses(401, 422),
)
async def create_company(body: CompanyIn, caller: CallerDep, db: DatabaseDep) -> CompanyOut:
    """Create a tenant; the caller becomes its admin."""
    company = await service.create_company(db, caller.scope, body.name)
    return CompanyOut(id=company.id, name=company.name, role=caller.scope.engine.owner_role)


@router.get(
    "", response_model=list[CompanyOut], summary="List my companies", responses=error_responses(401)
)
async def list_companies(caller: CallerDep) -> list[CompanyOut]:
    """The companies the caller belongs to, with their role in each."""
    roles = caller.principal.roles
    names = await live_companies(list(roles))
    return sorted(
        (CompanyOut(id=c, name=names[c], role=roles[c]) for c in names),
        key=lambda c: (c.name.lower(), c.id),
    )


@router.get(
    "/{company_id}",
    response_model=CompanyOut,
    summary="Get a company",
    responses=error_responses(401, 404),
)
async def get_company(company_id: CompanyId, caller: CallerDep) -> CompanyOut:
    """A company the caller belongs to."""
    target = await caller.scope.get(Company, company_id, "company:read", query=LIVE_COMPANY)
    return CompanyOut(id=company_id, name=target.doc.name, role=caller.principal.roles[company_id])


@router.patch(
    "/{company_id}",
    response_model=CompanyOut,
    summary="Rename a company",
    responses=error_responses(401, 403, 404, 422),
)
async def update_company(
    company_id: CompanyId, body: CompanyUpdate, caller: CallerDep
) -> CompanyOut:
    """Rename a company (admin)."""
    scope = caller.scope
    target = await scope.get(Company, company_id, "company:update", query=LIVE_COMPANY)
    scope.authorize_write(target.resource, {"name": body.name})
    company = await scope.update(target, {"name": body.name})
    scope.record(target.resource, target.decision)
    return CompanyOut(id=company_id, name=company.name, role=caller.principal.roles[company_id])


@router.delete(
    "/{company_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a company and everything in it",
    responses=error_responses(401, 403, 404),
)
async def delete_company(company_id: CompanyId, caller: CallerDep) -> Response:
    """Delete the tenant: tickets, groups, invitations, memberships, then the company (admin)."""
    await service.delete_company(caller.scope, company_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{company_id}/audit",
    response_model=AuditPage,
    summary="Read the audit log",
    responses=error_responses(401, 403, 404, 422),
)
async def audit_log(
    company_id: CompanyId,
    caller: CallerDep,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """Denials and writes in the company, newest first (admin)."""
    caller.scope.authorize("audit:read", service.company_resource(company_id))
    page = await caller.scope.page(AuditEvent, "audit:read", {"company": company_id}, limit, cursor)
    return AuditPage(
        items=[audit_out(e) for e in page.items],
        next_cursor=str(page.next_cursor) if page.next_cursor else None,
    )
