"""Helpers shared by the documents."""

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time in UTC, truncated to milliseconds as BSON stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


_document_locks: "weakref.WeakValueDictionary[object, asyncio.Lock]" = weakref.WeakValueDictionary()


@asynccontextmanager
async def document_lock(document_id: object) -> AsyncIterator[None]:
    """Serialise this process's writes to one document.

    FerretDB v1 (the dev database) applies an update as read, modify, write back, so two
    concurrent updates of one document can lose one (FerretDB#3040); MongoDB applies each
    update atomically and needs none of this. A lock per document id makes one API process
    safe on both; several processes on the dev database remain exposed (see README).
    """
    lock = _document_locks.get(document_id)
    if lock is None:
        lock = asyncio.Lock()
        _document_locks[document_id] = lock
    async with lock:
        yield
