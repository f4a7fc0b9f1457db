"""The demo seed builds exactly the README's tenants, once, and the personas see what it says.

The expected tenants are spelled out here rather than imported from the seed, so a change
to the seed that drifts from the README fails a test instead of redefining it.
"""

import asyncio
import os
import sys
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from app.config import Settings
from app.security import verify_password
from models import DOCUMENT_MODELS, Company, Membership, Ticket, User
from scripts.devdb.process import ROOT, free_port
from scripts.seed import parse_args, seed_demo, visible_ticket_counts

PASSWORD = "demo-pass-2026"
ROLES = {
    ("Acme Corp", "sara"): "admin",
    ("Acme Corp", "mark"): "agent",
    ("Acme Corp", "lisa"): "customer",
    ("Globex Inc", "john"): "admin",
    ("Globex Inc", "emma"): "agent",
    ("Globex Inc", "david"): "customer",
    ("Globex Inc", "mark"): "customer",
}
EMAILS = {
    "sara": "sara@acme.example",
    "mark": "mark@acme.example",
    "lisa": "lisa@acme.example",
    "john": "john@globex.example",
    "emma": "emma@globex.example",
    "david": "david@globex.example",
    "nina": "nina@acme.example",  # in no company: `make demo` adds and removes her
}
TICKET_AUTHORS = {"Acme Corp": {"lisa", "sara"}, "Globex Inc": {"david", "mark"}}
SEES = {"lisa": 1, "sara": 2, "mark": 3, "david": 1, "emma": 2, "john": 2, "nina": 0}


def database(app: FastAPI, settings: Settings) -> AsyncDatabase[Any]:
    """The database the app under test uses."""
    return app.state.db.client[settings.mongodb_db]  # type: ignore[no-any-return]


async def snapshot(db: AsyncDatabase[Any]) -> dict[str, list[dict[str, Any]]]:
    """Every document of every collection, in a stable order."""
    names = [m.get_collection_name() for m in DOCUMENT_MODELS]
    return {n: await db[n].find().sort("_id", 1).to_list() for n in names}


async def demo_state() -> dict[str, Any]:
    """The seeded tenants in names rather than ids."""
    users = {u.id: u for u in await User.find_all().to_list()}
    companies = {c.id: c for c in await Company.find_all().to_list()}
    roles = {
        (companies[m.company].name, users[m.user].username): m.role
        for m in await Membership.find_all().to_list()
    }
    tickets: dict[str, list[tuple[int, str]]] = {}
    for t in await Ticket.find_all().to_list():
        tickets.setdefault(companies[t.company].name, []).append(
            (t.number, users[t.created_by].username)
        )
    return {"users": users, "companies": companies, "roles": roles, "tickets": tickets}


async def test_seed_creates_exactly_the_demo_tenants(app: FastAPI, settings: Settings) -> None:
    assert await seed_demo(database(app, settings)) is True

    state = await demo_state()
    users: dict[Any, User] = state["users"]
    assert {u.username: u.email for u in users.values()} == EMAILS
    hashes = {u.password_hash for u in users.values()}
    assert len(hashes) == 1, "the password is hashed once and reused"
    assert verify_password(PASSWORD, hashes.pop())[0]

    companies: dict[Any, Company] = state["companies"]
    assert sorted(c.name for c in companies.values()) == ["Acme Corp", "Globex Inc"]
    assert state["roles"] == ROLES
    for company in companies.values():
        creator = users[company.created_by].username
        assert ROLES[(company.name, creator)] == "admin"

    for name, tickets in state["tickets"].items():
        assert {author for _, author in tickets} == TICKET_AUTHORS[name]
        assert sorted(n for n, _ in tickets) == [1, 2]
    assert set(state["tickets"]) == set(TICKET_AUTHORS)
    assert {c.ticket_seq for c in companies.values()} == {2}
    subjects = [t.subject for t in await Ticket.find_all().to_list()]
    assert len(set(subjects)) == 4 and all(len(s) > 15 for s in subjects)


async def test_second_seed_changes_nothing(app: FastAPI, settings: Settings) -> None:
    db = database(app, settings)
    assert await seed_demo(db) is True
    before = await snapshot(db)
    assert await seed_demo(db) is False
    assert await snapshot(db) == before


async def test_seed_completes_a_partial_or_drifted_state(app: FastAPI, settings: Settings) -> None:
    db = database(app, settings)
    await seed_demo(db)
    globex = await Company.find_one(Company.name == "Globex Inc")
    lisa = await User.find_one(User.email == "lisa@acme.example")
    mark = await User.find_one(User.email == "mark@acme.example")
    assert globex is not None and lisa is not None and mark is not None
    await Ticket.find(Ticket.company == globex.id, Ticket.created_by == mark.id).delete()
    await Membership.find(Membership.user == lisa.id).update({"$set": {"role": "agent"}})
    await Membership.find(Membership.user == mark.id, Membership.company == globex.id).delete()

    assert await seed_demo(db) is True

    state = await demo_state()
    assert state["roles"] == ROLES
    globex_tickets = state["tickets"]["Globex Inc"]
    assert {a for _, a in globex_tickets} == TICKET_AUTHORS["Globex Inc"]
    # Numbers are never reused: the re-created ticket takes the next one.
    assert sorted(n for n, _ in globex_tickets) == [1, 3]
    assert await seed_demo(db) is False


async def test_personas_see_what_the_readme_says(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    await seed_demo(database(app, settings))
    seen = {}
    for username, email in EMAILS.items():
        r = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        page = (await client.get("/tickets", headers=headers, params={"limit": 200})).json()
        assert page["next_cursor"] is None
        seen[username] = len(page["items"])
    assert seen == SEES
    # The table the seed prints asks the engine directly; it must agree with the API.
    assert await visible_ticket_counts() == {EMAILS[u]: n for u, n in SEES.items()}


async def run_seed_cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run `python -m scripts.seed` as `make seed` does; return its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scripts.seed",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_cli_seeds_then_finds_everything_in_place(settings: Settings) -> None:
    env = {"MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db, "COLUMNS": "160"}
    code, first = await run_seed_cli(env=env)
    assert code == 0, first
    assert "+ company Acme Corp" in first and "nothing to do" not in first
    code, second = await run_seed_cli(env=env)
    assert code == 0, second
    assert "nothing to do" in second
    assert not any(line.startswith("  + ") for line in second.splitlines())
    for email in EMAILS.values():
        assert email in second
    assert "expected" not in second, "every persona sees the expected number of tickets"


async def test_cli_bulk_mode_delegates_to_the_synthetic_seeder(settings: Settings) -> None:
    env = {"MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db}
    code, out = await run_seed_cli(
        "--tenants", "2", "--tickets-per-tenant", "3", "--users-per-tenant", "3", env=env
    )
    assert code == 0, out
    assert "Synthetic data" in out
    assert await Ticket.find_all().count() == 6
    assert await Company.find_one(Company.name == "Acme Corp") is None, "no demo tenants"


async def test_cli_bulk_mode_reports_the_seeders_limits(settings: Settings) -> None:
    env = {"MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db}
    code, out = await run_seed_cli("--tenants", "1", "--users-per-tenant", "1", env=env)
    assert code == 2, out
    assert "users_per_tenant" in out and "Traceback" not in out


async def test_cli_without_a_database_says_so() -> None:
    env = {"MONGODB_URI": f"mongodb://127.0.0.1:{free_port()}/", "DB_TIMEOUT_MS": "200"}
    code, out = await run_seed_cli(env=env)
    assert code == 1
    assert "did not answer" in out and "make run" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--tickets-per-tenant", "5"],
        ["--users-per-tenant", "0"],
        ["--tenants", "two"],
        ["--tenants", "2", "--users-per-tenant", "-1"],
    ],
)
def test_cli_refuses_malformed_bulk_options(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2


async def test_each_company_has_one_group_with_its_agent_and_a_ticket_in_it(
    app: FastAPI, settings: Settings
) -> None:
    """Acme's Billing holds Mark and Lisa's invoice; Globex's Sales holds Emma and Mark's
    quote. The agents keep `all` access, so what each persona sees is unchanged."""
    from models import Group

    await seed_demo(database(app, settings))
    users = {u.id: u.username for u in await User.find_all().to_list()}
    companies = {c.id: c.name for c in await Company.find_all().to_list()}
    groups = await Group.find_all().to_list()
    assert {(companies[g.company], g.name) for g in groups} == {
        ("Acme Corp", "Billing"),
        ("Globex Inc", "Sales"),
    }
    members = {(g.name, users[m]) for g in groups for m in g.members}
    assert members == {("Billing", "mark"), ("Sales", "emma")}
    names = {g.id: g.name for g in groups}
    in_groups = {t.subject: names[t.group] for t in await Ticket.find_all().to_list() if t.group}
    assert in_groups == {
        "Invoice 2026-114 charges VAT twice": "Billing",
        "Quote for 600 units a month from July": "Sales",
    }
    assert await visible_ticket_counts() == {EMAILS[n]: SEES[n] for n in SEES} | {
        "nina@acme.example": 0
    }
