"""The HTTP contract of tickets: opening, working, replying, listing, deleting."""

import httpx

from tests.utils.factories import World


async def test_a_ticket_from_opening_to_deletion(client: httpx.AsyncClient, world: World) -> None:
    sara, mark, lisa, other = [await world.user(n) for n in ("sara", "mark", "lisa", "other")]
    sara_h, mark_h, lisa_h = world.auth(sara), world.auth(mark), world.auth(lisa)
    acme = await world.company("Acme Corp", admin=sara)
    await world.member(acme, mark, "agent")
    await world.member(acme, lisa, "customer")
    cid = str(acme.id)

    body = {"company_id": cid, "subject": "Login broken", "description": "Since Monday."}
    r = await client.post("/tickets", json=body, headers=lisa_h)
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["number"] == 1 and ticket["status"] == "open"
    assert ticket["created_by"] == str(lisa.id) and ticket["group_id"] is None
    tid = ticket["id"]
    r = await client.post("/tickets", json=body, headers=world.auth(other))
    assert r.status_code == 404

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

    r = await client.post(
        "/authz/check",
        json={
            "checks": [
                {"permission": "ticket:delete", "resource_id": tid},
                {"permission": "ticket:read", "resource_id": tid},
                {"permission": "members:add", "company_id": cid},
            ]
        },
        headers=mark_h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [False, True, False]
    assert "lacks ticket:delete" in r.json()["reasons"][0]

    r = await client.delete(f"/tickets/{tid}", headers=mark_h)
    assert r.status_code == 403 and "ticket:delete" in r.json()["detail"]
    assert (await client.delete(f"/tickets/{tid}", headers=lisa_h)).status_code == 403
    assert (await client.delete(f"/tickets/{tid}", headers=sara_h)).status_code == 204
    assert (await client.get(f"/tickets/{tid}", headers=sara_h)).status_code == 404
