"""Companies (tenants) and their audit log."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.deps import CallerDep, DatabaseDep, parse_cursor, parse_id
from app.openapi import error_responses
from app.schemas import AuditOut, AuditPage, CompanyIn, CompanyOut, CompanyUpdate
from app.services import tenancy
from app.services.lookups import live_companies
from authz.listing import ListRequest
from models import LIVE_COMPANY

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
    company = await tenancy.create_company(db, caller.principal.user_id, body.name)
    return CompanyOut(id=str(company.id), name=company.name, role="admin")


@router.get(
    "", response_model=list[CompanyOut], summary="List my companies", responses=error_responses(401)
)
async def list_companies(caller: CallerDep) -> list[CompanyOut]:
    """The companies the caller belongs to, with their role in each."""
    roles = caller.principal.roles
    names = await live_companies(list(roles))
    return sorted(
        (CompanyOut(id=str(c), name=names[c], role=roles[c]) for c in names),
        key=lambda c: (c.name.lower(), c.id),
    )


@router.get(
    "/{company_id}",
    response_model=CompanyOut,
    summary="Get a company",
    responses=error_responses(401, 404),
)
async def get_company(company_id: str, caller: CallerDep) -> CompanyOut:
    """A company the caller belongs to."""
    cid = parse_id(company_id, "company")
    doc = await caller.scope.get("company", cid, "company:read", query=LIVE_COMPANY)
    return CompanyOut(id=company_id, name=doc["name"], role=caller.principal.roles[cid])


@router.patch(
    "/{company_id}",
    response_model=CompanyOut,
    summary="Rename a company",
    responses=error_responses(401, 403, 404, 422),
)
async def update_company(company_id: str, body: CompanyUpdate, caller: CallerDep) -> CompanyOut:
    """Rename a company (admin)."""
    cid = parse_id(company_id, "company")
    doc = await caller.scope.update(
        tenancy.company_resource(cid), "company:update", {"$set": {"name": body.name}}
    )
    return CompanyOut(id=company_id, name=doc["name"], role=caller.principal.roles[cid])


@router.delete(
    "/{company_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a company and everything in it",
    responses=error_responses(401, 403, 404),
)
async def delete_company(company_id: str, caller: CallerDep) -> Response:
    """Delete the tenant: tickets, grants, memberships, then the company (admin)."""
    await tenancy.delete_company(caller.scope, parse_id(company_id, "company"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{company_id}/audit",
    response_model=AuditPage,
    summary="Read the audit log",
    responses=error_responses(401, 403, 404, 422),
)
async def audit_log(
    company_id: str,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=24)] = None,
) -> AuditPage:
    """Denials and writes in the company, newest first (admin)."""
    cid = parse_id(company_id, "company")
    caller.scope.authorize("audit:read", tenancy.company_resource(cid))
    page = await caller.scope.page(
        ListRequest("audit:read", "audit", {"company": cid}, limit, parse_cursor(cursor))
    )
    return AuditPage(
        items=[
            AuditOut(
                id=str(e["_id"]),
                time=e["time"],
                user_id=str(e["user"]) if e.get("user") else None,
                action=e["action"],
                resource_type=e["resource_type"],
                resource_id=str(e["resource_id"]) if e.get("resource_id") else None,
                allowed=e["allowed"],
                reason=e["reason"],
            )
            for e in page.items
        ],
        next_cursor=str(page.next_cursor) if page.next_cursor else None,
    )
