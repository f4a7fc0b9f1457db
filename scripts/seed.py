"""Seed the demo tenants (the README's walkthrough), or bulk synthetic data for benchmarks.

`make run` runs this before serving, so a fresh clone starts with seven accounts, two
companies, seven memberships, one helpdesk group per company and four tickets that the
README walkthrough and `make demo` rely on. It is idempotent: every record is matched on a
natural key (email, company name, (company, subject)) and only what is missing is created,
so running it again changes nothing.

    python -m scripts.seed                       # the demo tenants
    python -m scripts.seed --tenants 50 --tickets-per-tenant 2000 --users-per-tenant 40
"""

import argparse
import asyncio
import importlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from beanie import PydanticObjectId, init_beanie
from beanie.exceptions import CollectionWasNotInitialized
from bson import ObjectId
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError
from rich.console import Console
from rich.table import Table

from app.config import Settings
from app.db import make_client
from app.demo import PASSWORD, PERSONAS
from app.security import hash_password
from app.services.tickets import next_number
from app.services.user_facts import rebuild
from authz.engine import default_engine
from authz.facts import load_principal
from models import (
    DOCUMENT_MODELS,
    Company,
    Group,
    Membership,
    Priority,
    Status,
    Ticket,
    User,
    touched,
)


@dataclass(frozen=True, slots=True)
class DemoTicket:
    """A seeded ticket; `author` and `assignee` are usernames."""

    company: str
    author: str
    subject: str
    description: str
    priority: Priority = Priority.NORMAL
    status: Status = Status.OPEN
    assignee: str | None = None
    group: str | None = None


# The first admin listed is the company's creator.
COMPANIES: dict[str, dict[str, str]] = {
    "Acme Corp": {"sara": "admin", "mark": "agent", "lisa": "customer"},
    "Globex Inc": {
        "john": "admin",
        "emma": "agent",
        "david": "customer",
        "mark": "customer",
    },
}

# One helpdesk group per company, with its members. The agents keep `all` ticket access,
# so the groups change nothing of what the personas see until `make demo` scopes Emma.
GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "Acme Corp": {"Billing": ("mark",)},
    "Globex Inc": {"Sales": ("emma",)},
}

TICKETS: tuple[DemoTicket, ...] = (
    DemoTicket(
        "Acme Corp",
        "lisa",
        "Invoice 2026-114 charges VAT twice",
        "Our March invoice (2026-114) adds 20% VAT on top of a total that already includes "
        "it, so it is 240 EUR too high. Could you reissue it? Our accounts team cannot pay "
        "it until then.",
        priority=Priority.HIGH,
        group="Billing",
    ),
    DemoTicket(
        "Acme Corp",
        "sara",
        "Nightly export to the data warehouse failed",
        "The 02:00 export job stopped with 'connection reset by peer' and did not retry, so "
        "Monday's dashboards are empty. Re-run it, and add an alert so we hear about the "
        "next failure before customers do.",
        status=Status.IN_PROGRESS,
        assignee="mark",
    ),
    DemoTicket(
        "Globex Inc",
        "david",
        "Shipping labels download as a blank PDF",
        "Since this morning 'Download labels' returns an empty PDF in both Firefox and "
        "Chrome. 40 parcels are waiting for the 16:00 pickup.",
        priority=Priority.URGENT,
    ),
    DemoTicket(
        "Globex Inc",
        "mark",
        "Quote for 600 units a month from July",
        "Acme Corp expects to triple its monthly order from July. Please send a quote for "
        "600 units a month over twelve months, delivered to our Leeds warehouse.",
        priority=Priority.LOW,
        group="Sales",
    ),
)


def memberships_of(username: str) -> dict[str, str]:
    """A persona's role in each demo company, by company name."""
    return {name: roles[username] for name, roles in COMPANIES.items() if username in roles}


async def bind_models(db: AsyncDatabase[Any]) -> None:
    """Point the Beanie documents at `db`, unless they already are (e.g. inside the app)."""
    try:
        bound = User.get_pymongo_collection().database
    except CollectionWasNotInitialized:
        bound = None
    if bound != db:
        # With the indexes: the unique ones are what make seeding twice find, not duplicate.
        await init_beanie(database=db, document_models=DOCUMENT_MODELS)


async def seed_demo(db: AsyncDatabase[Any], console: Console | None = None) -> bool:
    """Create whatever part of the demo tenants is missing; True if anything was created.

    Without transactions a failure can stop half-way; every step is matched on a natural
    key, so running the seed again finishes the job instead of duplicating anything.
    """
    await bind_models(db)
    changes: list[str] = []

    def note(change: str) -> None:
        changes.append(change)
        if console is not None:
            console.print(f"  [green]+[/green] {change}")

    users = await _ensure_users(note)
    companies: dict[str, Company] = {}
    for name, roles in COMPANIES.items():
        creator = users[next(u for u, r in roles.items() if r == "admin")]
        companies[name] = await _ensure_company(name, creator, note)
        for username, role in roles.items():
            await _ensure_membership(companies[name], users[username], role, creator, note)
    groups = {
        (company, name): await _ensure_group(companies[company], name, members, users, note)
        for company, named in GROUPS.items()
        for name, members in named.items()
    }
    for spec in TICKETS:
        group = groups.get((spec.company, spec.group or ""))
        await _ensure_ticket(spec, companies[spec.company], users, group, note)
    for company in companies.values():
        await _ensure_ticket_seq(company, note)
    # The copy of each user's memberships that authorization reads (models.user.Access),
    # recomputed from the memberships just ensured: it repairs drift as the rest does.
    await rebuild([u.id for u in users.values() if u.id is not None])
    return bool(changes)


async def _ensure_users(note: Callable[[str], None]) -> dict[str, User]:
    users: dict[str, User] = {}
    password_hash: str | None = None  # argon2 is slow on purpose: hash once, only if needed
    for p in PERSONAS:
        user = await User.find_one(User.email == p.email)
        if user is None:
            password_hash = password_hash or hash_password(PASSWORD)
            user = User(username=p.username, email=p.email, password_hash=password_hash)
            try:
                await user.insert()
            except DuplicateKeyError as exc:
                raise SystemExit(
                    f"seed: cannot create {p.email}: the username '{p.username}' belongs to "
                    "another account; rename or remove it and seed again"
                ) from exc
            note(f"user {p.email}")
        users[p.username] = user
    return users


async def _ensure_company(name: str, creator: User, note: Callable[[str], None]) -> Company:
    # A company whose deletion has started is gone as far as the API is concerned.
    company = await Company.find_one({"name": name, "deleting": {"$ne": True}})
    if company is None:
        company = Company(name=name, created_by=_id(creator))
        await company.insert()
        note(f"company {name}")
    return company


async def _ensure_membership(
    company: Company, user: User, role: str, creator: User, note: Callable[[str], None]
) -> None:
    query = {"company": _id(company), "user": _id(user)}
    existing = await Membership.find_one(query)
    if existing is None:
        try:
            await Membership(
                user=_id(user), company=_id(company), role=role, created_by=_id(creator)
            ).insert()
        except DuplicateKeyError:
            return  # a concurrent seed won the race; the unique index keeps one
        note(f"{user.username} is {role} of {company.name}")
    elif existing.role != role:
        # The demo's story and its expected counts depend on these exact roles.
        await Membership.find_one(Membership.id == existing.id).update(
            touched({"$set": {"role": role}})
        )
        note(f"{user.username} is {role} of {company.name} again (was {existing.role})")


async def _ensure_group(
    company: Company,
    name: str,
    members: tuple[str, ...],
    users: dict[str, User],
    note: Callable[[str], None],
) -> Group:
    cid = _id(company)
    group = await Group.find_one(Group.company == cid, Group.name == name)
    if group is None:
        group = Group(company=cid, name=name, created_by=company.created_by)
        try:
            await group.insert()
        except DuplicateKeyError:  # a concurrent seed won the race
            group = await Group.find_one(Group.company == cid, Group.name == name)
            assert group is not None  # noqa: S101 - the unique index says it exists
        note(f"group {name} of {company.name}")
    for username in members:
        joined = await Group.get_pymongo_collection().update_one(
            {"company": cid, "_id": group.id, "members": {"$ne": _id(users[username])}},
            {"$push": {"members": _id(users[username])}},
        )
        if joined.modified_count:
            note(f"{username} is in the {name} group of {company.name}")
    return group


async def _ensure_ticket(
    spec: DemoTicket,
    company: Company,
    users: dict[str, User],
    group: Group | None,
    note: Callable[[str], None],
) -> None:
    cid = _id(company)
    existing = await Ticket.find_one({"company": cid, "subject": spec.subject})
    if existing is not None:
        if group is not None and existing.group != group.id:
            await existing.set({Ticket.group: group.id})  # the demo's story depends on it
            note(f"ticket #{existing.number} of {company.name} back in {group.name}")
        return
    # The API's own numbering (one `$inc` on Company.ticket_seq), so numbers stay unique
    # even if someone opens a ticket through the running API at the same moment.
    number = await next_number(cid)
    assignee = _id(users[spec.assignee]) if spec.assignee else None
    await Ticket(
        company=cid,
        number=number,
        subject=spec.subject,
        description=spec.description,
        priority=spec.priority,
        status=spec.status,
        created_by=_id(users[spec.author]),
        assigned_to=assignee,
        group=group.id if group is not None else None,
    ).insert()
    note(f"ticket #{number} of {company.name} by {spec.author}: {spec.subject}")


async def _ensure_ticket_seq(company: Company, note: Callable[[str], None]) -> None:
    # The API numbers the next ticket ticket_seq + 1; a counter behind the highest number
    # (e.g. tickets restored from a dump) would make every new ticket collide.
    cid = _id(company)
    last = await Ticket.find({"company": cid}).sort("-number").limit(1).to_list()
    if not last:
        return
    result = await Company.get_pymongo_collection().update_one(
        {"_id": cid, "ticket_seq": {"$lt": last[0].number}},
        {"$set": {"ticket_seq": last[0].number}},
    )
    if result.modified_count:
        note(f"ticket counter of {company.name} moved up to {last[0].number}")


def _id(doc: User | Company) -> PydanticObjectId:
    assert doc.id is not None  # noqa: S101 - stored documents have ids
    return doc.id


async def visible_ticket_counts() -> dict[str, int]:
    """How many tickets each persona may read now, by email, asking the real policy."""
    engine = default_engine()
    counts: dict[str, int] = {}
    for p in PERSONAS:
        user = await User.find_one(User.email == p.email)
        if user is None:
            counts[p.email] = 0
            continue
        principal = await load_principal(ObjectId(_id(user)))
        where = engine.query_filter(principal, "ticket:read", "ticket")
        counts[p.email] = await Ticket.get_pymongo_collection().count_documents(where)
    return counts


def persona_table(counts: dict[str, int]) -> Table:
    """The personas, how to sign in as them, and what they should see."""
    table = Table(
        title="Demo personas (in /docs: Authorize, username = email)",
        caption="Sees: tickets in GET /tickets, per the policy",
    )
    table.add_column("Persona")
    # Never truncated: people copy the email into /docs or curl.
    table.add_column("Email", no_wrap=True, min_width=20)
    table.add_column("Password", no_wrap=True)
    table.add_column("Companies and roles")
    table.add_column("Sees", justify="right")
    for p in PERSONAS:
        roles = ", ".join(f"{c}: {r}" for c, r in memberships_of(p.username).items())
        roles = roles or "none yet"
        seen = counts.get(p.email, 0)
        sees = str(seen) if seen == p.sees else f"[red]{seen} (expected {p.sees})[/red]"
        table.add_row(p.name, p.email, PASSWORD, roles, sees)
    return table


SyntheticSeeder = Callable[..., Awaitable[dict[str, Any]]]


def synthetic_seeder() -> SyntheticSeeder:
    """`scripts.synthetic.seed_synthetic`, imported only when bulk data is asked for."""
    module = importlib.import_module("scripts.synthetic")
    return cast(SyntheticSeeder, module.seed_synthetic)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; bulk mode needs --tenants."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.seed",
        description="Seed the demo tenants (default) or bulk synthetic data. Connects to "
        "MONGODB_URI (`make seed` defaults it to the dev database of `make run`, "
        "mongodb://127.0.0.1:27018), database MONGODB_DB (default ticketing).",
    )
    parser.add_argument("--tenants", type=_count, help="bulk mode: number of companies")
    parser.add_argument("--tickets-per-tenant", type=_count, help="bulk mode (default 100)")
    parser.add_argument("--users-per-tenant", type=_count, help="bulk mode (default 10)")
    args = parser.parse_args(argv)
    if args.tenants is None and (
        args.tickets_per_tenant is not None or args.users_per_tenant is not None
    ):
        parser.error("--tickets-per-tenant and --users-per-tenant need --tenants")
    return args


async def run(args: argparse.Namespace, console: Console) -> int:
    """Connect, seed, report; the exit code."""
    # The seed signs no tokens; a fixed secret only keeps Settings from warning about it.
    settings = Settings(
        environment="development", jwt_secret=SecretStr("seed-script-signs-no-tokens-" * 2)
    )
    client = make_client(settings)
    try:
        database = client[settings.mongodb_db]
        await client.admin.command("ping")
        if args.tenants is not None:
            seed_synthetic = synthetic_seeder()
            await bind_models(database)
            try:
                result = await seed_synthetic(
                    database,
                    tenants=args.tenants,
                    tickets_per_tenant=_default(args.tickets_per_tenant, 100),
                    users_per_tenant=_default(args.users_per_tenant, 10),
                    progress=True,
                )
            except ValueError as exc:  # the synthetic seeder's own limits
                console.print(f"[red]seed: {exc}[/red]")
                return 2
            summary = Table(title=f"Synthetic data in {settings.mongodb_db}")
            summary.add_column("what")
            summary.add_column("value", justify="right")
            for key, value in result.items():
                summary.add_row(str(key), _cell(value))
            console.print(summary)
            return 0
        console.print(f"Seeding the demo tenants into database [bold]{settings.mongodb_db}[/]")
        if not await seed_demo(database, console):
            console.print(
                "  Found every demo user, company, membership and ticket in place: nothing to do."
            )
        console.print(persona_table(await visible_ticket_counts()))
        return 0
    except PyMongoError as exc:
        first_line = str(exc).split(",", 1)[0]
        console.print(
            f"[red]seed: the database at MONGODB_URI did not answer or refused "
            f"({type(exc).__name__}: {first_line})[/red]\n"
            "`make seed` uses the dev database that `make run` serves (port DEVDB_PORT, "
            "27018 by default): start `make run` in another terminal, or point MONGODB_URI "
            "at a MongoDB server."
        )
        return 1
    finally:
        await client.close()


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple | set | dict):
        return f"{len(value)} items"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m scripts.seed`."""
    return asyncio.run(run(parse_args(argv), Console()))


if __name__ == "__main__":
    sys.exit(main())
