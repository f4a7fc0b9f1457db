"""Invitations: how an admin gives a role to someone who has no account yet.

Creating, listing and revoking them takes `members:add` in the company. Accepting takes
only the token: it is the proof, shown once to the admin who passes it on, and stored as
a SHA-256 hash (like a password-reset token: 256 random bits need no slow hash). The
invited address is never proof: someone who registers it, here or at the identity
provider, gains nothing.

Accepting is one atomic write (`app/atomic.py`): a conditional update marks the
invitation used, which only one of two racing acceptances can do, then the membership is
inserted; if that fails (already a member: 409), the mark is undone, so the invitation is
left as it was. An invitation also lapses when whoever made it can no longer add members
there: it carries their authority, and it ends with it.
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from app.atomic import Unit, atomic
from app.db import Database
from app.services.companies import company_resource
from app.services.memberships import insert_member
from authz.engine import Decision, Resource
from authz.errors import Conflict, NotFound
from authz.facts import load_principal
from authz.scope import Scope
from models import LIVE_COMPANY, Company, Invitation, Membership, utcnow

PERMISSION = "members:add"
NOT_REDEEMABLE = (
    "no pending invitation has this token: it is unknown, expired, revoked or already used "
    "(ask the company's admin for a new one)"
)
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    """What is stored of a token, and looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def status_of(doc: dict[str, Any], now: datetime) -> str:
    """pending, accepted, revoked or expired."""
    if doc.get("accepted_at") is not None:
        return "accepted"
    if doc.get("revoked_at") is not None:
        return "revoked"
    if doc["expires_at"] <= now:
        return "expired"
    return "pending"


def _resource(company_id: ObjectId, invitation_id: ObjectId | None = None) -> Resource:
    return Resource("invitation", company_id, invitation_id)


async def create(
    scope: Scope, company_id: ObjectId, email: str, role: str, days: int
) -> tuple[dict[str, Any], str]:
    """A new invitation and its token (the only time the token exists in clear)."""
    decision = scope.authorize(PERMISSION, company_resource(company_id))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    invitation = Invitation(
        company=company_id,
        email=email,
        role=role,
        token_hash=token_hash(token),
        created_by=scope.user_id,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    await invitation.insert()
    assert invitation.id is not None  # noqa: S101 - set by the insert
    scope.record(_resource(company_id, invitation.id), decision)
    return invitation.model_dump(by_alias=True), token


async def list_for(scope: Scope, company_id: ObjectId) -> list[dict[str, Any]]:
    """The company's invitations, newest first (ended ones until their TTL removes them)."""
    scope.authorize(PERMISSION, company_resource(company_id))
    cursor = Invitation.get_pymongo_collection().find(
        {"company": company_id}, {"token_hash": 0}, sort=[("_id", -1)]
    )
    return await cursor.to_list()


async def revoke(scope: Scope, company_id: ObjectId, invitation_id: ObjectId) -> None:
    """Revoke a pending (or expired) invitation; revoking twice is a no-op; 409 once used."""
    decision = scope.authorize(PERMISSION, company_resource(company_id))
    coll = Invitation.get_pymongo_collection()
    mine = {"_id": invitation_id, "company": company_id}
    revoked = await coll.find_one_and_update(
        {**mine, "accepted_at": None, "revoked_at": None},
        {"$set": {"revoked_at": utcnow(), "revoked_by": scope.user_id}},
    )
    if revoked is None:
        doc = await coll.find_one(mine, {"accepted_at": 1})
        if doc is None:
            raise NotFound("invitation not found")
        if doc.get("accepted_at") is not None:
            raise Conflict("this invitation was accepted: remove the member instead")
        return
    scope.record(
        _resource(company_id, invitation_id),
        Decision(True, PERMISSION, "invitation revoked ({})", decision.reason),
    )


async def accept(db: Database, scope: Scope, token: str) -> tuple[Membership, str]:
    """Make the caller a member with the invitation's role; the company's name with it."""
    coll = Invitation.get_pymongo_collection()
    found = await coll.find_one({"token_hash": token_hash(token)})
    now = utcnow()
    if found is None or status_of(found, now) != "pending":
        raise NotFound(NOT_REDEEMABLE)
    invitation = Invitation.model_validate(found)
    company_id, inviter = invitation.company, invitation.created_by
    company = await Company.get_pymongo_collection().find_one(
        {"_id": company_id, **LIVE_COMPANY}, {"name": 1}
    )
    inviter_may = scope.engine.check(
        await load_principal(inviter), PERMISSION, company_resource(company_id)
    )
    if company is None or not inviter_may.allowed:
        raise NotFound(NOT_REDEEMABLE)
    user_id = scope.user_id

    async def steps(unit: Unit) -> Membership:
        pending = {"accepted_at": None, "revoked_at": None, "expires_at": {"$gt": now}}
        claimed = await coll.find_one_and_update(
            {"_id": invitation.id, **pending},
            {"$set": {"accepted_at": now, "accepted_by": user_id}},
            session=unit.session,
        )
        if claimed is None:  # taken, revoked or expired since the look-up
            raise NotFound(NOT_REDEEMABLE)
        unit.on_failure(
            lambda: coll.update_one(
                {"_id": invitation.id, "accepted_by": user_id},
                {"$set": {"accepted_at": None, "accepted_by": None}},
            )
        )
        return await insert_member(
            unit, scope.engine, company_id, user_id, invitation.role, created_by=inviter
        )

    membership = await atomic(db, steps)
    scope.record(
        _resource(company_id, invitation.id),
        Decision(True, PERMISSION, "invitation accepted with its token (invited by {})", inviter),
    )
    return membership, company["name"]
