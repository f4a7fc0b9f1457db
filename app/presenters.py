"""Stored documents as the API shows them: the read projections of the response bodies."""

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


def audit_out(event: AuditEvent) -> AuditOut:
    """An audit event as the API shows it."""
    return AuditOut.model_validate(event)
