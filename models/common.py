"""Helpers shared by the documents."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time in UTC, truncated to milliseconds as BSON stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
