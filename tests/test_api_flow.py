"""The HTTP contract, path by path, for the happy paths and their published errors."""

import httpx
from fastapi import FastAPI

from tests.utils.factories import World


async def test_company_member_ticket_flow(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    sara, mark, lisa, other = [await world.user(n) for n in ("sara", "mark", "lisa", "other")]
    sara_h, mark_h, lisa_h = world.auth(sara), world.auth(mark), world.auth(lisa)

    r = await client.post("/companies", json={"name": "Acme Corp"}, headers=sara_h)
    assert r.status_code == 201, r.text
    acme = r.json()
    assert acme["role"] == "admin" and acme["name"] == "Acme Corp"
    cid = acme["id"]

    r = await client.post(
        f"/companies/{cid}/members", json={"email": mark.email, "role": "agent"}, headers=sara_h
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "agent"
    r = await client.post(
        f"/companies/{cid}/members",
        json={"user_id": str(lisa.id), "role": "customer"},
        headers=sara_h,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/companies/{cid}/members", json={"email": lisa.email, "role": "agent"}, headers=sara_h
    )
    assert r.status_code == 409

    members = (await client.get(f"/companies/{cid}/members", headers=mark_h)).json()
    assert {m["username"]: m["role"] for m in members} == {
        "sara": "admin",
        "mark": "agent",
        "lisa": "customer",
    }
    assert (await client.get(f"/companies/{cid}/members", headers=lisa_h)).status_code == 403

    r = await client.post(
        "/tickets",
        json={
            "company_id": cid,
            "subject": "Login broken",
            "description": "Cannot sign in since Monday.",
        },
        headers=lisa_h,
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["number"] == 1 and ticket["status"] == "open"
    assert ticket["created_by"] == str(lisa.id)
    tid = ticket["id"]

    r = await client.patch(
        f"/tickets/{tid}",
        json={"status": "in-progress", "assigned_to": str(mark.id)},
        headers=mark_h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["assigned_to"] == str(mark.id)
    r = await client.patch(f"/tickets/{tid}", json={"subject": "x"}, headers=mark_h)
    assert r.status_code == 403 and "subject" in r.json()["detail"]

    r = await client.post(
        f"/tickets/{tid}/replies", json={"body": "Looking", "internal": True}, headers=mark_h
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/tickets/{tid}/replies", json={"body": "Thanks"}, headers=lisa_h)
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/tickets/{tid}/replies", json={"body": "sneak", "internal": True}, headers=lisa_h
    )
    assert r.status_code == 403 and "ticket:note" in r.json()["detail"]

    lisa_view = (await client.get(f"/tickets/{tid}", headers=lisa_h)).json()
    assert [r["body"] for r in lisa_view["replies"]] == ["Thanks"]
    mark_view = (await client.get(f"/tickets/{tid}", headers=mark_h)).json()
    assert [r["body"] for r in mark_view["replies"]] == ["Looking", "Thanks"]

    page = (await client.get("/tickets", headers=lisa_h)).json()
    assert [t["id"] for t in page["items"]] == [tid] and page["next_cursor"] is None
    assert (await client.get("/tickets", headers=world.auth(other))).json()["items"] == []
    assert (await client.get(f"/tickets/{tid}", headers=world.auth(other))).status_code == 404

    r = await client.delete(f"/tickets/{tid}", headers=mark_h)
    assert r.status_code == 403 and "ticket:delete" in r.json()["detail"]
    r = await client.delete(f"/tickets/{tid}", headers=lisa_h)
    assert r.status_code == 403

    perms = (await client.get("/me/permissions", headers=mark_h)).json()
    assert "ticket:read" in perms["companies"][cid]["permissions"]
    r = await client.post(
        "/authz/check",
        json={
            "checks": [
                {"action": "delete", "resource_type": "ticket", "resource_id": tid},
                {"action": "read", "resource_type": "ticket", "resource_id": tid},
                {"action": "add", "resource_type": "members", "company_id": cid},
            ]
        },
        headers=mark_h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [False, True, False]
    assert "lacks ticket:delete" in r.json()["reasons"][0]

    assert (await client.delete(f"/tickets/{tid}", headers=sara_h)).status_code == 204
    assert (await client.get(f"/tickets/{tid}", headers=sara_h)).status_code == 404

    assert (await client.get(f"/companies/{cid}/audit", headers=mark_h)).status_code == 403
    r = await client.patch(
        f"/companies/{cid}/members/{sara.id}", json={"role": "agent"}, headers=sara_h
    )
    assert r.status_code == 409
    assert (
        await client.delete(f"/companies/{cid}/members/{sara.id}", headers=sara_h)
    ).status_code == 409
    r = await client.patch(
        f"/companies/{cid}/members/{mark.id}", json={"role": "admin"}, headers=sara_h
    )
    assert r.status_code == 200 and r.json()["role"] == "admin"
    assert (
        await client.delete(f"/companies/{cid}/members/{lisa.id}", headers=sara_h)
    ).status_code == 204

    await app.state.audit.flush()
    r = await client.get(f"/companies/{cid}/audit", headers=sara_h)
    assert r.status_code == 200, r.text
    actions = [(e["action"], e["allowed"]) for e in r.json()["items"]]
    assert ("ticket:delete", False) in actions and ("ticket:delete", True) in actions
    assert (
        await client.get(f"/companies/{cid}/audit", headers=world.auth(other))
    ).status_code == 404

    assert (await client.get("/companies", headers=mark_h)).json()[0]["role"] == "admin"
    r = await client.patch(f"/companies/{cid}", json={"name": "Acme Inc"}, headers=sara_h)
    assert r.status_code == 200 and r.json()["name"] == "Acme Inc"
    assert (await client.delete(f"/companies/{cid}", headers=sara_h)).status_code == 204
    assert (await client.get(f"/companies/{cid}", headers=sara_h)).status_code == 404
    assert (await client.get("/companies", headers=sara_h)).json() == []
