"""Invitations: a role in a company offered to someone who may have no account yet."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from models.common import utcnow

# An ended invitation (accepted, revoked or expired) stays listed this long after its
# expiry, then the server deletes it (TTL); the audit trail keeps the history.
KEPT_AFTER_EXPIRY_SECONDS = 30 * 24 * 3600


class Invitation(Document):
    """An offer of `role` in `company`, redeemable once with a secret token.

    Only the token's SHA-256 is stored (`token_hash`), as for a password-reset token: the
    token is shown once, to the admin who creates the invitation. `email` says whom the
    admin meant; it is a label, never proof: whoever presents the token accepts it.
    Pending means: not accepted, not revoked, and `expires_at` still ahead.
    """

    company: PydanticObjectId
    email: str
    role: str
    token_hash: str
    created_by: PydanticObjectId
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    accepted_by: PydanticObjectId | None = None
    accepted_at: datetime | None = None
    revoked_by: PydanticObjectId | None = None
    revoked_at: datetime | None = None

    class Settings:
        name = "invitations"
        indexes = [
            IndexModel([("token_hash", ASCENDING)], name="token_hash_unique", unique=True),
            IndexModel([("company", ASCENDING), ("_id", DESCENDING)], name="company_id"),
            IndexModel(
                [("expires_at", ASCENDING)],
                name="expiry_ttl",
                expireAfterSeconds=KEPT_AFTER_EXPIRY_SECONDS,
            ),
        ]
