"""Failed sign-in counters, kept in the database so every API worker sees the same ones."""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from models.common import utcnow


class LoginThrottle(Document):
    """Failures for one key (`account:<email>` or `ip:<address>`) in the current window."""

    key: str
    failures: int = 0
    window_start: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None

    class Settings:
        name = "login_throttle"
        indexes = [IndexModel([("key", ASCENDING)], name="key_unique", unique=True)]
