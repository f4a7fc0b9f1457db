"""The synthetic data's writer: bulk inserts with a bounded number in flight, a progress
bar per collection, and each user's copy of their facts rebuilt as the API writes it."""

import asyncio
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from app.services.user_facts import rebuild
from models import User

Doc = dict[str, Any]

BATCH = 2_000  # documents per insert_many: large enough to amortise a round trip
IN_FLIGHT = 2  # inserts awaiting the server while the next batch is generated


class RateColumn(ProgressColumn):
    """Documents per second of one progress task."""

    def render(self, task: Task) -> Text:
        """The task's current speed, or nothing before it has one."""
        speed = task.finished_speed or task.speed
        return Text(f"{speed:>9,.0f}/s" if speed else " " * 11, style="progress.data.speed")


def progress_bar() -> Progress:
    """A bar per collection: documents written, their rate, time spent and left."""
    return Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )


class Writer:
    """Bulk inserts with a bounded number in flight, and a progress task per collection."""

    def __init__(self, db: AsyncDatabase[Doc], progress: Progress | None) -> None:
        self._db = db
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.counts: dict[str, int] = {}

    def expect(self, collection: str, total: int) -> None:
        """Announce how many documents `collection` will receive (for the progress bar)."""
        self.counts.setdefault(collection, 0)
        if self._progress is not None:
            self._tasks[collection] = self._progress.add_task(collection, total=total)

    async def insert(self, collection: str, docs: list[Doc]) -> None:
        """Queue one batch; waits only while IN_FLIGHT batches are already on the wire."""
        if not docs:
            return
        while len(self._pending) >= IN_FLIGHT:
            done, self._pending = await asyncio.wait(
                self._pending, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                task.result()
        coll: AsyncCollection[Doc] = self._db[collection]
        task = asyncio.create_task(self._insert(coll, collection, docs))
        self._pending.add(task)

    async def _insert(self, coll: AsyncCollection[Doc], collection: str, docs: list[Doc]) -> None:
        await coll.insert_many(docs, ordered=False)
        self.counts[collection] += len(docs)
        if self._progress is not None:
            self._progress.advance(self._tasks[collection], len(docs))

    async def drain(self) -> None:
        """Wait for every queued batch (re-raising the first failure)."""
        while self._pending:
            await self._pending.pop()

    async def cancel(self) -> None:
        """Abandon whatever is still queued (after a failure)."""
        pending, self._pending = self._pending, set()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def rebuild_copies(db: AsyncDatabase[Doc], users: list[ObjectId]) -> None:
    """Each user's copy of their facts, written as the API writes it (`rebuild`)."""
    if User.get_pymongo_collection().database != db:
        raise RuntimeError("bind the Beanie documents to the database being seeded first")
    for k in range(0, len(users), BATCH):
        await rebuild(users[k : k + BATCH])
