"""Concurrency: what must hold when the same write arrives many times at once.

The writes are fired together with `asyncio.gather` through the in-process client, and for
the cases where it matters, split between this app and a second API process on the same
database (a real second worker, sharing nothing but the database).

What holds them is the database alone, with no lock in the application: unique indexes
(one account per email, one membership per user and company, one ticket per company and
number), atomic single-document updates (`$inc` of the ticket counter, `$push` of a reply,
a share's conditional `$push` onto the ticket's viewers), and for the last-admin rule,
transactions that conflict on the company (replica set) or verify-then-undo (standalone).
The tests marked `topologies` run on both.
"""

import asyncio
from collections import Counter

import httpx
import pytest
from beanie import PydanticObjectId

from models import Company, Membership, Ticket, User
from tests.utils.factories import World

N = 50


async def test_parallel_registrations_of_one_email(client: httpx.AsyncClient) -> None:
    rs = await asyncio.gather(
        *(
            client.post(
                "/auth/register",
                json={
                    "username": f"racer{i}",
                    "email": "Same@Example.com" if i % 2 else "same@example.com",
                    "password": "long-enough-1",
                },
            )
            for i in range(N)
        )
    )
    assert Counter(r.status_code for r in rs) == {201: 1, 409: N - 1}
    assert all(r.json()["field"] == "email" for r in rs if r.status_code == 409)
    assert await User.find(User.email == "same@example.com").count() == 1


async def test_parallel_registrations_across_two_workers(
    client: httpx.AsyncClient, remote: httpx.AsyncClient
) -> None:
    """Half the racers go to another process: the unique index still lets one through."""
    body = {"username": "twin", "email": "twin@example.com", "password": "long-enough-1"}
    rs = await asyncio.gather(
        *((client if i % 2 else remote).post("/auth/register", json=body) for i in range(10))
    )
    assert Counter(r.status_code for r in rs) == {201: 1, 409: 9}
    assert await User.find(User.username == "twin").count() == 1


async def test_parallel_additions_of_one_member(client: httpx.AsyncClient, world: World) -> None:
    sara, lisa = await world.user("sara"), await world.user("lisa")
    acme = await world.company("Acme", admin=sara)
    url, h = f"/companies/{acme.id}/members", world.auth(sara)
    rs = await asyncio.gather(
        *(
            client.post(
                url, json={"email": lisa.email, "role": ("agent", "customer")[i % 2]}, headers=h
            )
            for i in range(N)
        )
    )
    assert Counter(r.status_code for r in rs) == {201: 1, 409: N - 1}
    assert (
        await Membership.find(Membership.company == acme.id, Membership.user == lisa.id).count()
        == 1
    )


async def test_parallel_tickets_get_unique_gap_free_numbers(
    client: httpx.AsyncClient, world: World
) -> None:
    """Two companies at once, each numbered 1..N with no duplicate and no hole."""
    sara = await world.user("sara")
    companies = [await world.company(name, admin=sara) for name in ("Acme", "Globex")]
    h = world.auth(sara)
    rs = await asyncio.gather(
        *(
            client.post(
                "/tickets",
                json={"company_id": str(c.id), "subject": f"t{i}", "description": "d"},
                headers=h,
            )
            for i in range(N)
            for c in companies
        )
    )
    assert [r.status_code for r in rs] == [201] * (2 * N), [r.text for r in rs if r.is_error]
    for c in companies:
        numbers = sorted(r.json()["number"] for r in rs if r.json()["company_id"] == str(c.id))
        assert numbers == list(range(1, N + 1))
        stored = sorted(t.number for t in await Ticket.find(Ticket.company == c.id).to_list())
        assert stored == numbers


async def test_parallel_tickets_across_two_workers(
    client: httpx.AsyncClient, remote: httpx.AsyncClient, world: World
) -> None:
    sara = await world.user("sara")
    acme = await world.company("Acme", admin=sara)
    body = {"company_id": str(acme.id), "subject": "s", "description": "d"}
    h = world.auth(sara)
    rs = await asyncio.gather(
        *((client if i % 2 else remote).post("/tickets", json=body, headers=h) for i in range(30))
    )
    assert [r.status_code for r in rs] == [201] * 30
    assert sorted(r.json()["number"] for r in rs) == list(range(1, 31))


async def test_parallel_shares_make_one_share(client: httpx.AsyncClient, world: World) -> None:
    sara, lisa, carl = await world.user("sara"), await world.user("lisa"), await world.user("carl")
    acme = await world.company("Acme", admin=sara)
    await world.member(acme, lisa, "customer")
    await world.member(acme, carl, "customer")
    ticket = await world.ticket(acme, lisa)
    rs = await asyncio.gather(
        *(
            client.post(
                f"/tickets/{ticket.id}/viewers",
                json={"user_id": str(carl.id)},
                headers=world.auth(sara),
            )
            for _ in range(20)
        )
    )
    assert Counter(r.status_code for r in rs) == {201: 1, 409: 19}
    stored = await Ticket.get(ticket.id)
    assert stored is not None and stored.viewers == [carl.id]


@pytest.mark.topologies
async def test_many_people_sharing_with_one_user_at_once_all_succeed(
    client: httpx.AsyncClient, remote: httpx.AsyncClient, world: World
) -> None:
    """Six staff share 120 tickets with Lisa at once, through two API processes: a share
    writes the ticket alone, never Lisa's user document, so none conflicts with another
    (the first version rewrote her document in each share's transaction: 362 of 3,000
    shares then answered 503)."""
    company = await world.company("Acme")
    staff = [await world.user(f"agent{i}") for i in range(6)]
    lisa, sara = await world.user("lisa"), await world.user("sara")
    for user in staff:
        await world.member(company, user, "agent")
    await world.member(company, lisa, "customer")
    await world.member(company, sara, "customer")
    tickets = [await world.ticket(company, sara, subject=f"t{i}") for i in range(120)]
    before = await User.get_pymongo_collection().find_one({"_id": lisa.id})
    rs = await asyncio.gather(
        *(
            (client, remote)[i % 2].post(
                f"/tickets/{t.id}/viewers",
                json={"user_id": str(lisa.id)},
                headers=world.auth(staff[i % len(staff)]),
            )
            for i, t in enumerate(tickets)
        )
    )
    assert [r.status_code for r in rs] == [201] * len(tickets), [r.text for r in rs if r.is_error]
    assert await User.get_pymongo_collection().find_one({"_id": lisa.id}) == before
    assert await Ticket.find({"company": company.id, "viewers": lisa.id}).count() == len(tickets)
    page = (await client.get("/tickets?limit=200", headers=world.auth(lisa))).json()
    assert len(page["items"]) == len(tickets)


async def test_parallel_company_creation_gives_each_one_admin(
    client: httpx.AsyncClient, world: World
) -> None:
    """20 creations by one user at once. Each also writes the creator's copy of their facts,
    one document: in transactions they conflict and the driver retries them, and one that
    still conflicts when its time is up is a 503 that wrote nothing (retried, it succeeds).
    Every company made has exactly its creator as admin, and the creator sees it."""
    sara = await world.user("sara")
    names = [f"Co {i}" for i in range(20)]
    made: list[httpx.Response] = []
    for _ in range(5):
        rs = await asyncio.gather(
            *(client.post("/companies", json={"name": n}, headers=world.auth(sara)) for n in names)
        )
        assert {r.status_code for r in rs} <= {201, 503}, [r.text for r in rs]
        made += [r for r in rs if r.status_code == 201]
        names = [n for n, r in zip(names, rs, strict=True) if r.status_code == 503]
        if not names:
            break
    assert len(made) == 20 and await Company.count() == 20, "a 503 left a company behind"
    for r in made:
        cid = PydanticObjectId(r.json()["id"])
        members = await Membership.find(Membership.company == cid).to_list()
        assert [(m.user, m.role) for m in members] == [(sara.id, "admin")]
    mine = (await client.get("/companies", headers=world.auth(sara))).json()
    assert sorted(c["name"] for c in mine) == sorted(f"Co {i}" for i in range(20))


async def _admins(company: Company) -> set[str]:
    members = await Membership.find(
        Membership.company == company.id, Membership.role == "admin"
    ).to_list()
    return {str(m.user) for m in members}


PATTERNS = {
    "each demotes the other": [("a", "b", "agent"), ("b", "a", "customer")],
    "each demotes themself": [("a", "a", "agent"), ("b", "b", "customer")],
    "a ring of three": [("a", "b", "agent"), ("b", "c", "agent"), ("c", "a", "customer")],
}


@pytest.mark.topologies
@pytest.mark.parametrize("pattern", list(PATTERNS))
async def test_parallel_demotions_keep_an_admin(
    client: httpx.AsyncClient, world: World, pattern: str
) -> None:
    """Admins demote one another at the same moment, round after round: whatever the
    interleaving, the company is never left without an admin."""
    users = {n: await world.user(n) for n in ("a", "b", "c")}
    for n in range(12):
        admins = {actor for actor, _, _ in PATTERNS[pattern]}
        company = await world.company(f"Round {n}")
        for name in admins:
            await world.member(company, users[name], "admin")
        base = f"/companies/{company.id}/members"
        rs = await asyncio.gather(
            *(
                client.patch(
                    f"{base}/{users[target].id}",
                    json={"role": role},
                    headers=world.auth(users[actor]),
                )
                for actor, target, role in PATTERNS[pattern]
            )
        )
        statuses = [r.status_code for r in rs]
        # 403: in a ring, an admin may have lost the role before their own request is read.
        assert set(statuses) <= {200, 403, 409}, [r.text for r in rs]
        # Each success removed one admin and each refusal none: no phantom, no lost change.
        assert len(await _admins(company)) == len(admins) - statuses.count(200) >= 1, (
            f"round {n}: {statuses}"
        )


@pytest.mark.topologies
async def test_parallel_removals_keep_an_admin(client: httpx.AsyncClient, world: World) -> None:
    a, b = await world.user("alice"), await world.user("bob")
    for n in range(10):
        company = await world.company(f"Duo {n}", admin=a)
        await world.member(company, b, "admin")
        base = f"/companies/{company.id}/members"
        rs = await asyncio.gather(
            client.delete(f"{base}/{b.id}", headers=world.auth(a)),
            client.delete(f"{base}/{a.id}", headers=world.auth(b)),
            client.patch(f"{base}/{a.id}", json={"role": "agent"}, headers=world.auth(a)),
        )
        assert {r.status_code for r in rs} <= {200, 204, 403, 404, 409}, [r.text for r in rs]
        assert await _admins(company), f"round {n}: {[r.status_code for r in rs]}"


@pytest.mark.topologies
async def test_parallel_writes_to_one_ticket_from_two_processes_are_all_kept(
    client: httpx.AsyncClient, remote: httpx.AsyncClient, world: World
) -> None:
    """Replies, an update and shares racing on one ticket from two API processes: each
    is one atomic write on the server, and none is lost."""
    sara, lisa = await world.user("sara"), await world.user("lisa")
    viewers = [await world.user(f"viewer{i}") for i in range(6)]
    company = await world.company("Acme", admin=sara)
    for user in (lisa, *viewers):
        await world.member(company, user, "customer")
    ticket = await world.ticket(company, lisa)
    url = f"/tickets/{ticket.id}"
    rs = await asyncio.gather(
        *(
            (client, remote)[i % 2].post(
                f"{url}/replies", json={"body": f"reply {i}"}, headers=world.auth(lisa)
            )
            for i in range(20)
        ),
        *(
            (client, remote)[i % 2].post(
                f"{url}/viewers", json={"user_id": str(v.id)}, headers=world.auth(sara)
            )
            for i, v in enumerate(viewers)
        ),
        remote.patch(url, json={"priority": "urgent"}, headers=world.auth(sara)),
    )
    assert [r.status_code for r in rs] == [201] * 26 + [200], [r.text for r in rs if r.is_error]
    stored = await Ticket.get(ticket.id)
    assert stored is not None
    assert sorted(r.body for r in stored.replies) == sorted(f"reply {i}" for i in range(20))
    assert stored.priority == "urgent"
    assert set(stored.viewers) == {v.id for v in viewers}


@pytest.mark.topologies
async def test_parallel_role_changes_from_two_processes_are_all_kept(
    client: httpx.AsyncClient, remote: httpx.AsyncClient, world: World
) -> None:
    """Every member of one company gets a new role at once, half of the changes through
    each process: in a transaction they conflict on the company and are retried, and each
    acknowledged change is the member's role afterwards."""
    sara = await world.user("sara")
    company = await world.company("Acme", admin=sara)
    members = [await world.user(f"member{i}") for i in range(10)]
    for user in members:
        await world.member(company, user, "customer")
    wanted = {u.id: ("agent", "admin")[i % 2] for i, u in enumerate(members)}
    rs = await asyncio.gather(
        *(
            (client, remote)[i % 2].patch(
                f"/companies/{company.id}/members/{u.id}",
                json={"role": wanted[u.id]},
                headers=world.auth(sara),
            )
            for i, u in enumerate(members)
        )
    )
    assert [r.status_code for r in rs] == [200] * len(members), [r.text for r in rs]
    stored = await Membership.find(Membership.company == company.id).to_list()
    assert {m.user: m.role for m in stored if m.user != sara.id} == wanted


@pytest.mark.topologies
async def test_any_mix_of_parallel_demotions_keeps_an_admin(
    client: httpx.AsyncClient, remote: httpx.AsyncClient, world: World
) -> None:
    """Two admins each demote both admins at once, from two API processes, so two writers
    race on each membership: the company always keeps an admin."""
    a, b = await world.user("alice"), await world.user("bob")
    for n in range(8):
        company = await world.company(f"Round {n}")
        for admin in (a, b):
            await world.member(company, admin, "admin")
        base = f"/companies/{company.id}/members"
        rs = await asyncio.gather(
            *(
                via.patch(f"{base}/{target.id}", json={"role": role}, headers=world.auth(actor))
                for via, actor in ((client, a), (remote, b))
                for target, role in ((a, "agent"), (b, "customer"))
            )
        )
        assert {r.status_code for r in rs} <= {200, 403, 404, 409}
        assert len(await _admins(company)) >= 1, f"round {n}"
