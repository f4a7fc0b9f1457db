"""The audit trail writer: records decisions and writes off the request's critical path.

Events are queued in memory and flushed in batches by one background task, so a request
never waits for an audit insert. Each event carries its expiry; the server's TTL index
deletes it then.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo.errors import PyMongoError

from models import AuditEvent, utcnow

log = logging.getLogger("authz.audit")

MAX_QUEUE = 10_000
BATCH = 500


async def cancel_until_done(task: "asyncio.Task[None]") -> None:
    """Cancel `task` until it has ended; re-raise the error that ended it, if any.

    PyMongo's async operations can absorb a cancellation that lands mid-operation (it
    completes instead), and a loop around one would go on: one cancel is not enough.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.cancelled():
        task.result()


class AuditLog:
    """A buffered, batched writer of `audit_events`."""

    def __init__(
        self,
        flush_seconds: float = 0.5,
        retention_days: int = 90,
        context: Callable[[], str | None] | None = None,
    ) -> None:
        """`context`, when given, names the request being served (its id goes with each
        event, so an event and the request's log lines can be found from each other)."""
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_QUEUE)
        self._context = context
        self._flush_seconds = flush_seconds
        self._retention = timedelta(days=retention_days)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(
        self,
        *,
        user: ObjectId | None,
        company: ObjectId | None,
        action: str,
        resource_type: str,
        resource_id: ObjectId | None,
        allowed: bool,
        reason: str,
    ) -> None:
        """Queue one event; never blocks and never raises (a full queue drops and counts)."""
        now = utcnow()
        event = {
            "time": now,
            "expires_at": now + self._retention,
            "user": user,
            "company": company,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "allowed": allowed,
            "reason": reason,
            "request_id": self._context() if self._context is not None else None,
        }
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    def start(self) -> None:
        """Start the background flusher (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-flusher")

    async def stop(self) -> None:
        """Stop the flusher and write what is still queued."""
        if self._task is not None:
            await cancel_until_done(self._task)
            self._task = None
        await self.flush()

    async def flush(self) -> int:
        """Write every queued event now; return how many were written."""
        written = 0
        while not self._queue.empty():
            batch: list[dict[str, Any]] = []
            while not self._queue.empty() and len(batch) < BATCH:
                batch.append(self._queue.get_nowait())
            try:
                await AuditEvent.get_pymongo_collection().insert_many(batch, ordered=False)
                written += len(batch)
            except PyMongoError as exc:
                # Requeue so an outage delays the trail instead of losing it.
                log.warning("audit flush failed (%s); will retry", type(exc).__name__)
                for event in batch:
                    with contextlib.suppress(asyncio.QueueFull):
                        self._queue.put_nowait(event)
                break
        return written

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush()
