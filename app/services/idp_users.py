"""Accounts synced from the identity provider's sign-up webhooks.

One sign-up through Logto's UI sends two events (`PostRegister` and `User.Created`), and
an operator may send one again by hand: the sync is keyed by the provider's user id
(`User.idp_subject`, unique), so any number of them make one account, and it never
changes an account that exists.

A delivery is recorded as processed in the same atomic write that syncs its user (see
`app/atomic.py`): a replayed delivery, recognised by the hash of its signed bytes, finds
its record and does nothing; a delivery whose write failed left no record, so sending it
again processes it.

Accounts are never linked by email address: an address is not proof of identity (the
provider may not have verified it, and a local account may have registered it first). A
synced user whose address is missing, invalid or already used by another account gets a
placeholder, `<provider user id>@idp.invalid`: the reserved `.invalid` domain is refused by
registration and delivers nowhere, so it can never meet a real account. Usernames follow
the same rule: the provider's, else the address's local part, and `<name>:<provider user
id>` when that is taken (local usernames cannot contain `:`, and the id is unique).
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from app.atomic import Unit, atomic
from app.db import Database
from app.logto import FRESHNESS, Event, SignUp
from authz.errors import Conflict
from models import User, WebhookDelivery, utcnow

PLACEHOLDER_DOMAIN = "idp.invalid"
# A record outlives the window in which its delivery would still be accepted.
DELIVERY_RECORD_MARGIN = timedelta(minutes=1)
ATTEMPTS = 3


class AlreadyProcessed(Exception):
    """This exact delivery was processed before."""


@dataclass(frozen=True, slots=True)
class Synced:
    """The account of a sign-up, and whether this delivery created it."""

    user_id: ObjectId
    created: bool


async def sync_sign_up(db: Database, event: Event, sign_up: SignUp, digest: str) -> Synced | None:
    """Create the account of `sign_up` unless it exists; `None` for a replayed delivery."""

    async def steps(unit: Unit) -> Synced:
        deliveries = WebhookDelivery.get_pymongo_collection()
        try:
            await deliveries.insert_one(
                {
                    "digest": digest,
                    "event": event.name,
                    "subject": sign_up.subject,
                    "received_at": utcnow(),
                    "expires_at": event.created_at + FRESHNESS + DELIVERY_RECORD_MARGIN,
                },
                session=unit.session,
            )
        except DuplicateKeyError as exc:
            raise AlreadyProcessed from exc
        unit.on_failure(lambda: deliveries.delete_one({"digest": digest}))
        return await _ensure_account(sign_up, unit)

    attempt = 1
    while True:
        try:
            return await atomic(db, steps)
        except AlreadyProcessed:
            return None
        except DuplicateKeyError as exc:
            # Another delivery created this account, or took the name or address chosen
            # for it, between the look-ups and the insert: look again.
            if attempt == ATTEMPTS:
                raise Conflict("the account could not be synced: send the delivery again") from exc
            attempt += 1


async def _ensure_account(sign_up: SignUp, unit: Unit) -> Synced:
    users = User.get_pymongo_collection()
    existing = await users.find_one(
        {"idp_subject": sign_up.subject}, {"_id": 1}, session=unit.session
    )
    if existing is not None:
        return Synced(existing["_id"], created=False)
    now = utcnow()
    doc = {
        "username": await _free_username(sign_up, unit),
        "email": await _free_email(sign_up, unit),
        "password_hash": None,
        "idp_subject": sign_up.subject,
        "created_at": now,
        "updated_at": now,
    }
    result = await users.insert_one(doc, session=unit.session)
    return Synced(result.inserted_id, created=True)


async def _taken(field: str, value: str, unit: Unit) -> bool:
    found = await User.get_pymongo_collection().find_one(
        {field: value}, {"_id": 1}, session=unit.session
    )
    return found is not None


async def _free_username(sign_up: SignUp, unit: Unit) -> str:
    local_part = sign_up.email.split("@", 1)[0] if sign_up.email else None
    base = next(
        (clean for name in (sign_up.username, local_part) if name and (clean := _clean(name))),
        "user",
    )
    if await _taken("username", base, unit):
        return f"{base}:{sign_up.subject}"
    return base


def _clean(name: str) -> str:
    """A name in the characters local usernames use, at their length."""
    return re.sub(r"[^A-Za-z0-9_.-]", "", name)[:40]


async def _free_email(sign_up: SignUp, unit: Unit) -> str:
    if sign_up.email and not await _taken("email", sign_up.email, unit):
        return sign_up.email
    return f"{sign_up.subject}@{PLACEHOLDER_DOMAIN}"
