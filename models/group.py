"""Helpdesk groups: how a company routes its tickets, and scopes its agents."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from models.common import utcnow


class Group(Document):
    """A group of a company's staff (Billing, Sales...); tickets name their group.

    `members` is who is in it (the policy's `member` relation, whose holders have
    `group#member`), at most the policy's limit (500). Each member's copy of their facts
    (`User.access`) also lists the groups they are in, since a group-scoped agent's filter
    names them.
    """

    company: PydanticObjectId
    name: str
    created_by: PydanticObjectId
    members: list[PydanticObjectId] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "groups"
        indexes = [
            IndexModel(
                [("company", ASCENDING), ("name", ASCENDING)],
                name="company_name_unique",
                unique=True,
            ),
            # The groups a user is in, per company: their copy of their facts is rebuilt
            # from it, and removing a member takes them out of every group in one write.
            IndexModel([("company", ASCENDING), ("members", ASCENDING)], name="company_members"),
        ]
