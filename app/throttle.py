"""Login throttling, kept in the database so every API worker enforces the same limits.

Attempts are counted per account and per client address in a window that opens with the
first one. The failure that uses a key's last attempt locks it, and while a lock is in force
even the right password gets 429.

An attempt is counted *before* its password is checked, by claiming one of its key's
`limit` attempt slots: a document whose unique `key` names the key, the window and the slot.
A unique index is the one write that both MongoDB and FerretDB v1 make atomic (FerretDB
applies `$inc` as a read-modify-write, so parallel increments get lost), so however many
guesses arrive at once, no more than `limit` per window get a password check. A right
password gives its slot back, and clears the account's.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from app.config import Settings
from app.errors import RateLimited
from models import LoginThrottle, utcnow


@dataclass(frozen=True, slots=True)
class Slot:
    """The attempt slot one sign-in holds on one throttled key."""

    key: str
    window: datetime
    limit: int
    slot: str


def _keys(email: str, client: str | None, settings: Settings) -> list[tuple[str, int]]:
    keys = [(f"account:{email}", settings.login_max_failures)]
    if client:
        keys.append((f"ip:{client}", settings.login_max_failures_per_ip))
    return keys


def _slots(key: str, window: datetime, limit: int) -> list[str]:
    stamp = int(window.timestamp() * 1000)
    return [f"{key}@{stamp}#{i}" for i in range(1, limit + 1)]


async def ensure_not_locked(email: str, client: str | None) -> None:
    """Raise 429 (with Retry-After) if the account or the address is locked now."""
    now = utcnow()
    keys = [f"account:{email}"] + ([f"ip:{client}"] if client else [])
    docs = await LoginThrottle.get_pymongo_collection().find({"key": {"$in": keys}}).to_list()
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


async def _window(key: str, now: datetime, settings: Settings, limit: int) -> datetime:
    """The start of the key's window; a new one once the last has passed or its lock ended."""
    coll = LoginThrottle.get_pymongo_collection()
    doc: dict[str, Any] | None = await coll.find_one({"key": key})
    if doc is None:
        try:
            await coll.insert_one(
                {"key": key, "failures": 0, "window_start": now, "locked_until": None}
            )
            return now
        except DuplicateKeyError:  # a parallel first attempt opened it
            doc = await coll.find_one({"key": key})
    assert doc is not None  # noqa: S101 - the key exists once its insert collided
    start: datetime = doc["window_start"]
    lock = doc.get("locked_until")
    if start >= now - timedelta(seconds=settings.login_window_seconds) and not (
        lock and lock <= now
    ):
        return start
    # Only one of several parallel attempts reopens it; the others join the new window.
    await coll.update_one(
        {"key": key, "window_start": start},
        {"$set": {"window_start": now, "failures": 0, "locked_until": None}},
    )
    await coll.delete_many({"key": {"$in": _slots(key, start, limit)}})
    current = await coll.find_one({"key": key})
    return current["window_start"] if current else now


async def _claim(key: str, window: datetime, limit: int) -> str | None:
    """Take the first free attempt slot of `key`'s window; None when all are taken."""
    coll = LoginThrottle.get_pymongo_collection()
    slots = _slots(key, window, limit)
    taken = {d["key"] for d in await coll.find({"key": {"$in": slots}}, {"key": 1}).to_list()}
    for slot in slots:
        if slot in taken:
            continue
        try:
            await coll.insert_one({"key": slot, "window_start": window})
            return slot
        except DuplicateKeyError:  # a parallel attempt took it first
            continue
    return None


async def begin_attempt(email: str, client: str | None, settings: Settings) -> list[Slot]:
    """Claim this attempt's slots before the password is checked; 429 when a key has none."""
    now = utcnow()
    held: list[Slot] = []
    for key, limit in _keys(email, client, settings):
        window = await _window(key, now, settings, limit)
        slot = await _claim(key, window, limit)
        if slot is None:
            # Unchecked, so the attempt does not count against the other key either.
            await _release(held)
            retry = settings.login_lock_seconds
            raise RateLimited(
                f"too many failed sign-ins; try again in {retry} seconds", retry_after=retry
            )
        held.append(Slot(key, window, limit, slot))
    return held


async def record_failure(held: list[Slot], settings: Settings) -> None:
    """After a wrong password: lock each key whose slots are all used."""
    coll = LoginThrottle.get_pymongo_collection()
    until = utcnow() + timedelta(seconds=settings.login_lock_seconds)
    for s in held:
        used = await coll.count_documents({"key": {"$in": _slots(s.key, s.window, s.limit)}})
        lock = {"locked_until": until} if used >= s.limit else {}
        await coll.update_one({"key": s.key}, {"$set": {"failures": used, **lock}})


async def record_success(held: list[Slot]) -> None:
    """After the right password: forget the account's failures; give the address its slot
    back (only failures count against an address that many people may sign in from)."""
    coll = LoginThrottle.get_pymongo_collection()
    for s in held:
        if s.key.startswith("account:"):
            await coll.delete_many({"key": {"$in": [s.key, *_slots(s.key, s.window, s.limit)]}})
    await _release([s for s in held if not s.key.startswith("account:")])


async def _release(held: list[Slot]) -> None:
    if held:
        await LoginThrottle.get_pymongo_collection().delete_many(
            {"key": {"$in": [s.slot for s in held]}}
        )
