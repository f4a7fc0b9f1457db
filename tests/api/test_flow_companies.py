"""The HTTP contract of companies, path by path: the happy paths and their published errors."""

import httpx
from fastapi import FastAPI

from tests.utils.factories import World


async def test_a_company_from_creation_to_deletion(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    sara, mark, other = [await world.user(n) for n in ("sara", "mark", "other")]
    sara_h, mark_h = world.auth(sara), world.auth(mark)

    r = await client.post("/companies", json={"name": "Acme Corp"}, headers=sara_h)
    assert r.status_code == 201, r.text
    acme = r.json()
    assert acme["role"] == "admin" and acme["name"] == "Acme Corp"
    cid = acme["id"]
    assert (await client.get(f"/companies/{cid}", headers=sara_h)).json() == acme
    assert (await client.get(f"/companies/{cid}", headers=world.auth(other))).status_code == 404

    r = await client.post(
        f"/companies/{cid}/members", json={"email": mark.email, "role": "agent"}, headers=sara_h
    )
    assert r.status_code == 201, r.text
    assert (await client.get("/companies", headers=mark_h)).json()[0]["role"] == "agent"
    r = await client.patch(f"/companies/{cid}", json={"name": "Acme Inc"}, headers=mark_h)
    assert r.status_code == 403 and "company:update" in r.json()["detail"]
    r = await client.patch(f"/companies/{cid}", json={"name": "Acme Inc"}, headers=sara_h)
    assert r.status_code == 200 and r.json()["name"] == "Acme Inc"

    assert (await client.get(f"/companies/{cid}/audit", headers=mark_h)).status_code == 403
    assert (
        await client.get(f"/companies/{cid}/audit", headers=world.auth(other))
    ).status_code == 404
    await app.state.audit.flush()
    r = await client.get(f"/companies/{cid}/audit", headers=sara_h)
    assert r.status_code == 200, r.text
    actions = [(e["action"], e["allowed"]) for e in r.json()["items"]]
    assert ("company:update", False) in actions and ("company:update", True) in actions

    perms = (await client.get("/me/permissions", headers=mark_h)).json()
    # An agent reads every ticket of the company but the confidential ones not theirs.
    assert "ticket:create" in perms["companies"][cid]["permissions"]
    assert perms["companies"][cid]["conditions"]["ticket:read"] == ["confidential"]
    assert perms["company_names"] == {cid: "Acme Inc"}

    assert (await client.delete(f"/companies/{cid}", headers=mark_h)).status_code == 403
    assert (await client.delete(f"/companies/{cid}", headers=sara_h)).status_code == 204
    assert (await client.get(f"/companies/{cid}", headers=sara_h)).status_code == 404
    assert (await client.get("/companies", headers=sara_h)).json() == []
    assert (await client.get("/companies", headers=mark_h)).json() == []
