"""Logto's webhooks on the wire: the signature, the freshness window, the sign-up events.

Logto signs each delivery with HMAC-SHA256 over the raw body, keyed with the webhook's
signing key, as lowercase hex in the `logto-signature-sha-256` header. There is no
timestamp header and no delivery id: the body's own `createdAt` is signed, so it is the
freshness signal (a delivery older than `FRESHNESS` is refused), and the body's hash is
what a replay is recognised by (see `app/services/idp_users.py`).

Nothing here touches the database: it turns bytes into a verified, parsed event or a
clear refusal.
"""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.config import CLOCK_SKEW_SECONDS
from app.errors import MalformedRequest, Unauthorized
from app.schemas import Email

SIGNATURE_HEADER = "logto-signature-sha-256"
FRESHNESS = timedelta(minutes=5)
SIGN_UP_EVENTS = frozenset({"PostRegister", "User.Created"})
# Logto's user ids are short lowercase alphanumerics; anything far from that is refused
# rather than stored as an identity (it also ends up in a placeholder address).
SUBJECT = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# What the console's "Send test payload" puts in its (signed) samples: no real user.
TEST_USER_ID = "fake-id"
TEST_USER_AGENT = "fake-user-agent"

_email = TypeAdapter(Email)


def verify_signature(body: bytes, signature: str | None, signing_key: str) -> None:
    """Refuse a body whose signature is missing or not the HMAC of its exact bytes."""
    if not signature:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header")
    expected = hmac.new(signing_key.encode(), body, hashlib.sha256).hexdigest().encode()
    # Header values arrive decoded as latin-1, so this encoding never fails.
    if not hmac.compare_digest(expected, signature.strip().lower().encode("latin-1")):
        raise Unauthorized("webhook signature does not match the body")


def digest(body: bytes) -> str:
    """The identity of a delivery: the SHA-256 of its signed bytes."""
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class Event:
    """A verified, fresh delivery."""

    name: str
    created_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SignUp:
    """Who signed up at the identity provider, as far as this API needs to know."""

    event: str
    subject: str
    username: str | None
    email: str | None


def read_event(body: bytes, now: datetime) -> Event:
    """Parse a (verified) body; 400 unless it is a JSON object with an `event` name and a
    `createdAt` within the freshness window."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest("the body is not JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedRequest("the body must be a JSON object")
    name = payload.get("event")
    if not isinstance(name, str) or not name:
        raise MalformedRequest("the body names no `event`")
    created_at = _timestamp(payload.get("createdAt"))
    if created_at < now - FRESHNESS:
        raise MalformedRequest(
            f"the delivery was created at {created_at.isoformat()}, more than "
            f"{int(FRESHNESS.total_seconds() // 60)} minutes ago: refused as a possible replay"
        )
    if created_at > now + timedelta(seconds=CLOCK_SKEW_SECONDS):
        raise MalformedRequest(f"the delivery's createdAt ({created_at.isoformat()}) is ahead")
    return Event(name, created_at, payload)


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise MalformedRequest("`createdAt` must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedRequest("`createdAt` must be an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise MalformedRequest("`createdAt` must carry its offset (Logto sends UTC, `Z`)")
    return moment.astimezone(UTC)


def is_test(event: Event) -> bool:
    """A sample the Logto console sends to test the endpoint (user id `fake-id`)."""
    payload = event.payload
    params = payload.get("params")
    ids = {payload.get("userId"), params.get("id") if isinstance(params, dict) else None}
    return payload.get("userAgent") == TEST_USER_AGENT and TEST_USER_ID in ids


def sign_up(event: Event) -> SignUp:
    """The user of a `PostRegister` or `User.Created` event; 400 without a usable user id.

    `PostRegister` carries the user in `user` (and its id again in `userId`);
    `User.Created` carries it in `data`.
    """
    section = "user" if event.name == "PostRegister" else "data"
    user = event.payload.get(section)
    if not isinstance(user, dict):
        user = {}
    subject = user.get("id")
    if subject is None and event.name == "PostRegister":
        subject = event.payload.get("userId")
    if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
        raise MalformedRequest(f"the {event.name} event carries no usable user id ({section}.id)")
    username = user.get("username")
    return SignUp(
        event=event.name,
        subject=subject,
        username=username if isinstance(username, str) and username else None,
        email=_address(user.get("primaryEmail")),
    )


def _address(value: object) -> str | None:
    """A valid address, lower-cased; anything else is no address (never a failed sync)."""
    if not isinstance(value, str):
        return None
    try:
        return _email.validate_python(value)
    except ValidationError:
        return None
