"""Helpdesk groups: how a company routes its tickets, and scopes its agents."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from models.common import utcnow


class Group(Document):
    """A group of a company's staff (Billing, Sales...). Who is in it is stored in `grants`
    (role `member` on the group, the policy's `group#member`); tickets name their group."""

    company: PydanticObjectId
    name: str
    created_by: PydanticObjectId
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
        ]
