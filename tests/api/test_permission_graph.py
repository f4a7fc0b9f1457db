"""`GET /me/permissions`: shares described as the relation they are, never enumerated; the
roles a user holds on groups listed up to a bound, past which the graph is refused."""

import httpx
import pytest

from authz import graph
from tests.utils.factories import World


async def test_shares_are_a_relation_not_a_list(client: httpx.AsyncClient, world: World) -> None:
    sara, lisa = await world.user("sara"), await world.user("lisa")
    acme = await world.company("Acme", admin=sara)
    await world.member(acme, lisa, "customer")
    before = (await client.get("/me/permissions", headers=world.auth(lisa))).json()
    for _ in range(5):
        await world.share(await world.ticket(acme, sara), lisa)
    graph = (await client.get("/me/permissions", headers=world.auth(lisa))).json()
    assert graph == before, "the graph does not grow with what was shared"
    assert graph["resources"] == {}
    assert {
        "role": "ticket#viewer",
        "relation": "viewer",
        "holds_on": "every ticket whose viewer relation names you",
        "permissions": ["ticket:read", "ticket:reply"],
    } in graph["derived"]
    page = (await client.get("/tickets", headers=world.auth(lisa))).json()
    assert len(page["items"]) == 5


async def test_held_roles_are_listed_up_to_a_bound(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the bound the answer would be incomplete: a 422 that says how to narrow it."""
    monkeypatch.setattr(graph, "GRAPH_RESOURCES", 1)
    sara, mark = await world.user("sara"), await world.user("mark")
    acme, globex = await world.company("Acme", admin=sara), await world.company("Globex")
    for company in (acme, globex):
        await world.member(company, mark, "agent")
        await world.group(company, "Billing", mark)
    h = world.auth(mark)
    r = await client.get("/me/permissions", headers=h)
    assert r.status_code == 422, r.text
    assert "more than 1 resources: narrow the question to fewer companies" in r.json()["detail"]
    r = await client.get("/me/permissions", params={"company_id": str(acme.id)}, headers=h)
    assert r.status_code == 200
    assert [e["roles"] for e in r.json()["resources"].values()] == [["group#member"]]
