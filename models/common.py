"""Helpers shared by the documents."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    """Return the current time in UTC, truncated to milliseconds as BSON stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def touched(update: Mapping[str, Any]) -> dict[str, Any]:
    """`update` that also sets `updated_at` to the server's clock, as one write."""
    return {**update, "$currentDate": {"updated_at": True}}
