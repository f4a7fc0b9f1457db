"""Webhook deliveries already processed, so that a replayed one does nothing twice."""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from models.common import utcnow


class WebhookDelivery(Document):
    """One processed delivery, keyed by the SHA-256 of its signed body (`digest`).

    The identity provider sends no delivery id, but its body carries a signed creation
    time and is refused once that is too old: a record only has to outlive that window.
    The server deletes it at `expires_at` (TTL index).
    """

    digest: str
    event: str
    subject: str
    received_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime

    class Settings:
        name = "webhook_deliveries"
        indexes = [
            IndexModel([("digest", ASCENDING)], name="digest_unique", unique=True),
            IndexModel([("expires_at", ASCENDING)], name="expiry_ttl", expireAfterSeconds=0),
        ]
