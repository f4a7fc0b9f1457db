"""The audit trail: every denial and every write, with the reason the engine gave."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from models.common import utcnow


class AuditEvent(Document):
    """One decision or write. Expires after the configured retention.

    The TTL index on `time` is created by the application at start-up, not declared here:
    servers without TTL support (FerretDB v1) refuse it, and the app falls back to a
    periodic purge there.
    """

    time: datetime = Field(default_factory=utcnow)
    user: PydanticObjectId | None = None
    company: PydanticObjectId | None = None
    action: str
    resource_type: str
    resource_id: PydanticObjectId | None = None
    allowed: bool
    reason: str

    class Settings:
        name = "audit_events"
        indexes = [
            IndexModel([("company", ASCENDING), ("_id", DESCENDING)], name="company_id"),
        ]
