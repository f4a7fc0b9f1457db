"""The demo tenants' people: created by `scripts/seed.py`, offered by the console's
development sign-in (`GET /dev/personas`, mounted only when ENVIRONMENT=development).

Their password is public (README, /docs): these accounts exist to be signed in as.
"""

import asyncio
from dataclasses import dataclass

from app.services.lookups import live_companies
from authz.facts import load_principal
from models import User

PASSWORD = "demo-pass-2026"


@dataclass(frozen=True, slots=True)
class Persona:
    """A demo user, with the number of tickets the policy lets them see once seeded."""

    name: str
    email: str
    sees: int

    @property
    def username(self) -> str:
        """The part of the email before the @."""
        return self.email.split("@", 1)[0]


# Ordered as the walkthrough introduces them: customer, admin, agent of Acme, then Globex.
PERSONAS: tuple[Persona, ...] = (
    Persona("Lisa", "lisa@acme.example", 1),
    Persona("Sara", "sara@acme.example", 2),
    Persona("Mark", "mark@acme.example", 3),
    Persona("David", "david@globex.example", 1),
    Persona("Emma", "emma@globex.example", 2),
    Persona("John", "john@globex.example", 2),
    # Registered, in no company yet: the colleague `make demo` has Sara add and remove.
    Persona("Nina", "nina@acme.example", 0),
)


async def present_personas() -> list[tuple[Persona, dict[str, str]]]:
    """The personas whose accounts exist in the database and belong to a company, each with
    its role per company name as the database has it now (read as for their own requests)."""
    emails = [p.email for p in PERSONAS]
    accounts = User.get_pymongo_collection().find({"email": {"$in": emails}}, {"email": 1})
    ids = {a["email"]: a["_id"] for a in await accounts.to_list()}
    present = [p for p in PERSONAS if p.email in ids]
    principals = await asyncio.gather(*(load_principal(ids[p.email]) for p in present))
    names = await live_companies(list({c for pr in principals for c in pr.roles}))
    found = []
    for persona, principal in zip(present, principals, strict=True):
        roles = {names[c]: role for c, role in principal.roles.items() if c in names}
        if roles:  # one in no company (Nina, until `make demo` adds her) has nothing to show
            found.append((persona, dict(sorted(roles.items(), key=lambda nr: nr[0].lower()))))
    return found
