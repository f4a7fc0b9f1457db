"""Beanie documents: the collections of the ticketing service and their indexes."""

from beanie import Document

from models.audit import AuditEvent
from models.common import touched, utcnow
from models.company import LIVE_COMPANY, Company
from models.grant import Grant
from models.login import LoginThrottle
from models.membership import Membership
from models.ticket import Priority, Reply, Status, Ticket
from models.user import User

DOCUMENT_MODELS: list[type[Document]] = [
    User,
    Company,
    Membership,
    Ticket,
    Grant,
    AuditEvent,
    LoginThrottle,
]

__all__ = [
    "DOCUMENT_MODELS",
    "LIVE_COMPANY",
    "AuditEvent",
    "Company",
    "Grant",
    "LoginThrottle",
    "Membership",
    "Priority",
    "Reply",
    "Status",
    "Ticket",
    "User",
    "touched",
    "utcnow",
]
