"""Cross-tenant isolation: nothing of another company is visible, changeable or confirmed."""

import itertools

import httpx
import pytest

from authz.engine import default_engine
from authz.facts import load_principal
from models import Ticket
from tests.utils.factories import World

# The representation of rights, on both topologies (`make test` runs it standalone too).
pytestmark = pytest.mark.topologies


async def test_other_tenants_tickets_do_not_exist(client: httpx.AsyncClient, world: World) -> None:
    john, sara = await world.user("john"), await world.user("sara")
    acme = await world.company("Acme", admin=sara)
    globex = await world.company("Globex", admin=john)
    secret = await world.ticket(globex, john, subject="Globex secret")
    h = world.auth(sara)
    url = f"/tickets/{secret.id}"
    attempts = [
        await client.get(url, headers=h),
        await client.patch(url, json={"status": "resolved"}, headers=h),
        await client.delete(url, headers=h),
        await client.post(f"{url}/replies", json={"body": "x"}, headers=h),
        await client.post(f"{url}/viewers", json={"user_id": str(sara.id)}, headers=h),
        await client.get(f"/companies/{globex.id}", headers=h),
        await client.get(f"/companies/{globex.id}/members", headers=h),
        await client.get(f"/companies/{globex.id}/audit", headers=h),
        await client.post(
            "/tickets",
            json={"company_id": str(globex.id), "subject": "s", "description": "d"},
            headers=h,
        ),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert all("Globex" not in r.text for r in attempts)
    missing = await client.get(f"/tickets/{'0' * 24}", headers=h)
    assert missing.json() == attempts[0].json(), "absent and hidden look the same"

    listed = await client.get("/tickets", params={"company_id": str(globex.id)}, headers=h)
    assert listed.json() == {"items": [], "next_cursor": None}
    stored = await Ticket.get(secret.id)
    assert stored is not None and stored.status == "open" and stored.replies == []
    assert acme.id is not None


async def test_no_filter_combination_widens_a_list(client: httpx.AsyncClient, world: World) -> None:
    """Whatever filters are asked for, a list stays within what the policy allows."""
    lisa, sara, john, mark = [await world.user(n) for n in ("lisa", "sara", "john", "mark")]
    acme = await world.company("Acme", admin=sara)
    globex = await world.company("Globex", admin=john)
    await world.member(acme, lisa, "customer")
    await world.member(globex, lisa, "customer")
    await world.member(acme, mark, "agent")
    for company, creator in itertools.product((acme, globex), (lisa, sara, john)):
        if creator is not john or company is globex:
            await world.ticket(company, creator, status="open", assigned_to=None)
    principal = await load_principal(lisa.id)  # type: ignore[arg-type]
    engine = default_engine()
    allowed = {
        str(t.id)
        for t in await Ticket.find_all().to_list()
        if engine.check(
            principal, "ticket:read", engine.resource_of("ticket", t.model_dump(by_alias=True))
        )
    }
    assert len(allowed) == 2
    options = {
        "company_id": [None, str(acme.id), str(globex.id)],
        "status": [None, "open"],
        "assigned_to": [None, str(mark.id)],
        "q": [None, "Printer"],
        "limit": [None, "1", "200"],
    }
    for combo in itertools.product(*options.values()):
        params = {k: v for k, v in zip(options, combo, strict=True) if v is not None}
        page = (await client.get("/tickets", params=params, headers=world.auth(lisa))).json()
        assert {t["id"] for t in page["items"]} <= allowed, params
