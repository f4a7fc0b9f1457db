"""`POST /authz/check` speaks the API's one vocabulary: permission names.

A question names a permission as `/me/permissions`, a 403's `permission` and the audit log
do (`ticket:delete`); the older split form (`action` + `resource_type`) is still accepted.
"""

import httpx

from tests.utils.factories import World


async def ask(
    client: httpx.AsyncClient, world: World, user: object, *checks: dict[str, str]
) -> dict[str, list[object]]:
    r = await client.post(
        "/authz/check",
        json={"checks": list(checks)},
        headers=world.auth(user),  # type: ignore[arg-type]
    )
    assert r.status_code == 200, r.text
    body: dict[str, list[object]] = r.json()
    return body


async def test_permission_names_and_the_split_form_agree(
    client: httpx.AsyncClient, world: World
) -> None:
    sara, mark = await world.user("sara"), await world.user("mark")
    acme = await world.company("Acme", admin=sara)
    await world.member(acme, mark, "agent")
    ticket = await world.ticket(acme, sara)
    tid, cid = str(ticket.id), str(acme.id)
    named = await ask(
        client,
        world,
        mark,
        {"permission": "ticket:delete", "resource_id": tid},
        {"permission": "ticket:update", "resource_id": tid},
        {"permission": "ticket:create", "company_id": cid},
        {"permission": "members:add", "company_id": cid},
    )
    split = await ask(
        client,
        world,
        mark,
        {"action": "delete", "resource_type": "ticket", "resource_id": tid},
        {"action": "update", "resource_type": "ticket", "resource_id": tid},
        {"action": "create", "resource_type": "ticket", "company_id": cid},
        {"action": "add", "resource_type": "members", "company_id": cid},
    )
    assert named == split
    assert named["results"] == [False, True, True, False]
    assert named["reasons"][0] == f"role 'agent' in company {cid} lacks ticket:delete"
    agent = ["assigned_to", "group_id", "priority", "status"]
    # An allowed update lists what it may change; an allowed create, what it may set.
    assert named["fields"] == [None, agent, agent, None]


async def test_reasons_say_what_is_missing(client: httpx.AsyncClient, world: World) -> None:
    lisa = await world.user("lisa")
    acme = await world.company("Acme")
    await world.member(acme, lisa, "customer")
    hidden = await world.ticket(acme, await world.user("david"))
    answers = await ask(
        client,
        world,
        lisa,
        {"permission": "ticket:read", "resource_id": str(hidden.id)},
        {"permission": "ticket:read"},
        {"permission": "ticket:fly", "company_id": str(acme.id)},
    )
    assert answers["results"] == [False, False, False]
    # A ticket she may not read is "not found", never "give resource_id": she gave one.
    assert answers["reasons"] == [
        f"ticket {hidden.id} not found, or not readable by the caller",
        "name the ticket (resource_id) or its company (company_id)",
        "unknown permission ticket:fly",
    ]


async def test_a_question_in_neither_or_both_forms_is_422(
    client: httpx.AsyncClient, world: World
) -> None:
    lisa = await world.user("lisa")
    for check in (
        {"resource_id": "0" * 24},
        {"permission": "ticket:read", "action": "read", "resource_type": "ticket"},
        {"action": "read"},
        {"permission": "delete"},
        {"permission": "ticket:read", "resource_type": "ticket"},
    ):
        r = await client.post("/authz/check", json={"checks": [check]}, headers=world.auth(lisa))
        assert r.status_code == 422, (check, r.text)
        assert r.json()["code"] == "invalid"
