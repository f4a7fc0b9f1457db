"""The HTTP contract of members: adding, listing, changing roles, removing; the last admin."""

import httpx

from tests.utils.factories import World


async def test_members_from_addition_to_removal(client: httpx.AsyncClient, world: World) -> None:
    sara, mark, lisa = [await world.user(n) for n in ("sara", "mark", "lisa")]
    sara_h, mark_h, lisa_h = world.auth(sara), world.auth(mark), world.auth(lisa)
    cid = (await client.post("/companies", json={"name": "Acme"}, headers=sara_h)).json()["id"]
    members = f"/companies/{cid}/members"

    r = await client.post(members, json={"email": mark.email, "role": "agent"}, headers=sara_h)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "user_id": str(mark.id),
        "username": "mark",
        "email": mark.email,
        "role": "agent",
        "ticket_access": "all",
    }
    r = await client.post(
        members, json={"user_id": str(lisa.id), "role": "customer"}, headers=sara_h
    )
    assert r.status_code == 201, r.text
    r = await client.post(members, json={"email": lisa.email, "role": "agent"}, headers=sara_h)
    assert r.status_code == 409
    r = await client.post(members, json={"email": "x@example.com", "role": "x"}, headers=sara_h)
    assert r.status_code == 422

    listed = (await client.get(members, headers=mark_h)).json()
    assert {m["username"]: m["role"] for m in listed} == {
        "sara": "admin",
        "mark": "agent",
        "lisa": "customer",
    }
    assert (await client.get(members, headers=lisa_h)).status_code == 403

    # The last admin can be neither demoted nor removed.
    r = await client.patch(f"{members}/{sara.id}", json={"role": "agent"}, headers=sara_h)
    assert r.status_code == 409 and "at least one admin" in r.json()["detail"]
    assert (await client.delete(f"{members}/{sara.id}", headers=sara_h)).status_code == 409
    r = await client.patch(f"{members}/{mark.id}", json={"role": "admin"}, headers=sara_h)
    assert r.status_code == 200 and r.json()["role"] == "admin"
    r = await client.patch(f"{members}/{sara.id}", json={"role": "agent"}, headers=sara_h)
    assert r.status_code == 200, "another admin now: Sara may step down"
    r = await client.delete(f"{members}/{lisa.id}", headers=sara_h)
    assert r.status_code == 403, "no longer an admin"
    assert (await client.delete(f"{members}/{lisa.id}", headers=mark_h)).status_code == 204
    assert (await client.get("/companies", headers=lisa_h)).json() == []
