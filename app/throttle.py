"""Login throttling, kept in the database so every API worker enforces the same limits.

Attempts are counted per account and per client address in a window that opens with the
first one. An attempt claims its place *before* its password is checked, with one atomic
conditional `$inc` (`attempts < limit`), so however many guesses arrive at once, no more
than `limit` per window get a password check. The failure that uses a key's last attempt
locks it, and while a lock is in force even the right password gets 429. A right password
gives its attempt back, and clears the account's count.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from app.config import Settings
from app.errors import RateLimited
from models import LoginThrottle, utcnow


@dataclass(frozen=True, slots=True)
class Claim:
    """The attempt one sign-in holds on one throttled key."""

    key: str
    limit: int


def _claims(email: str, client: str | None, settings: Settings) -> list[Claim]:
    claims = [Claim(f"account:{email}", settings.login_max_failures)]
    if client:
        claims.append(Claim(f"ip:{client}", settings.login_max_failures_per_ip))
    return claims


def _expiry(now: datetime, settings: Settings) -> datetime:
    """When a key touched now may be forgotten: after its window and a lock have passed."""
    return now + timedelta(seconds=settings.login_window_seconds + settings.login_lock_seconds)


async def ensure_not_locked(email: str, client: str | None, settings: Settings) -> None:
    """Raise 429 (with Retry-After) if the account or the address is locked now."""
    now = utcnow()
    keys = [c.key for c in _claims(email, client, settings)]
    docs = await (
        LoginThrottle.get_pymongo_collection()
        .find({"key": {"$in": keys}, "locked_until": {"$gt": now}}, {"locked_until": 1})
        .to_list()
    )
    if docs:
        wait = max((d["locked_until"] - now).total_seconds() for d in docs)
        retry = max(1, int(wait) + 1)
        raise RateLimited(
            f"too many failed sign-ins; try again in {retry} seconds", retry_after=retry
        )


async def _claim(claim: Claim, now: datetime, settings: Settings) -> bool:
    """Take one of the key's attempts in its window; False when none is left."""
    coll = LoginThrottle.get_pymongo_collection()
    window_opened_after = now - timedelta(seconds=settings.login_window_seconds)
    # A window that has passed (with no lock in force), or a lock that has ended, starts
    # afresh; of several attempts racing here only the first matches.
    await coll.update_one(
        {
            "key": claim.key,
            "$or": [
                {"locked_until": {"$lte": now}},
                {"locked_until": None, "window_start": {"$lte": window_opened_after}},
            ],
        },
        {"$set": {"window_start": now, "attempts": 0, "locked_until": None}},
    )
    room = {"key": claim.key, "attempts": {"$lt": claim.limit}}
    take: dict[str, Any] = {"$inc": {"attempts": 1}, "$max": {"expires_at": _expiry(now, settings)}}
    try:
        await coll.update_one(
            room, {**take, "$setOnInsert": {"window_start": now, "locked_until": None}}, upsert=True
        )
    except DuplicateKeyError:
        # The key exists but had no room, or a parallel first attempt created it just now.
        return (await coll.update_one(room, take)).modified_count == 1
    return True


async def begin_attempt(email: str, client: str | None, settings: Settings) -> list[Claim]:
    """Claim this attempt before the password is checked; 429 when a key has no room."""
    now = utcnow()
    held: list[Claim] = []
    for claim in _claims(email, client, settings):
        if not await _claim(claim, now, settings):
            # Unchecked, so the attempt does not count against the other key either.
            await _release(held)
            retry = settings.login_lock_seconds
            raise RateLimited(
                f"too many failed sign-ins; try again in {retry} seconds", retry_after=retry
            )
        held.append(claim)
    return held


async def record_failure(held: list[Claim], settings: Settings) -> None:
    """After a wrong password: lock each key whose attempts are all used."""
    now = utcnow()
    until = now + timedelta(seconds=settings.login_lock_seconds)
    coll = LoginThrottle.get_pymongo_collection()
    for claim in held:
        await coll.update_one(
            {"key": claim.key, "attempts": {"$gte": claim.limit}, "locked_until": None},
            {"$set": {"locked_until": until}, "$max": {"expires_at": _expiry(now, settings)}},
        )


async def record_success(held: list[Claim]) -> None:
    """After the right password: forget the account's failures; give the address its
    attempt back (only failures count against an address that many people share)."""
    accounts = [c.key for c in held if c.key.startswith("account:")]
    await LoginThrottle.get_pymongo_collection().delete_many({"key": {"$in": accounts}})
    await _release([c for c in held if not c.key.startswith("account:")])


async def _release(held: list[Claim]) -> None:
    if held:
        await LoginThrottle.get_pymongo_collection().update_many(
            {"key": {"$in": [c.key for c in held]}, "attempts": {"$gt": 0}},
            {"$inc": {"attempts": -1}},
        )
