"""A person who can sign in, with a copy of what authorization needs to know about them."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from models.common import utcnow


class MembershipFact(BaseModel):
    """The user's role in one company, and the access level it has (None: the role's
    default)."""

    company: PydanticObjectId
    role: str
    level: str | None = None


class ResourceRoleFact(BaseModel):
    """An instance role the user holds on a resource that others belong to (a group they
    are a member of), which an access level can reach through."""

    resource_type: str
    resource_id: PydanticObjectId
    company: PydanticObjectId
    role: str


class Access(BaseModel):
    """What authorization reads about the user on every request: their memberships, and the
    instance roles an access level reaches through (their groups). Nothing else: a ticket
    shared with them is recorded on the ticket, so this stays as small as their memberships
    (the policy bounds the roles: `most_per_member` per company).

    A copy, kept with the user so that authenticating a request (which reads this document
    anyway) loads the caller's facts in the same round trip. The `memberships` and `groups`
    collections stay the record; one function writes this copy, comparing the facts before
    and after each change so that it never holds a right the record does not
    (`app/services/user_facts.py`).
    """

    memberships: list[MembershipFact] = Field(default_factory=list)
    resource_roles: list[ResourceRoleFact] = Field(default_factory=list)


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
    access: Access = Field(default_factory=Access)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "users"
        indexes = [
            IndexModel([("username", ASCENDING)], name="username_unique", unique=True),
            IndexModel([("email", ASCENDING)], name="email_unique", unique=True),
            # Whose copies a company's deletion must take rights out of.
            IndexModel([("access.memberships.company", ASCENDING)], name="access_company"),
            IndexModel(
                [("idp_subject", ASCENDING)],
                name="idp_subject_unique",
                unique=True,
                partialFilterExpression={"idp_subject": {"$type": "string"}},
            ),
        ]
