"""Introspection of the authorization model: the caller's graph and batched checks."""

from typing import Annotated

from bson import ObjectId
from fastapi import APIRouter, Query

from app.deps import CallerDep
from app.errors import error_responses
from app.schemas import CheckBatchIn, CheckOut, ObjectIdStr, PermissionGraph
from authz.engine import Decision, Resource

router = APIRouter(tags=["authz"])


@router.get(
    "/me/permissions",
    response_model=PermissionGraph,
    summary="My permission graph",
    responses=error_responses(401, 422),
)
async def my_permissions(
    caller: CallerDep, company_id: Annotated[ObjectIdStr | None, Query()] = None
) -> PermissionGraph:
    """Per company: roles and permissions; per shared resource: instance roles; and the
    instance roles derived from relations (e.g. the creator of a ticket is its viewer)."""
    companies = [ObjectId(company_id)] if company_id else None
    return PermissionGraph(**caller.scope.engine.permissions(caller.principal, companies))


@router.post(
    "/authz/check",
    response_model=CheckOut,
    summary="Ask the engine",
    responses=error_responses(401, 422),
)
async def check(body: CheckBatchIn, caller: CallerDep) -> CheckOut:
    """Answer up to 100 questions `may I <action> this <resource_type>?` in one call.

    A ticket is named by `resource_id`; company-level questions (and `create`) by
    `company_id`. A ticket the caller cannot read is answered false, never revealed. An
    allowed `ticket:update` also lists, in `fields`, the fields the caller may change.
    """
    scope = caller.scope
    ticket_ids = [
        ObjectId(c.resource_id)
        for c in body.checks
        if c.resource_type == "ticket" and c.resource_id
    ]
    tickets = (
        {
            d["_id"]: d
            for d in await scope.find_all(
                "ticket:read",
                "ticket",
                {"_id": {"$in": ticket_ids}},
                {"company": 1, "created_by": 1},
            )
        }
        if ticket_ids
        else {}
    )
    results: list[bool] = []
    reasons: list[str] = []
    fields: list[list[str] | None] = []
    for c in body.checks:
        permission = f"{c.resource_type}:{c.action}"
        decision: Decision | None = None
        resource: Resource | None = None
        if c.resource_type == "ticket" and c.resource_id:
            doc = tickets.get(ObjectId(c.resource_id))
            if doc is not None:
                resource = scope.engine.resource_of("ticket", doc)
        else:
            company = c.company_id or (c.resource_id if c.resource_type == "company" else None)
            if company:
                resource = Resource(
                    c.resource_type,
                    ObjectId(company),
                    ObjectId(c.resource_id) if c.resource_id else None,
                )
        if resource is None:
            results.append(False)
            reasons.append(f"{c.resource_type} not found (give resource_id or company_id)")
            fields.append(None)
            continue
        decision = scope.check(permission, resource)
        results.append(decision.allowed)
        reasons.append(decision.reason)
        writable = decision.allowed and permission == "ticket:update"
        fields.append(
            sorted(scope.engine.writable_fields(caller.principal, resource)) if writable else None
        )
    return CheckOut(results=results, reasons=reasons, fields=fields)
