"""Throttling of sign-ins and of account look-ups, kept in the database so every API
worker enforces the same limits.

Sign-in attempts are counted per account and per client address in a window that opens
with the first one. An attempt claims its place *before* its password is checked, with one
atomic conditional `$inc` (`attempts < limit`), so however many guesses arrive at once, no
more than `limit` per window get a password check. The failure that uses a key's last
attempt locks it, and while a lock is in force even the right password gets 429. A right
password gives its attempt back, and clears the account's count.

Account look-ups (registering an email, adding a member by email or id) are counted per
client address and per signed-in caller, with the same atomic claim, but only for the
answers that tell whether an account exists without changing anything (a taken email, no
account with that email); the claim is taken before such an answer is given, so a burst
gets no more of them than the limit, and while a lock is in force every look-up gets 429.
So these answers cannot be collected in bulk to learn who has an account.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
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


SIGN_INS = "too many failed sign-ins"
LOOKUPS = "too many look-ups of accounts that exist or do not"


async def ensure_not_locked(email: str, client: str | None, settings: Settings) -> None:
    """Raise 429 (with Retry-After) if the account or the address is locked now."""
    await _ensure_unlocked([c.key for c in _claims(email, client, settings)], SIGN_INS)


async def _ensure_unlocked(keys: list[str], what: str) -> None:
    now = utcnow()
    docs = await (
        LoginThrottle.get_pymongo_collection()
        .find({"key": {"$in": keys}, "locked_until": {"$gt": now}}, {"locked_until": 1})
        .to_list()
    )
    if docs:
        wait = max((d["locked_until"] - now).total_seconds() for d in docs)
        retry = max(1, int(wait) + 1)
        raise RateLimited(f"{what}; try again in {retry} seconds", retry_after=retry)


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
    return await _claim_all(_claims(email, client, settings), settings, SIGN_INS)


async def _claim_all(claims: list[Claim], settings: Settings, what: str) -> list[Claim]:
    now = utcnow()
    held: list[Claim] = []
    for claim in claims:
        if not await _claim(claim, now, settings):
            # Unchecked, so the attempt does not count against the other key either.
            await _release(held)
            retry = settings.login_lock_seconds
            raise RateLimited(f"{what}; try again in {retry} seconds", retry_after=retry)
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


@dataclass(frozen=True, slots=True)
class Lookup:
    """One look-up of an account by a client address and, when signed in, a caller."""

    claims: list[Claim]
    settings: Settings

    async def reveal(self) -> None:
        """Count an answer that tells whether the account exists, before it is given; 429
        instead when the address or the caller has none left (the last one locks them)."""
        held = await _claim_all(self.claims, self.settings, LOOKUPS)
        await record_failure(held, self.settings)


async def account_lookup(client: str | None, caller: ObjectId | None, settings: Settings) -> Lookup:
    """Start a look-up: 429 now if the address or the caller is locked, whatever the answer
    would be (a locked prober must not tell a 201 from a 404 either)."""
    claims = [Claim(f"lookup-ip:{client}", settings.account_lookups_per_ip)] if client else []
    if caller is not None:
        claims.append(Claim(f"lookup-user:{caller}", settings.account_lookups_per_user))
    await _ensure_unlocked([c.key for c in claims], LOOKUPS)
    return Lookup(claims, settings)
