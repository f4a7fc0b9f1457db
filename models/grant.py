"""Stored instance roles, e.g. a ticket shared with another member as `viewer`."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from models.common import utcnow


class Grant(Document):
    """User `user` holds instance role `role` on resource (`resource_type`, `resource_id`).

    `company` is the resource's company: a grant counts only while its holder is a member
    there, and removing the member deletes their grants by company.
    """

    user: PydanticObjectId
    role: str
    resource_type: str
    resource_id: PydanticObjectId
    company: PydanticObjectId
    created_by: PydanticObjectId | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "grants"
        indexes = [
            IndexModel(
                [
                    ("user", ASCENDING),
                    ("resource_type", ASCENDING),
                    ("resource_id", ASCENDING),
                    ("role", ASCENDING),
                ],
                name="grant_unique",
                unique=True,
            ),
            IndexModel([("company", ASCENDING), ("user", ASCENDING)], name="company_user"),
            IndexModel([("resource_id", ASCENDING)], name="resource"),
        ]
