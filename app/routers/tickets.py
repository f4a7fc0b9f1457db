"""Tickets: open, list, read, update, delete, reply and share."""

import re
from typing import Annotated, Any

from bson import ObjectId
from fastapi import APIRouter, Query, Response, status

from app.deps import CallerDep, Cursor, TicketId, UserId
from app.openapi import error_responses
from app.presenters import reply_out, ticket_out, tickets_out
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
from authz.scope import Scope
from models import Status, Ticket

router = APIRouter(prefix="/tickets", tags=["tickets"])


def shown(ticket: Ticket, scope: Scope) -> TicketOut:
    """The ticket as this caller may see it (internal notes only for those who may)."""
    return ticket_out(ticket, scope.sees_internal_notes(ticket))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketOut,
    summary="Open a ticket",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_ticket(body: TicketIn, caller: CallerDep) -> TicketOut:
    """Open a ticket in a company the caller belongs to; numbers are sequential per company.
    Staff may put it in a group; only admins mark it confidential or urgent (403)."""
    given = body.model_dump(exclude_unset=True, exclude={"company_id"})
    ticket = await service.create_ticket(caller.scope, ObjectId(body.company_id), given)
    return shown(ticket, caller.scope)


@router.get(
    "",
    response_model=TicketPage,
    summary="List the tickets I may see",
    responses=error_responses(401, 422),
)
async def list_tickets(
    caller: CallerDep,
    cursor: Cursor = None,
    company_id: Annotated[ObjectIdStr | None, Query()] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    assigned_to: Annotated[ObjectIdStr | None, Query()] = None,
    group_id: Annotated[ObjectIdStr | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Case-insensitive text in subject or description",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    """Tickets the caller may read, newest first, filtered; follow `next_cursor`."""
    query: dict[str, Any] = {}
    if company_id is not None:
        query["company"] = ObjectId(company_id)
    if status_ is not None:
        query["status"] = status_.value
    if assigned_to is not None:
        query["assigned_to"] = ObjectId(assigned_to)
    if group_id is not None:
        query["group"] = ObjectId(group_id)
    if q is not None:
        # Escaped: the text is matched literally, never interpreted as a pattern.
        pattern = {"$regex": re.escape(q), "$options": "i"}
        query["$or"] = [{"subject": pattern}, {"description": pattern}]
    page = await caller.scope.stored_page(Ticket, "ticket:read", query, limit, cursor)
    return TicketPage(
        items=tickets_out(page.items, caller.scope.internal_notes_shown(Ticket)),
        next_cursor=str(page.next_cursor) if page.next_cursor else None,
    )


@router.get(
    "/{ticket_id}",
    response_model=TicketOut,
    summary="Get a ticket",
    responses=error_responses(401, 404),
)
async def get_ticket(ticket_id: TicketId, caller: CallerDep) -> TicketOut:
    """A ticket the caller may read (404 otherwise, whether or not it exists)."""
    target = await caller.scope.get(Ticket, ticket_id, "ticket:read")
    return shown(target.doc, caller.scope)


@router.patch(
    "/{ticket_id}",
    response_model=TicketOut,
    summary="Update a ticket",
    responses=error_responses(401, 403, 404, 422),
)
async def update_ticket(ticket_id: TicketId, body: TicketUpdate, caller: CallerDep) -> TicketOut:
    """Change fields the policy lets the caller write (admin: all; agent: status, priority,
    assigned_to, group_id; the creator: subject and description while it is open; a
    resolved ticket: only its status); anything else is 403 naming the fields and why."""
    ticket = await service.update_ticket(
        caller.scope, ticket_id, body.model_dump(exclude_unset=True)
    )
    return shown(ticket, caller.scope)


@router.delete(
    "/{ticket_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a ticket",
    responses=error_responses(401, 403, 404),
)
async def delete_ticket(ticket_id: TicketId, caller: CallerDep) -> Response:
    """Delete a ticket (admin)."""
    await service.delete_ticket(caller.scope, ticket_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{ticket_id}/replies",
    status_code=status.HTTP_201_CREATED,
    response_model=ReplyOut,
    summary="Reply, or add an internal note",
    responses=error_responses(401, 403, 404, 422),
)
async def add_reply(ticket_id: TicketId, body: ReplyIn, caller: CallerDep) -> ReplyOut:
    """A public reply (anyone who can read the ticket) or an internal note (staff)."""
    reply = await service.add_reply(caller.scope, ticket_id, body.body, body.internal)
    return reply_out(reply)


@router.post(
    "/{ticket_id}/viewers",
    status_code=status.HTTP_201_CREATED,
    response_model=ViewerOut,
    summary="Share a ticket with a member",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def add_viewer(ticket_id: TicketId, body: ViewerIn, caller: CallerDep) -> ViewerOut:
    """Let another member of the ticket's company read it and reply (admins and agents).
    409 if it is shared with them already, or with the most members the policy allows
    (1,000)."""
    await service.share(caller.scope, ticket_id, ObjectId(body.user_id))
    return ViewerOut(
        ticket_id=ticket_id, user_id=body.user_id, role=service.shared_as(caller.scope)
    )


@router.delete(
    "/{ticket_id}/viewers/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop sharing a ticket",
    responses=error_responses(401, 403, 404),
)
async def remove_viewer(ticket_id: TicketId, user_id: UserId, caller: CallerDep) -> Response:
    """Stop sharing the ticket with a member (admins and agents)."""
    await service.unshare(caller.scope, ticket_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
