"""A person who can sign in. Roles are not here: they live in memberships, per company."""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from models.common import utcnow


class User(Document):
    """An account. `email` is stored lower-cased so uniqueness ignores case.

    A local account has a `password_hash`; an account synced from the identity provider
    has none (it signs in there) and carries the provider's user id in `idp_subject`,
    unique among the accounts that have one (a partial index: local accounts store null).
    """

    username: str
    email: str
    password_hash: str | None = None
    idp_subject: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "users"
        indexes = [
            IndexModel([("username", ASCENDING)], name="username_unique", unique=True),
            IndexModel([("email", ASCENDING)], name="email_unique", unique=True),
            IndexModel(
                [("idp_subject", ASCENDING)],
                name="idp_subject_unique",
                unique=True,
                partialFilterExpression={"idp_subject": {"$type": "string"}},
            ),
        ]
