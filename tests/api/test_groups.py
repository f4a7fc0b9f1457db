"""Groups and ticket access levels: agents scoped to their groups, or to their assignments.

The policy's `group#member` derives an agent's ticket permissions on the tickets of the
groups they are in, when their membership's `ticket_access` is `groups`; `assigned`
limits them to the tickets assigned to them; `all` (the default) is every ticket of the
company. Every change here (a ticket moved, an agent taken out of a group, an access level
changed, a group deleted) is checked on the very next request.
"""

from dataclasses import dataclass

import httpx
import pytest
from bson import ObjectId

from authz.engine import default_engine
from models import Company, Group, Ticket, User
from tests.utils.factories import World

# The representation of rights, on both topologies (`make test` runs it standalone too).
pytestmark = pytest.mark.topologies


@dataclass
class Helpdesk:
    """Acme: admin Sara; agents Mark (Billing), Nina (Sales), Olga (assigned only); customer
    Lisa. Tickets: an invoice in Billing, a quote in Sales, an outage in no group assigned
    to Olga, and a question in no group at all."""

    company: Company
    sara: User
    mark: User
    nina: User
    olga: User
    lisa: User
    billing: Group
    sales: Group
    invoice: Ticket
    quote: Ticket
    outage: Ticket
    question: Ticket


@pytest.fixture
async def desk(world: World) -> Helpdesk:
    users = {n: await world.user(n) for n in ("sara", "mark", "nina", "olga", "lisa")}
    company = await world.company("Acme", admin=users["sara"])
    for agent in ("mark", "nina", "olga"):
        await world.member(company, users[agent], "agent")
    await world.member(company, users["lisa"], "customer")
    billing = await world.group(company, "Billing", users["mark"])
    sales = await world.group(company, "Sales", users["nina"])
    await world.access(company, users["mark"], "groups")
    await world.access(company, users["nina"], "groups")
    await world.access(company, users["olga"], "assigned")
    lisa = users["lisa"]
    invoice = await world.ticket(company, lisa, subject="Invoice", group=billing.id)
    quote = await world.ticket(company, lisa, subject="Quote", group=sales.id)
    outage = await world.ticket(company, lisa, subject="Outage", assigned_to=users["olga"].id)
    question = await world.ticket(company, lisa, subject="Question")
    return Helpdesk(company, **users, billing=billing, sales=sales, invoice=invoice,
                    quote=quote, outage=outage, question=question)  # fmt: skip


async def subjects(client: httpx.AsyncClient, world: World, user: User) -> set[str]:
    r = await client.get("/tickets", headers=world.auth(user))
    assert r.status_code == 200, r.text
    return {t["subject"] for t in r.json()["items"]}


async def test_each_level_sees_what_it_reaches(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    everything = {"Invoice", "Quote", "Outage", "Question"}
    assert await subjects(client, world, desk.sara) == everything
    assert await subjects(client, world, desk.mark) == {"Invoice"}
    assert await subjects(client, world, desk.nina) == {"Quote"}
    assert await subjects(client, world, desk.olga) == {"Outage"}
    assert await subjects(client, world, desk.lisa) == everything  # her own, as before
    h = world.auth(desk.mark)
    assert (await client.get(f"/tickets/{desk.quote.id}", headers=h)).status_code == 404
    r = await client.patch(f"/tickets/{desk.quote.id}", json={"status": "resolved"}, headers=h)
    assert r.status_code == 404
    r = await client.get(f"/tickets/{desk.invoice.id}", headers=h)
    assert r.status_code == 200 and r.json()["group_id"] == str(desk.billing.id)


async def test_the_filter_of_a_group_scoped_agent_uses_an_index(
    world: World, desk: Helpdesk
) -> None:
    from authz.engine import default_engine
    from authz.facts import load_principal

    assert desk.mark.id is not None
    principal = await load_principal(desk.mark.id)
    query = default_engine().query_filter(principal, "ticket:read", "ticket")
    assert query == {
        "$or": [
            {"company": desk.company.id, "assigned_to": desk.mark.id},
            # in his group, but a confidential ticket only while it is his
            {"company": desk.company.id, "group": desk.billing.id, "confidential": {"$ne": True}},
            # and, as for anyone, the tickets he opened or that were shared with him
            {"company": desk.company.id, "created_by": desk.mark.id},
            {"company": desk.company.id, "viewers": desk.mark.id},
        ]
    }
    plan = await Ticket.get_pymongo_collection().find(query).sort("_id", -1).explain()
    assert "IXSCAN" in str(plan["queryPlanner"]["winningPlan"])
    assert "COLLSCAN" not in str(plan["queryPlanner"]["winningPlan"])


async def test_assigned_tickets_are_reached_by_groups_agents_too(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    """A Billing agent assigned a ticket of no group sees it (assignment reaches it)."""
    r = await client.patch(
        f"/tickets/{desk.question.id}",
        json={"assigned_to": str(desk.olga.id)},
        headers=world.auth(desk.sara),
    )
    assert r.status_code == 200
    assert await subjects(client, world, desk.olga) == {"Outage", "Question"}


async def test_moving_a_ticket_moves_access_at_once(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    url = f"/tickets/{desk.invoice.id}"
    r = await client.patch(
        url, json={"group_id": str(desk.sales.id)}, headers=world.auth(desk.sara)
    )
    assert r.status_code == 200 and r.json()["group_id"] == str(desk.sales.id)
    assert await subjects(client, world, desk.mark) == set()
    assert await subjects(client, world, desk.nina) == {"Quote", "Invoice"}
    r = await client.patch(url, json={"group_id": None}, headers=world.auth(desk.nina))
    assert r.status_code == 200 and r.json()["group_id"] is None  # out of her group
    assert await subjects(client, world, desk.nina) == {"Quote"}


async def test_a_groups_agent_routes_a_ticket_to_any_group_and_then_no_longer_sees_it(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    """A tier-1 agent escalates to another group, as helpdesks route tickets; the ticket is
    then out of his reach (it is not assigned to him), and in Nina's."""
    url = f"/tickets/{desk.invoice.id}"
    r = await client.patch(
        url, json={"group_id": str(desk.sales.id)}, headers=world.auth(desk.mark)
    )
    assert r.status_code == 200 and r.json()["group_id"] == str(desk.sales.id)
    assert (await client.get(url, headers=world.auth(desk.mark))).status_code == 404
    assert "Invoice" in await subjects(client, world, desk.nina)
    other = await world.company("Globex", admin=desk.sara)
    foreign = await world.group(other, "Elsewhere")
    r = await client.patch(url, json={"group_id": str(foreign.id)}, headers=world.auth(desk.sara))
    assert r.status_code == 422 and "group of the ticket's company" in r.json()["detail"]


async def test_taking_an_agent_out_of_a_group_ends_their_access_at_once(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    url = f"/companies/{desk.company.id}/groups/{desk.billing.id}/members/{desk.mark.id}"
    assert (await client.delete(url, headers=world.auth(desk.sara))).status_code == 204
    assert await subjects(client, world, desk.mark) == set()
    assert await Group.find({"members": desk.mark.id}).count() == 0
    stored = await User.get(desk.mark.id)
    assert stored is not None and stored.access.resource_roles == []
    assert (await client.put(url, headers=world.auth(desk.sara))).status_code == 204
    assert (await client.put(url, headers=world.auth(desk.sara))).status_code == 204  # idempotent
    assert await subjects(client, world, desk.mark) == {"Invoice"}


async def test_changing_ticket_access_takes_effect_at_once(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    url = f"/companies/{desk.company.id}/members/{desk.mark.id}"
    h = world.auth(desk.sara)
    r = await client.patch(url, json={"ticket_access": "all"}, headers=h)
    assert r.status_code == 200 and r.json()["ticket_access"] == "all"
    assert len(await subjects(client, world, desk.mark)) == 4
    r = await client.patch(url, json={"ticket_access": "assigned"}, headers=h)
    assert r.status_code == 200 and r.json()["ticket_access"] == "assigned"
    assert await subjects(client, world, desk.mark) == set()
    me = (await client.get("/auth/me", headers=world.auth(desk.mark))).json()
    assert me["memberships"][0]["ticket_access"] == "assigned"
    listed = (await client.get(f"/companies/{desk.company.id}/members", headers=h)).json()
    assert {m["username"]: m["ticket_access"] for m in listed} == {
        "sara": "all",
        "mark": "assigned",
        "nina": "groups",
        "olga": "assigned",
        "lisa": "all",
    }


async def test_ticket_access_is_only_for_roles_that_allow_it(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    h = world.auth(desk.sara)
    base = f"/companies/{desk.company.id}/members"
    for who in (desk.lisa, desk.sara):
        r = await client.patch(f"{base}/{who.id}", json={"ticket_access": "groups"}, headers=h)
        assert r.status_code == 422 and "not available to role" in r.json()["detail"]
    r = await client.patch(f"{base}/{desk.mark.id}", json={"ticket_access": "some"}, headers=h)
    assert r.status_code == 422
    # Promoted to admin, Mark's `groups` level no longer applies: admins reach everything.
    r = await client.patch(f"{base}/{desk.mark.id}", json={"role": "admin"}, headers=h)
    assert r.status_code == 200 and r.json()["ticket_access"] == "all"
    assert len(await subjects(client, world, desk.mark)) == 4


async def test_demoting_an_agent_to_customer_takes_them_out_of_their_groups(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    url = f"/companies/{desk.company.id}/members/{desk.mark.id}"
    r = await client.patch(url, json={"role": "customer"}, headers=world.auth(desk.sara))
    assert r.status_code == 200
    stored = await User.get(desk.mark.id)
    assert stored is not None and stored.access.resource_roles == []
    groups = (
        await client.get(f"/companies/{desk.company.id}/groups", headers=world.auth(desk.sara))
    ).json()
    assert [g["member_ids"] for g in groups if g["name"] == "Billing"] == [[]]


async def test_assigning_a_groups_agent_outside_their_groups_is_refused(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    """Zendesk's rule (the policy's `assigned_within`): a ticket in a group goes to a
    member of it, unless the assignee's ticket access is `all`; at any other access level
    (`groups`, `assigned`) the assignee must be in the group. A ticket in no group goes to
    any staff."""
    h = world.auth(desk.sara)
    quote = f"/tickets/{desk.quote.id}"
    for outsider in (desk.mark, desk.olga):
        r = await client.patch(quote, json={"assigned_to": str(outsider.id)}, headers=h)
        assert r.status_code == 409 and "not a member of the group" in r.json()["detail"]
    r = await client.patch(
        quote, json={"assigned_to": str(desk.mark.id), "group_id": str(desk.billing.id)}, headers=h
    )
    assert r.status_code == 200, r.text
    r = await client.patch(
        f"/tickets/{desk.question.id}", json={"assigned_to": str(desk.olga.id)}, headers=h
    )
    assert r.status_code == 200  # `assigned` agents receive assignments: that is their scope
    all_access = await world.user("ada")
    await world.member(desk.company, all_access, "agent")
    r = await client.patch(quote, json={"assigned_to": str(all_access.id)}, headers=h)
    assert r.status_code == 200, "an agent with `all` access may hold any ticket"


async def test_moving_an_assigned_ticket_out_of_its_assignees_groups_is_refused(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    """Mark holds the invoice, in Billing; moving it to Sales would leave it with an
    assignee outside Sales: 409, unless the same request unassigns or reassigns it."""
    h = world.auth(desk.sara)
    invoice = f"/tickets/{desk.invoice.id}"
    r = await client.patch(invoice, json={"assigned_to": str(desk.mark.id)}, headers=h)
    assert r.status_code == 200
    r = await client.patch(invoice, json={"group_id": str(desk.sales.id)}, headers=h)
    assert r.status_code == 409 and "or unassign the ticket" in r.json()["detail"]
    assert r.json()["code"] == "conflict"
    stored = await Ticket.get(desk.invoice.id)
    assert stored is not None and stored.group == desk.billing.id
    body = {"group_id": str(desk.sales.id), "assigned_to": None}
    r = await client.patch(invoice, json=body, headers=h)
    assert r.status_code == 200 and r.json()["assigned_to"] is None
    body = {"group_id": str(desk.billing.id), "assigned_to": str(desk.nina.id)}
    r = await client.patch(invoice, json=body, headers=h)
    assert r.status_code == 409 and "not a member of the group" in r.json()["detail"]


async def test_groups_contract(client: httpx.AsyncClient, world: World, desk: Helpdesk) -> None:
    base = f"/companies/{desk.company.id}/groups"
    admin, agent, customer = (world.auth(u) for u in (desk.sara, desk.mark, desk.lisa))
    r = await client.post(base, json={"name": "Returns"}, headers=admin)
    assert r.status_code == 201
    returns = r.json()
    assert returns == {
        "id": returns["id"],
        "name": "Returns",
        "company_id": str(desk.company.id),
        "member_ids": [],
    }
    assert (await client.post(base, json={"name": "Returns"}, headers=admin)).status_code == 409
    assert (await client.post(base, json={"name": "X"}, headers=agent)).status_code == 403
    assert (await client.get(base, headers=customer)).status_code == 403
    listed = (await client.get(base, headers=agent)).json()
    assert [g["name"] for g in listed] == ["Billing", "Sales", "Returns"]
    assert listed[0]["member_ids"] == [str(desk.mark.id)]
    r = await client.patch(f"{base}/{returns['id']}", json={"name": "RMA"}, headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "RMA"
    member = f"{base}/{returns['id']}/members/{desk.lisa.id}"
    r = await client.put(member, headers=admin)
    assert r.status_code == 422 and "admin or agent" in r.json()["detail"]
    gone = f"{base}/{returns['id']}"
    assert (await client.delete(gone, headers=admin)).status_code == 204
    # Deleted: out of the list, and every route on it answers that it does not exist.
    assert "RMA" not in [g["name"] for g in (await client.get(base, headers=agent)).json()]
    assert (await client.patch(gone, json={"name": "X"}, headers=admin)).status_code == 404
    assert (await client.put(f"{gone}/members/{desk.mark.id}", headers=admin)).status_code == 404
    assert (await client.delete(gone, headers=admin)).status_code == 404


async def test_deleting_a_group_that_holds_tickets_is_refused_and_an_empty_one_goes_clean(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    base = f"/companies/{desk.company.id}/groups/{desk.billing.id}"
    h = world.auth(desk.sara)
    r = await client.delete(base, headers=h)
    assert r.status_code == 409 and "1 ticket" in r.json()["detail"]
    r = await client.patch(f"/tickets/{desk.invoice.id}", json={"group_id": None}, headers=h)
    assert r.status_code == 200
    assert (await client.delete(base, headers=h)).status_code == 204
    assert await Group.get(desk.billing.id) is None
    mark = await User.get(desk.mark.id)
    assert mark is not None and mark.access.resource_roles == []  # no stale copy left
    assert await subjects(client, world, desk.mark) == set()


async def test_tickets_get_a_group_at_creation_from_staff_only(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    body = {
        "company_id": str(desk.company.id),
        "subject": "Refund",
        "description": "Please.",
        "group_id": str(desk.billing.id),
    }
    r = await client.post("/tickets", json=body, headers=world.auth(desk.sara))
    assert r.status_code == 201 and r.json()["group_id"] == str(desk.billing.id)
    assert "Refund" in await subjects(client, world, desk.mark)
    r = await client.post("/tickets", json=body, headers=world.auth(desk.lisa))
    assert r.status_code == 403 and r.json()["fields"] == ["group_id"]
    r = await client.post(
        "/tickets", json=body | {"group_id": str(desk.company.id)}, headers=world.auth(desk.sara)
    )
    assert r.status_code == 422


async def test_the_permission_graph_says_what_a_level_limits(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    graph = (await client.get("/me/permissions", headers=world.auth(desk.mark))).json()
    acme = graph["companies"][str(desk.company.id)]
    assert acme["access"] == "groups"
    assert "ticket:read" not in acme["permissions"] and "ticket:create" in acme["permissions"]
    assert acme["limited"]["ticket:read"] == ["assignee", "group#member"]
    assert graph["resources"][str(desk.billing.id)]["roles"] == ["group#member"]


async def test_a_groups_agent_opens_tickets_in_any_group(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    """As with routing one: into any group of the company, or none."""
    body = {"company_id": str(desk.company.id), "subject": "Refund", "description": "Please."}
    h = world.auth(desk.mark)
    r = await client.post("/tickets", json=body | {"group_id": str(desk.sales.id)}, headers=h)
    assert r.status_code == 201 and r.json()["group_id"] == str(desk.sales.id)
    r = await client.post("/tickets", json=body | {"group_id": str(desk.billing.id)}, headers=h)
    assert r.status_code == 201
    assert (await client.post("/tickets", json=body, headers=h)).status_code == 201
    check = {"permission": "ticket:create", "company_id": str(desk.company.id)}
    answers = (await client.post("/authz/check", json={"checks": [check]}, headers=h)).json()
    assert answers["results"] == [True]
    assert answers["fields"] == [["assigned_to", "group_id", "priority", "status"]]
    lisa = (
        await client.post("/authz/check", json={"checks": [check]}, headers=world.auth(desk.lisa))
    ).json()
    assert lisa["results"] == [True] and lisa["fields"] == [[]]


async def test_the_list_filters_by_group(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    r = await client.get(
        "/tickets", params={"group_id": str(desk.billing.id)}, headers=world.auth(desk.sara)
    )
    assert [t["subject"] for t in r.json()["items"]] == ["Invoice"]
    r = await client.get(
        "/tickets", params={"group_id": str(desk.sales.id)}, headers=world.auth(desk.mark)
    )
    assert r.json()["items"] == [], "a group filter never widens what the caller may see"


async def test_a_member_is_in_at_most_the_policys_number_of_groups(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    """The copy of Mark's facts, read on each of his requests, lists his groups: the policy
    bounds it, and one more is a 409 that changes nothing."""
    most = default_engine().policy.instance_roles["group#member"].most_per_member
    assert most is not None
    h = world.auth(desk.sara)
    base = f"/companies/{desk.company.id}/groups"
    for n in range(most - 1):  # Mark is in Billing already
        group = (await client.post(base, json={"name": f"G{n}"}, headers=h)).json()
        r = await client.put(f"{base}/{group['id']}/members/{desk.mark.id}", headers=h)
        assert r.status_code == 204, r.text
    extra = (await client.post(base, json={"name": "One too many"}, headers=h)).json()
    r = await client.put(f"{base}/{extra['id']}/members/{desk.mark.id}", headers=h)
    assert r.status_code == 409 and r.json()["limit"] == most, r.text
    stored = await User.get(desk.mark.id)
    assert stored is not None and len(stored.access.resource_roles) == most
    assert await Group.find({"members": desk.mark.id}).count() == most


async def test_a_group_holds_at_most_the_policys_number_of_members(
    client: httpx.AsyncClient, world: World, desk: Helpdesk
) -> None:
    limit = default_engine().resource_type("group").many["member"]
    await Group.get_pymongo_collection().update_one(
        {"_id": desk.sales.id}, {"$set": {"members": [ObjectId() for _ in range(limit)]}}
    )
    url = f"/companies/{desk.company.id}/groups/{desk.sales.id}/members/{desk.mark.id}"
    r = await client.put(url, headers=world.auth(desk.sara))
    assert r.status_code == 409 and f"{limit} users" in r.json()["detail"]
    stored = await User.get(desk.mark.id)
    assert stored is not None
    assert [r.resource_id for r in stored.access.resource_roles] == [desk.billing.id]
