"""Beanie documents: the collections of the ticketing service and their indexes."""

from beanie import Document

from models.audit import AuditEvent
from models.common import touched, utcnow
from models.company import LIVE_COMPANY, Company
from models.group import Group
from models.invitation import Invitation
from models.login import LoginThrottle
from models.membership import Membership
from models.ticket import Priority, Reply, Status, Ticket
from models.user import User
from models.webhook import WebhookDelivery

DOCUMENT_MODELS: list[type[Document]] = [
    User,
    Company,
    Membership,
    Ticket,
    Group,
    AuditEvent,
    LoginThrottle,
    Invitation,
    WebhookDelivery,
]

__all__ = [
    "DOCUMENT_MODELS",
    "LIVE_COMPANY",
    "AuditEvent",
    "Company",
    "Group",
    "Invitation",
    "LoginThrottle",
    "Membership",
    "Priority",
    "Reply",
    "Status",
    "Ticket",
    "User",
    "WebhookDelivery",
    "touched",
    "utcnow",
]
