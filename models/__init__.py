"""Beanie documents: the collections of the ticketing service and their indexes."""

from models.audit import AuditEvent
from models.common import document_lock, utcnow
from models.company import Company
from models.grant import Grant
from models.login import LoginThrottle
from models.membership import Membership, Role
from models.ticket import Priority, Reply, Status, Ticket
from models.user import User

DOCUMENT_MODELS: list[type] = [User, Company, Membership, Ticket, Grant, AuditEvent, LoginThrottle]

__all__ = [
    "DOCUMENT_MODELS",
    "AuditEvent",
    "Company",
    "Grant",
    "LoginThrottle",
    "Membership",
    "Priority",
    "Reply",
    "Role",
    "Status",
    "Ticket",
    "User",
    "document_lock",
    "utcnow",
]
