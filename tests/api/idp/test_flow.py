"""The whole story behind an identity provider, end to end.

Nina signs up at Logto: its webhook creates her account here. Sara, Acme's admin (a local
account), invites her; Nina accepts with her Logto access token (ES384, verified against
the loopback JWKS) and is a member with that role; her token then lists exactly her
tickets, neither Acme's others nor another tenant's.
"""

from tests.api.idp.conftest import Idp
from tests.utils.factories import World
from tests.utils.idp import post_register, user_created


async def test_sign_up_invitation_and_tickets(idp: Idp, world: World) -> None:
    # 1. Logto's two sign-up events: one account.
    for shape in (post_register, user_created):
        r = await idp.deliver(shape("nina01", username="nina", email="nina@initech.example"))
        assert r.status_code == 200, r.text
    nina_id = r.json()["user_id"]
    nina = idp.auth(idp.token("nina01"))
    me = await idp.client.get("/auth/me", headers=nina)
    assert me.json() == {
        "id": nina_id,
        "username": "nina",
        "email": "nina@initech.example",
        "memberships": [],
    }

    # 2. Acme, with tickets of its own, and another tenant with one Nina must never see.
    sara, lisa, john = await world.user("sara"), await world.user("lisa"), await world.user("john")
    acme = await world.company("Acme", admin=sara)
    await world.member(acme, lisa, "customer")
    await world.ticket(acme, sara, subject="Sara's")
    await world.ticket(acme, lisa, subject="Lisa's")
    globex = await world.company("Globex", admin=john)
    await world.ticket(globex, john, subject="Globex's")
    assert (await idp.client.get("/tickets", headers=nina)).json()["items"] == []

    # 3. Sara invites; Nina accepts with her identity provider token.
    r = await idp.client.post(
        f"/companies/{acme.id}/invitations",
        json={"email": "nina@initech.example", "role": "customer"},
        headers=world.auth(sara),
    )
    assert r.status_code == 201, r.text
    r = await idp.client.post(
        "/invitations/accept", json={"token": r.json()["token"]}, headers=nina
    )
    assert r.status_code == 201, r.text
    assert r.json() == {
        "company_id": str(acme.id),
        "company_name": "Acme",
        "role": "customer",
        "ticket_access": "all",
    }

    # 4. Her own ticket, and only hers.
    r = await idp.client.post(
        "/tickets",
        json={"company_id": str(acme.id), "subject": "Nina's", "description": "Mine."},
        headers=nina,
    )
    assert r.status_code == 201, r.text
    listed = (await idp.client.get("/tickets", headers=nina)).json()["items"]
    assert [(t["subject"], t["created_by"]) for t in listed] == [("Nina's", nina_id)]
    assert (await idp.client.get(f"/companies/{acme.id}/members", headers=nina)).status_code == 403

    # 5. Promoted to agent by Sara: every Acme ticket, still nothing of Globex's.
    r = await idp.client.patch(
        f"/companies/{acme.id}/members/{nina_id}", json={"role": "agent"}, headers=world.auth(sara)
    )
    assert r.status_code == 200, r.text
    listed = (await idp.client.get("/tickets", headers=nina)).json()["items"]
    assert sorted(t["subject"] for t in listed) == ["Lisa's", "Nina's", "Sara's"]
    assert idp.jwks.fetches == 1
