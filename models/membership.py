"""A user's role in one company: the fact tenant permissions derive from."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from models.common import utcnow


class Membership(Document):
    """User `user` holds `role` in company `company`. At most one per (user, company).

    The roles and what they allow are the policy's (`authz/policy.toml`); the API refuses a
    role the policy does not declare before one is stored.
    """

    user: PydanticObjectId
    company: PydanticObjectId
    role: str
    # How far the role's ticket permissions reach (`access` in the policy): None is the
    # role's default (`all`); agents may be limited to their groups or their assignments.
    ticket_access: str | None = None
    created_by: PydanticObjectId | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "memberships"
        indexes = [
            IndexModel(
                [("user", ASCENDING), ("company", ASCENDING)],
                name="user_company_unique",
                unique=True,
            ),
            IndexModel([("company", ASCENDING), ("role", ASCENDING)], name="company_role"),
        ]
