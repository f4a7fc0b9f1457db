"""What the project relies on its database for, checked on the one the suite runs against.

These hold on MongoDB as on the development database (SecantusDB): the list query of a
customer is an index scan, a transaction commits, expired documents are deleted by the
server's TTL monitor. The launcher's own promises (a busy port refused, the server that
answers is the one started) are checked on the dev database.
"""

import asyncio
import os
import socket
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from authz.engine import default_engine
from authz.facts import load_principal
from models import AuditEvent, LoginThrottle, Ticket, utcnow
from scripts.devdb import process as devdb
from tests.utils.factories import World

DEV_DATABASE = "MONGODB_URI" not in os.environ


def stages(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every stage of an explain plan, outermost first."""
    yield plan
    for key in ("inputStage", "queryPlan"):
        if isinstance(plan.get(key), Mapping):
            yield from stages(plan[key])
    for child in plan.get("inputStages", ()):
        yield from stages(child)


async def test_a_customers_ticket_list_is_an_index_scan(world: World) -> None:
    """The compiled filter of a customer meets the {company, created_by, _id} index."""
    sara, lisa = await world.user("sara"), await world.user("lisa")
    acme = await world.company("Acme", admin=sara)
    await world.member(acme, lisa, "customer")
    for creator in (sara, lisa, sara):
        await world.ticket(acme, creator)
    assert lisa.id is not None
    principal = await load_principal(lisa.id)
    query = default_engine().query_filter(principal, "ticket:read", "ticket")
    cursor = Ticket.get_pymongo_collection().find(query).sort("_id", -1).limit(50)
    plan = (await cursor.explain())["queryPlanner"]["winningPlan"]
    scans = [s for s in stages(plan) if s.get("stage") == "IXSCAN"]
    assert scans and scans[0]["indexName"] == "company_creator", plan
    assert not [s for s in stages(plan) if s.get("stage") == "COLLSCAN"], plan


async def test_a_transaction_commits_and_aborts(app: FastAPI, world: World) -> None:
    """On a replica set, the path the app takes for multi-document writes works."""
    db = app.state.db
    if not db.supports_transactions:
        pytest.skip("a standalone server has no transactions (the undo path is tested)")
    sara = await world.user("sara")
    acme = await world.company("Acme", admin=sara)
    tickets = Ticket.get_pymongo_collection()
    async with db.client.start_session() as session:
        async with await session.start_transaction():
            await world.ticket(acme, sara)  # outside: visible at once
            await tickets.update_many({}, {"$set": {"subject": "in"}}, session=session)
            assert await tickets.count_documents({"subject": "in"}) == 0  # not yet committed
        assert await tickets.count_documents({"subject": "in"}) == 1
        await session.start_transaction()
        await tickets.update_many({}, {"$set": {"subject": "out"}}, session=session)
        await session.abort_transaction()
    assert await tickets.count_documents({"subject": "out"}) == 0


@pytest.mark.slow
async def test_expired_documents_are_deleted_by_the_server(app: FastAPI) -> None:
    """Audit events and sign-in counters are forgotten by TTL, not by the application."""
    admin = app.state.db.client.admin
    was = (await admin.command({"getParameter": 1, "ttlMonitorSleepSecs": 1}))[
        "ttlMonitorSleepSecs"
    ]
    await admin.command({"setParameter": 1, "ttlMonitorSleepSecs": 1})
    try:
        past, future = utcnow() - timedelta(seconds=1), utcnow() + timedelta(days=1)
        for expires_at in (past, future):
            await AuditEvent(
                action="ticket:read",
                resource_type="ticket",
                allowed=True,
                reason="r",
                expires_at=expires_at,
            ).insert()
            await LoginThrottle(key=f"account:{expires_at}", expires_at=expires_at).insert()
        for _ in range(100):
            if await AuditEvent.count() == 1 and await LoginThrottle.count() == 1:
                break
            await asyncio.sleep(0.1)
        assert [e.expires_at for e in await AuditEvent.find_all().to_list()] == [future]
        assert [t.expires_at for t in await LoginThrottle.find_all().to_list()] == [future]
    finally:
        await admin.command({"setParameter": 1, "ttlMonitorSleepSecs": was})


@pytest.mark.skipif(not DEV_DATABASE, reason="the launcher is only used without MONGODB_URI")
def test_a_port_another_program_listens_on_is_refused(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(devdb.PortBusy, match=f"port {port} is already in use"):
            devdb.start(tmp_path / "data", port)


@pytest.mark.skipif(not DEV_DATABASE, reason="the launcher is only used without MONGODB_URI")
def test_a_server_that_is_not_ours_is_never_taken_for_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if the port looked free a moment before (a race), the server that answers must
    report the pid of the process we started."""
    first = devdb.start(tmp_path / "first")
    try:
        monkeypatch.setattr(devdb, "port_is_free", lambda _port: True)
        with pytest.raises((devdb.PortBusy, RuntimeError)):
            devdb.start(tmp_path / "second", first.port)
        assert first.proc.poll() is None  # the first one is untouched
    finally:
        first.stop()
