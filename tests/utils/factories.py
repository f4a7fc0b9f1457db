"""Async factories that build the world a test needs, straight into the database.

Users share one precomputed password hash: argon2 is slow on purpose, and tests that need
many users should not pay for it each time.
"""

from collections.abc import Mapping, Sequence
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
class Acme:
    """Company "Acme" and its people, by name: `acme.sara` is `acme.users["sara"]`.

    `ticket` is its one ticket, when `World.acme` was asked for one (`ticket_by`).
    """

    company: Company
    users: dict[str, User]
    made_ticket: Ticket | None = None

    def __getattr__(self, name: str) -> User:
        users: dict[str, User] = self.__dict__.get("users", {})
        if name in users:
            return users[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or user {name!r}")

    @property
    def ticket(self) -> Ticket:
        if self.made_ticket is None:
            raise LookupError("this Acme has no ticket: ask World.acme for one (ticket_by=)")
        return self.made_ticket

    @property
    def cid(self) -> str:
        """The company's id, as a string."""
        return str(self.company.id)

    @property
    def tid(self) -> str:
        """The ticket's id, as a string."""
        return str(self.ticket.id)

    def email(self, name: str) -> str:
        return self.users[name].email


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

    async def acme(
        self,
        *,
        admins: Sequence[str] = ("sara",),
        agents: Sequence[str] = ("mark",),
        customers: Sequence[str] = ("lisa",),
        outsiders: Sequence[str] = (),
        ticket_by: str | None = None,
        assigned_to: str | None = None,
        shared_with: Sequence[str] = (),
        groups: Mapping[str, Sequence[str]] | None = None,
        prefix: str = "",
    ) -> Acme:
        """Company "Acme" created by its first admin, with these members by role, and the
        `outsiders` (accounts in no company of it).

        Written in this order: the users (admins, agents, customers, outsiders, each named
        `prefix + name`), the company, the memberships, the ticket by `ticket_by` (assigned
        to `assigned_to`) when asked for, its shares with `shared_with`, then `groups`
        (name: members).
        """
        names = [*admins, *agents, *customers, *outsiders]
        assert admins and len(set(names)) == len(names), names
        users = {n: await self.user(f"{prefix}{n}") for n in names}
        company = await self.company("Acme", admin=users[admins[0]])
        for role, members in (("admin", admins[1:]), ("agent", agents), ("customer", customers)):
            for name in members:
                await self.member(company, users[name], role)
        made = Acme(company, users)
        if ticket_by is None:
            assert assigned_to is None and not shared_with, "no ticket to assign or share"
        else:
            fields = {"assigned_to": users[assigned_to].id} if assigned_to else {}
            made.made_ticket = await self.ticket(company, users[ticket_by], **fields)
            for name in shared_with:
                await self.share(made.ticket, users[name])
        for group, members in (groups or {}).items():
            await self.group(company, group, *(users[n] for n in members))
        return made
