"""Live updates under authorization: one change stream per API process, fanned out to its
subscribers by the engine, in memory.

The hub watches `tickets` and `users` with one change stream (pre-images on, so a change
carries the ticket before and after it). For each ticket change it visits only the
subscribers who are members of the ticket's company (subscribers elsewhere cost nothing)
and decides, with `Engine.check` on the two images, what each may learn:

- `ticket.created` / `ticket.updated` with the ticket as `GET /tickets/{id}` shows it to
  them, when they may read it after the change and their view of it changed (`created`
  when they could not read it before); nothing when only what they may not see changed (an
  internal note, for a customer);
- `ticket.removed` with its id and company alone, when they could read it before and
  cannot after (deleted, unshared, moved out of their groups, made confidential, ...).

A change of a subscriber's user document (their copy of their facts, which every write of a
role, access level or group membership keeps current) comes down the same stream, in
commit order: the hub swaps their principal before it looks at the next ticket change, and
tells them `access.changed` for each company where their rights changed. Every API process
runs its own hub on the same stream, so a revoked agent stops receiving in all of them.

Each event's id is its change's resume token. The hub keeps the last changes it saw, so a
client that reconnects with `Last-Event-ID` (to this process or another, which saw the same
changes) is replayed what followed, decided with its current rights; an older position
answers `reset` (reload, then follow).
"""

import asyncio
import contextlib
import functools
import json
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId
from pymongo.errors import OperationFailure, PyMongoError

from app.db import Database
from app.errors import EventsUnavailable
from app.presenters import ticket_out
from authz.engine import Engine, Principal
from authz.facts import principal_of
from models import Ticket, User
from models.user import Access

log = logging.getLogger("app.live")

WATCHED = ("tickets", "users")
RECENT_CHANGES = 4096
"""Changes kept for resuming: a client further behind than this is told `reset`."""
POLL_MS = 250
"""How long one read of the stream waits for a change: how soon a stopping hub notices."""
QUEUE_LIMIT = 1024
"""Events waiting for one subscriber: one that falls this far behind is told `reset`."""
_CHANGED_AT = "updated_at"  # moves with any write: alone, it tells a reader nothing


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event: `id` (a resume token; empty for none), `name` and `data`.

    One change's event is built once per view of it and shared by every subscriber who
    has that view, so its encoding is too."""

    id: str
    name: str
    data: Mapping[str, Any]

    @functools.cached_property
    def wire(self) -> bytes:
        """The event on the wire."""
        head = f"id: {self.id}\n" if self.id else ""
        data = json.dumps(self.data, separators=(",", ":"))
        return f"{head}event: {self.name}\ndata: {data}\n\n".encode()


END: None = None  # what a subscriber's queue receives when its stream must end


@dataclass(eq=False)
class Subscriber:
    """One open stream: whose, narrowed to one company or not, and what waits to be sent."""

    user_id: ObjectId
    principal: Principal
    company: ObjectId | None = None
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))

    def follows(self, company: ObjectId) -> bool:
        """Whether a change in `company` is this subscriber's business at all."""
        return (self.company is None or self.company == company) and company in (
            self.principal.roles
        )

    def send(self, event: Event | None) -> None:
        """Queue `event`; a subscriber too far behind is told `reset` and its stream ends."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(Event(event.id if event else "", "reset", {}))
            self.queue.put_nowait(END)


class LiveHub:
    """The process's change stream and its subscribers."""

    def __init__(self, db: Database, engine: Engine) -> None:
        self.db = db
        self.engine = engine
        self._read = engine.policy.resource_types["ticket"].read
        self._by_company: dict[ObjectId, set[Subscriber]] = {}
        self._by_user: dict[ObjectId, set[Subscriber]] = {}
        self._recent: deque[tuple[str, Mapping[str, Any]]] = deque(maxlen=RECENT_CHANGES)
        self._task: asyncio.Task[None] | None = None
        self._opened: asyncio.Future[None] | None = None
        self._position: Mapping[str, Any] | None = None  # the last change dispatched
        self._stopping = False

    # -- subscribers ---------------------------------------------------------------------

    async def subscribe(
        self,
        user_id: ObjectId,
        principal: Principal,
        company: ObjectId | None,
        last_event_id: str | None,
    ) -> Subscriber:
        """Open a stream for `user_id`, replaying what followed `last_event_id` (or
        answering `reset` when that position is no longer known).

        `principal` is the caller's as their request read it; their facts are read again
        once the stream is registered, so that a change of them committed in between (whose
        event this hub may have dispatched before the stream existed) is not missed.
        """
        await self._watching()
        subscriber = Subscriber(user_id, principal, company)
        self._add(subscriber)
        if last_event_id:
            self._replay(subscriber, last_event_id)
        user = await User.get_pymongo_collection().find_one({"_id": user_id}, {"access": 1})
        if user is None:
            subscriber.send(END)
        else:
            self._refresh(subscriber, _principal_in(user_id, user), "")
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a closed stream."""
        for company in subscriber.principal.roles:
            members = self._by_company.get(company, set())
            members.discard(subscriber)
            if not members:
                self._by_company.pop(company, None)
        mine = self._by_user.get(subscriber.user_id, set())
        mine.discard(subscriber)
        if not mine:
            self._by_user.pop(subscriber.user_id, None)

    def _add(self, subscriber: Subscriber) -> None:
        """Index a stream by its user and by the companies they are members of."""
        self._by_user.setdefault(subscriber.user_id, set()).add(subscriber)
        for company in subscriber.principal.roles:
            self._by_company.setdefault(company, set()).add(subscriber)

    def _replay(self, subscriber: Subscriber, last_event_id: str) -> None:
        tokens = [token for token, _ in self._recent]
        if last_event_id not in tokens:
            subscriber.send(Event(_token_of(self._position), "reset", {}))
            return
        for _token, change in list(self._recent)[tokens.index(last_event_id) + 1 :]:
            self._dispatch(change, only=[subscriber])

    # -- the stream ----------------------------------------------------------------------

    def start(self) -> None:
        """Follow the change stream from now on (once the database is known to have one):
        from start-up, so that this process can resume a client another process served."""
        if self.db.supports_change_streams and (self._task is None or self._task.done()):
            self._opened = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(self._opened), name="live-updates")

    async def _watching(self) -> None:
        """Start the change stream if it is not yet followed, and wait until it is open."""
        if not self.db.supports_change_streams:
            raise EventsUnavailable("this database server has no change streams")
        self.start()
        assert self._opened is not None  # noqa: S101 - set together with the task
        try:
            await asyncio.shield(self._opened)
        except PyMongoError as exc:
            raise EventsUnavailable(f"the change stream could not be opened: {exc}") from None

    async def _run(self, opened: asyncio.Future[None]) -> None:
        delay = 0.2
        while not self._stopping:
            try:
                await self._follow(opened)
                if not self._stopping:  # invalidated (the database dropped): start afresh
                    log.warning("change stream invalidated: subscribers reset")
                    self._position = None
                    self._reset_everyone()
                    await asyncio.sleep(delay)
            except asyncio.CancelledError:
                raise
            except OperationFailure as exc:
                if not opened.done():
                    opened.set_exception(exc)
                    return
                if self._position is not None and _history_lost(exc):
                    log.warning("change stream position lost (%s): subscribers reset", exc)
                    self._position = None
                    self._reset_everyone()
                await asyncio.sleep(delay)
            except PyMongoError as exc:
                if not opened.done():
                    opened.set_exception(exc)
                    return
                log.warning("change stream interrupted (%s); resuming", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _follow(self, opened: asyncio.Future[None]) -> None:
        database = self.db.client[self.db.name]
        pipeline = [{"$match": {"ns.coll": {"$in": list(WATCHED)}}}]
        async with await database.watch(
            pipeline,
            full_document="updateLookup",
            full_document_before_change="whenAvailable",
            resume_after=self._position,
            max_await_time_ms=POLL_MS,
        ) as stream:
            if not opened.done():
                opened.set_result(None)
            while not self._stopping and stream.alive:
                raw = await stream.try_next()
                if raw is None:
                    continue
                change: Mapping[str, Any] = raw
                self._position = change["_id"]
                self._recent.append((_token(change), change))
                self._dispatch(change)

    async def stop(self) -> None:
        """End every stream and the change stream."""
        for subscribers in list(self._by_user.values()):
            for subscriber in list(subscribers):
                subscriber.send(END)
        self._stopping = True
        if self._task is not None:
            # The stream notices within POLL_MS and closes its cursor itself; one stuck on
            # a server that is away is cancelled.
            done, _ = await asyncio.wait([self._task], timeout=3 * POLL_MS / 1000 + 1)
            if not done:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, PyMongoError):
                await self._task

    def _reset_everyone(self) -> None:
        for subscribers in list(self._by_user.values()):
            for subscriber in subscribers:
                subscriber.send(Event("", "reset", {}))

    # -- fan-out -------------------------------------------------------------------------

    def _dispatch(
        self, change: Mapping[str, Any], only: Iterable[Subscriber] | None = None
    ) -> None:
        if "documentKey" not in change:  # a collection dropped or renamed: no document's
            return
        try:
            if change["ns"]["coll"] == "users":
                self._user_changed(change, only)
            else:
                self._ticket_changed(change, only)
        except Exception:  # one bad change must not stop every stream
            log.exception("live updates: change %s not delivered", change.get("_id"))

    def _user_changed(self, change: Mapping[str, Any], only: Iterable[Subscriber] | None) -> None:
        user_id = change["documentKey"]["_id"]
        subscribers = list(only if only is not None else self._by_user.get(user_id, ()))
        subscribers = [s for s in subscribers if s.user_id == user_id]
        if not subscribers:
            return
        token = _token(change)
        if change["operationType"] == "delete":
            for subscriber in subscribers:
                subscriber.send(END)
            return
        doc = change.get("fullDocument")
        if doc is None:  # deleted since: its delete follows
            return
        principal = _principal_in(user_id, doc)
        for subscriber in subscribers:
            self._refresh(subscriber, principal, token)

    def _refresh(self, subscriber: Subscriber, principal: Principal, token: str) -> None:
        """Give `subscriber` their current facts; `access.changed` for each company where
        their rights changed."""
        changed = _changed_companies(subscriber.principal, principal)
        if not changed:
            return
        self.unsubscribe(subscriber)  # indexed again under the companies it has now
        subscriber.principal = principal
        self._add(subscriber)
        for company in sorted(changed, key=str):
            if subscriber.company is None or subscriber.company == company:
                subscriber.send(Event(token, "access.changed", {"company_id": str(company)}))

    def _ticket_changed(self, change: Mapping[str, Any], only: Iterable[Subscriber] | None) -> None:
        before = change.get("fullDocumentBeforeChange")
        after = change.get("fullDocument") if change["operationType"] != "delete" else None
        if change["operationType"] in ("update", "replace") and after is None:
            return  # deleted before it could be read: the delete follows
        company = (after or before or {}).get("company")
        if company is None:
            return
        subscribers = only if only is not None else self._by_company.get(company, ())
        token = _token(change)
        images = _Images(self.engine, before, after)
        for subscriber in list(subscribers):
            if not subscriber.follows(company):
                continue
            event = images.event_for(subscriber.principal, self._read, token)
            if event is not None:
                subscriber.send(event)


class _Images:
    """A ticket before and after one change, and the views of it each reader may have,
    built once per change (there are two: with internal notes, and without)."""

    def __init__(
        self, engine: Engine, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
    ) -> None:
        self.engine = engine
        self.before = self._side(before)
        self.after = self._side(after)
        self._views: dict[tuple[str, bool], dict[str, Any]] = {}
        self._events: dict[tuple[str, bool], Event] = {}

    def _side(self, doc: Mapping[str, Any] | None) -> tuple[Mapping[str, Any], Any] | None:
        if doc is None:
            return None
        return doc, self.engine.resource_of("ticket", doc)

    def event_for(self, principal: Principal, read: str, token: str) -> Event | None:
        """What `principal` is told of the change (None: nothing)."""
        check = self.engine.check
        could = self.before is not None and check(principal, read, self.before[1]).allowed
        can = self.after is not None and check(principal, read, self.after[1]).allowed
        if can:
            assert self.after is not None  # noqa: S101 - `can` implies it
            notes = self.engine.sees_internal_notes(principal, self.after[1])
            view = self._view("after", self.after, notes)
            if could:
                assert self.before is not None  # noqa: S101 - `could` implies it
                earlier = self.engine.sees_internal_notes(principal, self.before[1])
                if _same(view, self._view("before", self.before, earlier)):
                    return None
                return self._event(token, "ticket.updated", notes, view)
            return self._event(token, "ticket.created", notes, view)
        if could:
            assert self.before is not None  # noqa: S101 - `could` implies it
            _, resource = self.before
            gone = {"ticket_id": str(resource.id), "company_id": str(resource.company)}
            return self._event(token, "ticket.removed", False, gone)
        return None

    def _event(self, token: str, name: str, notes: bool, data: Mapping[str, Any]) -> Event:
        key = (name, notes)
        if key not in self._events:
            self._events[key] = Event(
                token, name, {"ticket": data} if name != "ticket.removed" else data
            )
        return self._events[key]

    def _view(self, side: str, image: tuple[Mapping[str, Any], Any], notes: bool) -> dict[str, Any]:
        doc, _ = image
        key = (side, notes)
        if key not in self._views:
            ticket = Ticket.model_validate(doc)
            self._views[key] = ticket_out(ticket, notes).model_dump(mode="json")
        return self._views[key]


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != _CHANGED_AT} == {
        k: v for k, v in b.items() if k != _CHANGED_AT
    }


def _token(change: Mapping[str, Any]) -> str:
    """A change's resume token, as an event id."""
    return _token_of(change["_id"])


def _token_of(position: Mapping[str, Any] | None) -> str:
    """A resume token as an event id (empty for none)."""
    return str(position.get("_data", "")) if position else ""


def _principal_in(user_id: ObjectId, user: Mapping[str, Any]) -> Principal:
    """The principal a stored user document describes."""
    return principal_of(user_id, Access.model_validate(user.get("access") or {}))


def _changed_companies(old: Principal, new: Principal) -> set[ObjectId]:
    """The companies where a user's rights differ between two principals."""
    companies = set(old.roles) | set(new.roles)

    def standing(p: Principal, company: ObjectId) -> tuple[Any, ...]:
        held = sorted(
            (str(rid), sorted(r.roles))
            for rid, r in p.resource_roles.items()
            if r.company == company
        )
        return p.roles.get(company), p.levels.get(company), held

    return {c for c in companies if standing(old, c) != standing(new, c)}


def _history_lost(exc: OperationFailure) -> bool:
    """Whether the stream's resume position is gone (too old, or not a position at all)."""
    return exc.code in (280, 286, 40647) or "resume" in str(exc).lower()
