"""Stored documents as the API shows them: the read projections of the response bodies."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.schemas import AuditOut, ReplyOut, TicketOut
from models import AuditEvent, Reply, Ticket


def reply_out(reply: Reply) -> ReplyOut:
    """A reply as the API shows it."""
    return ReplyOut.model_validate(reply)


def ticket_out(ticket: Ticket, internal_notes: bool) -> TicketOut:
    """A ticket as the API shows it; internal notes only when `internal_notes` (which the
    engine decides: `Scope.sees_internal_notes`)."""
    return TicketOut(
        id=ticket.id,
        company_id=ticket.company,
        number=ticket.number,
        subject=ticket.subject,
        description=ticket.description,
        status=ticket.status,
        priority=ticket.priority,
        created_by=ticket.created_by,
        assigned_to=ticket.assigned_to,
        group_id=ticket.group,
        confidential=ticket.confidential,
        replies=[reply_out(r) for r in ticket.replies if internal_notes or not r.internal],
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
    )


def tickets_out(
    stored: Iterable[Mapping[str, Any]], internal_notes: Callable[[Mapping[str, Any]], bool]
) -> list[TicketOut]:
    """Stored tickets, as PyMongo decoded them, validated straight into the response model
    (no document object in between: a page is the hot path of the API); each keeps its
    internal notes only when `internal_notes(ticket)` says so (`Scope.internal_notes_shown`)."""
    shown = []
    for doc in stored:
        replies = doc.get("replies", ())
        # Decided only where the answer changes what is shown: a ticket with internal notes.
        if any(r.get("internal") for r in replies) and not internal_notes(doc):
            doc = {**doc, "replies": [r for r in replies if not r.get("internal")]}
        shown.append(TicketOut.model_validate(doc))
    return shown


def audit_out(event: AuditEvent) -> AuditOut:
    """An audit event as the API shows it."""
    return AuditOut.model_validate(event)
