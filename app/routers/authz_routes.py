"""Introspection of the authorization model: the caller's graph and batched checks."""

from typing import Annotated

from bson import ObjectId
from fastapi import APIRouter, Query

from app.deps import CallerDep
from app.openapi import error_responses
from app.schemas import CheckBatchIn, CheckOut, ObjectIdStr, PermissionGraph
from app.services.lookups import live_companies
from authz.scope import Question

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
    graph = caller.scope.engine.permissions(caller.principal, companies)
    names = await live_companies([ObjectId(c) for c in graph["companies"]])
    return PermissionGraph(**graph, company_names={str(c): n for c, n in names.items()})


@router.post(
    "/authz/check",
    response_model=CheckOut,
    summary="Ask the engine",
    responses=error_responses(401, 422),
)
async def check(body: CheckBatchIn, caller: CallerDep) -> CheckOut:
    """Answer up to 100 questions `may I <permission> on this resource?` in one call.

    A resource is named by `resource_id`; what is decided per company (`ticket:create`,
    `members:add`, ...) by `company_id`. A resource the caller cannot read is answered
    false, never revealed.
    """
    questions = [
        Question(
            c.permission_name,
            ObjectId(c.resource_id) if c.resource_id else None,
            ObjectId(c.company_id) if c.company_id else None,
        )
        for c in body.checks
    ]
    answers = await caller.scope.check_many(questions)
    return CheckOut(
        results=[a.decision.allowed for a in answers],
        reasons=[a.decision.reason for a in answers],
        fields=[sorted(a.fields) if a.fields is not None else None for a in answers],
        values=[dict(a.values) if a.values is not None else None for a in answers],
    )
