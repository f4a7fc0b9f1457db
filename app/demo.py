"""The demo tenants' people: created by `scripts/seed.py`, offered by the console's
development sign-in (`GET /dev/personas`, mounted only when ENVIRONMENT=development).

Their password is public (README, /docs): these accounts exist to be signed in as.
"""

from dataclasses import dataclass

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
)
