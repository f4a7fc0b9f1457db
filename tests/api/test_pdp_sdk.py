"""The real Permit SDKs as clients of the PDP, against a real API process.

Python's `permit` (a pinned dev dependency) and Node's `permitio` (pinned in tests/node/,
installed into build/node by `make test`) talk to the API in its own uvicorn process, with
the demo tenants seeded, as a service written against Permit would. Each answer is held
to what the REST API lets the same persona do: `GET /tickets` and `GET /tickets/{id}` for
read, `PATCH` for update, `DELETE` for delete, persona by persona and ticket by ticket.
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from permit import Permit, PermitConnectionError

from app.config import Settings
from app.demo import PERSONAS
from app.security import create_access_token
from models import Ticket, User
from scripts.devdb.process import ROOT
from scripts.seed import seed_demo
from tests.conftest import TEST_PDP_KEY
from tests.utils.docs import Example, examples
from tests.utils.instances import worker

NODE_MODULES = ROOT / "build" / "node" / "node_modules"
NODE_CLIENT = ROOT / "tests" / "node" / "pdp_client.cjs"
DOCUMENTED_URL = "http://127.0.0.1:8000"
EXAMPLES_TEST = "test_the_documented_examples_run_as_written"
EMAILS = [p.email for p in PERSONAS if p.sees]  # those in a company


@pytest.fixture(scope="module")
async def api_url(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The API in a process of its own, with the PDP on (the session's PDP_API_KEY)."""
    async with worker(settings, tmp_path_factory.mktemp("pdp") / "worker.log") as url:
        yield url


@dataclass
class Demo:
    """The seeded demo tenants, as the tests need them."""

    settings: Settings
    users: dict[str, str]  # email -> user id
    tickets: dict[str, Ticket]  # subject -> ticket

    def headers(self, email: str) -> dict[str, str]:
        token = create_access_token(self.users[email], self.settings).access_token
        return {"Authorization": f"Bearer {token}"}


async def load_demo(settings: Settings) -> Demo:
    """The ids of the demo tenants as they are now in the database."""
    users = {u.email: str(u.id) for u in await User.find_all().to_list()}
    tickets = {t.subject: t for t in await Ticket.find_all().to_list()}
    return Demo(settings, users, tickets)


@pytest.fixture
async def demo(app: FastAPI, settings: Settings) -> Demo:
    """The demo tenants of `make run`, seeded as `make run` seeds them."""
    await seed_demo(app.state.db.client[settings.mongodb_db])
    return await load_demo(settings)


@pytest.fixture
async def rest(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the REST API, in the same process as the PDP."""
    async with httpx.AsyncClient(base_url=api_url) as c:
        yield c


@pytest.fixture
def permit(api_url: str) -> Permit:
    """The Python SDK, configured as a service would configure it for its sidecar."""
    return Permit(pdp=f"{api_url}/pdp", token=TEST_PDP_KEY)


async def listed(rest: httpx.AsyncClient, demo: Demo, email: str) -> set[str]:
    """The ids of the tickets `GET /tickets` shows the persona (every page)."""
    ids: set[str] = set()
    cursor = None
    while True:
        params = {"limit": "200"} | ({"cursor": cursor} if cursor else {})
        r = await rest.get("/tickets", params=params, headers=demo.headers(email))
        assert r.status_code == 200, r.text
        ids |= {t["id"] for t in r.json()["items"]}
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return ids


async def rest_may(rest: httpx.AsyncClient, demo: Demo, email: str, action: str, tid: str) -> bool:
    """Whether the REST API lets the persona read or update the ticket.

    Update is asked with an empty PATCH: the permission is checked first, then the body
    is refused for naming nothing (422), so nothing changes whatever the answer.
    """
    headers = demo.headers(email)
    if action == "read":
        status = (await rest.get(f"/tickets/{tid}", headers=headers)).status_code
        assert status in (200, 404)
        return status == 200
    status = (await rest.patch(f"/tickets/{tid}", json={}, headers=headers)).status_code
    assert status in (422, 403, 404)
    return status == 422


def resource(tid: str, style: int, tenant: str | None = None) -> Any:
    """The ways the SDKs' callers name a ticket: a string, or an object in either case."""
    if tenant is not None:
        return {"type": "Ticket", "key": tid, "tenant": tenant}
    return [f"ticket:{tid}", {"type": "Ticket", "key": tid}, {"type": "ticket", "key": tid}][
        style % 3
    ]


def readable_in(graph: dict[str, Any], tickets: dict[str, Ticket]) -> set[str]:
    """The tickets a Permit graph lets its user read, as the tutorial reads it: through the
    company (`__tenant:<id>`) or through the ticket itself (`ticket:<id>`)."""

    def grants(key: str) -> bool:
        return "ticket:read" in graph.get(key, {}).get("permissions", [])

    return {
        str(t.id)
        for t in tickets.values()
        if grants(f"__tenant:{t.company}") or grants(f"ticket:{t.id}")
    }


# -- Python --------------------------------------------------------------------------------


async def test_check_and_bulk_check_equal_what_the_rest_api_lets_each_persona_do(
    demo: Demo, rest: httpx.AsyncClient, permit: Permit
) -> None:
    questions: list[tuple[str, str, str]] = []
    expected: list[bool] = []
    for email in EMAILS:
        seen = await listed(rest, demo, email)
        for ticket in demo.tickets.values():
            tid = str(ticket.id)
            for action in ("read", "update"):
                may = await rest_may(rest, demo, email, action, tid)
                if action == "read":
                    assert may is (tid in seen), "GET /tickets and GET /tickets/{id} agree"
                questions.append((email, action, tid))
                expected.append(may)
    answers = [
        await permit.check(email, action, resource(tid, i))
        for i, (email, action, tid) in enumerate(questions)
    ]
    assert answers == expected
    bulk = await permit.bulk_check(
        [
            {"user": e, "action": a, "resource": resource(t, i)}
            for i, (e, a, t) in enumerate(questions)
        ]
    )
    assert bulk == answers
    # Not vacuous: the demo has both answers for both actions.
    assert {(a, may) for (_, a, _), may in zip(questions, expected, strict=True)} == {
        ("read", True),
        ("read", False),
        ("update", True),
        ("update", False),
    }


async def test_delete_equals_who_the_rest_api_lets_delete(
    app: FastAPI, settings: Settings, demo: Demo, rest: httpx.AsyncClient, permit: Permit
) -> None:
    """Each persona tries to delete each ticket for real; the seed puts back what went."""
    deleters: set[tuple[str, str]] = set()
    for subject in list(demo.tickets):
        for email in EMAILS:
            tid = str(demo.tickets[subject].id)
            sdk = await permit.check(email, "delete", resource(tid, len(deleters)))
            r = await rest.delete(f"/tickets/{tid}", headers=demo.headers(email))
            assert r.status_code in (204, 403, 404)
            assert sdk is (r.status_code == 204), (email, subject, r.text)
            if sdk:
                deleters.add((email.split("@")[0], demo.tickets[subject].subject[:7]))
                await seed_demo(app.state.db.client[settings.mongodb_db])
                demo = await load_demo(settings)
                assert subject in demo.tickets
    # The admins, each of their own company's tickets: nobody else.
    assert deleters == {
        ("sara", "Invoice"),
        ("sara", "Nightly"),
        ("john", "Shippin"),
        ("john", "Quote f"),
    }


async def test_readable_from_user_permissions_equals_get_tickets(
    demo: Demo, rest: httpx.AsyncClient, permit: Permit
) -> None:
    for persona in PERSONAS:
        by_email = await permit.get_user_permissions(persona.email)
        by_id = await permit.get_user_permissions(demo.users[persona.email])
        assert by_email == by_id
        readable = readable_in(by_email, demo.tickets)
        assert readable == await listed(rest, demo, persona.email), persona.name
        assert len(readable) == persona.sees


async def test_a_tenant_claim_that_is_not_the_tickets_company_is_denied(
    demo: Demo, permit: Permit
) -> None:
    invoice = demo.tickets["Invoice 2026-114 charges VAT twice"]
    quote = demo.tickets["Quote for 600 units a month from July"]
    acme, globex = str(invoice.company), str(quote.company)
    sara, mark = "sara@acme.example", "mark@acme.example"
    assert await permit.check(sara, "read", resource(str(invoice.id), 0, tenant=acme)) is True
    assert await permit.check(sara, "read", resource(str(invoice.id), 0, tenant=globex)) is False
    # Mark is in both companies: the claim, not his membership, is what is wrong.
    assert await permit.check(mark, "read", resource(str(quote.id), 0, tenant=globex)) is True
    assert await permit.check(mark, "read", resource(str(quote.id), 0, tenant=acme)) is False


async def test_type_level_checks_through_the_sdk(demo: Demo, permit: Permit) -> None:
    """May they read every ticket of Acme? Its admin: yes; its agent: no (not a confidential
    one that is not his); its customer: no."""
    acme = str(demo.tickets["Invoice 2026-114 charges VAT twice"].company)
    every = {"type": "ticket", "tenant": acme}
    answers = {e: await permit.check(e, "read", every) for e in EMAILS}
    assert answers == {
        "lisa@acme.example": False,
        "sara@acme.example": True,
        "mark@acme.example": False,
        "david@globex.example": False,
        "emma@globex.example": False,
        "john@globex.example": False,
    }
    assert await permit.check("lisa@acme.example", "create", every) is True


async def test_a_wrong_key_makes_the_sdk_raise(api_url: str, demo: Demo) -> None:
    impostor = Permit(pdp=f"{api_url}/pdp", token=TEST_PDP_KEY + "-not")
    ticket = next(iter(demo.tickets.values()))
    with pytest.raises(PermitConnectionError, match="401"):
        await impostor.check("sara@acme.example", "read", f"ticket:{ticket.id}")
    with pytest.raises(PermitConnectionError, match="401"):
        await impostor.bulk_check(
            [{"user": "sara@acme.example", "action": "read", "resource": f"ticket:{ticket.id}"}]
        )
    with pytest.raises(PermitConnectionError, match="401"):
        await impostor.get_user_permissions("sara@acme.example")


# -- Node ------------------------------------------------------------------------------------


def node_sdk() -> Path:
    """The `permitio` package, installed by `make node-sdk` (a step of `make test`)."""
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed for the Node SDK test: install `node` (>= 18)")
    if not (NODE_MODULES / "permitio").is_dir():
        subprocess.run(["make", "--no-print-directory", "node-sdk"], cwd=ROOT, check=True)  # noqa: S607
    return NODE_MODULES


async def test_node_sdk_check_bulk_check_and_user_permissions(
    api_url: str, demo: Demo, rest: httpx.AsyncClient
) -> None:
    modules = node_sdk()
    personas = ["lisa@acme.example", "mark@acme.example"]
    checks: list[list[Any]] = []
    expected: list[bool] = []
    for email in personas:
        for i, ticket in enumerate(demo.tickets.values()):
            for action in ("read", "update"):
                checks.append([email, action, resource(str(ticket.id), i)])
                expected.append(await rest_may(rest, demo, email, action, str(ticket.id)))
    plan = {"pdp": f"{api_url}/pdp", "token": TEST_PDP_KEY, "users": personas, "checks": checks}
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_CLIENT),
        json.dumps(plan),
        env=os.environ | {"NODE_PATH": str(modules)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    answer = json.loads(out)
    assert answer["checks"] == expected
    assert answer["bulk"] == expected
    assert answer["wrongKey"] == "PermitConnectionError"
    for email in personas:
        readable = readable_in(answer["graphs"][email], demo.tickets)
        assert readable == await listed(rest, demo, email), email
    assert True in expected and False in expected


# -- the documented examples ------------------------------------------------------------------


def documented_example(language: str) -> Example:
    """The example of docs/pdp.md in `language`, which names this test as its runner."""
    found = [e for e in examples(ROOT / "docs" / "pdp.md") if e.language == language]
    assert len(found) == 1 and found[0].output, f"one {language} example, with its output"
    assert found[0].run_by == f"tests/api/test_pdp_sdk.py::{EXAMPLES_TEST}"
    return found[0]


async def run_example(command: list[str], env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        *command, env=os.environ | env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.parametrize("language", ["python", "js"])
async def test_the_documented_examples_run_as_written(
    api_url: str, demo: Demo, tmp_path: Path, language: str
) -> None:
    """The examples of docs/pdp.md print what the page says they print, against the demo
    tenants of `make run` (only the API's address differs)."""
    example = documented_example(language)
    code, output = example.code, example.output
    assert DOCUMENTED_URL in code
    script = tmp_path / ("pdp_example.py" if language == "python" else "pdp_example.cjs")
    script.write_text(code.replace(DOCUMENTED_URL, api_url))
    env = {"PDP_API_KEY": TEST_PDP_KEY}
    if language == "python":
        printed = await run_example([sys.executable, str(script)], env)
    else:
        printed = await run_example(["node", str(script)], env | {"NODE_PATH": str(node_sdk())})
    assert printed == output
