"""The console's server side: the page and its files, the development-only persona list,
the writable fields in `/authz/check`, and POLICY_FILE. (The page itself is tested in a
browser: tests/browser.)"""

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from app.config import Settings
from app.console import STATIC
from app.main import create_app
from app.services.user_facts import rebuild
from authz.policy import DEFAULT_POLICY_PATH, PolicyError
from models import Membership, User
from scripts.seed import seed_demo
from tests.utils.factories import World

CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


def shipped_files() -> list[Path]:
    """Every file of the console."""
    return sorted(p for p in STATIC.rglob("*") if p.is_file())


async def test_the_page_is_served_at_the_root_with_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/console/js/main.js"></script>' in r.text


async def test_every_file_is_served_with_its_type(client: httpx.AsyncClient) -> None:
    files = shipped_files()
    assert {f.suffix for f in files} == set(CONTENT_TYPES)
    for path in files:
        r = await client.get(f"/console/{path.relative_to(STATIC).as_posix()}")
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith(CONTENT_TYPES[path.suffix]), path
        assert r.headers["cache-control"] == "no-cache"
        assert r.content == path.read_bytes()
    assert (await client.get("/console/js/missing.js")).status_code == 404


def test_nothing_is_fetched_from_elsewhere() -> None:
    """No CDN: every module import and every page reference is one of the shipped files."""
    for path in shipped_files():
        text = path.read_text()
        without_namespaces = re.sub(r'xmlns="http://www\.w3\.org/2000/svg"', "", text)
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", without_namespaces), path
        for target in re.findall(r'^import .*? from "(.+?)";', text, flags=re.M):
            assert (path.parent / target).resolve().is_file(), f"{path.name} imports {target}"
        for target in re.findall(r'(?:src|href)="(/console/[^"]+)"', text):
            assert (STATIC / target.removeprefix("/console/")).is_file(), target


async def test_the_api_contract_is_unchanged(app: FastAPI, client: httpx.AsyncClient) -> None:
    paths = app.openapi()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith(("/console", "/dev"))]
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_demo_personas_come_from_the_database(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/dev/personas")).json() == {
        "password": "demo-pass-2026",
        "personas": [],
    }, "nothing seeded, nobody offered"
    await seed_demo(app.state.db.client[settings.mongodb_db])
    body = (await client.get("/dev/personas")).json()
    roles = {
        p["name"]: [(m["company_name"], m["role"]) for m in p["memberships"]]
        for p in body["personas"]
    }
    assert roles == {
        "Lisa": [("Acme Corp", "customer")],
        "Sara": [("Acme Corp", "admin")],
        "Mark": [("Acme Corp", "agent"), ("Globex Inc", "customer")],
        "David": [("Globex Inc", "customer")],
        "Emma": [("Globex Inc", "agent")],
        "John": [("Globex Inc", "admin")],
    }
    lisa = await User.find_one(User.email == "lisa@acme.example")
    assert lisa is not None
    await Membership.find(Membership.user == lisa.id).update({"$set": {"role": "agent"}})
    await rebuild([lisa.id])  # type: ignore[list-item]  # her facts, as the API keeps them
    body = (await client.get("/dev/personas")).json()
    assert body["personas"][0]["memberships"] == [{"company_name": "Acme Corp", "role": "agent"}]


async def test_demo_personas_do_not_exist_outside_development(settings: Settings) -> None:
    production = create_app(
        Settings(
            environment="production",
            jwt_secret="p" * 48,
            mongodb_uri=settings.mongodb_uri,
            mongodb_db=settings.mongodb_db,
        )
    )
    transport = httpx.ASGITransport(app=production)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        assert (await c.get("/dev/personas")).status_code == 404
        assert (await c.get("/")).status_code == 200, "the console itself is served everywhere"


async def test_check_reports_the_fields_an_allowed_update_may_change(
    client: httpx.AsyncClient, world: World
) -> None:
    sara, mark, lisa = [await world.user(n) for n in ("sara", "mark", "lisa")]
    acme = await world.company("Acme", admin=sara)
    await world.member(acme, mark, "agent")
    await world.member(acme, lisa, "customer")
    ticket = await world.ticket(acme, lisa)
    checks = [
        {"action": "update", "resource_type": "ticket", "resource_id": str(ticket.id)},
        {"action": "delete", "resource_type": "ticket", "resource_id": str(ticket.id)},
        {"action": "update", "resource_type": "ticket", "company_id": str(acme.id)},
        {"action": "update", "resource_type": "ticket", "resource_id": "0" * 24},
    ]
    answers = {}
    for user in (sara, mark, lisa):
        r = await client.post("/authz/check", json={"checks": checks}, headers=world.auth(user))
        assert r.status_code == 200, r.text
        answers[user.username] = r.json()
    everything = [
        "assigned_to", "confidential", "description", "group_id", "priority", "status", "subject"
    ]  # fmt: skip
    agent = ["assigned_to", "group_id", "priority", "status"]
    # About the company (no ticket named): every ticket of it. The admin may update every
    # one, but on a resolved ticket only its status; an agent not every one (a confidential
    # ticket only while it is theirs).
    assert answers["sara"]["results"] == [True, True, True, False]
    assert answers["sara"]["fields"] == [everything, None, ["status"], None]
    assert answers["mark"]["results"] == [True, False, False, False]
    assert answers["mark"]["fields"] == [agent, None, None, None]
    # Lisa opened the ticket, and it is open: she may correct what she wrote.
    assert answers["lisa"]["results"] == [True, False, False, False]
    assert answers["lisa"]["fields"] == [["description", "subject"], None, None, None]


async def test_check_answers_the_consoles_company_questions_by_permission_name(
    client: httpx.AsyncClient, world: World
) -> None:
    """The questions behind the groups, invitations and members panels, asked as the
    console asks them: a permission name on a company (the split form agrees)."""
    sara, mark, lisa = [await world.user(n) for n in ("sara", "mark", "lisa")]
    acme = await world.company("Acme", admin=sara)
    await world.member(acme, mark, "agent")
    await world.member(acme, lisa, "customer")
    asked = ["group:manage", "group:read", "members:add", "members:update", "members:list"]
    by_name = [{"permission": p, "company_id": str(acme.id)} for p in asked]
    split = [
        {"action": p.split(":")[1], "resource_type": p.split(":")[0], "company_id": str(acme.id)}
        for p in asked
    ]
    expected = {
        "sara": [True, True, True, True, True],
        "mark": [False, True, False, False, True],
        "lisa": [False, False, False, False, False],
    }
    for user in (sara, mark, lisa):
        for checks in (by_name, split):
            r = await client.post("/authz/check", json={"checks": checks}, headers=world.auth(user))
            assert r.status_code == 200, r.text
            assert r.json()["results"] == expected[user.username], (user.username, checks[0])


def test_policy_file_must_exist() -> None:
    with pytest.raises(ValidationError, match="policy_file"):
        Settings(environment="development", jwt_secret="d" * 48, policy_file="/nowhere.toml")


def test_the_app_runs_the_policy_file_it_is_given(settings: Settings, tmp_path: Path) -> None:
    assert create_app(settings).state.engine.policy.roles["agent"].permissions >= {"ticket:share"}
    copy = tmp_path / "policy.toml"
    text = DEFAULT_POLICY_PATH.read_text()
    agent = text.index("[roles.agent]")
    end = text.index("\n[", agent)
    copy.write_text(text[:agent] + text[agent:end].replace('"ticket:share",', "") + text[end:])
    engine = create_app(settings.model_copy(update={"policy_file": copy})).state.engine
    assert "ticket:share" not in engine.policy.roles["agent"].permissions
    assert "ticket:share" in engine.policy.roles["admin"].permissions

    misspelt = DEFAULT_POLICY_PATH.read_text().replace('"members:list", ', '"members:lsit", ', 1)
    copy.write_text(misspelt)
    with pytest.raises(PolicyError, match="members:lsit"):
        create_app(settings.model_copy(update={"policy_file": copy}))
