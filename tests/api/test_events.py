"""`GET /events`: each subscriber receives exactly the changes they may read.

The streams are read from API processes of their own (uvicorn: an in-process client cannot
hold a stream open), on the session's database; the changes are made through the API or,
for the world's set-up, straight into the database, as a second process would.
"""

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from bson import ObjectId
from fastapi import FastAPI

from app.config import Settings
from models import Company, Ticket, User
from tests.utils.factories import World
from tests.utils.instances import instance, worker

HEARTBEAT = 0.4


@dataclass(frozen=True)
class Sse:
    """One event as received."""

    id: str
    name: str
    data: dict[str, Any]


class Stream:
    """An open `GET /events`, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments = 0

    async def next(self, within: float = 10.0) -> Sse:
        """The next event (comments counted and skipped); fails after `within` seconds."""
        return await asyncio.wait_for(self._read(), within)

    async def _read(self) -> Sse:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line.startswith(":"):
                self.comments += 1
                continue
            if not line:
                if fields:
                    return Sse(fields.get("id", ""), fields["event"], json.loads(fields["data"]))
                continue
            key, _, value = line.partition(": ")
            fields[key] = value
        raise EOFError("the stream ended")

    async def created(self) -> str:
        """The id of the ticket the next event announces; it must be `ticket.created`."""
        event = await self.next()
        assert event.name == "ticket.created", event
        return str(event.data["ticket"]["id"])

    async def ended(self, within: float = 10.0) -> bool:
        """Whether the stream ends (with no further event) within `within` seconds."""
        try:
            event = await self.next(within)
        except EOFError:
            return True
        raise AssertionError(f"expected the end of the stream, got {event}")


@pytest.fixture(scope="module")
async def live_urls(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[list[str]]:
    """Two API processes on the session's database, with a short heartbeat."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVENTS_HEARTBEAT_SECONDS", str(HEARTBEAT))
        logs = tmp_path_factory.mktemp("live")
        async with (
            worker(settings, logs / "one.log") as one,
            worker(settings, logs / "two.log") as two,
        ):
            yield [one, two]


@pytest.fixture
async def live(app: FastAPI, live_urls: list[str]) -> AsyncIterator[list[httpx.AsyncClient]]:
    if not app.state.db.supports_change_streams:
        pytest.fail("the live-updates tests need a replica set; see test_standalone_is_503")
    async with (
        httpx.AsyncClient(base_url=live_urls[0], timeout=30) as one,
        httpx.AsyncClient(base_url=live_urls[1], timeout=30) as two,
    ):
        yield [one, two]


@asynccontextmanager
async def subscribed(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> AsyncIterator[Stream]:
    """`GET /events` held open for the block; its first line has arrived."""
    extra = {k.replace("_", "-").title(): v for k, v in params.items() if k == "last_event_id"}
    query = {k: v for k, v in params.items() if k != "last_event_id"}
    async with client.stream(
        "GET", "/events", headers=headers | extra, params=query, timeout=30
    ) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        first = await asyncio.wait_for(stream._lines.__anext__(), 10)
        assert first.startswith(":"), first  # the stream is open before any change
        yield stream


@dataclass
class Desk:
    """Acme (Sara admin, Mark agent, Lisa and Carl customers) and Globex (John admin)."""

    world: World
    acme: Company
    globex: Company
    sara: User
    mark: User
    lisa: User
    carl: User
    john: User

    def h(self, user: User) -> dict[str, str]:
        return self.world.auth(user)


@pytest.fixture
async def desk(world: World) -> Desk:
    users = {n: await world.user(n) for n in ("sara", "mark", "lisa", "carl", "john")}
    acme = await world.company("Acme", admin=users["sara"])
    globex = await world.company("Globex", admin=users["john"])
    await world.member(acme, users["mark"], "agent")
    await world.member(acme, users["lisa"], "customer")
    await world.member(acme, users["carl"], "customer")
    return Desk(world, acme, globex, **users)


async def shown(client: httpx.AsyncClient, desk: Desk, user: User, ticket_id: str) -> Any:
    r = await client.get(f"/tickets/{ticket_id}", headers=desk.h(user))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_new_ticket_reaches_exactly_those_who_may_read_it(
    live: list[httpx.AsyncClient], desk: Desk
) -> None:
    api = live[0]
    async with (
        subscribed(api, desk.h(desk.mark)) as mark,
        subscribed(api, desk.h(desk.carl)) as carl,
        subscribed(api, desk.h(desk.john)) as john,
        subscribed(api, desk.h(desk.sara)) as sara,
    ):
        r = await api.post(
            "/tickets",
            json={"company_id": str(desk.acme.id), "subject": "VPN down", "description": "x"},
            headers=desk.h(desk.lisa),
        )
        assert r.status_code == 201, r.text
        tid = r.json()["id"]
        for who, stream in ((desk.mark, mark), (desk.sara, sara)):
            event = await stream.next()
            assert event.name == "ticket.created" and event.id
            assert event.data == {"ticket": await shown(api, desk, who, tid)}
        # John (another tenant) and Carl (a fellow customer) hear nothing of it: the next
        # change they may read is the first thing each receives.
        mine = await desk.world.ticket(desk.acme, desk.carl, subject="Carl's")
        assert await carl.created() == str(mine.id)
        theirs = await desk.world.ticket(desk.globex, desk.john, subject="Globex's")
        assert await john.created() == str(theirs.id)


async def test_an_internal_note_reaches_staff_and_tells_the_customer_nothing(
    live: list[httpx.AsyncClient], desk: Desk
) -> None:
    api = live[0]
    ticket = await desk.world.ticket(desk.acme, desk.lisa)
    url = f"/tickets/{ticket.id}/replies"
    async with (
        subscribed(api, desk.h(desk.lisa)) as lisa,
        subscribed(api, desk.h(desk.mark)) as mark,
    ):
        r = await api.post(url, json={"body": "psst", "internal": True}, headers=desk.h(desk.mark))
        assert r.status_code == 201, r.text
        noted = await mark.next()
        assert noted.name == "ticket.updated"
        assert [x["internal"] for x in noted.data["ticket"]["replies"]] == [True]
        r = await api.post(url, json={"body": "On it."}, headers=desk.h(desk.mark))
        assert r.status_code == 201, r.text
        first = await lisa.next()  # the public reply, not the note before it
        assert first.name == "ticket.updated"
        assert [x["body"] for x in first.data["ticket"]["replies"]] == ["On it."]
        assert first.data == {"ticket": await shown(api, desk, desk.lisa, str(ticket.id))}


async def test_losing_sight_of_a_ticket_is_removed_and_nothing_more(
    live: list[httpx.AsyncClient], desk: Desk
) -> None:
    api = live[0]
    ticket = await desk.world.ticket(desk.acme, desk.lisa)
    await desk.world.share(ticket, desk.carl)
    async with (
        subscribed(api, desk.h(desk.carl)) as carl,
        subscribed(api, desk.h(desk.mark)) as mark,
    ):
        r = await api.patch(
            f"/tickets/{ticket.id}", json={"confidential": True}, headers=desk.h(desk.sara)
        )
        assert r.status_code == 200, r.text
        gone = await mark.next()  # an agent reads a confidential ticket only if assigned
        assert (gone.name, gone.data) == (
            "ticket.removed",
            {"ticket_id": str(ticket.id), "company_id": str(desk.acme.id)},
        )
        seen = await carl.next()  # shared with him: he still reads it
        assert seen.name == "ticket.updated" and seen.data["ticket"]["confidential"] is True
        r = await api.delete(
            f"/tickets/{ticket.id}/viewers/{desk.carl.id}", headers=desk.h(desk.sara)
        )
        assert r.status_code == 204, r.text
        gone = await carl.next()
        assert gone.name == "ticket.removed" and gone.data["ticket_id"] == str(ticket.id)
        r = await api.delete(f"/tickets/{ticket.id}", headers=desk.h(desk.sara))
        assert r.status_code == 204, r.text
        # Neither could read it any more: the deletion reaches neither; the next event
        # each gets is about a ticket they may read.
        other = await desk.world.ticket(desk.acme, desk.carl)
        for stream in (carl, mark):
            assert await stream.created() == str(other.id)


@pytest.mark.parametrize("changed_on", [0, 1], ids=["same process", "other process"])
async def test_a_revoked_agent_stops_receiving_at_once_in_every_process(
    live: list[httpx.AsyncClient], desk: Desk, changed_on: int
) -> None:
    listening, changing = live[0], live[changed_on]
    async with subscribed(listening, desk.h(desk.mark)) as mark:
        r = await changing.patch(
            f"/companies/{desk.acme.id}/members/{desk.mark.id}",
            json={"role": "customer"},
            headers=desk.h(desk.sara),
        )
        assert r.status_code == 200, r.text
        changed = await mark.next()
        assert (changed.name, changed.data) == ("access.changed", {"company_id": str(desk.acme.id)})
        await desk.world.ticket(desk.acme, desk.lisa, subject="not for Mark now")
        his = await desk.world.ticket(desk.acme, desk.mark, subject="his own")
        assert await mark.created() == str(his.id)


async def test_a_stream_resumes_after_its_last_event_or_resets(
    live: list[httpx.AsyncClient], desk: Desk
) -> None:
    one, two = live
    async with subscribed(one, desk.h(desk.mark)) as mark:
        first = await desk.world.ticket(desk.acme, desk.lisa, subject="first")
        seen = await mark.next()
        assert seen.data["ticket"]["id"] == str(first.id)
    missed = await desk.world.ticket(desk.acme, desk.lisa, subject="missed")
    for api in (one, two):  # the other process saw the same changes
        async with subscribed(api, desk.h(desk.mark), last_event_id=seen.id) as again:
            replayed = await again.next()
            assert (replayed.name, replayed.data["ticket"]["id"]) == (
                "ticket.created",
                str(missed.id),
            )
            assert replayed.id != seen.id
    async with subscribed(one, desk.h(desk.mark), last_event_id="not-a-position") as stale:
        reset = await stale.next()
        assert reset.name == "reset" and reset.data == {}


async def test_company_id_narrows_and_an_unknown_company_is_404(
    live: list[httpx.AsyncClient], desk: Desk
) -> None:
    api = live[0]
    await desk.world.member(desk.globex, desk.mark, "customer")
    async with subscribed(api, desk.h(desk.mark), company_id=str(desk.globex.id)) as mark:
        await desk.world.ticket(desk.acme, desk.lisa)
        his = await desk.world.ticket(desk.globex, desk.mark)
        first = await mark.next()
        assert first.data["ticket"]["id"] == str(his.id)
    r = await api.get(
        "/events", params={"company_id": str(desk.acme.id)}, headers=desk.h(desk.john)
    )
    assert r.status_code == 404 and r.json()["code"] == "not_found", r.text


async def test_heartbeats_keep_it_open_and_it_ends_with_the_token(
    live: list[httpx.AsyncClient], desk: Desk, settings: Settings
) -> None:
    now = int(time.time())
    claims = {
        "sub": str(desk.mark.id), "iat": now, "nbf": now, "exp": now + 3,
        "iss": settings.jwt_issuer, "aud": settings.jwt_audience, "jti": "short",
    }  # fmt: skip
    token = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    started = time.monotonic()
    async with subscribed(live[0], {"Authorization": f"Bearer {token}"}) as mark:
        assert await mark.ended(within=10)
        assert mark.comments >= 3  # one every HEARTBEAT seconds while idle
    assert 2 <= time.monotonic() - started < 8


async def test_a_stream_needs_a_token_and_valid_parameters(
    live: list[httpx.AsyncClient], desk: Desk
) -> None:
    r = await live[0].get("/events")
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    r = await live[0].get("/events", params={"company_id": "nope"}, headers=desk.h(desk.mark))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "company_id"]
    r = await live[0].get("/events", headers=desk.h(desk.mark) | {"Last-Event-ID": "x" * 600})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["header", "last-event-id"]


@pytest.mark.topologies
async def test_standalone_is_503(
    client: httpx.AsyncClient, app: FastAPI, world: World, tmp_path: Path
) -> None:
    """On a server without change streams `GET /events` answers 503 and nothing else
    changes; on a replica set it streams (the tests above)."""
    user = await world.user("sara")
    if app.state.db.supports_change_streams:
        assert app.state.db.supports_transactions
        return
    r = await client.get("/events", headers=world.auth(user))
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "events_unavailable"
    assert "replica set" in r.json()["detail"]
    assert (await client.get("/tickets", headers=world.auth(user))).status_code == 200


# -- the delivery rule, on random changes -------------------------------------------------------

STEPS = 30


async def test_each_subscriber_gets_exactly_what_the_rule_says_on_random_changes(
    live: list[httpx.AsyncClient], client: httpx.AsyncClient, desk: Desk
) -> None:
    """Random changes to the tickets of a company with every kind of reader (an admin, agents
    at each access level, customers with and without shares); for each change and each
    subscriber, what `GET /tickets/{id}` answered them before and after says which event
    they must receive, and with what ticket: then exactly that arrives, and nothing else."""
    rng = random.Random(23)
    world = desk.world
    nina, pete = await world.user("nina"), await world.user("pete")
    for agent, level in ((nina, "groups"), (pete, "assigned")):
        await world.member(desk.acme, agent, "agent")
        await world.access(desk.acme, agent, level)
    first = await world.group(desk.acme, "Tier 1", nina)
    second = await world.group(desk.acme, "Tier 2")
    readers = [desk.sara, desk.mark, nina, pete, desk.lisa, desk.carl]
    # A ticket every reader may read: its change after each step marks where the step's
    # events end.
    marker = await world.ticket(desk.acme, desk.sara, subject="marker")
    for reader in readers:
        await world.share(marker, reader)
    tickets = [await world.ticket(desk.acme, rng.choice([desk.lisa, desk.carl])) for _ in range(4)]
    collection = Ticket.get_pymongo_collection()

    async def views(ticket_id: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for reader in readers:
            r = await client.get(f"/tickets/{ticket_id}", headers=desk.h(reader))
            assert r.status_code in (200, 404), r.text
            seen[reader.username] = r.json() if r.status_code == 200 else None
        return seen

    def change() -> tuple[Any, dict[str, Any] | None]:
        ticket = rng.choice(tickets)
        kind = rng.choice(
            ["status", "confidential", "assign", "group", "share", "unshare", "note", "reply",
             "priority", "delete"]
        )  # fmt: skip
        user = rng.choice(readers)
        reply = {"id": ObjectId(), "author": desk.mark.id, "body": kind,
                 "internal": kind == "note", "created_at": datetime.now(UTC)}  # fmt: skip
        updates: dict[str, dict[str, Any] | None] = {
            "status": {"$set": {"status": rng.choice(["open", "in-progress", "resolved"])}},
            "confidential": {"$set": {"confidential": rng.random() < 0.5}},
            "assign": {"$set": {"assigned_to": rng.choice([desk.mark.id, nina.id, pete.id, None])}},
            "group": {"$set": {"group": rng.choice([first.id, second.id, None])}},
            "share": {"$addToSet": {"viewers": user.id}},
            "unshare": {"$pull": {"viewers": user.id}},
            "note": {"$push": {"replies": reply}},
            "reply": {"$push": {"replies": reply}},
            "priority": {"$set": {"priority": rng.choice(["low", "high"])}},
            "delete": None,
        }
        return ticket.id, updates[kind]

    kinds: set[str] = set()
    unseen = 0
    async with contextlib.AsyncExitStack() as stack:
        streams = {
            reader.id: await stack.enter_async_context(subscribed(live[0], desk.h(reader)))
            for reader in readers
        }
        for step in range(STEPS):
            ticket_id, update = change()
            before = await views(ticket_id)
            if update is None:
                await collection.delete_one({"_id": ticket_id})
                tickets = [t for t in tickets if t.id != ticket_id]
                tickets.append(await world.ticket(desk.acme, rng.choice([desk.lisa, desk.carl])))
            else:
                touched = {"updated_at": datetime.now(UTC)}  # as every write of the API does
                update["$set"] = update.get("$set", {}) | touched
                await collection.update_one({"_id": ticket_id}, update)
            after = await views(ticket_id)
            created = tickets[-1] if update is None else None
            fresh = await views(created.id) if created is not None else {}
            await collection.update_one({"_id": marker.id}, {"$set": {"subject": f"marker {step}"}})
            for reader in readers:
                expected = _expected(ticket_id, before[reader.username], after[reader.username])
                if created is not None and fresh[reader.username] is not None:
                    expected.append(("ticket.created", {"ticket": fresh[reader.username]}))
                received = []
                while True:
                    event = await streams[reader.id].next()
                    if event.name == "ticket.updated" and event.data["ticket"]["id"] == str(
                        marker.id
                    ):
                        break
                    received.append((event.name, event.data))
                assert received == expected, f"step {step} ({update}), {reader.username}"
                kinds.update(name for name, _ in expected)
                unseen += (
                    before[reader.username] is not None
                    and after[reader.username] is not None
                    and not expected
                )
        # The walk met every case of the rule: each event, and a change a reader may not see.
        assert {"ticket.created", "ticket.updated", "ticket.removed"} <= kinds, kinds
        assert unseen, "no change was invisible to a reader who kept reading the ticket"


def _expected(ticket_id: ObjectId, before: Any, after: Any) -> list[tuple[str, Any]]:
    """The delivery rule, from what GET answered a reader before and after a change."""
    if after is not None and before is None:
        return [("ticket.created", {"ticket": after})]
    if after is not None and before is not None:
        same = _without_time(after) == _without_time(before)
        return [] if same else [("ticket.updated", {"ticket": after})]
    if before is not None:
        return [
            ("ticket.removed", {"ticket_id": str(ticket_id), "company_id": before["company_id"]})
        ]
    return []


def _without_time(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "updated_at"}


async def test_a_dropped_database_restarts_the_stream_instead_of_spinning(
    app: FastAPI, settings: Settings
) -> None:
    """Dropping the database invalidates the change stream: the hub starts a new one (its
    subscribers told `reset`) and the process stays responsive; it still shuts down."""
    other = settings.model_copy(update={"mongodb_db": f"{settings.mongodb_db}_dropped"})
    async with instance(other, app) as dropped:
        hub = dropped.state.live
        await hub._watching()
        await dropped.state.db.client.drop_database(other.mongodb_db)
        started = time.monotonic()
        await asyncio.sleep(0.5)  # a hub spinning on a dead stream would starve the loop
        assert time.monotonic() - started < 2
        assert not hub._task.done()


@pytest.mark.parametrize("operation", ["drop", "rename", "dropDatabase"])
async def test_a_change_of_no_document_is_passed_over_quietly(
    app: FastAPI, operation: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A dropped collection comes down the stream too (the suite drops its database after
    # each test): it names no document, so there is nobody to tell and nothing to log.
    change = {
        "_id": {"_data": "00"},
        "operationType": operation,
        "ns": {"db": "t", "coll": "users"},
    }
    with caplog.at_level(logging.ERROR, logger="app.live"):
        app.state.live._dispatch(change)
    assert caplog.records == []
