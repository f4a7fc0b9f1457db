"""A tenant. Every protected document carries its company's id."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field

from models.common import utcnow

# A company whose deletion has started is gone for its members at once.
LIVE_COMPANY = {"deleting": {"$ne": True}}


class Company(Document):
    """A tenant.

    `ticket_seq` is the last ticket number handed out; it is incremented atomically
    (`$inc` on this one document) so numbers stay unique and sequential under concurrent
    creation. `owners_version` is written by every change that takes an owner (admin) away
    in a transaction, so that two such changes conflict (see app/services/memberships.py).
    `deleting` marks a tenant whose deletion has started: it is hidden at once, and a
    retried deletion finishes the remaining idempotent steps.
    """

    name: str
    created_by: PydanticObjectId
    ticket_seq: int = 0
    owners_version: int = 0
    deleting: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "companies"
