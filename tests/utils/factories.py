"""Async factories that build the world a test needs, straight into the database.

Users share one precomputed password hash: argon2 is slow on purpose, and tests that need
many users should not pay for it each time.
"""

from dataclasses import dataclass, field
from typing import Any

from beanie import PydanticObjectId
from bson import ObjectId

from app.config import Settings
from app.security import create_access_token, hash_password
from app.services.user_facts import rebuild
from models import Company, Group, Membership, Priority, Status, Ticket, User

PASSWORD = "demo-pass-2026"
_HASH = hash_password(PASSWORD)


@dataclass
class World:
    """Factories bound to the test's settings (for signing tokens)."""

    settings: Settings
    _n: int = field(default=0)

    def _next(self) -> int:
        self._n += 1
        return self._n

    async def user(self, name: str | None = None) -> User:
        """A user with the shared test password."""
        name = name or f"user{self._next()}"
        user = User(username=name, email=f"{name}@example.com", password_hash=_HASH)
        await user.insert()
        return user

    def token(self, user: User) -> str:
        """A valid access token for `user`."""
        return create_access_token(str(user.id), self.settings).access_token

    def auth(self, user: User) -> dict[str, str]:
        """Authorization headers for `user`."""
        return {"Authorization": f"Bearer {self.token(user)}"}

    async def company(self, name: str = "Acme", admin: User | None = None) -> Company:
        """A company, with `admin` as its admin when given."""
        creator = admin.id if admin else PydanticObjectId(ObjectId())
        company = Company(name=name, created_by=creator)
        await company.insert()
        if admin is not None:
            await self.member(company, admin, "admin")
        return company

    async def member(self, company: Company, user: User, role: str) -> Membership:
        """Make `user` a member of `company` with `role`."""
        m = Membership(user=user.id, company=company.id, role=role)
        await m.insert()
        await rebuild([m.user])  # the copy of the user's facts, as the API keeps it
        return m

    async def ticket(self, company: Company, creator: User, **fields: Any) -> Ticket:
        """A ticket in `company`, numbered like the API does."""
        from app.services.tickets import next_number

        assert company.id is not None
        values: dict[str, Any] = {
            "subject": "Printer on fire",
            "description": "Smoke.",
            "status": Status.OPEN,
            "priority": Priority.NORMAL,
        } | fields
        ticket = Ticket(
            company=company.id,
            number=await next_number(company.id),
            created_by=creator.id,
            **values,
        )
        await ticket.insert()
        return ticket

    async def group(self, company: Company, name: str, *members: User) -> Group:
        """A group of `company` with these members (stored as the API stores them)."""
        assert company.id is not None
        group = Group(
            company=company.id,
            name=name,
            created_by=company.created_by,
            members=[u.id for u in members],
        )
        await group.insert()
        await rebuild([u.id for u in members])  # type: ignore[misc]
        return group

    async def access(self, company: Company, user: User, level: str) -> None:
        """Set how far `user`'s ticket permissions reach in `company`."""
        await Membership.find_one(
            Membership.company == company.id, Membership.user == user.id
        ).update({"$set": {"ticket_access": level}})
        await rebuild([user.id])  # type: ignore[list-item]

    async def share(self, ticket: Ticket, user: User) -> None:
        """Share `ticket` with `user`, as the API records it (in the ticket's `viewers`)."""
        await Ticket.get_pymongo_collection().update_one(
            {"company": ticket.company, "_id": ticket.id}, {"$addToSet": {"viewers": user.id}}
        )
