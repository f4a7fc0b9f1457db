"""Support tickets, with their replies embedded."""

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from bson import ObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from models.common import utcnow


class Status(StrEnum):
    """Where a ticket is in its life."""

    OPEN = "open"
    IN_PROGRESS = "in-progress"
    RESOLVED = "resolved"


class Priority(StrEnum):
    """How urgent a ticket is."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Reply(BaseModel):
    """A message on a ticket. Internal notes are hidden from callers who only view."""

    id: PydanticObjectId = Field(default_factory=lambda: PydanticObjectId(ObjectId()))
    author: PydanticObjectId
    body: str
    internal: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Ticket(Document):
    """A support request in one company. Every index leads with `company`: the shard key.

    `viewers` are the members the ticket is shared with (the policy's `viewer` relation),
    kept on the ticket so that a share costs its receiver nothing on their other requests:
    their filter branch is `{company, viewers: <them>}` however many tickets name them, on
    the `company_viewers` index. At most the policy's limit (1,000) per ticket. Read through
    `authz.scope.Scope`, the array holds only the caller's own entry, if any: a page of
    tickets never carries their whole audiences.
    """

    company: PydanticObjectId
    number: int
    subject: str
    description: str
    status: Status = Status.OPEN
    priority: Priority = Priority.NORMAL
    created_by: PydanticObjectId
    assigned_to: PydanticObjectId | None = None
    group: PydanticObjectId | None = None
    # Read only by the company's admins, its assignee, its creator and those it is shared
    # with (the policy's `confidential` condition).
    confidential: bool = False
    viewers: list[PydanticObjectId] = Field(default_factory=list)
    replies: list[Reply] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "tickets"
        indexes = [
            IndexModel(
                [("company", ASCENDING), ("number", ASCENDING)],
                name="company_number_unique",
                unique=True,
            ),
            IndexModel([("company", ASCENDING), ("_id", DESCENDING)], name="company_id"),
            IndexModel(
                [("company", ASCENDING), ("created_by", ASCENDING), ("_id", DESCENDING)],
                name="company_creator",
            ),
            IndexModel(
                [("company", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)],
                name="company_status",
            ),
            IndexModel(
                [("company", ASCENDING), ("assigned_to", ASCENDING), ("_id", DESCENDING)],
                name="company_assignee",
            ),
            IndexModel(
                [("company", ASCENDING), ("group", ASCENDING), ("_id", DESCENDING)],
                name="company_group",
            ),
            # Multikey: a ticket has one entry per viewer; `_id` after the equality on
            # `viewers` gives the newest-first order without a sort.
            IndexModel(
                [("company", ASCENDING), ("viewers", ASCENDING), ("_id", DESCENDING)],
                name="company_viewers",
            ),
        ]
