"""Writes that span documents: the one place that knows whether the server has transactions.

A replica set (or a sharded cluster) runs every multi-document write in a transaction,
retried by the driver when it meets a transient conflict. A standalone server has no
transactions: there the same steps run in order, each one registers how to undo itself,
and when a later step fails the undos run, newest first, so no half-done write stays.

Services write their steps once, for both: take a `Unit`, pass `unit.session` to every
operation, and call `unit.on_failure(...)` after each step that would need undoing. Under
a transaction those undos are never run: the abort discards everything at once.
"""

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pymongo
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from app.db import Database

log = logging.getLogger("app.atomic")

T = TypeVar("T")
Undo = Callable[[], Awaitable[object]]


class Unit:
    """One multi-document write in progress."""

    def __init__(self, session: AsyncClientSession | None) -> None:
        self.session = session
        self._undos: list[Undo] = []

    @property
    def in_transaction(self) -> bool:
        """Whether the server makes these steps atomic (no undo will be needed)."""
        return self.session is not None

    def on_failure(self, undo: Undo) -> None:
        """Register how to undo the step just done, for a server without transactions."""
        if self.session is None:
            self._undos.append(undo)

    async def undo(self) -> None:
        """Undo the steps done so far, newest first; an undo's own failure is logged and
        the others still run (the original error is the one the caller sees)."""
        while self._undos:
            step = self._undos.pop()
            try:
                await step()
            except PyMongoError as exc:
                log.warning("could not undo a step of a failed write (%s)", type(exc).__name__)


async def atomic(db: Database, steps: Callable[[Unit], Awaitable[T]]) -> T:
    """Run `steps` as one write: in a transaction where the server has them, else with undo.

    In a transaction `steps` may run more than once (the driver retries on a write
    conflict), so it must not change anything but the database before it returns; the
    retries end after `db.transaction_seconds` (a timeout error: 503 to the client).
    """
    if db.supports_transactions:
        with pymongo.timeout(db.transaction_seconds):
            async with db.client.start_session() as session:
                return await session.with_transaction(lambda s: steps(Unit(s)))
    unit = Unit(None)
    try:
        return await steps(unit)
    except BaseException:
        with contextlib.suppress(PyMongoError):
            await unit.undo()
        raise
