"""The audit trail: every denial and every write, with the reason the engine gave."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from models.common import utcnow


class AuditEvent(Document):
    """One decision or write. The server deletes it at `expires_at` (a TTL index).

    Each event carries its own expiry, set from the retention the API is configured with
    when the event is written, so changing the retention needs no index change.
    """

    time: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    user: PydanticObjectId | None = None
    company: PydanticObjectId | None = None
    action: str
    resource_type: str
    resource_id: PydanticObjectId | None = None
    allowed: bool
    reason: str
    request_id: str | None = None  # the API request that caused it (X-Request-ID)

    class Settings:
        name = "audit_events"
        indexes = [
            IndexModel([("company", ASCENDING), ("_id", DESCENDING)], name="company_id"),
            IndexModel([("expires_at", ASCENDING)], name="expiry_ttl", expireAfterSeconds=0),
        ]
