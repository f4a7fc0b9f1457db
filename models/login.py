"""Sign-in attempt counters, kept in the database so every API worker sees the same ones."""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from models.common import utcnow


class LoginThrottle(Document):
    """Attempts for one key in its current window: sign-ins per account (`account:<email>`)
    and address (`ip:<address>`), account look-ups per address and caller (`lookup-ip:`,
    `lookup-user:`).

    `attempts` counts sign-ins that have claimed a password check in the window (those in
    flight and those that failed); the server forgets the key at `expires_at` (TTL), once
    its window and any lock are over.
    """

    key: str
    attempts: int = 0
    window_start: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None
    expires_at: datetime

    class Settings:
        name = "login_throttle"
        indexes = [
            IndexModel([("key", ASCENDING)], name="key_unique", unique=True),
            IndexModel([("expires_at", ASCENDING)], name="expiry_ttl", expireAfterSeconds=0),
        ]
