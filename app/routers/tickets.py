"""Tickets: open, list, read, update, delete, reply and share."""

import re
from typing import Annotated, Any

from bson import ObjectId
from fastapi import APIRouter, Query, Response, status

from app.deps import CallerDep, DatabaseDep, parse_cursor, parse_id
from app.openapi import error_responses
from app.schemas import (
    ObjectIdStr,
    ReplyIn,
    ReplyOut,
    TicketIn,
    TicketOut,
    TicketPage,
    TicketUpdate,
    ViewerIn,
    ViewerOut,
)
from app.services import tickets as service
from authz.engine import Engine, Principal
from authz.listing import ListRequest
from models import Reply, Status

router = APIRouter(prefix="/tickets", tags=["tickets"])


def ticket_out(doc: dict[str, Any], engine: Engine, principal: Principal) -> TicketOut:
    """The read projection: internal notes only for callers who may write them."""
    return render_ticket(
        doc, engine.sees_internal_notes(principal, engine.resource_of("ticket", doc))
    )


def render_ticket(doc: dict[str, Any], internal: bool) -> TicketOut:
    """A stored ticket as the API shows it, with or without internal notes."""
    return TicketOut(
        id=str(doc["_id"]),
        company_id=str(doc["company"]),
        number=doc["number"],
        subject=doc["subject"],
        description=doc["description"],
        status=doc["status"],
        priority=doc["priority"],
        created_by=str(doc["created_by"]),
        assigned_to=str(doc["assigned_to"]) if doc.get("assigned_to") else None,
        replies=[reply_out(r) for r in doc.get("replies", ()) if internal or not r["internal"]],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def reply_out(reply: dict[str, Any] | Reply) -> ReplyOut:
    """A reply as the API shows it."""
    r = reply.model_dump() if isinstance(reply, Reply) else reply
    return ReplyOut(
        id=str(r["id"]),
        author=str(r["author"]),
        body=r["body"],
        internal=r["internal"],
        created_at=r["created_at"],
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketOut,
    summary="Open a ticket",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_ticket(body: TicketIn, caller: CallerDep) -> TicketOut:
    """Open a ticket in a company the caller belongs to; numbers are sequential per company."""
    doc = await service.create_ticket(
        caller.scope, ObjectId(body.company_id), body.subject, body.description, body.priority
    )
    return ticket_out(doc, caller.scope.engine, caller.principal)


@router.get(
    "",
    response_model=TicketPage,
    summary="List the tickets I may see",
    responses=error_responses(401, 422),
)
async def list_tickets(
    caller: CallerDep,
    company_id: Annotated[ObjectIdStr | None, Query()] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    assigned_to: Annotated[ObjectIdStr | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Case-insensitive text in subject or description",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=24)] = None,
) -> TicketPage:
    """Tickets the caller may read, newest first, filtered; follow `next_cursor`."""
    query: dict[str, Any] = {}
    if company_id is not None:
        query["company"] = ObjectId(company_id)
    if status_ is not None:
        query["status"] = status_.value
    if assigned_to is not None:
        query["assigned_to"] = ObjectId(assigned_to)
    if q is not None:
        # Escaped: the text is matched literally, never interpreted as a pattern.
        pattern = {"$regex": re.escape(q), "$options": "i"}
        query["$or"] = [{"subject": pattern}, {"description": pattern}]
    page = await caller.scope.page(
        ListRequest("ticket:read", "ticket", query, limit, parse_cursor(cursor))
    )
    engine = caller.scope.engine
    return TicketPage(
        items=[ticket_out(d, engine, caller.principal) for d in page.items],
        next_cursor=str(page.next_cursor) if page.next_cursor else None,
    )


@router.get(
    "/{ticket_id}",
    response_model=TicketOut,
    summary="Get a ticket",
    responses=error_responses(401, 404),
)
async def get_ticket(ticket_id: str, caller: CallerDep) -> TicketOut:
    """A ticket the caller may read (404 otherwise, whether or not it exists)."""
    doc = await caller.scope.get("ticket", parse_id(ticket_id, "ticket"), "ticket:read")
    return ticket_out(doc, caller.scope.engine, caller.principal)


@router.patch(
    "/{ticket_id}",
    response_model=TicketOut,
    summary="Update a ticket",
    responses=error_responses(401, 403, 404, 422),
)
async def update_ticket(ticket_id: str, body: TicketUpdate, caller: CallerDep) -> TicketOut:
    """Change fields the caller's role may write (admin: all; agent: status, priority,
    assigned_to); anything else is 403 naming the fields."""
    doc = await service.update_ticket(
        caller.scope, parse_id(ticket_id, "ticket"), body.model_dump(exclude_unset=True)
    )
    return ticket_out(doc, caller.scope.engine, caller.principal)


@router.delete(
    "/{ticket_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a ticket",
    responses=error_responses(401, 403, 404),
)
async def delete_ticket(ticket_id: str, caller: CallerDep, db: DatabaseDep) -> Response:
    """Delete a ticket (admin)."""
    await service.delete_ticket(db, caller.scope, parse_id(ticket_id, "ticket"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{ticket_id}/replies",
    status_code=status.HTTP_201_CREATED,
    response_model=ReplyOut,
    summary="Reply, or add an internal note",
    responses=error_responses(401, 403, 404, 422),
)
async def add_reply(ticket_id: str, body: ReplyIn, caller: CallerDep) -> ReplyOut:
    """A public reply (anyone who can read the ticket) or an internal note (staff)."""
    reply = await service.add_reply(
        caller.scope, parse_id(ticket_id, "ticket"), body.body, body.internal
    )
    return reply_out(reply)


@router.post(
    "/{ticket_id}/viewers",
    status_code=status.HTTP_201_CREATED,
    response_model=ViewerOut,
    summary="Share a ticket with a member",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def add_viewer(ticket_id: str, body: ViewerIn, caller: CallerDep) -> ViewerOut:
    """Let another member of the ticket's company read it and reply (admins and agents)."""
    await service.share(caller.scope, parse_id(ticket_id, "ticket"), ObjectId(body.user_id))
    return ViewerOut(ticket_id=ticket_id, user_id=body.user_id, role="viewer")


@router.delete(
    "/{ticket_id}/viewers/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop sharing a ticket",
    responses=error_responses(401, 403, 404),
)
async def remove_viewer(ticket_id: str, user_id: str, caller: CallerDep) -> Response:
    """Revoke a viewer grant (admins and agents)."""
    await service.unshare(caller.scope, parse_id(ticket_id, "ticket"), parse_id(user_id, "viewer"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
