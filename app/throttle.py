"""Login throttling, kept in the database so every API worker enforces the same counters.

Failures are counted per account and per client address in a sliding window; past the
limit the key is locked, and while a lock is in force even a correct password gets 429.
"""

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from app.config import Settings
from app.errors import RateLimited
from models import LoginThrottle, utcnow


def _keys(email: str, client: str | None) -> list[tuple[str, str]]:
    keys = [("account", f"account:{email}")]
    if client:
        keys.append(("ip", f"ip:{client}"))
    return keys


async def ensure_not_locked(email: str, client: str | None) -> None:
    """Raise 429 (with Retry-After) if the account or the address is locked now."""
    now = utcnow()
    docs = (
        await LoginThrottle.get_pymongo_collection()
        .find({"key": {"$in": [k for _, k in _keys(email, client)]}})
        .to_list()
    )
    waits = [
        (d["locked_until"] - now).total_seconds()
        for d in docs
        if d.get("locked_until") and d["locked_until"] > now
    ]
    if waits:
        retry = max(1, int(max(waits)) + 1)
        raise RateLimited(
            f"too many failed sign-ins; try again in {retry} seconds", retry_after=retry
        )


async def _count_failure(key: str, now: datetime) -> dict[str, Any] | None:
    """Increment a key's failures, creating it on first failure."""
    coll = LoginThrottle.get_pymongo_collection()
    for _ in range(2):  # a parallel first failure may win the upsert: retry once
        try:
            doc: dict[str, Any] | None = await coll.find_one_and_update(
                {"key": key},
                {"$inc": {"failures": 1}, "$setOnInsert": {"window_start": now}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            return doc
        except DuplicateKeyError:
            continue
    return None


async def record_failure(email: str, client: str | None, settings: Settings) -> None:
    """Count a failed attempt for the account and the address; lock past the limits."""
    coll = LoginThrottle.get_pymongo_collection()
    now = utcnow()
    window_start = now - timedelta(seconds=settings.login_window_seconds)
    limits = {"account": settings.login_max_failures, "ip": settings.login_max_failures_per_ip}
    for kind, key in _keys(email, client):
        doc = await _count_failure(key, now)
        if doc is None:
            continue
        if doc["window_start"] < window_start:
            await coll.update_one(
                {"key": key}, {"$set": {"failures": 1, "window_start": now, "locked_until": None}}
            )
        elif doc["failures"] >= limits[kind]:
            until = now + timedelta(seconds=settings.login_lock_seconds)
            await coll.update_one({"key": key}, {"$set": {"locked_until": until}})


async def record_success(email: str) -> None:
    """Forget the account's failures after a successful sign-in."""
    await LoginThrottle.get_pymongo_collection().delete_one({"key": f"account:{email}"})
